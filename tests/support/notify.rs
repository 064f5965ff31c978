//! The service manager's end of `NOTIFY_SOCKET`: what `herald serve` tells systemd
//! (`READY=1`, `STATUS=…`, `WATCHDOG=1`, `RELOADING=1`), received on a datagram socket.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a test waits for one message.
pub const DEADLINE: Duration = Duration::from_secs(30);

pub struct Notify {
    _dir: tempfile::TempDir,
    /// Where to point `NOTIFY_SOCKET`.
    pub path: PathBuf,
    pub socket: UnixDatagram,
    /// Every datagram received so far, in order.
    pub seen: Vec<String>,
}

impl Notify {
    pub fn new() -> Notify {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        Notify {
            _dir: dir,
            path,
            socket,
            seen: Vec::new(),
        }
    }

    /// Receives datagrams until one has the line `line`; returns that datagram.
    pub fn wait_for(&mut self, line: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {line:?} from herald within {DEADLINE:?}; got {:?}",
                self.seen
            );
            self.socket.set_read_timeout(Some(left)).unwrap();
            let Ok(n) = self.socket.recv(&mut buf) else {
                continue;
            };
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            self.seen.push(message.clone());
            if message.lines().any(|l| l == line) {
                return message;
            }
        }
    }

    /// Every datagram received within `wait`.
    pub fn received(&mut self, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.seen.extend(got.iter().cloned());
                return got;
            }
            self.socket.set_read_timeout(Some(left)).unwrap();
            if let Ok(n) = self.socket.recv(&mut buf) {
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    }
}

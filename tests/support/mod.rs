//! Shared test support: run the real `herald` binary on a temporary site and talk HTTP/1.1
//! to it over 127.0.0.1, with a deadline on everything.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod notify;
pub mod recorder;

pub const BIN: &str = env!("CARGO_BIN_EXE_herald");

/// The bundled sample site's content folder.
pub fn sample_content() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sample-site/content")
}

/// A temporary site: a content folder and a config file pointing at it.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    /// An empty site with the given extra config lines.
    pub fn new(extra_config: &str) -> Site {
        Site::new_in(tempfile::tempdir().unwrap(), extra_config)
    }

    /// Like [`Site::new`], in a given temporary folder (another file system, say).
    pub fn new_in(dir: tempfile::TempDir, extra_config: &str) -> Site {
        std::fs::create_dir_all(dir.path().join("content")).unwrap();
        let config = format!(
            "content_dir: content\nstate_dir: state\nbase_url: https://feeds.example.org/\ntitle: Test Site\ndescription: A test site\nauthor: Test Author\n{extra_config}"
        );
        std::fs::write(dir.path().join("herald.yaml"), config).unwrap();
        Site { dir }
    }

    /// A site holding a copy of the bundled sample content.
    pub fn sample() -> Site {
        let site = Site::new("");
        copy_dir(&sample_content(), &site.content());
        site
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("herald.yaml")
    }

    pub fn content(&self) -> PathBuf {
        self.dir.path().join("content")
    }

    /// Writes a file under the content folder, creating folders as needed.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.content().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Runs `herald <args> --config <this site>` to completion.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        let out = Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(self.config())
            .env("RUST_LOG", test_log_filter())
            .output()
            .unwrap();
        out
    }

    /// Starts `herald serve` on an ephemeral loopback port.
    pub fn serve(&self) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(self.config())
            .env("RUST_LOG", test_log_filter());
        start(cmd)
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A running `herald serve`; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }
}

impl Server {
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        request(self.addr, "GET", path, headers)
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), bounded in time.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// Polls `f` until it returns `Some`, failing the test after `timeout`.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a prepared `herald serve` command (stdout is taken over to learn the address
/// from its first line) and waits, with a deadline, until it says where it serves.
pub fn start(mut cmd: Command) -> Server {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(first)) = lines.next() {
            let _ = tx.send(first);
        }
        for _ in lines {} // keep the pipe drained
    });
    let first = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(first) => first,
        Err(_) => {
            // Never leave a server behind a failed test.
            let _ = child.kill();
            let _ = child.wait();
            panic!("herald serve did not print its address within 30 s");
        }
    };
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("address in the first line");
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    Server { child, addr }
}

/// The log filter for a `herald` started by a test: `warn`, or `HERALD_TEST_LOG` to see more
/// while debugging a test.
pub fn test_log_filter() -> String {
    std::env::var("HERALD_TEST_LOG").unwrap_or_else(|_| "warn".into())
}

/// Every file under `dir`, relative path → bytes.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(rel, std::fs::read(entry.path()).unwrap());
        }
    }
    out
}

/// One keep-alive HTTP/1.1 connection to 127.0.0.1, bounded in time: requests on it need no
/// new file descriptor in the server (for tests that take those away from it).
pub struct Connection {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl Connection {
    pub fn open(addr: SocketAddr) -> Connection {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Connection {
            reader: BufReader::new(stream),
            addr,
        }
    }

    /// `GET path` on this connection; the response must carry a Content-Length.
    pub fn get(&mut self, path: &str) -> Response {
        let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr);
        self.reader.get_mut().write_all(req.as_bytes()).unwrap();
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).unwrap();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .expect("a status line")
            .parse()
            .unwrap();
        let mut headers = BTreeMap::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .expect("a Content-Length")
            .parse()
            .unwrap();
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).unwrap();
        Response {
            status,
            headers,
            body,
        }
    }
}

/// The value of an unlabelled metric in an OpenMetrics text.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Sets the soft limit on open files of process `pid` (the hard limit stays, so it can be
/// raised again); returns the soft limit it had.
pub fn set_open_files_limit(pid: u32, soft: u64) -> u64 {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointers to rlimit values that outlive the calls.
    unsafe {
        assert_eq!(
            libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old),
            0
        );
        let new = libc::rlimit {
            rlim_cur: soft,
            rlim_max: old.rlim_max,
        };
        assert_eq!(
            libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()),
            0,
            "prlimit: {}",
            std::io::Error::last_os_error()
        );
    }
    old.rlim_cur
}

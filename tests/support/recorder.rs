//! A loopback HTTP server for tests to play the other side of Herald's outbound requests
//! (WebSub subscribers and hubs, caches told to purge): it records every request and
//! answers what the test says.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request a recorder received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    /// Lower-case names; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
    /// The status it was answered with.
    pub status: u16,
}

impl Seen {
    pub fn query(&self) -> BTreeMap<String, String> {
        let query = self.target.split_once('?').map_or("", |(_, q)| q);
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap()
    }
}

pub type Answer = dyn Fn(&Seen, usize) -> (u16, String) + Send + Sync;

/// A loopback HTTP server that records every request and answers with `answer(request, n)`,
/// `n` counting earlier requests to the same path and method.
pub struct Recorder {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    pub fn new(answer: impl Fn(&Seen, usize) -> (u16, String) + Send + Sync + 'static) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let answer: Arc<Answer> = Arc::new(answer);
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (record, answer) = (record.clone(), answer.clone());
                std::thread::spawn(move || serve_one(stream, &record, &*answer));
            }
        });
        Recorder { addr, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn posts_to(&self, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == "POST" && s.path() == path)
            .collect()
    }

    pub fn gets_to(&self, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == "GET" && s.path() == path)
            .collect()
    }
}

fn serve_one(stream: TcpStream, record: &Mutex<Vec<Seen>>, answer: &Answer) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                let v = v.trim().to_owned();
                headers
                    .entry(k)
                    .and_modify(|old| {
                        old.push_str(", ");
                        old.push_str(&v);
                    })
                    .or_insert(v);
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let seen = Seen {
            method,
            target,
            headers,
            body,
            at: Instant::now(),
            status: 0,
        };
        let (status, text) = {
            let mut all = record.lock().unwrap();
            let n = all
                .iter()
                .filter(|s| s.method == seen.method && s.path() == seen.path())
                .count();
            let (status, text) = answer(&seen, n);
            all.push(Seen { status, ..seen });
            (status, text)
        };
        let reply = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if reader.get_mut().write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

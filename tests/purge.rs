//! `purge:` through the real `herald serve`: after an edit, the caches in front are told
//! exactly which paths changed, with the public Host, and a cache that fails is retried.
//! The "caches" are recorders on 127.0.0.1.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{eventually, Site};

const DEADLINE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    host: String,
    authorization: String,
    body: String,
    /// Answered 200 (else 500).
    ok: bool,
}

/// A loopback HTTP server that records requests and answers `500` to the next `fail`
/// of them, `200` to the others. It stops accepting after a minute.
struct Recorder {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    fail: Arc<AtomicUsize>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let fail = Arc::new(AtomicUsize::new(0));
        let failing = fail.clone();
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(60);
            while Instant::now() < until {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                let failed = failing
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let status = if failed { "500 Oops" } else { "200 OK" };
                record.lock().unwrap().push(Seen {
                    ok: !failed,
                    ..request
                });
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Recorder { addr, seen, fail }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut byte).ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let header = |name: &str| {
        head.split("\r\n")
            .skip(1)
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let host = header("host");
    let authorization = header("authorization");
    let length: usize = header("content-length").parse().unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut byte).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&byte[..n]);
    }
    Some(Seen {
        method,
        path,
        host,
        authorization,
        body: String::from_utf8_lossy(&body).into_owned(),
        ok: false,
    })
}

fn post(title: &str, category: &str) -> String {
    format!("---\ntitle: {title:?}\ndate: 2024-01-01\ncategories: [{category}]\n---\nBody.\n")
}

#[test]
fn an_edit_purges_exactly_its_paths_with_the_public_host_and_a_failing_cache_is_retried() {
    let cache = Recorder::start();
    let site = Site::new(&format!("purge:\n  - url: http://{}\n", cache.addr));
    site.write("post/a.md", &post("Alpha", "one"));
    site.write("post/b.md", &post("Beta", "two"));
    let server = site.serve();
    // The first publish (a fresh state: everything is new) is purged whole first.
    eventually(DEADLINE, || {
        let seen = cache.seen();
        seen.iter()
            .any(|s| s.path == "/categories/two/feed.json")
            .then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let before = cache.seen().len();
    // The next two PURGEs fail: the retry (1 s later) must still purge everything.
    cache.fail.store(2, Ordering::SeqCst);
    site.write("post/a.md", &post("Alpha, edited", "one"));
    let wanted = [
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/categories/one/rss.xml",
        "/categories/one/atom.xml",
        "/categories/one/feed.json",
    ];
    let purged = eventually(DEADLINE, || {
        let seen = cache.seen();
        let after: Vec<Seen> = seen[before.min(seen.len())..].to_vec();
        let ok = wanted
            .iter()
            .all(|w| after.iter().any(|s| s.path == *w && s.ok));
        ok.then_some(after)
    });
    for seen in &purged {
        assert_eq!(seen.method, "PURGE");
        assert_eq!(
            seen.host, "feeds.example.org",
            "the Host the cache filed it under"
        );
        assert!(
            !seen.path.starts_with("/categories/two/"),
            "an untouched feed is not purged: {seen:?}"
        );
    }
    assert!(
        purged.iter().filter(|s| !s.ok).count() == 2,
        "two failed and were retried: {purged:?}"
    );
    let metrics = server.get("/metrics", &[]).text();
    assert!(support::metric(&metrics, "herald_purges_total{outcome=\"failed\"}") >= 2.0);
    assert!(support::metric(&metrics, "herald_purges_total{outcome=\"ok\"}") >= 6.0);
}

#[test]
fn a_cdn_api_gets_one_request_per_batch_with_the_urls_keys_and_a_secret_read_from_a_file() {
    let api = Recorder::start();
    let site = Site::new("");
    let token = site.dir.path().join("token");
    std::fs::write(&token, "t0ken\n").unwrap();
    let config = format!(
        "purge:\n  - api:\n      url: http://{addr}/zones/z/purge\n      headers: {{Authorization: 'Bearer ${{file:{token}}}'}}\n      body: '{{\"files\": {{{{urls}}}}, \"tags\": {{{{keys}}}}}}'\n      batch: 2\n",
        addr = api.addr,
        token = token.display()
    );
    let text = std::fs::read_to_string(site.config()).unwrap() + &config;
    std::fs::write(site.config(), text).unwrap();
    site.write("post/a.md", &post("Alpha", "one"));
    let _server = site.serve();
    eventually(DEADLINE, || (!api.seen().is_empty()).then_some(()));
    std::thread::sleep(Duration::from_millis(300));
    let before = api.seen().len();
    site.write("post/a.md", &post("Alpha, edited", "one"));
    let calls = eventually(DEADLINE, || {
        let seen = api.seen();
        let after: Vec<Seen> = seen[before.min(seen.len())..].to_vec();
        after
            .iter()
            .any(|s| {
                s.body
                    .contains("https://feeds.example.org/categories/one/atom.xml")
            })
            .then_some(after)
    });
    for call in &calls {
        assert_eq!(call.method, "POST");
        assert_eq!(call.path, "/zones/z/purge");
        assert_eq!(call.authorization, "Bearer t0ken");
        let body: serde_json::Value = serde_json::from_str(&call.body).unwrap();
        assert!(body["files"].as_array().unwrap().len() <= 2, "{body}");
    }
    assert!(
        calls
            .iter()
            .any(|c| c.body.contains("feed:/categories/one/") && c.body.contains("post:/post/a/")),
        "{calls:?}"
    );
    let config = std::fs::read_to_string(site.config()).unwrap();
    assert!(!config.contains("t0ken"), "the secret is not in the config");
}

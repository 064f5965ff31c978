//! A warm start through the real `herald serve`: a restart serves the snapshot the last run
//! stored (byte for byte, same validators) and says `READY=1` before the content is loaded,
//! then replaces it with the content's in one step, announcing what changed while Herald
//! was down. Other output settings or a damaged store mean a cold start, never a crash.
//!
//! The content load is held with the test builds' `HERALD_TEST_HOLD_LOAD` hook until the
//! test creates a file, so "before the load has finished" is a fact, not a race.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use redb::ReadableTable;

use support::notify::Notify;
use support::recorder::Recorder;
use support::{eventually, request, Site, BIN};

const DEADLINE: Duration = Duration::from_secs(30);

/// A running `herald serve` whose stdout lines and stderr (a file) the test reads.
struct Running {
    child: Child,
    lines: Receiver<String>,
    stderr: PathBuf,
    addr: Option<std::net::SocketAddr>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The file that releases a held load.
fn release(site: &Site) -> PathBuf {
    site.dir.path().join("release-the-load")
}

/// Starts `herald serve` on 127.0.0.1:0; `hold`: the content load waits for [`release`].
fn serve(site: &Site, notify: &Notify, hold: bool, run: &str) -> Running {
    let stderr = site.dir.path().join(format!("stderr-{run}.txt"));
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(site.config())
        .env("RUST_LOG", "herald=info")
        .env("NOTIFY_SOCKET", &notify.path)
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .env_remove("WATCHDOG_USEC")
        .env_remove("HERALD_TEST_HOLD_LOAD")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap());
    if hold {
        let _ = std::fs::remove_file(release(site));
        cmd.env("HERALD_TEST_HOLD_LOAD", release(site));
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Running {
        child,
        lines,
        stderr,
        addr: None,
    }
}

impl Running {
    /// Waits for the "serving … on http://ADDR/" line; returns the feed paths it lists.
    fn wait_serving(&mut self) -> Vec<String> {
        let first = self
            .lines
            .recv_timeout(DEADLINE)
            .expect("herald prints where it serves");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("an address in the first line");
        let addr: std::net::SocketAddr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        self.addr = Some(addr);
        let prefix = format!("  http://{addr}");
        let mut paths = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            if let Some(path) = line.strip_prefix(&prefix) {
                paths.push(path.to_string());
            }
        }
        assert!(paths.len() > 5, "{paths:?}");
        paths
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> support::Response {
        request(self.addr.expect("serving"), "GET", path, headers)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap()
    }

    /// SIGTERM, then a clean exit.
    fn stop(mut self) {
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0);
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert_eq!(status.code(), Some(0), "{}", self.log());
                return;
            }
            assert!(Instant::now() < deadline, "herald did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn healthz(&self) -> serde_json::Value {
        let r = self.get("/healthz", &[]);
        assert_eq!(r.status, 200);
        serde_json::from_slice(&r.body).unwrap()
    }
}

/// What a client sees at a path in one coding: status, body, validators, coding.
type Seen = (u16, Vec<u8>, Option<String>, Option<String>, Option<String>);

const CODINGS: [&str; 3] = ["identity", "gzip", "br"];

fn look(server: &Running, paths: &[String]) -> BTreeMap<(String, &'static str), Seen> {
    let mut out = BTreeMap::new();
    for path in paths {
        for coding in CODINGS {
            let r = server.get(path, &[("Accept-Encoding", coding)]);
            let h = |name: &str| r.header(name).map(str::to_owned);
            out.insert(
                (path.clone(), coding),
                (
                    r.status,
                    r.body.clone(),
                    h("etag"),
                    h("last-modified"),
                    h("content-encoding"),
                ),
            );
        }
    }
    out
}

fn post(title: &str, category: &str, date: &str) -> String {
    format!(
        "---\ntitle: {title:?}\ndate: {date}\ncategories: [{category}]\n---\nBody of {title}. {}\n",
        "Some words to compress. ".repeat(200)
    )
}

fn small_site(extra: &str) -> Site {
    let site = Site::new(&format!("watch: off\n{extra}"));
    for i in 0..12 {
        site.write(
            &format!("post/p{i}.md"),
            &post(
                &format!("Post {i}"),
                ["One", "Two", "Three"][i % 3],
                &format!("2024-01-{:02}", i + 1),
            ),
        );
    }
    site
}

/// A first, cold run that stores its snapshot; returns what it served.
fn first_run(site: &Site) -> (Vec<String>, BTreeMap<(String, &'static str), Seen>) {
    let mut notify = Notify::new();
    let mut server = serve(site, &notify, false, "first");
    let paths = server.wait_serving();
    notify.wait_for("READY=1");
    // Until the compressed codings are made, a client may get identity for gzip.
    let served = eventually(DEADLINE, || {
        let seen = look(&server, &paths);
        seen.iter()
            .filter(|((path, coding), _)| *coding != "identity" && path.ends_with(".xml"))
            .all(|(_, s)| s.4.is_some())
            .then_some(seen)
    });
    server.stop();
    assert!(
        site.dir.path().join("state/snapshot.redb").is_file(),
        "the snapshot is stored in the state directory"
    );
    (paths, served)
}

#[test]
fn a_restart_serves_the_stored_feeds_byte_for_byte_and_is_ready_before_the_content_loads() {
    let site = small_site("");
    let (paths, before) = first_run(&site);

    let mut notify = Notify::new();
    let mut server = serve(&site, &notify, true, "warm");
    let ready = notify.wait_for("READY=1");
    assert!(ready.contains("loading the content"), "{ready:?}");
    assert_eq!(server.wait_serving(), paths);
    // The load is held: everything below is served from the stored snapshot.
    let health = server.healthz();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["loading"], true, "{health}");
    assert_eq!(health["posts"], 12, "{health}");
    let warm = look(&server, &paths);
    for (key, seen) in &before {
        assert_eq!(&warm[key], seen, "{key:?} differs from the last run's");
    }
    assert!(
        before.values().any(|s| s.4.as_deref() == Some("br")),
        "brotli was served"
    );
    assert!(
        !server.log().contains("content loaded"),
        "the load was still held"
    );

    // Once loaded: the same bytes and validators still (the content did not change).
    std::fs::write(release(&site), b"").unwrap();
    eventually(DEADLINE, || {
        (server.healthz().get("loading").is_none()).then_some(())
    });
    let loaded = look(&server, &paths);
    for (key, seen) in &before {
        assert_eq!(
            &loaded[key], seen,
            "{key:?} changed when the content loaded"
        );
    }
    server.stop();
}

#[test]
fn an_edit_made_while_down_is_served_once_the_content_loads_and_is_announced() {
    let site = small_site("");
    let (_, before) = first_run(&site);
    // Down: a post is edited, and a cache to purge is configured (not an output setting).
    let cache = Recorder::new(|_, _| (200, String::new()));
    let config = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(
        site.config(),
        format!("{config}purge:\n  - url: http://{}\n", cache.addr),
    )
    .unwrap();
    site.write("post/p0.md", &post("Post 0, edited", "One", "2024-01-01"));

    let mut notify = Notify::new();
    let mut server = serve(&site, &notify, true, "edited");
    notify.wait_for("READY=1");
    server.wait_serving();
    let rss = server.get("/rss.xml", &[]);
    assert!(
        !rss.text().contains("Post 0, edited"),
        "still the stored feeds"
    );
    assert_eq!(
        Some(rss.header("etag").unwrap()),
        before[&("/rss.xml".to_string(), "identity")].2.as_deref()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        cache.seen().is_empty(),
        "nothing changed yet: nothing purged"
    );

    std::fs::write(release(&site), b"").unwrap();
    eventually(DEADLINE, || {
        server
            .get("/rss.xml", &[])
            .text()
            .contains("Post 0, edited")
            .then_some(())
    });
    // The global feed and the edited post's category are purged (in any order).
    eventually(DEADLINE, || {
        let seen: Vec<String> = cache.seen().iter().map(|s| s.path().to_string()).collect();
        ["/rss.xml", "/categories/one/rss.xml"]
            .iter()
            .all(|p| seen.iter().any(|s| s == p))
            .then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let purged: Vec<String> = cache.seen().iter().map(|s| s.path().to_string()).collect();
    assert!(
        !purged.iter().any(|p| p.starts_with("/categories/two/")),
        "a feed the edit did not touch is not announced: {purged:?}"
    );
    // An unchanged feed kept its validators through the load.
    let two = server.get("/categories/two/rss.xml", &[]);
    assert_eq!(
        Some(two.header("etag").unwrap()),
        before[&("/categories/two/rss.xml".to_string(), "identity")]
            .2
            .as_deref()
    );
    server.stop();
}

#[test]
fn sigterm_while_a_warm_start_loads_the_content_exits_at_once() {
    let site = small_site("");
    first_run(&site);
    let mut notify = Notify::new();
    let mut server = serve(&site, &notify, true, "stopped");
    notify.wait_for("READY=1");
    server.wait_serving();
    assert_eq!(server.get("/rss.xml", &[]).status, 200);
    // The load is held for good: only the signal can end this.
    let started = Instant::now();
    server.stop();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "SIGTERM during the load waited {:?}",
        started.elapsed()
    );
}

/// A held start that must be cold: no READY and nothing served while the load is held;
/// once released, the content's feeds. Returns its log.
fn cold_start(site: &Site, run: &str) -> (Running, String) {
    let mut notify = Notify::new();
    let mut server = serve(site, &notify, true, run);
    let early = notify.received(Duration::from_millis(1500));
    assert!(
        !early.iter().any(|m| m.contains("READY=1")),
        "ready before the content was loaded: {early:?}\n{}",
        server.log()
    );
    assert!(
        server.lines.try_recv().is_err(),
        "serving before the content was loaded"
    );
    std::fs::write(release(site), b"").unwrap();
    notify.wait_for("READY=1");
    server.wait_serving();
    let log = server.log();
    (server, log)
}

#[test]
fn other_output_settings_or_a_damaged_store_start_cold() {
    let site = small_site("");
    first_run(&site);

    // Another title: the stored feeds say the old one, so they are not served.
    let config = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(
        site.config(),
        config.replace("title: Test Site", "title: Renamed Site"),
    )
    .unwrap();
    let (server, log) = cold_start(&site, "renamed");
    assert!(log.contains("output settings changed"), "{log}");
    assert!(server.get("/rss.xml", &[]).text().contains("Renamed Site"));
    server.stop();

    // One stored resource cut short: the whole stored snapshot is ignored.
    let file = site.dir.path().join("state/snapshot.redb");
    damage_one_resource(&file, "/rss.xml");
    let (server, log) = cold_start(&site, "damaged");
    assert!(log.contains("/rss.xml cannot be read back"), "{log}");
    let rss = server.get("/rss.xml", &[]);
    assert_eq!(rss.status, 200);
    assert!(rss.text().contains("Renamed Site"));
    server.stop();

    // The file itself truncated: made afresh, a cold start, and stored again.
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 3]).unwrap();
    let (server, log) = cold_start(&site, "truncated");
    assert!(log.contains("stored snapshot cannot be used"), "{log}");
    assert_eq!(server.get("/rss.xml", &[]).status, 200);
    server.stop();
    let mut notify = Notify::new();
    let mut server = serve(&site, &notify, true, "warm-again");
    notify.wait_for("READY=1");
    server.wait_serving();
    assert!(server.get("/rss.xml", &[]).text().contains("Renamed Site"));
    drop(server);
}

/// Cuts the stored bytes of `path` short, as a torn write by something else would.
fn damage_one_resource(file: &Path, path: &str) {
    const SERVED: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("served");
    let db = redb::Database::create(file).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut table = txn.open_table(SERVED).unwrap();
        let bytes = table.get(path).unwrap().expect("stored").value().to_vec();
        table.insert(path, &bytes[..bytes.len() - 10]).unwrap();
    }
    txn.commit().unwrap();
}

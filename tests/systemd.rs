//! `herald serve` as a systemd service: the `sd_notify` conversation (READY only once the
//! feeds are served, WATCHDOG, RELOADING/READY around SIGHUP, STOPPING and exit 0 on
//! SIGTERM), socket activation, config reload, and the health and metrics endpoints.
//!
//! The test plays systemd: it owns the notification socket (a Unix datagram socket in a
//! temporary folder) and the activation socket. Every wait has a deadline; the order of
//! events is read from the notification socket, never inferred from sleeps.

mod support;

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use support::notify::Notify;
use support::{request, start, Server, Site, BIN};

const DEADLINE: Duration = Duration::from_secs(20);

/// `herald serve` on an ephemeral port, talking to `notify`.
fn serve(site: &Site, notify: &Notify, env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(site.config())
        .env("RUST_LOG", "warn")
        .env("NOTIFY_SOCKET", &notify.path)
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID");
    for (k, v) in env {
        cmd.env(k, v);
    }
    start(cmd)
}

fn signal(server: &Server, signal: libc::c_int) {
    let rc = unsafe { libc::kill(server.child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill failed");
}

/// Waits for the process to exit, with a deadline.
fn exit_status(server: &mut Server) -> ExitStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "herald did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn post(title: &str, date: &str) -> String {
    format!("---\ntitle: {title:?}\ndate: {date}\ncategories: [News]\n---\nBody of {title}.\n")
}

fn small_site(extra_config: &str) -> Site {
    let site = Site::new(extra_config);
    site.write("post/a.md", &post("Alpha", "2020-01-01"));
    site.write("post/b.md", &post("Beta", "2020-01-02"));
    site
}

/// A metric's value in an OpenMetrics text, 0 if absent.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[test]
fn ready_after_feeds_are_served_watchdog_reload_and_stopping() {
    let site = small_site("");
    let mut notify = Notify::new();
    let mut server = serve(&site, &notify, &[("WATCHDOG_USEC", "200000")]);

    let ready = notify.wait_for("READY=1");
    assert!(
        ready.lines().any(|l| l.starts_with("STATUS=2 posts")),
        "READY carries a status line: {ready:?}"
    );
    // At READY the feeds are already served.
    let rss = server.get("/rss.xml", &[]);
    assert_eq!(rss.status, 200);
    assert!(rss.text().contains("Beta"));
    let etag = rss.header("etag").unwrap().to_owned();

    // Watchdog pings at half of WATCHDOG_USEC.
    notify.wait_for("WATCHDOG=1");
    notify.wait_for("WATCHDOG=1");

    // SIGHUP: RELOADING=1 with the monotonic time, then READY=1.
    signal(&server, libc::SIGHUP);
    let reloading = notify.wait_for("RELOADING=1");
    let usec = reloading
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .expect("MONOTONIC_USEC with RELOADING=1");
    assert!(usec.parse::<u64>().unwrap() > 0);
    notify.wait_for("READY=1");
    // Same config, same content: a reload rebuilds everything and changes no byte.
    let again = server.get("/rss.xml", &[]);
    assert_eq!(again.status, 200);
    assert_eq!(again.header("etag"), Some(etag.as_str()));

    // SIGTERM: STOPPING=1, then a clean exit.
    signal(&server, libc::SIGTERM);
    notify.wait_for("STOPPING=1");
    let status = exit_status(&mut server);
    assert_eq!(status.code(), Some(0), "{status:?}");

    // The order, as systemd saw it.
    let firsts: Vec<&str> = notify
        .seen
        .iter()
        .filter_map(|m| {
            m.lines()
                .find(|l| matches!(*l, "READY=1" | "RELOADING=1" | "STOPPING=1"))
        })
        .collect();
    assert_eq!(firsts, ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]);
}

#[test]
fn no_watchdog_pings_unless_asked() {
    let site = small_site("");
    let mut notify = Notify::new();
    let server = serve(&site, &notify, &[]);
    notify.wait_for("READY=1");
    // A request round trip after READY; any ping would have been sent at once.
    assert_eq!(server.get("/rss.xml", &[]).status, 200);
    signal(&server, libc::SIGTERM);
    notify.wait_for("STOPPING=1");
    assert!(
        !notify.seen.iter().any(|m| m.contains("WATCHDOG=1")),
        "{:?}",
        notify.seen
    );
}

#[test]
fn sighup_rejects_a_broken_config_and_applies_a_changed_one() {
    let site = small_site("");
    let mut notify = Notify::new();
    let server = serve(&site, &notify, &[]);
    notify.wait_for("READY=1");
    let before = server.get("/rss.xml", &[]);
    let etag = before.header("etag").unwrap().to_owned();

    // Broken: a syntax error. The old site keeps serving, byte for byte.
    let good = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(site.config(), format!("{good}title: [unclosed\n")).unwrap();
    signal(&server, libc::SIGHUP);
    notify.wait_for("RELOADING=1");
    let ready = notify.wait_for("READY=1");
    assert!(ready.contains("reload rejected"), "{ready:?}");
    let after = server.get("/rss.xml", &[]);
    assert_eq!(after.status, 200);
    assert_eq!(after.header("etag"), Some(etag.as_str()));

    // Invalid though well-formed: rejected the same way.
    std::fs::write(site.config(), format!("{good}items_per_feed: 0\n")).unwrap();
    signal(&server, libc::SIGHUP);
    notify.wait_for("RELOADING=1");
    notify.wait_for("READY=1");
    assert_eq!(
        server.get("/rss.xml", &[]).header("etag"),
        Some(etag.as_str())
    );

    // Changed: a new title (and a key that needs a restart, which is kept as it runs).
    let changed = good.replace("title: Test Site", "title: Renamed Site");
    assert_ne!(changed, good);
    std::fs::write(site.config(), format!("{changed}max_connections: 7\n")).unwrap();
    signal(&server, libc::SIGHUP);
    notify.wait_for("RELOADING=1");
    let ready = notify.wait_for("READY=1");
    assert!(!ready.contains("rejected"), "{ready:?}");
    let renamed = server.get("/rss.xml", &[]);
    assert!(renamed.text().contains("<title>Renamed Site</title>"));
    assert_ne!(renamed.header("etag"), Some(etag.as_str()));
    assert!(server.get("/atom.xml", &[]).text().contains("Renamed Site"));

    let metrics = server.get("/metrics", &[]).text();
    assert_eq!(
        metric(&metrics, "herald_config_reloads_total{result=\"rejected\"}"),
        2.0
    );
    assert_eq!(
        metric(&metrics, "herald_config_reloads_total{result=\"applied\"}"),
        1.0
    );
}

#[test]
fn reload_can_point_at_another_content_dir() {
    let site = small_site("");
    let mut notify = Notify::new();
    let server = serve(&site, &notify, &[]);
    notify.wait_for("READY=1");
    site.write("../other/post/c.md", &post("Gamma", "2021-01-01"));
    let good = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(
        site.config(),
        good.replace("content_dir: content", "content_dir: other"),
    )
    .unwrap();
    signal(&server, libc::SIGHUP);
    notify.wait_for("RELOADING=1");
    notify.wait_for("READY=1");
    let rss = server.get("/rss.xml", &[]).text();
    assert!(rss.contains("Gamma") && !rss.contains("Alpha"), "{rss}");

    // A content_dir that does not exist is rejected; Gamma keeps serving.
    std::fs::write(
        site.config(),
        good.replace("content_dir: content", "content_dir: missing"),
    )
    .unwrap();
    signal(&server, libc::SIGHUP);
    notify.wait_for("RELOADING=1");
    assert!(notify.wait_for("READY=1").contains("rejected"));
    assert!(server.get("/rss.xml", &[]).text().contains("Gamma"));
}

#[test]
fn socket_activation_serves_on_the_inherited_socket() {
    let site = small_site("listen: 127.0.0.1:1\n");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = listener.as_raw_fd();
    let mut notify = Notify::new();
    // LISTEN_PID must be herald's own pid: `sh` sets it to its pid, then execs herald,
    // which keeps the pid. pre_exec only calls async-signal-safe dup2/fcntl.
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("LISTEN_PID=$$ exec \"$0\" serve --config \"$1\"")
        .arg(BIN)
        .arg(site.config())
        .env("RUST_LOG", "warn")
        .env("LISTEN_FDS", "1")
        .env("NOTIFY_SOCKET", &notify.path)
        .env_remove("LISTEN_PID");
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                // Already in place: only clear close-on-exec.
                if libc::fcntl(3, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let server = start(cmd);
    drop(listener);
    assert_eq!(
        server.addr, addr,
        "herald serves on the socket it was given"
    );
    notify.wait_for("READY=1");
    let rss = request(addr, "GET", "/rss.xml", &[]);
    assert_eq!(rss.status, 200);
    assert!(rss.text().contains("Alpha"));
    // Many requests on the same inherited socket.
    for _ in 0..5 {
        assert_eq!(request(addr, "GET", "/feed.json", &[]).status, 200);
    }
}

#[test]
fn healthz_and_metrics_report_and_count() {
    let site = small_site("");
    let mut notify = Notify::new();
    let server = serve(&site, &notify, &[]);
    notify.wait_for("READY=1");

    let health = server.get("/healthz", &[]);
    assert_eq!(health.status, 200);
    assert_eq!(health.header("cache-control"), Some("no-store"));
    let h: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert_eq!(h["posts"], 2);
    assert_eq!(h["problems"], 0);
    assert!(h["feeds"].as_u64().unwrap() >= 2, "{h}"); // global + News
    assert!(h["last_rebuild_ms"].as_f64().is_some(), "{h}");
    chrono::DateTime::parse_from_rfc3339(h["last_rebuild"].as_str().unwrap()).unwrap();

    let before = server.get("/metrics", &[]);
    assert_eq!(before.status, 200);
    assert!(before
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let before = before.text();
    assert_eq!(metric(&before, "herald_posts"), 2.0);

    let rss = server.get("/rss.xml", &[]);
    let etag = rss.header("etag").unwrap().to_owned();
    assert_eq!(
        server.get("/rss.xml", &[("if-none-match", &etag)]).status,
        304
    );
    assert_eq!(server.get("/feeds.opml", &[]).status, 200);
    assert_eq!(server.get("/no/such/feed", &[]).status, 404);
    assert_eq!(request(server.addr, "POST", "/rss.xml", &[]).status, 405);

    let after = server.get("/metrics", &[]).text();
    let delta = |series: &str| metric(&after, series) - metric(&before, series);
    assert_eq!(
        delta("herald_http_requests_total{route=\"feed\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        delta("herald_http_requests_total{route=\"feed\",status=\"304\"}"),
        1.0
    );
    assert_eq!(
        delta("herald_http_requests_total{route=\"listing\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        delta("herald_http_requests_total{route=\"other\",status=\"404\"}"),
        1.0
    );
    assert_eq!(
        delta("herald_http_requests_total{route=\"other\",status=\"405\"}"),
        1.0
    );
    assert_eq!(
        delta("herald_http_requests_total{route=\"metrics\",status=\"200\"}"),
        1.0
    );
    assert!(
        delta("herald_http_response_body_bytes_total{route=\"feed\"}") >= rss.body.len() as f64
    );

    // An edit is a rebuild: counters and health follow.
    site.write("post/c.md", &post("Gamma", "2020-01-03"));
    support::eventually(DEADLINE, || {
        let text = server.get("/metrics", &[]).text();
        (metric(&text, "herald_posts") == 3.0).then_some(text)
    });
    let after_edit = server.get("/metrics", &[]).text();
    assert!(metric(&after_edit, "herald_rebuilds_total") >= 2.0);
    assert!(metric(&after_edit, "herald_rebuild_duration_seconds_count") >= 2.0);
    let h: serde_json::Value = serde_json::from_slice(&server.get("/healthz", &[]).body).unwrap();
    assert_eq!(h["posts"], 3);
}

#[test]
fn endpoints_never_touch_the_feeds_and_can_be_turned_off() {
    let on = small_site("");
    let off = small_site("health_path: ''\nmetrics_path: ''\n");
    let (mut n_on, mut n_off) = (Notify::new(), Notify::new());
    let s_on = serve(&on, &n_on, &[]);
    let s_off = serve(&off, &n_off, &[]);
    n_on.wait_for("READY=1");
    n_off.wait_for("READY=1");
    for path in [
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/feeds.opml",
        "/feeds.json",
        "/",
    ] {
        let (a, b) = (s_on.get(path, &[]), s_off.get(path, &[]));
        assert_eq!(a.status, 200, "{path}");
        assert_eq!(a.header("etag"), b.header("etag"), "{path}");
        assert_eq!(a.body, b.body, "{path}");
        assert!(
            !a.text().contains("healthz") && !a.text().contains("/metrics"),
            "{path}"
        );
    }
    assert_eq!(s_off.get("/healthz", &[]).status, 404);
    assert_eq!(s_off.get("/metrics", &[]).status, 404);
}

#[test]
fn sigterm_while_the_content_loads_exits_at_once_without_ready() {
    // Enough posts that a debug build is still loading them when the signal comes.
    let site = Site::new("watch: off\n");
    for i in 0..30_000 {
        site.write(
            &format!("post/{:02}/p{i}.md", i % 100),
            &post(&format!("Post {i}"), "2020-01-01"),
        );
    }
    let mut notify = Notify::new();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(site.config())
        .env("RUST_LOG", "warn")
        .env("NOTIFY_SOCKET", &notify.path)
        .env_remove("LISTEN_FDS")
        .env_remove("WATCHDOG_USEC")
        .stdout(std::process::Stdio::null());
    let child = cmd.spawn().unwrap();
    let mut server = Server {
        child,
        addr: "127.0.0.1:9".parse().unwrap(),
    };
    std::thread::sleep(Duration::from_millis(300));
    notify.socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    while let Ok(n) = notify.socket.recv(&mut buf) {
        notify
            .seen
            .push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(
        !notify.seen.iter().any(|m| m.contains("READY=1")),
        "the load finished before the signal; the test needs a bigger site"
    );
    signal(&server, libc::SIGTERM);
    let started = Instant::now();
    let status = exit_status(&mut server);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "SIGTERM during the load waited {:?} for it",
        started.elapsed()
    );
    // It never claimed to be ready: it stopped instead of finishing the load first.
    while let Ok(n) = notify.socket.recv(&mut buf) {
        notify
            .seen
            .push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(
        !notify.seen.iter().any(|m| m.contains("READY=1")),
        "{:?}",
        notify.seen
    );
}

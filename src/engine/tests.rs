//! The owner loop under paused tokio time: scheduled posts come due on time, rescans find
//! changes made without events, reload requests are applied, and shutdown ends the loop.

use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;

use super::{run, Hooks};
use crate::clock::Clock;
use crate::config::{self, Settings};
use crate::metrics::Metrics;
use crate::site::{Handles, Site};
use crate::snapshot::SharedSnapshot;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(extra: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("content")).unwrap();
        let yaml = format!(
            "title: T\nbase_url: https://e.org/\ncontent_dir: content\nwatch: off\n{extra}"
        );
        std::fs::write(dir.path().join("herald.yaml"), yaml).unwrap();
        Fixture { dir }
    }

    fn write(&self, name: &str, title: &str, date: &str) {
        let text = format!("---\ntitle: {title}\ndate: {date}\n---\nBody.\n");
        std::fs::write(self.dir.path().join("content").join(name), text).unwrap();
    }

    fn settings(&self) -> Settings {
        config::load(&self.dir.path().join("herald.yaml")).unwrap()
    }
}

fn rss(shared: &SharedSnapshot) -> String {
    let snapshot = shared.load();
    let body = &snapshot.get("/rss.xml").unwrap().identity.body;
    String::from_utf8(body.to_vec()).unwrap()
}

/// Starts the loop on `fixture`'s site with the clock at `now`; returns what the server
/// would read, the reload sender, the metrics and the stop switch.
fn start(
    fixture: &Fixture,
    now: &str,
) -> (
    SharedSnapshot,
    tokio::sync::mpsc::Sender<()>,
    Arc<Metrics>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let settings = fixture.settings();
    let clock = Clock::starting_at(DateTime::parse_from_rfc3339(now).unwrap());
    let handles = Handles::new(clock, Arc::new(crate::state::State::memory()));
    let shared = handles.shared.clone();
    let site = Site::load_into(&settings, handles).unwrap();
    let metrics = Arc::new(Metrics::new());
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
    let hooks = Hooks {
        metrics: metrics.clone(),
        reload: reload_rx,
        watchdog: None,
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(run(site, settings, hooks, async move {
        let _ = stop_rx.await;
    }));
    (shared, reload_tx, metrics, stop_tx, handle)
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_post_is_published_when_it_comes_due_and_not_before() {
    let fixture = Fixture::new("");
    fixture.write("old.md", "Old", "2029-12-31T00:00:00Z");
    fixture.write("later.md", "Later", "2030-01-01T01:00:00Z");
    let (shared, _reload, _metrics, stop, handle) = start(&fixture, "2030-01-01T00:00:00Z");
    assert!(rss(&shared).contains("Old"));
    assert!(!rss(&shared).contains("Later"));
    tokio::time::sleep(Duration::from_secs(3599)).await;
    assert!(!rss(&shared).contains("Later"), "published a second early");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(rss(&shared).contains("Later"), "not published once due");
    stop.send(()).unwrap();
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_periodic_rescan_finds_a_change_that_raised_no_event() {
    let fixture = Fixture::new("rescan_interval_secs: 60\n");
    fixture.write("a.md", "Alpha", "2029-12-31T00:00:00Z");
    let (shared, _reload, metrics, stop, handle) = start(&fixture, "2030-01-01T00:00:00Z");
    fixture.write("b.md", "Beta", "2029-12-31T01:00:00Z");
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(
        !rss(&shared).contains("Beta"),
        "watch is off: nothing before the rescan"
    );
    tokio::time::sleep(Duration::from_secs(31)).await;
    assert!(rss(&shared).contains("Beta"));
    assert!(metrics.encode().contains("herald_rescans_total 1"));
    stop.send(()).unwrap();
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_storm_of_reload_requests_is_one_reload() {
    let fixture = Fixture::new("");
    fixture.write("a.md", "Alpha", "2029-12-31T00:00:00Z");
    let (shared, reload, metrics, stop, handle) = start(&fixture, "2030-01-01T00:00:00Z");
    // The config now names another title: a reload must pick it up.
    let path = fixture.dir.path().join("herald.yaml");
    let yaml = std::fs::read_to_string(&path)
        .unwrap()
        .replace("title: T", "title: Renamed");
    std::fs::write(&path, yaml).unwrap();
    // What main does with each SIGHUP: try_send into a queue of one.
    let sent = (0..50).filter(|_| reload.try_send(()).is_ok()).count();
    assert_eq!(sent, 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(rss(&shared).contains("<title>Renamed</title>"));
    let text = metrics.encode();
    let reloads: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("herald_config_reloads_total"))
        .collect();
    assert_eq!(
        reloads.iter().filter(|l| l.ends_with(" 1")).count(),
        1,
        "{reloads:?}"
    );
    assert!(
        reloads
            .iter()
            .all(|l| l.ends_with(" 1") || l.ends_with(" 0")),
        "{reloads:?}"
    );
    stop.send(()).unwrap();
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_idle_loop_ends_on_shutdown() {
    let fixture = Fixture::new("");
    fixture.write("a.md", "Alpha", "2029-12-31T00:00:00Z");
    let (_shared, _reload, _metrics, stop, handle) = start(&fixture, "2030-01-01T00:00:00Z");
    tokio::time::sleep(Duration::from_secs(6 * 3600)).await;
    assert!(!handle.is_finished(), "the loop runs until told to stop");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(1), handle)
        .await
        .expect("the loop ends on shutdown")
        .unwrap();
}

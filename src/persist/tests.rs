//! Unit tests of [`super`].

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::clock::Clock;
use crate::site::{Handles, Site};
use crate::state::State;

fn post(title: &str, category: &str) -> String {
    format!("---\ntitle: {title:?}\ndate: 2020-01-01\ncategories: [{category}]\n---\nBody of {title}. {}\n", "Words. ".repeat(400))
}

fn settings(dir: &Path, extra: &str) -> Settings {
    let config = dir.join("herald.yaml");
    std::fs::write(
        &config,
        format!("content_dir: content\nbase_url: https://example.org/\ntitle: T\nwebsub:\n  hubs: [https://hub.example/]\n{extra}"),
    )
    .unwrap();
    crate::config::load_with(Some(&config), None).unwrap()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join("content").join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn site(dir: &Path) {
    for i in 0..30 {
        write(
            dir,
            &format!("post/p{i}.md"),
            &post(&format!("Post {i}"), ["Rust", "Go", "Zig"][i % 3]),
        );
    }
}

fn load(settings: &Settings, state: &Arc<State>, served: Option<Arc<Snapshot>>) -> Site {
    let handles = Handles::new(Clock::from_env(), state.clone());
    if let Some(served) = served {
        handles.shared.store(served);
    }
    Site::load_into(settings, handles).unwrap()
}

fn writer(state: &State) -> Writer {
    Writer {
        store: state
            .snapshot_store()
            .expect("a store beside a state on disk"),
        metrics: Arc::new(Metrics::new()),
        stored: None,
        failed: false,
    }
}

#[test]
fn every_resource_a_site_serves_reads_back_as_it_was_served() {
    let dir = tempfile::tempdir().unwrap();
    site(dir.path());
    let settings = settings(dir.path(), "");
    let site = load(&settings, &Arc::new(State::memory()), None);
    let snapshot = site.snapshot();
    assert!(snapshot.resources.len() > 10);
    for (path, resource) in &snapshot.resources {
        let back =
            encode::decode(&encode::encode(resource)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(back.same_as(resource), "{path}");
        for coding in [
            crate::snapshot::Encoding::Gzip,
            crate::snapshot::Encoding::Brotli,
        ] {
            let (a, b) = (
                resource.representation(coding).map(|r| (&r.body, &r.etag)),
                back.representation(coding).map(|r| (&r.body, &r.etag)),
            );
            assert_eq!(a, b, "{path} {coding:?}");
        }
    }
}

#[test]
fn a_stored_snapshot_is_served_again_only_under_the_same_settings_and_is_kept_by_the_load() {
    let dir = tempfile::tempdir().unwrap();
    site(dir.path());
    let settings = settings(dir.path(), "");
    let state = Arc::new(State::open(&dir.path().join("state")));
    let mut w = writer(&state);
    assert!(warm(&w.store, &settings).is_none(), "nothing stored yet");

    // First run: everything is written.
    let first = load(&settings, &state, None).snapshot();
    w.sync(first.clone());
    let stored = warm(&w.store, &settings).expect("stored under these settings");
    assert_eq!(stored.snapshot.resources.len(), first.resources.len());
    for (path, r) in &first.resources {
        assert!(stored.snapshot.resources[path].same_as(r), "{path}");
    }

    // Next start: the load renders the same bytes, and serves the stored resources
    // themselves (compressed codings included): nothing to store, nothing recompressed.
    let again = load(&settings, &state, Some(stored.snapshot.clone())).snapshot();
    for (path, r) in &again.resources {
        assert!(
            Arc::ptr_eq(r, &stored.snapshot.resources[path]),
            "{path} was made anew"
        );
        assert!(!r.is_pending());
    }
    assert!(changes(Some(&stored.snapshot), &again).is_empty());

    // An edit made while down: only what it changed is written.
    write(dir.path(), "post/p1.md", &post("Post 1, edited", "Go"));
    let edited = load(&settings, &state, Some(stored.snapshot.clone())).snapshot();
    let changed: Vec<String> = changes(Some(&stored.snapshot), &edited)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    assert!(changed.contains(&"/rss.xml".to_string()), "{changed:?}");
    assert!(
        !changed.iter().any(|p| p.contains("/rust/")),
        "an untouched feed is not rewritten: {changed:?}"
    );
    w.stored = Some(stored.snapshot.clone());
    w.sync(edited.clone());
    let stored = warm(&w.store, &settings).unwrap();
    assert_eq!(
        stored.snapshot.resources["/rss.xml"].identity.body,
        edited.resources["/rss.xml"].identity.body
    );

    // Other output settings: not served.
    assert!(warm(
        &w.store,
        &super::tests::settings(dir.path(), "items_per_feed: 3\n")
    )
    .is_none());
}

#[test]
fn a_damaged_resource_means_no_warm_start() {
    let dir = tempfile::tempdir().unwrap();
    site(dir.path());
    let settings = settings(dir.path(), "");
    let state = Arc::new(State::open(&dir.path().join("state")));
    let first = load(&settings, &state, None).snapshot();
    let mut w = writer(&state);
    w.sync(first.clone());
    let mut bytes = encode::encode(&first.resources["/rss.xml"]);
    bytes.truncate(bytes.len() - 7);
    w.store
        .write(
            b"ignored",
            false,
            std::iter::once(("/rss.xml".to_string(), Some(bytes))),
        )
        .unwrap();
    assert!(warm(&w.store, &settings).is_none(), "an unreadable meta");
    w.stored = None;
    w.sync(first.clone());
    assert!(warm(&w.store, &settings).is_some(), "written whole again");
    let mut bytes = encode::encode(&first.resources["/rss.xml"]);
    bytes.truncate(bytes.len() - 7);
    let meta = {
        let txn_meta = Meta {
            herald: env!("CARGO_PKG_VERSION").into(),
            settings: format!("{:032x}", first.fingerprint),
            posts: 0,
            feeds: 0,
            problems: 0,
        };
        serde_json::to_vec(&txn_meta).unwrap()
    };
    w.store
        .write(
            &meta,
            false,
            std::iter::once(("/rss.xml".to_string(), Some(bytes))),
        )
        .unwrap();
    assert!(warm(&w.store, &settings).is_none(), "a truncated resource");
}

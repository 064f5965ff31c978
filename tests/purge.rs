//! `purge:` through the real `herald serve`: after an edit, the caches in front are told
//! exactly which paths changed, with the public Host, and a cache that fails is retried.
//! The "caches" are recorders on 127.0.0.1.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::recorder::{Recorder, Seen};
use support::{eventually, Site};

const DEADLINE: Duration = Duration::from_secs(20);

/// A cache that answers 500 to the next `fail` requests (the test sets how many), 200 to
/// the others.
fn cache(fail: &Arc<AtomicUsize>) -> Recorder {
    let fail = fail.clone();
    Recorder::new(move |_, _| {
        let failed = fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        (if failed { 500 } else { 200 }, String::new())
    })
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    seen.headers.get(name).map_or("", String::as_str)
}

fn body(seen: &Seen) -> String {
    String::from_utf8_lossy(&seen.body).into_owned()
}

fn post(title: &str, category: &str) -> String {
    format!("---\ntitle: {title:?}\ndate: 2024-01-01\ncategories: [{category}]\n---\nBody.\n")
}

#[test]
fn an_edit_purges_exactly_its_paths_with_the_public_host_and_a_failing_cache_is_retried() {
    let fail = Arc::new(AtomicUsize::new(0));
    let cache = cache(&fail);
    let site = Site::new(&format!("purge:\n  - url: http://{}\n", cache.addr));
    site.write("post/a.md", &post("Alpha", "one"));
    site.write("post/b.md", &post("Beta", "two"));
    let server = site.serve();
    // The first publish (a fresh state: everything is new) is purged whole first.
    eventually(DEADLINE, || {
        let seen = cache.seen();
        seen.iter()
            .any(|s| s.path() == "/categories/two/feed.json")
            .then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let before = cache.seen().len();
    // The next two PURGEs fail: the retry (1 s later) must still purge everything.
    fail.store(2, Ordering::SeqCst);
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
            .all(|w| after.iter().any(|s| s.path() == *w && s.status == 200));
        ok.then_some(after)
    });
    for seen in &purged {
        assert_eq!(seen.method, "PURGE");
        assert_eq!(
            header(seen, "host"),
            "feeds.example.org",
            "the Host the cache filed it under"
        );
        assert!(
            !seen.path().starts_with("/categories/two/"),
            "an untouched feed is not purged: {seen:?}"
        );
    }
    assert!(
        purged.iter().filter(|s| s.status != 200).count() == 2,
        "two failed and were retried: {purged:?}"
    );
    let metrics = server.get("/metrics", &[]).text();
    assert!(support::metric(&metrics, "herald_purges_total{outcome=\"failed\"}") >= 2.0);
    assert!(support::metric(&metrics, "herald_purges_total{outcome=\"ok\"}") >= 6.0);
}

#[test]
fn a_cdn_api_gets_one_request_per_batch_with_the_urls_keys_and_a_secret_read_from_a_file() {
    let api = cache(&Arc::new(AtomicUsize::new(0)));
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
            .any(|s| body(s).contains("https://feeds.example.org/categories/one/atom.xml"))
            .then_some(after)
    });
    for call in &calls {
        assert_eq!(call.method, "POST");
        assert_eq!(call.path(), "/zones/z/purge");
        assert_eq!(header(call, "authorization"), "Bearer t0ken");
        let body: serde_json::Value = serde_json::from_str(&body(call)).unwrap();
        assert!(body["files"].as_array().unwrap().len() <= 2, "{body}");
    }
    assert!(
        calls
            .iter()
            .any(|c| body(c).contains("feed:/categories/one/") && body(c).contains("post:/post/a/")),
        "{calls:?}"
    );
    let config = std::fs::read_to_string(site.config()).unwrap();
    assert!(!config.contains("t0ken"), "the secret is not in the config");
}

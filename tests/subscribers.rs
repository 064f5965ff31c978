//! What a subscriber sees over time, through the real `herald serve` on 127.0.0.1:
//! validators that move on every change and survive restarts, and feeds that never vanish.

mod support;

use std::time::Duration;

use support::{eventually, Server, Site};

const DEADLINE: Duration = Duration::from_secs(20);

fn post(title: &str, date: &str, category: &str) -> String {
    format!(
        "---\ntitle: {title:?}\ndate: {date}\ncategories: [{category}]\n---\nBody of {title}.\n"
    )
}

/// Waits until `path` serves a body containing `needle`; returns its ETag and Last-Modified.
fn served_with(server: &Server, path: &str, needle: &str) -> (String, String) {
    eventually(DEADLINE, || {
        let r = server.get(path, &[]);
        (r.status == 200 && r.text().contains(needle)).then(|| {
            (
                r.header("etag").unwrap().to_owned(),
                r.header("last-modified").unwrap_or("").to_owned(),
            )
        })
    })
}

fn http_date(text: &str) -> std::time::SystemTime {
    httpdate::parse_http_date(text).unwrap()
}

#[test]
fn an_edit_that_keeps_the_dates_still_moves_last_modified_so_if_modified_since_sees_it() {
    let site = Site::new("");
    site.write("post/a.md", &post("Alpha", "2020-01-01", "One"));
    site.write("post/b.md", &post("Beta", "2020-01-02", "One"));
    let server = site.serve();
    let (etag, before) = served_with(&server, "/rss.xml", "Beta");
    // A title edit: no date in the content moves.
    site.write("post/a.md", &post("Alpha, retitled", "2020-01-01", "One"));
    let (new_etag, after) = served_with(&server, "/rss.xml", "Alpha, retitled");
    assert_ne!(etag, new_etag);
    assert!(http_date(&after) > http_date(&before), "{before} → {after}");
    // A client that polls with the old date gets the new feed, not 304.
    let r = server.get("/rss.xml", &[("If-Modified-Since", &before)]);
    assert_eq!(r.status, 200);
    assert!(r.text().contains("Alpha, retitled"));
    // A backdated post moves it again.
    site.write("post/old.md", &post("Backdated", "2001-01-01", "One"));
    let (_, backdated) = served_with(&server, "/categories/one/rss.xml", "Backdated");
    let r = server.get("/categories/one/rss.xml", &[("If-Modified-Since", &after)]);
    assert_eq!(
        r.status, 200,
        "a backdated post is news too ({after} → {backdated})"
    );
}

#[test]
fn a_restart_serves_the_same_validators_and_remembers_edits() {
    let site = Site::new("");
    site.write("post/a.md", &post("Alpha", "2020-01-01", "One"));
    let server = site.serve();
    served_with(&server, "/rss.xml", "Alpha");
    site.write("post/a.md", &post("Alpha edited", "2020-01-01", "One"));
    let (etag, modified) = served_with(&server, "/rss.xml", "Alpha edited");
    drop(server);
    let again = site.serve();
    let (etag2, modified2) = served_with(&again, "/rss.xml", "Alpha edited");
    assert_eq!((etag2, modified2), (etag.clone(), modified.clone()));
    // Without the state the date would fall back to the post's (2020): it did not.
    assert!(http_date(&modified) > http_date("Thu, 02 Jan 2020 00:00:00 GMT"));
    let r = again.get(
        "/rss.xml",
        &[("If-None-Match", &etag), ("If-Modified-Since", &modified)],
    );
    assert_eq!(r.status, 304);
}

#[test]
fn a_corrupt_state_file_is_replaced_with_a_warning_and_the_feeds_are_served() {
    let site = Site::new("");
    site.write("post/a.md", &post("Alpha", "2020-01-01", "One"));
    let state = site.content().parent().unwrap().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("herald.redb"), b"garbage, not a database").unwrap();
    let server = site.serve();
    served_with(&server, "/rss.xml", "Alpha");
    assert!(state.join("herald.redb.corrupt").exists());
}

#[test]
fn a_category_that_loses_its_last_post_keeps_answering_with_a_valid_empty_feed() {
    let site = Site::new("");
    site.write("post/a.md", &post("Alpha", "2020-01-01", "Gadgets"));
    site.write("post/b.md", &post("Beta", "2020-01-02", "Other"));
    let server = site.serve();
    served_with(&server, "/categories/gadgets/atom.xml", "Alpha");
    std::fs::remove_file(site.content().join("post/a.md")).unwrap();
    for path in [
        "/categories/gadgets/rss.xml",
        "/categories/gadgets/atom.xml",
        "/categories/gadgets/feed.json",
    ] {
        let body = eventually(DEADLINE, || {
            let r = server.get(path, &[]);
            assert_eq!(r.status, 200, "{path} must not vanish");
            (!r.text().contains("Alpha")).then(|| r.body.clone())
        });
        let parsed = feed_rs::parser::parse(body.as_slice()).unwrap();
        assert!(parsed.entries.is_empty(), "{path}");
    }
    assert!(server
        .get("/categories/gadgets/rss.xml", &[])
        .text()
        .contains("no posts about Gadgets right now"));
    // Still there after a restart: the state remembers the feed.
    drop(server);
    let again = site.serve();
    let r = again.get("/categories/gadgets/rss.xml", &[]);
    assert_eq!(r.status, 200);
    // A feed never published is still not announced.
    assert_eq!(again.get("/categories/never/rss.xml", &[]).status, 404);
}

#[test]
fn redirects_answer_301_and_retired_feeds_410() {
    let site = Site::new(
        "redirects:\n  /categories/wearable/: /categories/wearables/\n  /index.xml: /rss.xml\nretired_feeds:\n  - /categories/old/\n",
    );
    site.write("post/a.md", &post("Alpha", "2020-01-01", "Wearables"));
    site.write("post/b.md", &post("Beta", "2020-01-02", "Old"));
    let server = site.serve();
    served_with(&server, "/rss.xml", "Beta");
    let r = server.get("/categories/wearable/atom.xml", &[]);
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/categories/wearables/atom.xml"));
    assert_eq!(
        server.get("/categories/wearables/atom.xml", &[]).status,
        200
    );
    assert_eq!(
        server.get("/index.xml", &[]).header("location"),
        Some("/rss.xml")
    );
    // Retired: gone in every format, though a post still has the term, and off the lists.
    for format in ["rss.xml", "atom.xml", "feed.json"] {
        assert_eq!(
            server.get(&format!("/categories/old/{format}"), &[]).status,
            410
        );
    }
    assert!(!server
        .get("/feeds.opml", &[])
        .text()
        .contains("categories/old/"));
    assert!(
        server.get("/rss.xml", &[]).text().contains("Beta"),
        "the posts stay"
    );
}

//! What a subscriber sees over time, through the real `herald serve` on 127.0.0.1:
//! validators that move on every change and survive restarts, feeds that never vanish, ids
//! that survive renames, and the featured image as readers show it.

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

/// The `id` and `url` of every item of a JSON feed, by title.
fn json_items(server: &Server, path: &str) -> std::collections::BTreeMap<String, (String, String)> {
    let feed: serde_json::Value = serde_json::from_slice(&server.get(path, &[]).body).unwrap();
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["title"].as_str().unwrap().to_owned(),
                (
                    i["id"].as_str().unwrap().to_owned(),
                    i["url"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

const ALPHA_ID: &str = "https://feeds.example.org/post/a/";

#[test]
fn a_slug_change_keeps_the_id_through_the_state_across_a_restart_and_a_move_through_an_alias() {
    let site = Site::new("");
    site.write("post/a.md", &post("Alpha", "2020-01-01", "One"));
    let server = site.serve();
    served_with(&server, "/feed.json", "Alpha");
    assert_eq!(json_items(&server, "/feed.json")["Alpha"].0, ALPHA_ID);
    drop(server);
    // A new slug, no alias: the state knows the post by its path.
    site.write(
        "post/a.md",
        "---\ntitle: Alpha\ndate: 2020-01-01\nslug: alpha-renamed\n---\nBody.\n",
    );
    let server = site.serve();
    served_with(&server, "/feed.json", "alpha-renamed");
    let (id, url) = json_items(&server, "/feed.json")["Alpha"].clone();
    assert_eq!(url, "https://feeds.example.org/post/alpha-renamed/");
    assert_eq!(id, ALPHA_ID, "a reader must not see the post twice");
    let rss = server.get("/rss.xml", &[]).text();
    assert!(
        rss.contains(&format!("<guid isPermaLink=\"false\">{ALPHA_ID}</guid>")),
        "{rss}"
    );
    // Moved to another section, saying where it was: the same id again.
    std::fs::remove_file(site.content().join("post/a.md")).unwrap();
    site.write(
        "notes/alpha.md",
        "---\ntitle: Alpha\ndate: 2020-01-01\naliases: [/post/alpha-renamed/]\n---\nBody.\n",
    );
    served_with(&server, "/feed.json", "notes/alpha/");
    assert_eq!(json_items(&server, "/feed.json")["Alpha"].0, ALPHA_ID);
}

#[test]
fn a_published_post_moved_with_neither_alias_nor_id_is_warned_about_by_check() {
    let site = Site::new("");
    site.write("post/a.md", &post("Alpha", "2020-01-01", "One"));
    let server = site.serve();
    served_with(&server, "/feed.json", "Alpha");
    drop(server);
    std::fs::remove_file(site.content().join("post/a.md")).unwrap();
    site.write("notes/a.md", &post("Alpha", "2020-01-01", "One"));
    let out = site.run(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "a warning does not fail the check: {stdout}"
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("notes/a.md") && l.contains("warning"))
        .unwrap_or_else(|| panic!("no warning naming the file: {stdout}"));
    assert!(line.contains("aliases: [\"/post/a/\"]"), "{line}");
    assert!(line.contains(&format!("id: {ALPHA_ID}")), "{line}");
    // Without the state there is nothing to compare with: no warning.
    std::fs::remove_dir_all(site.dir.path().join("state")).unwrap();
    let out = site.run(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("notes/a.md"), "{stdout}");
}

/// A Hugo site in a temporary folder, built with `herald build --hugo-site`; returns the
/// output folder's files.
fn build_hugo(files: &[(&str, &[u8])]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    for (rel, bytes) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let out = dir.path().join("out");
    let status = std::process::Command::new(support::BIN)
        .args(["build", "--out"])
        .arg(&out)
        .arg("--hugo-site")
        .arg(&root)
        .env("RUST_LOG", support::test_log_filter())
        .status()
        .unwrap();
    assert!(status.success());
    (dir, out)
}

fn read(out: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(out.join(file)).unwrap()
}

#[test]
fn ids_from_aliases_and_id_front_matter_without_any_state() {
    let config: &[u8] = b"baseURL = 'https://site.example.org/'\ntitle = 'Site'\n";
    let (_dir, before) = build_hugo(&[
        ("hugo.toml", config),
        (
            "content/post/first.md",
            b"---\ntitle: First\ndate: 2020-01-01\n---\nx\n",
        ),
    ]);
    let (_dir2, after) = build_hugo(&[
        ("hugo.toml", config),
        (
            "content/post/first.md",
            b"---\ntitle: First\ndate: 2020-01-01\nslug: renamed\naliases: [/post/first/]\n---\nx\n",
        ),
        (
            "content/post/second.md",
            b"---\ntitle: Second\ndate: 2020-01-02\nid: urn:uuid:0b5e9a52-2d1f-4c3e-9f7a-1a2b3c4d5e6f\n---\nx\n",
        ),
    ]);
    let id = |out: &std::path::Path, title: &str| -> String {
        let feed: serde_json::Value = serde_json::from_str(&read(out, "feed.json")).unwrap();
        feed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["title"] == title)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(id(&before, "First"), "https://site.example.org/post/first/");
    assert_eq!(
        id(&after, "First"),
        id(&before, "First"),
        "the alias keeps it"
    );
    assert_eq!(
        id(&after, "Second"),
        "urn:uuid:0b5e9a52-2d1f-4c3e-9f7a-1a2b3c4d5e6f"
    );
    let rss = read(&after, "rss.xml");
    assert!(rss.contains(
        "<guid isPermaLink=\"false\">urn:uuid:0b5e9a52-2d1f-4c3e-9f7a-1a2b3c4d5e6f</guid>"
    ));
    assert!(
        read(&after, "atom.xml").contains("<id>urn:uuid:0b5e9a52-2d1f-4c3e-9f7a-1a2b3c4d5e6f</id>")
    );
}

#[test]
fn featured_images_become_enclosures_thumbnails_and_attachments_and_the_favicon_the_icon() {
    let png = [7u8; 1234];
    let jpg = [9u8; 4321];
    let (_dir, out) = build_hugo(&[
        (
            "hugo.toml",
            b"baseURL = 'https://site.example.org/'\ntitle = 'Site'\n",
        ),
        ("static/favicon.png", b"png"),
        ("static/favicon.svg", b"<svg/>"),
        ("static/img/s.png", &png),
        ("content/post/b/cover.jpg", &jpg),
        (
            "content/post/b/index.md",
            b"---\ntitle: Bundle\ndate: 2020-01-03\nimage: cover.jpg\n---\nx\n",
        ),
        (
            "content/post/s.md",
            b"---\ntitle: Static\ndate: 2020-01-02\nfeaturedImage: /img/s.png\n---\nx\n",
        ),
        (
            "content/post/r.md",
            b"---\ntitle: Remote\ndate: 2020-01-01\nimage: https://cdn.example.net/r.webp\n---\nx\n",
        ),
    ]);
    let rss = read(&out, "rss.xml");
    let doc = roxmltree::Document::parse(&rss).unwrap();
    let item = |title: &str| {
        doc.descendants()
            .find(|n| {
                n.has_tag_name("item")
                    && n.children()
                        .any(|c| c.has_tag_name("title") && c.text() == Some(title))
            })
            .unwrap()
    };
    let enclosure = |title: &str| {
        item(title)
            .children()
            .find(|c| c.has_tag_name("enclosure"))
            .map(|e| {
                (
                    e.attribute("url").unwrap().to_owned(),
                    e.attribute("length").unwrap().to_owned(),
                    e.attribute("type").unwrap().to_owned(),
                )
            })
    };
    assert_eq!(
        enclosure("Bundle"),
        Some((
            "https://site.example.org/post/b/cover.jpg".into(),
            "4321".into(),
            "image/jpeg".into()
        ))
    );
    assert_eq!(
        enclosure("Static"),
        Some((
            "https://site.example.org/img/s.png".into(),
            "1234".into(),
            "image/png".into()
        ))
    );
    // No file to measure: no enclosure (RSS requires its length), a thumbnail instead.
    assert_eq!(enclosure("Remote"), None);
    const MEDIA: &str = "http://search.yahoo.com/mrss/";
    for title in ["Bundle", "Static", "Remote"] {
        for media in ["content", "thumbnail"] {
            assert!(
                item(title)
                    .children()
                    .any(|c| c.has_tag_name((MEDIA, media))),
                "{title}: media:{media}"
            );
        }
    }
    let thumbnail = item("Remote")
        .children()
        .find(|c| c.has_tag_name((MEDIA, "thumbnail")))
        .unwrap();
    assert_eq!(
        thumbnail.attribute("url"),
        Some("https://cdn.example.net/r.webp")
    );

    let atom = read(&out, "atom.xml");
    assert!(atom.contains(
        "<link href=\"https://site.example.org/img/s.png\" rel=\"enclosure\" type=\"image/png\" length=\"1234\"/>"
    ), "{atom}");
    assert!(
        atom.contains(
            "<link href=\"https://cdn.example.net/r.webp\" rel=\"enclosure\" type=\"image/webp\"/>"
        ),
        "{atom}"
    );

    let json: serde_json::Value = serde_json::from_str(&read(&out, "feed.json")).unwrap();
    let items = json["items"].as_array().unwrap();
    let by_title = |t: &str| items.iter().find(|i| i["title"] == t).unwrap();
    assert_eq!(
        by_title("Bundle")["attachments"],
        serde_json::json!([{"url": "https://site.example.org/post/b/cover.jpg", "mime_type": "image/jpeg", "size_in_bytes": 4321}])
    );
    assert_eq!(
        by_title("Remote")["attachments"],
        serde_json::json!([{"url": "https://cdn.example.net/r.webp", "mime_type": "image/webp"}])
    );
    assert_eq!(
        by_title("Remote")["image"],
        "https://cdn.example.net/r.webp"
    );

    // The site's favicon (png before svg), as every format's icon.
    assert_eq!(json["favicon"], "https://site.example.org/favicon.png");
    assert!(atom.contains("<icon>https://site.example.org/favicon.png</icon>"));
    assert!(rss.contains("<url>https://site.example.org/favicon.png</url>"));
}

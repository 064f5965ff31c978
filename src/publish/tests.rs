//! Unit tests of [`super`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use super::*;
use crate::config::Config;
use crate::post::Body;

/// The title of a feed whose writers panic (a stand-in for a bug in a writer).
static PANIC_IN_FEED: Mutex<Option<String>> = Mutex::new(None);

pub(super) fn panic_if_asked(info: &FeedInfo) {
    let asked = PANIC_IN_FEED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if asked.as_deref() == Some(info.title.as_str()) {
        panic!("test: this feed's writer panics");
    }
}

fn settings() -> Settings {
    settings_with("")
}

fn settings_with(extra: &str) -> Settings {
    let yaml = format!("title: T\nbase_url: https://e.org/\ncontent_dir: .\n{extra}");
    Config::from_yaml(Path::new("herald.yaml"), &yaml)
        .unwrap()
        .validate(Path::new("herald.yaml"))
        .unwrap()
}

fn text(snapshot: &Snapshot, path: &str) -> String {
    let resource = snapshot
        .get(path)
        .unwrap_or_else(|| panic!("{path} is served"));
    String::from_utf8(resource.identity.body.to_vec()).unwrap()
}

fn at(date: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(date).unwrap()
}

fn post(source: &str, date: &str, title: &str, cats: &[&str]) -> Arc<Post> {
    let mut taxonomies = BTreeMap::new();
    taxonomies.insert(
        "categories".to_string(),
        cats.iter().map(|c| c.to_string()).collect(),
    );
    Arc::new(Post {
        taxonomies: taxonomies.into(),
        ..Post::for_test(
            source,
            &format!("https://e.org/{source}"),
            title,
            at(date),
            Body::with_html(String::new(), String::new(), format!("<p>{title}</p>")),
        )
    })
}

/// A site with one post in each of `n` categories, published once.
fn site_with(n: usize) -> (Publisher, Index) {
    let settings = settings();
    let mut index = Index::with_languages(&settings.content.taxonomies, &["en".to_string()]);
    for i in 0..n {
        let cat = format!("c{i}");
        index.insert(post(
            &format!("p{i}.md"),
            "2025-01-01T00:00:00Z",
            "t",
            &[&cat],
        ));
    }
    let mut publisher = Publisher::new(&settings);
    let (_, first) = publisher.publish(&mut index, at("2026-01-01T00:00:00Z"));
    assert_eq!(first.feeds, n + 1);
    assert_eq!(first.rendered, n + 1);
    (publisher, index)
}

#[test]
fn an_edit_looks_at_and_renders_only_the_feeds_it_is_in() {
    let (mut publisher, mut index) = site_with(300);
    index.insert(post("p7.md", "2025-02-01T00:00:00Z", "edited", &["c7"]));
    let (snapshot, stats) = publisher.publish(&mut index, at("2026-01-01T00:00:01Z"));
    assert_eq!(stats.examined, 2, "the global feed and c7's");
    assert_eq!(stats.rendered, 2);
    assert_eq!(stats.feeds, 301);
    let body = &snapshot
        .get("/categories/c7/rss.xml")
        .unwrap()
        .identity
        .body;
    assert!(std::str::from_utf8(body).unwrap().contains("edited"));
    // Nothing changed: nothing looked at, and the snapshot is the same resources.
    let (again, stats) = publisher.publish(&mut index, at("2026-01-01T00:00:02Z"));
    assert_eq!((stats.examined, stats.rendered), (0, 0));
    let a = snapshot.get("/categories/c3/atom.xml").unwrap();
    assert!(Arc::ptr_eq(
        a,
        again.get("/categories/c3/atom.xml").unwrap()
    ));
}

#[test]
fn the_paths_an_edit_changed_are_told_once_and_a_republish_of_the_same_bytes_tells_none() {
    let (mut publisher, mut index) = site_with(20);
    let first = publisher.take_changed_paths();
    assert!(first.contains(&"/categories/c3/atom.xml".to_string()));
    index.insert(post("p7.md", "2025-02-01T00:00:00Z", "edited", &["c7"]));
    publisher.publish(&mut index, at("2026-01-01T00:00:01Z"));
    let changed = publisher.take_changed_paths();
    for path in [
        "/categories/c7/rss.xml",
        "/categories/c7/atom.xml",
        "/categories/c7/feed.json",
        "/rss.xml",
    ] {
        assert!(changed.contains(&path.to_string()), "{path} in {changed:?}");
    }
    assert!(
        !changed.iter().any(|p| p.starts_with("/categories/c3/")),
        "untouched feeds are not told: {changed:?}"
    );
    assert!(publisher.take_changed_paths().is_empty(), "taken once");
    // The same post again: rendered, but the bytes are the same, so nothing is told.
    index.insert(post("p7.md", "2025-02-01T00:00:00Z", "edited", &["c7"]));
    publisher.publish(&mut index, at("2026-01-01T00:00:02Z"));
    assert_eq!(publisher.take_changed_paths(), Vec::<String>::new());
}

fn header<'a>(resource: &'a Resource, name: &str) -> Vec<&'a str> {
    resource
        .headers
        .iter()
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| std::str::from_utf8(v).unwrap())
        .collect()
}

#[test]
fn each_kind_gets_its_cache_control_and_feeds_are_filed_under_their_posts() {
    let settings =
        settings_with("cache_control: {feeds: 'public, s-maxage=3600', pages: 'no-cache'}\n");
    let mut index = Index::with_languages(&settings.content.taxonomies, &["en".to_string()]);
    index.insert(post("a.md", "2025-01-01T00:00:00Z", "A", &["rust"]));
    index.insert(post("b.md", "2025-01-02T00:00:00Z", "B", &["go"]));
    let mut publisher = Publisher::new(&settings);
    let (snapshot, _) = publisher.publish(&mut index, at("2026-01-01T00:00:00Z"));
    let cc = |path: &str| snapshot.get(path).unwrap().cache_control.clone();
    assert_eq!(cc("/categories/rust/atom.xml"), "public, s-maxage=3600");
    assert_eq!(cc("/rss.xml"), "public, s-maxage=3600");
    assert_eq!(cc("/"), "no-cache");
    assert_eq!(cc("/categories/rust/"), "no-cache");
    assert_eq!(cc(FEED_LIST_PATH), crate::config::DEFAULT_CACHE_CONTROL);
    let rust = snapshot.get("/categories/rust/rss.xml").unwrap();
    assert_eq!(
        header(rust, "surrogate-key"),
        ["herald feed:/categories/rust/ post:/a.md"]
    );
    assert_eq!(
        header(rust, "cache-tag"),
        ["herald,feed:/categories/rust/,post:/a.md"]
    );
    let global = snapshot.get("/feed.json").unwrap();
    assert_eq!(
        header(global, "surrogate-key"),
        ["herald feed:/ post:/b.md post:/a.md"],
        "newest first, as the feed lists them"
    );
    assert_eq!(
        header(snapshot.get(FEED_LIST_PATH).unwrap(), "surrogate-key"),
        ["herald"]
    );
}

#[test]
fn moving_a_post_between_categories_touches_both_and_keeps_the_emptied_one_served() {
    let (mut publisher, mut index) = site_with(50);
    index.insert(post("p1.md", "2025-01-01T00:00:00Z", "moved", &["c2"]));
    let (snapshot, stats) = publisher.publish(&mut index, at("2026-01-01T00:00:01Z"));
    assert_eq!(stats.examined, 3, "global, c1 (left) and c2 (joined)");
    assert_eq!(stats.rendered, 3, "c1 is published, so it stays, empty");
    assert_eq!(stats.feeds, 51);
    let c1 = &snapshot
        .get("/categories/c1/rss.xml")
        .unwrap()
        .identity
        .body;
    let c1 = std::str::from_utf8(c1).unwrap();
    assert!(
        !c1.contains("<item>") && c1.contains("no posts about c1 right now"),
        "{c1}"
    );
    // A term never published (all its posts scheduled) is still not announced.
    index.insert(post("f.md", "2027-01-01T00:00:00Z", "future", &["later"]));
    let (snapshot, _) = publisher.publish(&mut index, at("2026-01-01T00:00:02Z"));
    assert!(snapshot.get("/categories/later/rss.xml").is_none());
    let list = std::str::from_utf8(&snapshot.get(FEED_LIST_PATH).unwrap().identity.body)
        .unwrap()
        .to_owned();
    assert!(!list.contains("categories/later/"), "{list}");
}

#[test]
fn last_modified_moves_when_bytes_change_and_stays_when_they_do_not() {
    let (mut publisher, mut index) = site_with(3);
    let (first, _) = publisher.publish(&mut index, at("2026-01-01T00:00:00Z"));
    let lm = |s: &Snapshot, p: &str| s.get(p).unwrap().last_modified_secs().unwrap();
    assert_eq!(
        lm(&first, "/rss.xml"),
        at("2025-01-01T00:00:00Z").timestamp()
    );
    // A title edit at the same date: the moment of the change.
    index.insert(post("p0.md", "2025-01-01T00:00:00Z", "retitled", &["c0"]));
    let (edited, _) = publisher.publish(&mut index, at("2026-02-01T00:00:00Z"));
    assert_eq!(
        lm(&edited, "/rss.xml"),
        at("2026-02-01T00:00:00Z").timestamp()
    );
    assert_eq!(
        lm(&edited, "/categories/c1/rss.xml"),
        lm(&first, "/categories/c1/rss.xml")
    );
    // What is remembered makes a new publisher (a restart) serve the same dates.
    let changes = publisher.take_changes();
    let remembered = Remembered {
        validators: changes.validators.into_iter().collect(),
        ..Remembered::default()
    };
    let mut again = Publisher::new(&settings());
    again.remember(remembered);
    let mut index2 = Index::with_languages(&["categories".into()], &["en".into()]);
    for i in 0..3 {
        let title = if i == 0 { "retitled" } else { "t" };
        index2.insert(post(
            &format!("p{i}.md"),
            "2025-01-01T00:00:00Z",
            title,
            &[&format!("c{i}")],
        ));
    }
    let (restarted, _) = again.publish(&mut index2, at("2026-03-01T00:00:00Z"));
    assert_eq!(lm(&restarted, "/rss.xml"), lm(&edited, "/rss.xml"));
}

#[test]
fn a_scheduled_post_coming_due_renders_only_its_feeds() {
    let (mut publisher, mut index) = site_with(40);
    index.insert(post("future.md", "2026-06-01T00:00:00Z", "later", &["c5"]));
    let (snapshot, stats) = publisher.publish(&mut index, at("2026-01-01T00:00:01Z"));
    assert_eq!(stats.rendered, 0, "not live yet: the same items");
    assert!(snapshot.get("/categories/c5/rss.xml").is_some());
    let (snapshot, stats) = publisher.publish(&mut index, at("2026-06-01T00:00:00Z"));
    assert_eq!((stats.examined, stats.rendered), (2, 2));
    let body = &snapshot.get("/rss.xml").unwrap().identity.body;
    assert!(std::str::from_utf8(body).unwrap().contains("later"));
}

#[test]
fn a_feed_whose_writer_panics_keeps_what_it_served_and_the_others_publish() {
    let (mut publisher, mut index) = site_with(5);
    let (before, _) = publisher.publish(&mut index, at("2026-01-01T00:00:01Z"));
    let old = before.get("/categories/c2/rss.xml").unwrap().clone();
    *PANIC_IN_FEED.lock().unwrap() = Some("T: c2".into());
    index.insert(post("p2.md", "2025-03-01T00:00:00Z", "edited", &["c2"]));
    let (after, stats) = publisher.publish(&mut index, at("2026-01-01T00:00:02Z"));
    *PANIC_IN_FEED.lock().unwrap() = None;
    assert_eq!(stats.rendered, 2);
    assert!(Arc::ptr_eq(
        &old,
        after.get("/categories/c2/rss.xml").unwrap()
    ));
    let global = &after.get("/rss.xml").unwrap().identity.body;
    assert!(std::str::from_utf8(global).unwrap().contains("edited"));
}

#[test]
fn each_feed_has_its_page_in_its_folder_and_links_to_it_unless_the_site_has_its_own() {
    let mut index = Index::with_languages(&settings().content.taxonomies, &["en".to_string()]);
    index.insert(post("p.md", "2025-01-01T00:00:00Z", "Hello", &["Données"]));
    let now = at("2026-01-01T00:00:00Z");
    // Herald's pages (the default without a Hugo site): the page is the feed's home.
    let (snapshot, _) = Publisher::new(&settings()).publish(&mut index, now);
    let page = snapshot
        .get("/categories/donnees/")
        .expect("the topic page");
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert!(text(&snapshot, "/categories/donnees/").contains(">Hello</a>"));
    let rss = text(&snapshot, "/categories/donnees/rss.xml");
    assert!(
        rss.contains("<link>https://e.org/categories/donnees/</link>"),
        "{rss}"
    );
    let json = text(&snapshot, "/categories/donnees/feed.json");
    assert!(
        json.contains("\"home_page_url\":\"https://e.org/categories/donnees/\""),
        "{json}"
    );
    let opml = text(&snapshot, OPML_PATH);
    assert!(
        opml.contains("htmlUrl=\"https://e.org/categories/donnees/\""),
        "{opml}"
    );
    // The Atom id stays the site's term page (by Hugo's rules) whichever page is linked.
    let atom = text(&snapshot, "/categories/donnees/atom.xml");
    assert!(
        atom.contains("<id>https://e.org/categories/donn%C3%A9es/</id>"),
        "{atom}"
    );
    assert!(
        atom.contains("<link href=\"https://e.org/categories/donnees/\" rel=\"alternate\""),
        "{atom}"
    );
    // The site's own term pages: linked instead, and Herald's page is still served.
    let mut index2 = Index::with_languages(&settings().content.taxonomies, &["en".to_string()]);
    index2.insert(post("p.md", "2025-01-01T00:00:00Z", "Hello", &["Données"]));
    let (hugo, _) = Publisher::new(&settings_with("site_pages: hugo\n")).publish(&mut index2, now);
    let rss = text(&hugo, "/categories/donnees/rss.xml");
    assert!(
        rss.contains("<link>https://e.org/categories/donn%C3%A9es/</link>"),
        "{rss}"
    );
    assert!(text(&hugo, OPML_PATH).contains("htmlUrl=\"https://e.org/categories/donn%C3%A9es/\""));
    assert_eq!(
        text(&hugo, "/categories/donnees/atom.xml")
            .matches("<id>https://e.org/categories/donn%C3%A9es/</id>")
            .count(),
        1
    );
    assert!(text(&hugo, "/categories/donnees/")
        .contains("On the site: <a href=\"https://e.org/categories/donn%C3%A9es/\">"));
    // The default language's global feed has no page of its own: `/` is the index.
    assert!(text(&snapshot, INDEX_PATH).contains("A feed lets you follow"));
}

#[test]
fn the_index_follows_each_feeds_newest_post_and_only_that() {
    let (mut publisher, mut index) = site_with(30);
    let (before, _) = publisher.publish(&mut index, at("2026-01-01T00:00:01Z"));
    // An older post joins c3: the page of c3 changes, no feed's newest post does.
    index.insert(post("old.md", "2024-01-01T00:00:00Z", "Older", &["c3"]));
    let (after, stats) = publisher.publish(&mut index, at("2026-01-01T00:00:02Z"));
    assert_eq!(stats.rendered, 2);
    assert!(Arc::ptr_eq(
        before.get(INDEX_PATH).unwrap(),
        after.get(INDEX_PATH).unwrap()
    ));
    assert!(text(&after, "/categories/c3/").contains(">Older</a>"));
    // Re-parsed with the same title, date and link: still nothing to show anew.
    index.insert(post("old.md", "2024-01-01T00:00:00Z", "Older", &["c3"]));
    index.insert(post("p3.md", "2025-01-01T00:00:00Z", "t", &["c3"]));
    let (again, _) = publisher.publish(&mut index, at("2026-01-01T00:00:03Z"));
    assert!(Arc::ptr_eq(
        before.get(INDEX_PATH).unwrap(),
        again.get(INDEX_PATH).unwrap()
    ));
    // A newer post heads c3 and the global feed: the index shows it.
    index.insert(post("new.md", "2025-06-01T00:00:00Z", "Brand new", &["c3"]));
    let (newer, _) = publisher.publish(&mut index, at("2026-01-01T00:00:04Z"));
    assert_eq!(
        text(&newer, INDEX_PATH).matches(">Brand new</a>").count(),
        2
    );
    // A category that empties keeps its feed (it was published) and its page.
    index.remove("p5.md");
    let (emptied, _) = publisher.publish(&mut index, at("2026-01-01T00:00:05Z"));
    assert!(emptied.get("/categories/c5/").is_some());
    assert!(text(&emptied, "/categories/c5/rss.xml").contains("no posts about c5 right now"));
    assert!(text(&emptied, INDEX_PATH).contains("categories/c5/"));
}

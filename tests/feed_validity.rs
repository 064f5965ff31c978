//! Feeds as independent parsers see them: strict XML 1.0 (roxmltree), feed-rs, and a JSON
//! Feed 1.1 schema. The posts cover what real content trees contain: a link post, an image
//! with a query string, markup-like and control characters in titles, terms and bodies, an
//! updated date newer than every publication date, and an empty body.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::DateTime;
use herald::config::SiteInfo;
use herald::feed::{render, render_index_page, render_opml, FeedInfo, Format, Listed};
use herald::post::{Body, Post};

const BASE: &str = "https://example.org/blog/";
const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
const DC_NS: &str = "http://purl.org/dc/elements/1.1/";
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";
const CONTENT_NS: &str = "http://purl.org/rss/1.0/modules/content/";

fn site() -> SiteInfo {
    SiteInfo {
        icon: None,
        logo: None,
        title: "Example & Co".into(),
        description: "Notes <on> things".into(),
        language: "en".into(),
        author: Some("Jane Doe".into()),
        author_email: Some("jane@example.org".into()),
        base_url: BASE.into(),
        hubs: Vec::new(),
    }
}

fn feed_info(title: &str, dir: &str, term: Option<&str>) -> FeedInfo {
    FeedInfo {
        title: title.into(),
        taxonomy: None,
        slug: None,
        language: "en".into(),
        description: String::new(),
        term: term.map(Into::into),
        html_url: format!("{BASE}{dir}"),
        id: format!("{BASE}{dir}"),
        dir: dir.into(),
        rss_url: format!("{BASE}{dir}rss.xml"),
        atom_url: format!("{BASE}{dir}atom.xml"),
        json_url: format!("{BASE}{dir}feed.json"),
    }
}

fn global() -> FeedInfo {
    feed_info("Example & Co", "", None)
}

fn term_feed() -> FeedInfo {
    feed_info(
        "Example & Co: Tips & <Tricks>",
        "categories/tips-tricks/",
        Some("Tips & <Tricks>"),
    )
}

fn date(s: &str) -> DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

struct P<'a> {
    source: &'a str,
    id: Option<&'a str>,
    title: &'a str,
    external_url: Option<&'a str>,
    published: &'a str,
    updated: Option<&'a str>,
    summary: Option<&'a str>,
    categories: &'a [&'a str],
    tags: &'a [&'a str],
    authors: &'a [&'a str],
    image: Option<&'a str>,
    html: &'a str,
}

impl P<'_> {
    fn build(&self) -> Arc<Post> {
        let permalink = format!(
            "{BASE}{}",
            self.source.trim_end_matches(".md").to_owned() + "/"
        );
        let mut taxonomies = BTreeMap::new();
        if !self.categories.is_empty() {
            taxonomies.insert(
                "categories".to_owned(),
                self.categories.iter().map(|s| s.to_string()).collect(),
            );
        }
        if !self.tags.is_empty() {
            taxonomies.insert(
                "tags".to_owned(),
                self.tags.iter().map(|s| s.to_string()).collect(),
            );
        }
        Arc::new(Post {
            source: self.source.into(),
            id: self.id.map_or_else(|| permalink.clone(), Into::into),
            id_from: Default::default(),
            aliases: Vec::new(),
            title: self.title.into(),
            lang: "en".into(),
            permalink: permalink.clone(),
            external_url: self.external_url.map(Into::into),
            published: date(self.published),
            live_from: date(self.published),
            updated: self.updated.map(date),
            expires: None,
            draft: false,
            summary: self.summary.map(Into::into),
            taxonomies: taxonomies.into(),
            authors: self.authors.iter().map(|s| s.to_string()).collect(),
            image: self.image.map(Into::into),
            image_meta: Default::default(),
            body: Body::with_html(self.html.into(), permalink, self.html.into()),
        })
    }
}

const TRICKY_TITLE: &str = "Tips & <tricks> ]]> \u{13}end";
const TRICKY_TITLE_CLEAN: &str = "Tips & <tricks> ]]> end";

/// Newest first, as the index hands them over.
fn posts() -> Vec<Arc<Post>> {
    let base = P {
        source: "",
        id: None,
        title: "",
        external_url: None,
        published: "",
        updated: None,
        summary: None,
        categories: &[],
        tags: &[],
        authors: &[],
        image: None,
        html: "",
    };
    vec![
        // A bookmark: empty body, the item links to the external article.
        P {
            source: "links/rust.md",
            title: "Rust 2024",
            external_url: Some("https://rust-lang.org/news?a=1&b=2"),
            published: "2024-05-05T10:00:00Z",
            summary: Some("A language & more"),
            categories: &["Links"],
            ..base
        }
        .build(),
        // An id that is not a URL, a featured image whose URL has a query string.
        P {
            source: "post/with-image.md",
            id: Some("post/with image.md"),
            title: "With image",
            published: "2024-05-04T09:00:00+02:00",
            summary: Some("Look: a < b"),
            image: Some("https://example.org/blog/img/a.png?w=1&h=2"),
            html: "<p>Image <img src=\"https://example.org/blog/img/a.png\"></p>",
            authors: &["Ann & Bob"],
            ..base
        }
        .build(),
        // Markup-like text, `]]>` and U+0013 everywhere; updated after every other date.
        P {
            source: "post/tricky.md",
            title: TRICKY_TITLE,
            published: "2024-05-03T08:00:00Z",
            updated: Some("2024-05-06T12:00:00Z"),
            summary: Some("Summary \u{13}with control"),
            categories: &["Tips & <Tricks>", "x]]>y\u{13}"],
            tags: &["rust"],
            authors: &["Alice Example", "Bob"],
            html: "<p>Body with ]]&gt; and \u{13} control &amp; <a href=\"https://example.org/?x=1&amp;y=2\">link</a></p>",
            ..base
        }
        .build(),
        // No body, no summary: the title is all there is.
        P { source: "post/empty.md", title: "Empty body", published: "2024-05-01T00:00:00Z", ..base }.build(),
    ]
}

fn render_all(feed: &FeedInfo, posts: &[Arc<Post>]) -> [String; 3] {
    Format::ALL.map(|f| render(f, &site(), feed, posts))
}

fn assert_clean(out: &str) {
    assert!(
        !out.chars()
            .any(|c| (c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
                || c == '\u{fffe}'
                || c == '\u{ffff}'),
        "raw control character in output:\n{out}"
    );
    assert!(!out.contains("&amp;#"), "double escaping in output:\n{out}");
    assert!(
        !out.contains("&#x13;") && !out.contains("&#19;"),
        "escaped control character in output:\n{out}"
    );
}

fn child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: Option<&str>,
    name: &str,
) -> roxmltree::Node<'a, 'i> {
    children(node, ns, name)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no <{name}> in <{}>", node.tag_name().name()))
}

fn children<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: Option<&str>,
    name: &str,
) -> Vec<roxmltree::Node<'a, 'i>> {
    node.children()
        .filter(|n| n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == ns)
        .collect()
}

fn text<'a>(node: roxmltree::Node<'a, '_>, ns: Option<&str>, name: &str) -> String {
    // Concatenate every text/CDATA child: the writers split CDATA around `]]>`.
    child(node, ns, name)
        .children()
        .filter_map(|n| n.text())
        .collect()
}

#[test]
fn rss_is_strict_xml_with_the_expected_items() {
    let posts = posts();
    let out = render(Format::Rss, &site(), &global(), &posts);
    assert_clean(&out);
    let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    let rss = doc.root_element();
    assert_eq!(rss.tag_name().name(), "rss");
    assert_eq!(rss.attribute("version"), Some("2.0"));
    let channel = child(rss, None, "channel");
    assert_eq!(text(channel, None, "title"), "Example & Co");
    assert_eq!(text(channel, None, "link"), BASE);
    assert_eq!(text(channel, None, "description"), "Notes <on> things");
    assert_eq!(text(channel, None, "language"), "en");
    assert_eq!(text(channel, None, "generator"), "Herald");
    assert_eq!(
        text(channel, None, "managingEditor"),
        "jane@example.org (Jane Doe)"
    );
    // Newest modification (the tricky post's update), not the newest publication.
    assert_eq!(
        text(channel, None, "lastBuildDate"),
        "Mon, 6 May 2024 12:00:00 +0000"
    );
    let selfs: Vec<_> = children(channel, Some(ATOM_NS), "link");
    assert_eq!(selfs.len(), 1);
    assert_eq!(selfs[0].attribute("rel"), Some("self"));
    assert_eq!(selfs[0].attribute("type"), Some("application/rss+xml"));
    assert_eq!(
        selfs[0].attribute("href"),
        Some("https://example.org/blog/rss.xml")
    );

    let items: Vec<_> = children(channel, None, "item");
    assert_eq!(items.len(), 4);
    let titles: Vec<String> = items.iter().map(|i| text(*i, None, "title")).collect();
    assert_eq!(
        titles,
        ["Rust 2024", "With image", TRICKY_TITLE_CLEAN, "Empty body"]
    );

    // Link post: link to the article, guid is our permalink.
    assert_eq!(
        text(items[0], None, "link"),
        "https://rust-lang.org/news?a=1&b=2"
    );
    let guid = child(items[0], None, "guid");
    assert_eq!(guid.text(), Some("https://example.org/blog/links/rust/"));
    assert_eq!(
        guid.attribute("isPermaLink"),
        None,
        "permalink guids use the default (true)"
    );
    assert_eq!(
        text(items[0], None, "description"),
        "A language &amp; more",
        "description is HTML"
    );
    assert!(
        children(items[0], Some(CONTENT_NS), "encoded").is_empty(),
        "empty body, no content"
    );
    assert_eq!(
        text(items[0], None, "pubDate"),
        "Sun, 5 May 2024 10:00:00 +0000"
    );

    // Not-a-URL id: guid kept, not a permalink. Offsets become UTC.
    let guid = child(items[1], None, "guid");
    assert_eq!(guid.text(), Some("post/with image.md"));
    assert_eq!(guid.attribute("isPermaLink"), Some("false"));
    assert_eq!(
        text(items[1], None, "link"),
        "https://example.org/blog/post/with-image/"
    );
    assert_eq!(
        text(items[1], None, "pubDate"),
        "Sat, 4 May 2024 07:00:00 +0000"
    );
    let media = child(items[1], Some(MEDIA_NS), "content");
    assert_eq!(
        media.attribute("url"),
        Some("https://example.org/blog/img/a.png?w=1&h=2")
    );
    assert_eq!(media.attribute("medium"), Some("image"));
    assert_eq!(text(items[1], Some(DC_NS), "creator"), "Ann & Bob");
    assert_eq!(text(items[1], None, "description"), "Look: a &lt; b");

    // Categories in order, categories first; dc:creator per author; content intact.
    let cats: Vec<String> = children(items[2], None, "category")
        .into_iter()
        .map(|c| c.text().unwrap_or("").to_owned())
        .collect();
    assert_eq!(cats, ["Tips & <Tricks>", "x]]>y", "rust"]);
    let creators: Vec<_> = children(items[2], Some(DC_NS), "creator")
        .into_iter()
        .map(|c| c.text().unwrap())
        .collect();
    assert_eq!(creators, ["Alice Example", "Bob"]);
    assert_eq!(
        text(items[2], Some(CONTENT_NS), "encoded"),
        "<p>Body with ]]&gt; and  control &amp; <a href=\"https://example.org/?x=1&amp;y=2\">link</a></p>"
    );
    assert_eq!(text(items[2], None, "description"), "Summary with control");

    // Nothing but a title.
    assert!(children(items[3], None, "description").is_empty());
    assert!(children(items[3], Some(CONTENT_NS), "encoded").is_empty());

    // NeedDescriptionBeforeContent, checked on the bytes of every item.
    let mut checked = 0;
    for item in out.split("<item>").skip(1) {
        if let (Some(d), Some(c)) = (item.find("<description>"), item.find("<content:encoded>")) {
            assert!(d < c, "description after content:encoded in {item}");
            checked += 1;
        }
    }
    assert_eq!(checked, 2);

    let parsed = feed_rs::parser::parse(out.as_bytes()).unwrap();
    assert_eq!(parsed.entries.len(), 4);
    assert_eq!(
        parsed.entries[2].title.as_ref().unwrap().content,
        TRICKY_TITLE_CLEAN
    );
    assert_eq!(
        parsed.entries[0].links[0].href,
        "https://rust-lang.org/news?a=1&b=2"
    );
    let terms: Vec<_> = parsed.entries[2]
        .categories
        .iter()
        .map(|c| c.term.as_str())
        .collect();
    assert_eq!(terms, ["Tips & <Tricks>", "x]]>y", "rust"]);
    assert!(parsed.entries[2]
        .content
        .as_ref()
        .unwrap()
        .body
        .as_deref()
        .unwrap()
        .contains("Body with"));
}

#[test]
fn atom_is_strict_xml_with_the_expected_entries() {
    let posts = posts();
    let out = render(Format::Atom, &site(), &term_feed(), &posts);
    assert_clean(&out);
    let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    let feed = doc.root_element();
    assert_eq!(feed.tag_name().namespace(), Some(ATOM_NS));
    let ns = Some(ATOM_NS);
    assert_eq!(text(feed, ns, "title"), "Example & Co: Tips & <Tricks>");
    assert_eq!(
        text(feed, ns, "id"),
        "https://example.org/blog/categories/tips-tricks/"
    );
    assert_eq!(text(feed, ns, "updated"), "2024-05-06T12:00:00+00:00");
    assert_eq!(text(feed, ns, "subtitle"), "Notes <on> things");
    assert_eq!(text(feed, ns, "generator"), "Herald");
    assert_eq!(text(child(feed, ns, "author"), ns, "name"), "Jane Doe");
    let links: Vec<_> = children(feed, ns, "link")
        .into_iter()
        .map(|l| {
            (
                l.attribute("rel").unwrap(),
                l.attribute("type").unwrap(),
                l.attribute("href").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        links,
        [
            (
                "self",
                "application/atom+xml",
                "https://example.org/blog/categories/tips-tricks/atom.xml"
            ),
            (
                "alternate",
                "text/html",
                "https://example.org/blog/categories/tips-tricks/"
            ),
        ]
    );

    let entries: Vec<_> = children(feed, ns, "entry");
    assert_eq!(entries.len(), 4);
    let ids: Vec<String> = entries.iter().map(|e| text(*e, ns, "id")).collect();
    assert_eq!(
        ids,
        [
            "https://example.org/blog/links/rust/",
            "tag:example.org,2000:post/with%20image.md",
            "https://example.org/blog/post/tricky/",
            "https://example.org/blog/post/empty/",
        ]
    );
    let entry_links = |e: roxmltree::Node| -> Vec<(String, String)> {
        children(e, ns, "link")
            .into_iter()
            .map(|l| {
                (
                    l.attribute("rel").unwrap().to_owned(),
                    l.attribute("href").unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        entry_links(entries[0]),
        [
            (
                "alternate".to_owned(),
                "https://rust-lang.org/news?a=1&b=2".to_owned()
            ),
            (
                "related".to_owned(),
                "https://example.org/blog/links/rust/".to_owned()
            ),
        ]
    );
    // The featured image is an enclosure too (issue 11: readers that ignore media:content).
    assert_eq!(
        entry_links(entries[1]),
        [
            (
                "alternate".to_owned(),
                "https://example.org/blog/post/with-image/".to_owned()
            ),
            (
                "enclosure".to_owned(),
                "https://example.org/blog/img/a.png?w=1&h=2".to_owned()
            ),
        ]
    );
    assert_eq!(text(entries[2], ns, "title"), TRICKY_TITLE_CLEAN);
    assert_eq!(text(entries[2], ns, "updated"), "2024-05-06T12:00:00+00:00");
    assert_eq!(
        text(entries[2], ns, "published"),
        "2024-05-03T08:00:00+00:00"
    );
    assert_eq!(text(entries[1], ns, "updated"), "2024-05-04T09:00:00+02:00");
    let content = child(entries[2], ns, "content");
    assert_eq!(content.attribute("type"), Some("html"));
    assert!(content
        .text()
        .unwrap()
        .starts_with("<p>Body with ]]&gt; and  control &amp; <a"));
    assert!(children(entries[0], ns, "content").is_empty());
    // HTML, like the content: the text `A language & more`, escaped once more as HTML.
    let summary = child(entries[0], ns, "summary");
    assert_eq!(summary.attribute("type"), Some("html"));
    assert_eq!(summary.text(), Some("A language &amp; more"));
    let terms: Vec<_> = children(entries[2], ns, "category")
        .into_iter()
        .map(|c| c.attribute("term").unwrap())
        .collect();
    assert_eq!(terms, ["Tips & <Tricks>", "x]]>y", "rust"]);
    let authors: Vec<String> = children(entries[2], ns, "author")
        .into_iter()
        .map(|a| text(a, ns, "name"))
        .collect();
    assert_eq!(authors, ["Alice Example", "Bob"]);
    assert_eq!(
        child(entries[1], Some(MEDIA_NS), "content").attribute("url"),
        Some("https://example.org/blog/img/a.png?w=1&h=2")
    );

    let parsed = feed_rs::parser::parse(out.as_bytes()).unwrap();
    assert_eq!(parsed.entries.len(), 4);
    assert_eq!(
        parsed.entries[1].id,
        "tag:example.org,2000:post/with%20image.md"
    );
    assert_eq!(
        parsed.entries[2].title.as_ref().unwrap().content,
        TRICKY_TITLE_CLEAN
    );
    assert_eq!(parsed.updated, Some(date("2024-05-06T12:00:00Z").to_utc()));
}

fn schema_validator() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("schemas/jsonfeed-1.1.schema.json"))
            .expect("schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

fn assert_schema_valid(out: &str) -> serde_json::Value {
    let value: serde_json::Value =
        serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    let errors: Vec<String> = schema_validator()
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{out}");
    value
}

#[test]
fn the_schema_rejects_what_the_spec_forbids() {
    let v = schema_validator();
    let ok = serde_json::json!({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1", "content_text": "x"}]});
    assert!(v.is_valid(&ok));
    for bad in [
        serde_json::json!({"version": "https://jsonfeed.org/version/1.1", "title": "t"}),
        serde_json::json!({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1"}]}),
        serde_json::json!({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"content_text": "x"}]}),
        serde_json::json!({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1", "content_text": "x", "tags": "a"}]}),
        serde_json::json!({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [], "authors": [{}]}),
        serde_json::json!({"version": "https://jsonfeed.org/version/1", "title": "t", "items": []}),
        serde_json::json!({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1", "content_text": "x", "date_published": "yesterday"}]}),
    ] {
        assert!(!v.is_valid(&bad), "schema accepted {bad}");
    }
}

#[test]
fn json_feed_matches_the_schema_and_the_posts() {
    let posts = posts();
    let out = render(Format::Json, &site(), &global(), &posts);
    assert_clean(&out);
    assert!(out.ends_with("}\n"));
    let v = assert_schema_valid(&out);
    assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(v["title"], "Example & Co");
    assert_eq!(v["home_page_url"], BASE);
    assert_eq!(v["feed_url"], "https://example.org/blog/feed.json");
    assert_eq!(v["description"], "Notes <on> things");
    assert_eq!(v["language"], "en");
    assert_eq!(v["authors"], serde_json::json!([{"name": "Jane Doe"}]));
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);

    assert_eq!(items[0]["id"], "https://example.org/blog/links/rust/");
    assert_eq!(items[0]["url"], "https://example.org/blog/links/rust/");
    assert_eq!(
        items[0]["external_url"],
        "https://rust-lang.org/news?a=1&b=2"
    );
    assert_eq!(items[0]["content_text"], "A language & more");
    assert!(items[0].get("content_html").is_none());

    assert_eq!(items[1]["id"], "post/with image.md");
    assert_eq!(
        items[1]["image"],
        "https://example.org/blog/img/a.png?w=1&h=2"
    );
    assert_eq!(items[1]["date_published"], "2024-05-04T09:00:00+02:00");
    assert!(items[1].get("date_modified").is_none());
    assert!(items[1].get("external_url").is_none());

    assert_eq!(items[2]["title"], TRICKY_TITLE_CLEAN);
    assert_eq!(items[2]["date_modified"], "2024-05-06T12:00:00+00:00");
    assert_eq!(
        items[2]["tags"],
        serde_json::json!(["Tips & <Tricks>", "x]]>y", "rust"])
    );
    assert_eq!(
        items[2]["authors"],
        serde_json::json!([{"name": "Alice Example"}, {"name": "Bob"}])
    );
    assert_eq!(items[2]["summary"], "Summary with control");
    assert!(items[2]["content_html"]
        .as_str()
        .unwrap()
        .starts_with("<p>Body with"));
    assert!(items[2].get("content_text").is_none());

    assert_eq!(
        items[3]["content_text"], "Empty body",
        "title stands in for missing content"
    );
    assert!(items[3].get("tags").is_none() && items[3].get("summary").is_none());

    let parsed = feed_rs::parser::parse(out.as_bytes()).unwrap();
    assert_eq!(parsed.entries.len(), 4);
    assert_eq!(
        parsed.entries[2].title.as_ref().unwrap().content,
        TRICKY_TITLE_CLEAN
    );
}

#[test]
fn empty_feeds_are_valid_and_dated_without_a_clock() {
    let [rss, atom, json] = render_all(&global(), &[]);
    let doc = roxmltree::Document::parse(&rss).unwrap();
    let channel = child(doc.root_element(), None, "channel");
    assert_eq!(
        text(channel, None, "lastBuildDate"),
        "Sat, 1 Jan 2000 00:00:00 +0000"
    );
    assert_eq!(children(channel, None, "item").len(), 0);
    let doc = roxmltree::Document::parse(&atom).unwrap();
    assert_eq!(
        text(doc.root_element(), Some(ATOM_NS), "updated"),
        "2000-01-01T00:00:00+00:00"
    );
    let v = assert_schema_valid(&json);
    assert_eq!(v["items"], serde_json::json!([]));
    for out in [&rss, &atom, &json] {
        assert_eq!(
            feed_rs::parser::parse(out.as_bytes())
                .unwrap()
                .entries
                .len(),
            0
        );
    }
}

#[test]
fn control_characters_outside_posts_are_removed_too() {
    let mut feed = global();
    feed.title = "Bad\u{0}\u{13} title\u{ffff}".into();
    let mut site = site();
    site.author = Some("Jane\u{1b} Doe".into());
    let posts = posts();
    for format in Format::ALL {
        let out = render(format, &site, &feed, &posts);
        assert_clean(&out);
        assert!(out.contains("Bad title"), "{format:?}: {out}");
        if format != Format::Json {
            roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        }
    }
    let opml = render_opml(&site, &[feed.clone()]);
    assert_clean(&opml);
    roxmltree::Document::parse(&opml).unwrap();
    assert_clean(&render_index_page(&site, &[], &listed(&[feed])));
}

#[test]
fn rendering_is_deterministic() {
    let feeds = [global(), term_feed()];
    for feed in &feeds {
        let first = render_all(feed, &posts());
        let second = render_all(feed, &posts());
        assert_eq!(first, second);
    }
    assert_eq!(render_opml(&site(), &feeds), render_opml(&site(), &feeds));
    assert_eq!(
        render_index_page(&site(), &[], &listed(&feeds)),
        render_index_page(&site(), &[], &listed(&feeds))
    );
}

#[test]
fn media_namespace_is_declared_only_when_used() {
    let without_images: Vec<_> = posts().into_iter().filter(|p| p.image.is_none()).collect();
    for out in &render_all(&global(), &without_images)[..2] {
        assert!(!out.contains(MEDIA_NS), "{out}");
        roxmltree::Document::parse(out).unwrap();
    }
    for out in &render_all(&global(), &posts())[..2] {
        assert!(out.contains(MEDIA_NS), "{out}");
    }
}

#[test]
fn opml_lists_every_feed_once() {
    let feeds = [global(), term_feed()];
    let out = render_opml(&site(), &feeds);
    assert_clean(&out);
    let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    let opml = doc.root_element();
    assert_eq!(opml.attribute("version"), Some("2.0"));
    assert_eq!(
        text(child(opml, None, "head"), None, "title"),
        "Example & Co feeds"
    );
    let outlines: Vec<_> = child(opml, None, "body")
        .descendants()
        .filter(|n| n.has_tag_name("outline"))
        .collect();
    assert_eq!(outlines.len(), feeds.len());
    for (outline, feed) in outlines.iter().zip(&feeds) {
        assert_eq!(outline.attribute("type"), Some("rss"));
        assert_eq!(outline.attribute("text"), Some(feed.title.as_str()));
        assert_eq!(outline.attribute("title"), Some(feed.title.as_str()));
        assert_eq!(outline.attribute("xmlUrl"), Some(feed.rss_url.as_str()));
        assert_eq!(outline.attribute("htmlUrl"), Some(feed.html_url.as_str()));
    }
}

#[test]
fn index_page_has_autodiscovery_and_copyable_tags() {
    let feeds = [global(), term_feed()];
    let out = render_index_page(&site(), &[], &listed(&feeds));
    assert!(out.starts_with("<!doctype html>\n<html lang=\"en\">"));
    assert!(out.contains("<meta charset=\"utf-8\">"));
    assert!(out.contains("<title>Example &amp; Co feeds</title>"));
    // One inline script and no external assets.
    assert_eq!(out.matches("<script").count(), 1);
    assert!(!out.contains("<script src") && !out.contains("stylesheet"));
    let head = &out[..out.find("</head>").unwrap()];
    for (media_type, file) in [
        ("application/rss+xml", "rss.xml"),
        ("application/atom+xml", "atom.xml"),
        ("application/feed+json", "feed.json"),
    ] {
        let tag = format!("type=\"{media_type}\" title=\"Example &amp; Co (");
        assert!(head.contains(&tag), "missing {tag} in head:\n{head}");
        assert!(head.contains(&format!("href=\"{BASE}{file}\">")), "{head}");
        // Term feeds are listed in the body, not announced in the head.
        assert!(!head.contains(&format!("categories/tips-tricks/{file}")));
        // Copyable: escaped so the page shows the tag as text.
        for feed in &feeds {
            assert!(out.contains(&format!(
                "&lt;link rel=&quot;alternate&quot; type=&quot;{media_type}&quot; title=&quot;{}",
                feed.title
                    .replace('&', "&amp;amp;")
                    .replace('<', "&amp;lt;")
                    .replace('>', "&amp;gt;")
            )));
            assert!(
                out.contains(&format!("href=&quot;{}&quot;&gt;", feed.url_for(file))),
                "{out}"
            );
            // Visible, selectable, and copied by its button.
            assert!(out.contains(&format!(
                "<code>{0}</code><button type=\"button\" data-copy=\"{0}\" hidden>Copy</button>",
                feed.url_for(file)
            )));
        }
    }
    assert!(out.contains("<a href=\"https://example.org/blog/feeds.opml\">"));
    // The copyable tags are for site owners: below the feeds, folded.
    let details = out.find("<details>").expect("folded owners' part");
    assert!(out.find("&lt;link rel=").unwrap() > details);
    assert!(out.find("<li class=\"feed\"").unwrap() < details);
    assert!(out.contains("<a class=\"name\" href=\"https://example.org/blog/categories/tips-tricks/\">Tips &amp; &lt;Tricks&gt;</a>"));
}

/// Feeds as the index lists them, without a newest post.
fn listed(feeds: &[FeedInfo]) -> Vec<Listed<'_>> {
    feeds
        .iter()
        .map(|feed| Listed { feed, newest: None })
        .collect()
}

trait UrlFor {
    fn url_for(&self, file: &str) -> &str;
}

impl UrlFor for FeedInfo {
    fn url_for(&self, file: &str) -> &str {
        let format = Format::ALL
            .into_iter()
            .find(|f| herald::layout::feed_file(*f) == file)
            .unwrap();
        self.url(format)
    }
}

#[test]
fn hub_links_keep_every_format_valid_and_are_found_by_a_parser() {
    let site = SiteInfo {
        hubs: vec![
            "https://example.org/websub".into(),
            "https://hub.example.net/".into(),
        ],
        ..site()
    };
    let posts = posts();
    let rss = render(Format::Rss, &site, &global(), &posts);
    let atom = render(Format::Atom, &site, &global(), &posts);
    let json = render(Format::Json, &site, &global(), &posts);
    for out in [&rss, &atom] {
        assert_clean(out);
        let doc = roxmltree::Document::parse(out).unwrap();
        let hubs: Vec<&str> = doc
            .descendants()
            .filter(|n| n.tag_name().name() == "link" && n.attribute("rel") == Some("hub"))
            .filter_map(|n| n.attribute("href"))
            .collect();
        assert_eq!(
            hubs,
            ["https://example.org/websub", "https://hub.example.net/"]
        );
    }
    let v = assert_schema_valid(&json);
    assert_eq!(v["hubs"][0]["type"], "WebSub");
    // feed-rs still reads every item.
    for out in [&rss, &atom, &json] {
        let parsed = feed_rs::parser::parse(out.as_bytes()).unwrap();
        assert_eq!(parsed.entries.len(), posts.len());
    }
}

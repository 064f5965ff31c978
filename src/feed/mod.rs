//! Renders one feed from posts: RSS 2.0, Atom 1.0 or JSON Feed 1.1; plus the OPML list of
//! every feed, the HTML index page and each feed's HTML page. Pure and deterministic: the same input gives the same
//! bytes; no clock, no hash-map order.
//!
//! Each post is serialized once per format ([`crate::post::Body::item`]) and feeds are
//! assembled from those pieces: the writer crates write a feed's head around one
//! placeholder item, which is replaced by the posts' items. The writers put items last and
//! write them without indentation, so the result is byte for byte what writing every item
//! in one go gives (a test compares the two).

use std::sync::Arc;

mod atom;
mod json;
mod list;
mod opml;
mod page;
mod rss;
mod text;
mod topic;

use crate::config::SiteInfo;
use crate::post::Post;

pub use page::{Listed, FILTER_ABOVE};

/// The three formats every feed is published in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// `Content-Type` including the charset.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// One feed's identity: its titles and absolute URLs. Built by the index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeedInfo {
    /// Feed title, e.g. `My Site` or `My Site: Rust`.
    pub title: String,
    pub description: String,
    /// For a term feed, the term as written (e.g. `Medical Devices`); `None` for the global feed.
    pub term: Option<String>,
    /// For a term feed, its taxonomy (`categories`) and the term's URL slug.
    pub taxonomy: Option<String>,
    pub slug: Option<String>,
    /// Language code of the feed's posts (`en`, `es`).
    pub language: String,
    /// The HTML page this feed links to as its home, absolute: Herald's page in the feed's
    /// folder, or the site's home or term page (`site_pages`).
    pub html_url: String,
    /// The feed's Atom `<id>`: the site's home or term page URL (by Hugo's rules), whichever
    /// page `html_url` names, so that `site_pages` never changes a feed's identity.
    pub id: String,
    /// Folder of the feed relative to the base URL: `""`, `categories/rust/`, `es/`,
    /// `es/categories/rust/`.
    pub dir: String,
    /// Absolute URL of each format (`self` links).
    pub rss_url: String,
    pub atom_url: String,
    pub json_url: String,
}

/// What an item depends on besides its post: the settings of the site it is published in.
fn site_key(site: &SiteInfo) -> u64 {
    let SiteInfo {
        title,
        description,
        language,
        author,
        author_email,
        icon,
        logo,
        base_url,
        hubs: _, // channel-level only: items do not depend on it
    } = site;
    let mut text = String::new();
    for part in [title, description, language, base_url] {
        text.push_str(part);
        text.push('\0');
    }
    for part in [author, author_email, icon, logo] {
        text.push_str(part.as_deref().unwrap_or("\u{1}"));
        text.push('\0');
    }
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

/// The element from the first `open` to the last `close` of a document written around
/// exactly one item (text inside it is escaped or in CDATA after the first `open`).
fn one_item<'a>(doc: &'a str, open: &str, close: &str) -> &'a str {
    match (doc.find(open), doc.rfind(close)) {
        (Some(start), Some(end)) if end >= start => &doc[start..end + close.len()],
        _ => "",
    }
}

/// `doc` with its one placeholder item (see [`one_item`]) replaced by `items`.
fn splice(doc: &str, open: &str, close: &str, items: &[Arc<str>]) -> String {
    let placeholder = one_item(doc, open, close);
    if placeholder.is_empty() {
        return doc.to_owned();
    }
    let start = placeholder.as_ptr() as usize - doc.as_ptr() as usize;
    let end = start + placeholder.len();
    let mut out = String::with_capacity(doc.len() + items.iter().map(|i| i.len()).sum::<usize>());
    out.push_str(&doc[..start]);
    for item in items {
        out.push_str(item);
    }
    out.push_str(&doc[end..]);
    out
}

impl FeedInfo {
    pub fn url(&self, format: Format) -> &str {
        match format {
            Format::Rss => &self.rss_url,
            Format::Atom => &self.atom_url,
            Format::Json => &self.json_url,
        }
    }
}

/// Renders `posts` (already filtered, ordered newest first and limited) in `format`.
pub fn render(format: Format, site: &SiteInfo, feed: &FeedInfo, posts: &[Arc<Post>]) -> String {
    match format {
        Format::Rss => rss::render(site, feed, posts),
        Format::Atom => atom::render(site, feed, posts),
        Format::Json => json::render(site, feed, posts),
    }
}

/// OPML 2.0 list of every feed: one `type="rss"` outline per feed, pointing at its RSS URL
/// (one per format would subscribe readers to every post three times; see `opml.rs`).
pub fn render_opml(site: &SiteInfo, feeds: &[FeedInfo]) -> String {
    opml::render(site, feeds)
}

/// The human page at `/`: how to subscribe, every feed with its newest post and its URLs
/// (grouped by language when `languages`, code and site of each, has several), and the
/// autodiscovery tags for site owners.
pub fn render_index_page(
    site: &SiteInfo,
    languages: &[(&str, &SiteInfo)],
    feeds: &[Listed],
) -> String {
    page::render(site, languages, feeds)
}

/// A feed's own page, in its folder: its latest `items`, its URLs and how to subscribe.
/// `site` is the feed's language's, `home` the default language's (where the index is).
pub fn render_topic_page(
    site: &SiteInfo,
    home: &SiteInfo,
    feed: &FeedInfo,
    items: &[Arc<Post>],
) -> String {
    topic::render(site, home, feed, items)
}

/// `/feeds.json`: every feed with its term, slug and URLs, for site templates.
pub fn render_feed_list(site: &SiteInfo, feeds: &[FeedInfo]) -> String {
    list::render(site, feeds)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::DateTime;

    use super::*;
    use crate::post::Body;

    const BASE: &str = "https://example.org/";

    fn site(author: Option<&str>) -> SiteInfo {
        SiteInfo {
            icon: None,
            logo: None,
            title: "Site".into(),
            description: "About things".into(),
            language: "en".into(),
            author: author.map(Into::into),
            author_email: Some("jo@example.org".into()),
            base_url: BASE.into(),
            hubs: Vec::new(),
        }
    }

    fn feed() -> FeedInfo {
        FeedInfo {
            title: "Site: Rust".into(),
            description: "Posts about Rust".into(),
            term: Some("Rust".into()),
            taxonomy: Some("categories".into()),
            slug: Some("rust".into()),
            language: "en".into(),
            html_url: format!("{BASE}categories/rust/"),
            id: format!("{BASE}categories/rust/"),
            dir: "categories/rust/".into(),
            rss_url: format!("{BASE}categories/rust/rss.xml"),
            atom_url: format!("{BASE}categories/rust/atom.xml"),
            json_url: format!("{BASE}categories/rust/feed.json"),
        }
    }

    /// Posts that exercise every optional part of an item, and bodies that look like the
    /// markers assembling looks for.
    fn posts() -> Vec<Arc<Post>> {
        let bodies = [
            "<p>plain</p>",
            "",
            "<pre>&lt;/item&gt; </item> <item> </entry> ]]> \u{1}</pre>",
            "<p>with an image</p>",
        ];
        bodies
            .iter()
            .enumerate()
            .map(|(i, html)| {
                let permalink = format!("{BASE}post/{i}/");
                let date = DateTime::parse_from_rfc3339("2024-03-01T00:00:00Z").unwrap()
                    + chrono::Duration::days(i as i64);
                let mut taxonomies = BTreeMap::new();
                taxonomies.insert("categories".to_string(), vec!["Rust".to_string()]);
                let mut post = Post::for_test(
                    &format!("post/{i}.md"),
                    &permalink,
                    &format!("Post <{i}> & more"),
                    date,
                    Body::with_html(html.to_string(), permalink.clone(), html.to_string()),
                );
                if i == 1 {
                    post.id = format!("id-{i}");
                }
                Arc::new(Post {
                    external_url: (i == 2).then(|| "https://other.example/x".to_string()),
                    updated: (i == 3).then_some(date + chrono::Duration::hours(1)),
                    summary: (i != 1).then(|| format!("Summary {i} < > &")),
                    taxonomies: taxonomies.into(),
                    authors: if i == 2 { vec!["Ana".into()] } else { vec![] },
                    image: (i == 3).then(|| format!("{BASE}img/{i}.png?a=1&b=2")),
                    ..post
                })
            })
            .collect()
    }

    #[test]
    fn assembled_feeds_are_byte_identical_to_writing_every_item_at_once() {
        let posts = posts();
        for site in [site(None), site(Some("Jo"))] {
            for n in 0..=posts.len() {
                for subset in [&posts[..n], &posts[posts.len() - n..]] {
                    let feed = feed();
                    assert_eq!(
                        rss::render(&site, &feed, subset),
                        rss::render_as(&site, &feed, subset, true)
                    );
                    assert_eq!(
                        atom::render(&site, &feed, subset),
                        atom::render_as(&site, &feed, subset, true)
                    );
                    assert_eq!(
                        json::render(&site, &feed, subset),
                        json::render_as(&site, &feed, subset, true)
                    );
                }
            }
        }
    }

    #[test]
    fn items_without_an_author_carry_the_sites_and_atom_summaries_are_html() {
        let posts = posts();
        let plain = &posts[..1]; // no authors of its own
        let site = site(Some("Jo"));
        let rss = rss::render(&site, &feed(), plain);
        assert!(rss.contains("<dc:creator>Jo</dc:creator>"), "{rss}");
        let atom = atom::render(&site, &feed(), plain);
        let entry = &atom[atom.find("<entry>").unwrap()..];
        assert!(entry.contains("<author><name>Jo</name></author>"), "{atom}");
        assert!(entry.contains("<summary type=\"html\">"), "{atom}");
        let json = json::render(&site, &feed(), plain);
        assert!(json.contains("\"authors\":[{\"name\":\"Jo\"}]}]"), "{json}");
        // A post's own author wins; a site without one adds nobody.
        let rss = rss::render(&site, &feed(), &posts[2..3]);
        assert!(rss.contains("<dc:creator>Ana</dc:creator>") && !rss.contains(">Jo<"));
        let anonymous = rss::render(&self::site(None), &feed(), plain);
        assert!(!anonymous.contains("dc:creator"), "{anonymous}");
    }

    #[test]
    fn hubs_are_advertised_in_every_format_only_when_push_is_on() {
        let posts = posts();
        let off = site(None);
        assert!(!rss::render(&off, &feed(), &posts).contains("rel=\"hub\""));
        assert!(!atom::render(&off, &feed(), &posts).contains("rel=\"hub\""));
        assert!(!json::render(&off, &feed(), &posts).contains("\"hubs\""));
        let on = SiteInfo {
            hubs: vec![format!("{BASE}websub"), "https://hub.example.net/".into()],
            ..site(None)
        };
        let rss = rss::render(&on, &feed(), &posts);
        assert!(
            rss.contains(&format!("<atom:link href=\"{BASE}websub\" rel=\"hub\"/>")),
            "{rss}"
        );
        roxmltree::Document::parse(&rss).expect("well-formed");
        let atom = atom::render(&on, &feed(), &posts);
        assert!(
            atom.contains("<link href=\"https://hub.example.net/\" rel=\"hub\"/>"),
            "{atom}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&json::render(&on, &feed(), &posts)).unwrap();
        assert_eq!(json["hubs"][1]["url"], "https://hub.example.net/");
        assert_eq!(json["hubs"][0]["type"], "WebSub");
        assert!(json["items"].as_array().is_some_and(|i| !i.is_empty()));
    }

    #[test]
    fn the_icon_and_logo_are_in_every_format() {
        let site = SiteInfo {
            icon: Some(format!("{BASE}icon.png")),
            logo: Some(format!("{BASE}logo.png")),
            ..site(None)
        };
        let posts = posts();
        let rss = rss::render(&site, &feed(), &posts);
        assert!(
            rss.contains(&format!(
                "<image><url>{BASE}logo.png</url><title>Site: Rust</title>"
            )),
            "{rss}"
        );
        let atom = atom::render(&site, &feed(), &posts);
        assert!(
            atom.contains(&format!("<icon>{BASE}icon.png</icon>")),
            "{atom}"
        );
        assert!(
            atom.contains(&format!("<logo>{BASE}logo.png</logo>")),
            "{atom}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&json::render(&site, &feed(), &posts)).unwrap();
        assert_eq!(json["icon"], format!("{BASE}icon.png"));
        assert_eq!(json["favicon"], format!("{BASE}icon.png"));
        assert_eq!(json["items"].as_array().unwrap().len(), posts.len());
        // Without them, nothing.
        assert!(!rss::render(&self::site(None), &feed(), &posts).contains("<image>"));
    }

    #[test]
    fn an_item_is_serialized_once_per_format_and_site() {
        let post = &posts()[0];
        let calls = std::cell::Cell::new(0);
        let make = || {
            calls.set(calls.get() + 1);
            "x".to_string()
        };
        assert_eq!(&*post.body.item(0, 7, make), "x");
        assert_eq!(&*post.body.item(0, 7, make), "x");
        assert_eq!(calls.get(), 1, "cached");
        post.body.item(0, 8, make);
        assert_eq!(calls.get(), 2, "another site's item is made afresh");
        post.body.item(1, 7, make);
        assert_eq!(calls.get(), 3, "each format has its own");
        assert_ne!(site_key(&site(None)), site_key(&site(Some("Jo"))));
    }
}

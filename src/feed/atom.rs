//! Atom 1.0 (RFC 4287).
//!
//! The feed id is the feed's HTML page (stable as long as the site's URLs are); entry ids are
//! the post ids when they are URIs, else `tag:` URIs built from them. The feed always has an
//! author (the site's author, else the site title), so entries without authors stay valid.
//! Link posts: `rel="alternate"` is the external article, `rel="related"` our permalink.

use std::collections::BTreeMap;
use std::sync::Arc;

use atom_syndication::extension::{Extension, ExtensionMap};
use atom_syndication::{
    Category, Content, Entry, Feed, Generator, Link, Person, Text, WriteConfig,
};

use super::text::{cleaned, escape, feed_updated, id_uri, item_authors, post_title};
use super::FeedInfo;
use crate::config::SiteInfo;
use crate::post::Post;

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

pub fn render(site: &SiteInfo, feed: &FeedInfo, posts: &[Arc<Post>]) -> String {
    render_as(site, feed, posts, false)
}

/// `whole`: the feed is written with every entry in it, not assembled from the cached
/// entries (what assembling must equal, byte for byte).
pub(super) fn render_as(
    site: &SiteInfo,
    feed: &FeedInfo,
    posts: &[Arc<Post>],
    whole: bool,
) -> String {
    let mut namespaces = BTreeMap::new();
    if posts.iter().any(|p| p.image.is_some()) {
        namespaces.insert("media".to_owned(), MEDIA_NS.to_owned());
    }

    let author_name = site
        .author
        .as_deref()
        .map(|a| cleaned(a.trim()))
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| cleaned(site.title.trim()));
    let author = Person {
        name: author_name,
        email: site.author_email.as_deref().map(|e| cleaned(e.trim())),
        ..Person::default()
    };

    let subtitle = cleaned(feed.description.trim());
    let subtitle = if subtitle.is_empty() {
        cleaned(site.description.trim())
    } else {
        subtitle
    };

    let atom = Feed {
        title: Text::plain(cleaned(&feed.title)),
        id: cleaned(&feed.id),
        updated: feed_updated(posts),
        authors: vec![author],
        generator: Some(Generator {
            value: "Herald".to_owned(),
            uri: None,
            version: None,
        }),
        links: [
            link("self", &feed.atom_url, "application/atom+xml"),
            link("alternate", &feed.html_url, "text/html"),
        ]
        .into_iter()
        // WebSub discovery: one `<link rel="hub">` per hub.
        .chain(site.hubs.iter().map(|hub| Link {
            href: cleaned(hub),
            rel: "hub".to_owned(),
            ..Link::default()
        }))
        .collect(),
        subtitle: Some(Text::plain(subtitle)).filter(|t| !t.value.is_empty()),
        // One placeholder entry, replaced by the posts' entries once written.
        entries: if whole {
            posts.iter().map(|p| entry(site, p)).collect()
        } else if posts.is_empty() {
            Vec::new()
        } else {
            vec![Entry::default()]
        },
        namespaces,
        lang: Some(cleaned(site.language.trim())).filter(|l| !l.is_empty()),
        icon: site.icon.as_deref().map(cleaned),
        logo: site.logo.as_deref().map(cleaned),
        ..Feed::default()
    };

    let key = super::site_key(site);
    let entries: Vec<Arc<str>> = posts
        .iter()
        .map(|p| p.body.item(SLOT, key, || entry_xml(site, p)))
        .collect();
    let body = if whole {
        write(&atom)
    } else {
        super::splice(&write(&atom), "<entry>", "</entry>", &entries)
    };
    // Sized exactly (unlike `format!`): the document is kept as long as it is served,
    // spare capacity included.
    const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
    let mut out = String::with_capacity(DECLARATION.len() + body.len() + 1);
    out.push_str(DECLARATION);
    out.push_str(&body);
    out.push('\n');
    out
}

/// Which feed format slot of [`crate::post::Body::item`] Atom entries use.
const SLOT: usize = 1;

fn write(feed: &Feed) -> String {
    let config = WriteConfig {
        write_document_declaration: false,
        indent_size: None,
    };
    let bytes = feed
        .write_with_config(Vec::new(), config)
        .expect("writing to a Vec cannot fail");
    String::from_utf8(bytes).expect("atom_syndication writes UTF-8")
}

/// One post as an `<entry>` element, exactly as atom_syndication writes it inside a feed.
fn entry_xml(site: &SiteInfo, post: &Post) -> String {
    let feed = Feed {
        entries: vec![entry(site, post)],
        ..Feed::default()
    };
    super::one_item(&write(&feed), "<entry>", "</entry>").to_owned()
}

fn link(rel: &str, href: &str, mime_type: &str) -> Link {
    Link {
        href: cleaned(href),
        rel: rel.to_owned(),
        mime_type: Some(mime_type.to_owned()),
        ..Link::default()
    }
}

fn entry(site: &SiteInfo, post: &Post) -> Entry {
    let mut links = vec![link("alternate", post.url(), "text/html")];
    if post.external_url.is_some() {
        links.push(link("related", &post.permalink, "text/html"));
    }
    if let Some(image) = &post.image {
        // The featured image, with its type and size where they are known.
        links.push(Link {
            href: cleaned(image),
            rel: "enclosure".to_owned(),
            mime_type: post.image_meta.mime_type.map(str::to_owned),
            length: post.image_meta.length.map(|l| l.to_string()),
            ..Link::default()
        });
    }

    let html = post.body.html();
    let content = Some(cleaned(html))
        .filter(|h| !h.trim().is_empty())
        .map(|value| Content {
            value: Some(value),
            content_type: Some("html".to_owned()),
            ..Content::default()
        });

    let summary = post
        .summary
        .as_deref()
        .map(|s| cleaned(s.trim()))
        .filter(|s| !s.is_empty())
        // As HTML, like the content beside it: some readers (rss2email) show only the
        // summary when its type differs from the content's.
        .map(|s| Text::html(escape(&s)));

    let categories = post
        .item_categories()
        .into_iter()
        .map(cleaned)
        .map(|t| Category {
            term: t.clone(),
            scheme: None,
            label: Some(t),
        })
        .collect();

    let authors = item_authors(site, post)
        .into_iter()
        .map(|name| Person {
            name,
            ..Person::default()
        })
        .collect();

    let mut extensions = ExtensionMap::new();
    if let Some(image) = &post.image {
        let mut attrs = BTreeMap::new();
        // atom_syndication writes extension attributes verbatim: escape them here.
        attrs.insert("url".to_owned(), escape(image));
        attrs.insert("medium".to_owned(), "image".to_owned());
        let media = Extension {
            name: "media:content".to_owned(),
            attrs,
            ..Extension::default()
        };
        extensions
            .entry("media".to_owned())
            .or_default()
            .insert("content".to_owned(), vec![media]);
    }

    Entry {
        title: Text::plain(post_title(post)),
        id: id_uri(site, &post.id),
        updated: post.modified(),
        authors,
        categories,
        links,
        published: Some(post.published),
        summary,
        content,
        extensions,
        ..Entry::default()
    }
}

//! RSS 2.0 with the content, Dublin Core, Atom and Media RSS namespaces.
//!
//! Item element order is the rss crate's: `title`, `link`, `description`, `category`, `guid`,
//! `enclosure`, `pubDate`, `content:encoded`, then extensions (`media:content`,
//! `media:thumbnail`, `dc:creator`). That puts
//! `description` before `content:encoded`, which the W3C validator asks for
//! (NeedDescriptionBeforeContent); a test checks the bytes.

use std::collections::BTreeMap;
use std::sync::Arc;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::{Extension, ExtensionMap};
use rss::{Category, Channel, Enclosure, Guid, Item};

use super::text::{
    clean, cleaned, escape, feed_description, feed_updated, is_http_url, item_authors, post_title,
    rfc822,
};
use super::FeedInfo;
use crate::config::SiteInfo;
use crate::post::{ImageMeta, Post};

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

pub fn render(site: &SiteInfo, feed: &FeedInfo, posts: &[Arc<Post>]) -> String {
    render_as(site, feed, posts, false)
}

/// `whole`: the channel is written with every item in it, not assembled from the cached
/// items (what assembling must equal, byte for byte).
pub(super) fn render_as(
    site: &SiteInfo,
    feed: &FeedInfo,
    posts: &[Arc<Post>],
    whole: bool,
) -> String {
    let key = super::site_key(site);
    let items: Vec<Arc<str>> = posts
        .iter()
        .map(|p| p.body.item(SLOT, key, || item_xml(site, p)))
        .collect();

    let mut namespaces = BTreeMap::new();
    if posts.iter().any(|p| p.image.is_some()) {
        namespaces.insert("media".to_owned(), MEDIA_NS.to_owned());
    }

    let managing_editor = site
        .author_email
        .as_deref()
        .map(|email| managing_editor(site, email));

    let channel = Channel {
        title: cleaned(&feed.title),
        link: cleaned(&feed.html_url),
        description: feed_description(site, feed),
        language: Some(cleaned(&site.language)).filter(|l| !l.trim().is_empty()),
        managing_editor,
        last_build_date: Some(rfc822(feed_updated(posts))),
        generator: Some("Herald".to_owned()),
        // RSS has one image: the logo, else the icon.
        image: site
            .logo
            .as_ref()
            .or(site.icon.as_ref())
            .map(|url| rss::Image {
                url: cleaned(url),
                title: cleaned(&feed.title),
                link: cleaned(&feed.html_url),
                ..rss::Image::default()
            }),
        atom_ext: Some(AtomExtension {
            links: std::iter::once(Link {
                href: cleaned(&feed.rss_url),
                rel: "self".to_owned(),
                mime_type: Some("application/rss+xml".to_owned()),
                ..Link::default()
            })
            // WebSub discovery: one `atom:link rel="hub"` per hub.
            .chain(site.hubs.iter().map(|hub| Link {
                href: cleaned(hub),
                rel: "hub".to_owned(),
                ..Link::default()
            }))
            .collect(),
        }),
        namespaces,
        items: if whole {
            posts.iter().map(|p| item(site, p)).collect()
        } else {
            placeholder(site, posts, &items)
        },
        ..Channel::default()
    };

    let mut out = if whole {
        write(&channel)
    } else {
        super::splice(&write(&channel), "<item>", "</item>", &items)
    };
    out.push('\n');
    out
}

/// Which feed format slot of [`crate::post::Body::item`] RSS items use.
const SLOT: usize = 0;

fn write(channel: &Channel) -> String {
    let bytes = channel
        .write_to(Vec::new())
        .expect("writing to a Vec cannot fail");
    String::from_utf8(bytes).expect("the rss crate writes UTF-8")
}

/// One post as an `<item>` element, exactly as the rss crate writes it inside a channel.
fn item_xml(site: &SiteInfo, post: &Post) -> String {
    let channel = Channel {
        items: vec![item(site, post)],
        ..Channel::default()
    };
    super::one_item(&write(&channel), "<item>", "</item>").to_owned()
}

/// The item the channel is written around, standing for all of them: it asks for the
/// namespaces the real items use (the rss crate declares them from the items), and is then
/// replaced by them. None for a feed without items.
fn placeholder(site: &SiteInfo, posts: &[Arc<Post>], items: &[Arc<str>]) -> Vec<Item> {
    if posts.is_empty() {
        return Vec::new();
    }
    // Elements are tags only where the crate wrote them: other text is escaped, and
    // `content:encoded` itself is what holds the CDATA.
    let content = items.iter().any(|i| i.contains("<content:encoded>"));
    let creators = posts.iter().any(|p| !item_authors(site, p).is_empty());
    vec![Item {
        content: content.then(String::new),
        dublin_core_ext: creators.then(DublinCoreExtension::default),
        ..Item::default()
    }]
}

/// `email (Real Name)`: the W3C validator warns of a bare address (MissingRealName). The
/// name is the site's author, else the site title (as Atom's feed-level author is).
fn managing_editor(site: &SiteInfo, email: &str) -> String {
    let email = cleaned(email.trim());
    [site.author.as_deref().unwrap_or(""), site.title.as_str()]
        .iter()
        .map(|n| clean(n.trim()).trim().to_owned())
        .find(|n| !n.is_empty())
        .map_or_else(|| email.clone(), |name| format!("{email} ({name})"))
}

fn item(site: &SiteInfo, post: &Post) -> Item {
    let html = post.body.html();
    // `description` is HTML in RSS: escape the plain-text summary so `a < b` stays text.
    let description = post
        .summary
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(escape);
    let content = Some(cleaned(html)).filter(|h| !h.trim().is_empty());
    // A body with no text (an image alone) has no summary: an empty `description` still
    // precedes `content:encoded` (NeedDescriptionBeforeContent). No body: no description.
    let description = description.or_else(|| content.as_ref().map(|_| String::new()));

    let id = clean(&post.id).into_owned();
    let is_permalink = id == post.permalink && is_http_url(&id);

    let categories = post
        .item_categories()
        .into_iter()
        .map(|t| Category {
            name: cleaned(t),
            domain: None,
        })
        .collect();

    let mut extensions = ExtensionMap::new();
    if let Some(image) = &post.image {
        extensions.insert("media".to_owned(), media(image, &post.image_meta));
    }
    let enclosure = post
        .image
        .as_ref()
        .and_then(|url| enclosure(url, &post.image_meta));

    let creators = item_authors(site, post);
    let dublin_core_ext = (!creators.is_empty()).then(|| DublinCoreExtension {
        creators,
        ..DublinCoreExtension::default()
    });

    Item {
        title: Some(post_title(post)),
        link: Some(cleaned(post.url())),
        description,
        categories,
        enclosure,
        guid: Some(Guid {
            value: id,
            permalink: is_permalink,
        }),
        pub_date: Some(rfc822(post.published)),
        content,
        extensions,
        dublin_core_ext,
        ..Item::default()
    }
}

/// The featured image as Media RSS: `media:content` (with its type and size when known)
/// and `media:thumbnail`, which the readers that ignore `media:content` show.
fn media(url: &str, meta: &ImageMeta) -> BTreeMap<String, Vec<Extension>> {
    let mut attrs = BTreeMap::new();
    attrs.insert("url".to_owned(), cleaned(url));
    attrs.insert("medium".to_owned(), "image".to_owned());
    if let Some(mime_type) = meta.mime_type {
        attrs.insert("type".to_owned(), mime_type.to_owned());
    }
    if let Some(length) = meta.length {
        attrs.insert("fileSize".to_owned(), length.to_string());
    }
    let content = Extension {
        name: "media:content".to_owned(),
        attrs,
        ..Extension::default()
    };
    let thumbnail = Extension {
        name: "media:thumbnail".to_owned(),
        attrs: BTreeMap::from([("url".to_owned(), cleaned(url))]),
        ..Extension::default()
    };
    BTreeMap::from([
        ("content".to_owned(), vec![content]),
        ("thumbnail".to_owned(), vec![thumbnail]),
    ])
}

/// `<enclosure>` needs the length and type: only for an image that is a file of the site.
fn enclosure(url: &str, meta: &ImageMeta) -> Option<Enclosure> {
    Some(Enclosure {
        url: cleaned(url),
        length: meta.length?.to_string(),
        mime_type: meta.mime_type?.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::Body;
    use chrono::DateTime;

    const BASE: &str = "https://example.org/";

    fn site(author: Option<&str>, title: &str) -> SiteInfo {
        SiteInfo {
            icon: None,
            logo: None,
            title: title.into(),
            description: String::new(),
            language: "en".into(),
            author: author.map(Into::into),
            author_email: Some(" jo@example.org ".into()),
            base_url: BASE.into(),
            hubs: Vec::new(),
        }
    }

    fn feed() -> FeedInfo {
        FeedInfo {
            title: "T".into(),
            description: String::new(),
            term: None,
            taxonomy: None,
            slug: None,
            language: "en".into(),
            html_url: BASE.into(),
            id: BASE.into(),
            dir: String::new(),
            rss_url: format!("{BASE}rss.xml"),
            atom_url: format!("{BASE}atom.xml"),
            json_url: format!("{BASE}feed.json"),
        }
    }

    fn post(name: &str, summary: Option<&str>, html: &str) -> Arc<Post> {
        let permalink = format!("{BASE}{name}/");
        let date = DateTime::parse_from_rfc3339("2024-03-01T00:00:00Z").unwrap();
        Arc::new(Post {
            summary: summary.map(Into::into),
            ..Post::for_test(
                &format!("{name}.md"),
                &permalink,
                name,
                date,
                Body::with_html(html.into(), permalink.clone(), html.into()),
            )
        })
    }

    fn editor(site: &SiteInfo) -> String {
        let out = render(site, &feed(), &[]);
        let start = out.find("<managingEditor>").unwrap() + "<managingEditor>".len();
        out[start..start + out[start..].find("</managingEditor>").unwrap()].to_owned()
    }

    #[test]
    fn a_local_image_is_an_enclosure_and_every_image_a_thumbnail() {
        let with_image = |name: &str, length: Option<u64>| {
            let mut p = Arc::into_inner(post(name, Some("s"), "<p>x</p>")).unwrap();
            p.image = Some(format!("{BASE}{name}.png"));
            p.image_meta = ImageMeta {
                mime_type: Some("image/png"),
                file: None,
                length,
            };
            Arc::new(p)
        };
        let out = render(
            &site(None, "S"),
            &feed(),
            &[with_image("local", Some(42)), with_image("remote", None)],
        );
        assert!(out.contains(&format!(
            "<enclosure url=\"{BASE}local.png\" length=\"42\" type=\"image/png\"/>"
        )));
        assert_eq!(out.matches("<enclosure").count(), 1, "{out}");
        assert!(out.contains(&format!(
            "<media:content fileSize=\"42\" medium=\"image\" type=\"image/png\" url=\"{BASE}local.png\">"
        )));
        assert!(out.contains(&format!("<media:thumbnail url=\"{BASE}remote.png\">")));
        roxmltree::Document::parse(&out).unwrap();
    }

    #[test]
    fn managing_editor_always_has_a_real_name() {
        assert_eq!(editor(&site(Some("Jo"), "Site")), "jo@example.org (Jo)");
        // No author (or a blank one): the site title, not a bare address.
        assert_eq!(editor(&site(None, "Site")), "jo@example.org (Site)");
        assert_eq!(editor(&site(Some("  "), "Site")), "jo@example.org (Site)");
        assert_eq!(editor(&site(None, " ")), "jo@example.org");
    }

    #[test]
    fn content_without_summary_still_has_a_description_first() {
        let posts = [
            post(
                "image",
                None,
                "<p><img src=\"https://example.org/a.png\"></p>",
            ),
            post(
                "blank",
                Some("  "),
                "<p><img src=\"https://example.org/b.png\"></p>",
            ),
            post("nothing", None, ""),
        ];
        let out = render(&site(None, "S"), &feed(), &posts);
        let items: Vec<&str> = out.split("<item>").skip(1).collect();
        assert_eq!(items.len(), 3);
        for item in &items[..2] {
            let d = item.find("<description>").expect(item);
            let c = item.find("<content:encoded>").expect(item);
            assert!(d < c, "{item}");
        }
        // Only a title: neither element.
        assert!(!items[2].contains("<description>"), "{}", items[2]);
        assert!(!items[2].contains("<content:encoded>"), "{}", items[2]);
    }
}

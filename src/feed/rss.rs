//! RSS 2.0 with the content, Dublin Core, Atom and Media RSS namespaces.
//!
//! Item element order is the rss crate's: `title`, `link`, `description`, `category`, `guid`,
//! `pubDate`, `content:encoded`, then extensions (`media:content`, `dc:creator`). That puts
//! `description` before `content:encoded`, which the W3C validator asks for
//! (NeedDescriptionBeforeContent); a test checks the bytes.

use std::collections::BTreeMap;
use std::sync::Arc;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::{Extension, ExtensionMap};
use rss::{Category, Channel, Guid, Item};

use super::text::{
    clean, cleaned, escape, feed_description, feed_updated, is_http_url, post_title, rfc822,
};
use super::FeedInfo;
use crate::config::Site;
use crate::post::Post;

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

pub fn render(site: &Site, feed: &FeedInfo, posts: &[Arc<Post>]) -> String {
    let items: Vec<Item> = posts.iter().map(|p| item(p)).collect();

    let mut namespaces = BTreeMap::new();
    if posts.iter().any(|p| p.image.is_some()) {
        namespaces.insert("media".to_owned(), MEDIA_NS.to_owned());
    }

    let managing_editor = site
        .author_email
        .as_deref()
        .map(|email| match site.author.as_deref() {
            Some(name) => format!("{} ({})", cleaned(email.trim()), cleaned(name.trim())),
            None => cleaned(email.trim()),
        });

    let channel = Channel {
        title: cleaned(&feed.title),
        link: cleaned(&feed.html_url),
        description: feed_description(site, feed),
        language: Some(cleaned(&site.language)).filter(|l| !l.trim().is_empty()),
        managing_editor,
        last_build_date: Some(rfc822(feed_updated(posts))),
        generator: Some("Herald".to_owned()),
        atom_ext: Some(AtomExtension {
            links: vec![Link {
                href: cleaned(&feed.rss_url),
                rel: "self".to_owned(),
                mime_type: Some("application/rss+xml".to_owned()),
                ..Link::default()
            }],
        }),
        namespaces,
        items,
        ..Channel::default()
    };

    let bytes = channel
        .write_to(Vec::new())
        .expect("writing to a Vec cannot fail");
    let mut out = String::from_utf8(bytes).expect("the rss crate writes UTF-8");
    out.push('\n');
    out
}

fn item(post: &Post) -> Item {
    let html = post.body.html();
    // `description` is HTML in RSS: escape the plain-text summary so `a < b` stays text.
    let description = post
        .summary
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(escape);
    let content = Some(cleaned(html)).filter(|h| !h.trim().is_empty());

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
        let mut attrs = BTreeMap::new();
        attrs.insert("url".to_owned(), cleaned(image));
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

    let dublin_core_ext = (!post.authors.is_empty()).then(|| DublinCoreExtension {
        creators: post.authors.iter().map(|a| cleaned(a)).collect(),
        ..DublinCoreExtension::default()
    });

    Item {
        title: Some(post_title(post)),
        link: Some(cleaned(post.url())),
        description,
        categories,
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

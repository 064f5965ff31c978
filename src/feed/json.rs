//! JSON Feed 1.1 (<https://www.jsonfeed.org/version/1.1/>).
//!
//! Fields are written in struct order, empty ones left out. Every item carries
//! `content_html` (the body) or `content_text` (the summary, else the title): the spec
//! requires one of them.

use std::sync::Arc;

use serde::Serialize;

use super::text::{cleaned, feed_description, item_authors, post_title, rfc3339};
use super::FeedInfo;
use crate::config::SiteInfo;
use crate::post::Post;

#[derive(Serialize)]
struct JsonFeed {
    version: &'static str,
    title: String,
    home_page_url: String,
    feed_url: String,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author>,
    /// The large square image (the icon, else the logo) and the small one (the icon).
    #[serde(skip_serializing_if = "Option::is_none")]
    icon: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    favicon: Option<String>,
    /// WebSub hubs (`{"type": "WebSub", "url": …}`), when push is on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub>,
    /// Last: assembling relies on the document ending with the items.
    items: Vec<JsonItem>,
}

#[derive(Serialize)]
struct Hub {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
}

#[derive(Serialize)]
struct Author {
    name: String,
}

#[derive(Serialize)]
struct JsonItem {
    id: String,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_url: Option<String>,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    date_published: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_modified: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author>,
    /// The featured image again, with its type (and size when it is a file of the site),
    /// for readers that show attachments rather than `image`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment>,
}

#[derive(Serialize)]
struct Attachment {
    url: String,
    mime_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

pub fn render(site: &SiteInfo, feed: &FeedInfo, posts: &[Arc<Post>]) -> String {
    render_as(site, feed, posts, false)
}

/// `whole`: serialized with every item in it, not assembled from the cached items (what
/// assembling must equal, byte for byte).
pub(super) fn render_as(
    site: &SiteInfo,
    feed: &FeedInfo,
    posts: &[Arc<Post>],
    whole: bool,
) -> String {
    let authors = site
        .author
        .as_deref()
        .map(|a| cleaned(a.trim()))
        .filter(|a| !a.is_empty())
        .map(|name| vec![Author { name }])
        .unwrap_or_default();
    let doc = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: cleaned(&feed.title),
        home_page_url: cleaned(&feed.html_url),
        feed_url: cleaned(&feed.json_url),
        description: feed_description(site, feed),
        language: Some(cleaned(site.language.trim())).filter(|l| !l.is_empty()),
        authors,
        icon: site
            .icon
            .as_ref()
            .or(site.logo.as_ref())
            .map(|u| cleaned(u)),
        favicon: site.icon.as_deref().map(cleaned),
        hubs: site
            .hubs
            .iter()
            .map(|url| Hub {
                kind: "WebSub",
                url: cleaned(url),
            })
            .collect(),
        items: if whole {
            posts.iter().map(|p| item(site, p)).collect()
        } else {
            Vec::new()
        },
    };
    let head = serde_json::to_string(&doc).expect("serializing plain structs cannot fail");
    if whole {
        return head + "\n";
    }
    // `items` is the last field: the document ends in `[]}`, where the items go.
    let open = head.len() - "]}".len();
    let key = super::site_key(site);
    let items: Vec<Arc<str>> = posts
        .iter()
        .map(|post| post.body.item(SLOT, key, || item_json(site, post)))
        .collect();
    // Sized exactly: the document is kept as long as it is served, spare capacity included.
    let length = head.len() + items.iter().map(|i| i.len() + 1).sum::<usize>() + 1;
    let mut out = String::with_capacity(length);
    out.push_str(&head[..open]);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push_str(&head[open..]);
    out.push('\n');
    out
}

/// Which feed format slot of [`crate::post::Body::item`] JSON Feed items use.
const SLOT: usize = 2;

fn item_json(site: &SiteInfo, post: &Post) -> String {
    serde_json::to_string(&item(site, post)).expect("serializing plain structs cannot fail")
}

fn item(site: &SiteInfo, post: &Post) -> JsonItem {
    let title = post_title(post);
    let summary = post
        .summary
        .as_deref()
        .map(|s| cleaned(s.trim()))
        .filter(|s| !s.is_empty());
    let content_html = Some(cleaned(post.body.html())).filter(|h| !h.trim().is_empty());
    let content_text = match content_html {
        Some(_) => None,
        None => Some(summary.clone().unwrap_or_else(|| title.clone())),
    };
    JsonItem {
        id: cleaned(&post.id),
        url: cleaned(&post.permalink),
        external_url: post.external_url.as_deref().map(cleaned),
        title,
        content_html,
        content_text,
        summary,
        image: post.image.as_deref().map(cleaned),
        date_published: rfc3339(post.published),
        date_modified: post.updated.map(rfc3339),
        tags: post.item_categories().into_iter().map(cleaned).collect(),
        authors: item_authors(site, post)
            .into_iter()
            .map(|name| Author { name })
            .collect(),
        // `mime_type` is required: an image whose type is unknown is no attachment.
        attachments: post
            .image
            .as_deref()
            .zip(post.image_meta.mime_type)
            .map(|(url, mime_type)| Attachment {
                url: cleaned(url),
                mime_type,
                size_in_bytes: post.image_meta.length,
            })
            .into_iter()
            .collect(),
    }
}

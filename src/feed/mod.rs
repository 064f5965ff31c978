//! Renders one feed from posts: RSS 2.0, Atom 1.0 or JSON Feed 1.1; plus the OPML list of
//! every feed and the HTML index page. Pure and deterministic: the same input gives the same
//! bytes; no clock, no hash-map order.

use std::sync::Arc;

mod atom;
mod json;
mod list;
mod opml;
mod page;
mod rss;
mod text;

use crate::config::SiteInfo;
use crate::post::Post;

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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The HTML page this feed mirrors (site home, or the term's page), absolute.
    pub html_url: String,
    /// Folder of the feed relative to the base URL: `""`, `categories/rust/`, `es/`,
    /// `es/categories/rust/`.
    pub dir: String,
    /// Absolute URL of each format (`self` links).
    pub rss_url: String,
    pub atom_url: String,
    pub json_url: String,
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

/// The human page at `/`: every feed with its subscribe links and copyable autodiscovery tags.
pub fn render_index_page(site: &SiteInfo, feeds: &[FeedInfo]) -> String {
    page::render(site, feeds)
}

/// `/feeds.json`: every feed with its term, slug and URLs, for site templates.
pub fn render_feed_list(site: &SiteInfo, feeds: &[FeedInfo]) -> String {
    list::render(site, feeds)
}

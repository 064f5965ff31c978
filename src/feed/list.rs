//! `/feeds.json`: every feed as JSON, for site templates that link to per-topic feeds
//! (Hugo can read it at build time with `resources.GetRemote` or from a data file).
//!
//! Shape: `{"title", "home_page_url", "feeds": [{"title", "taxonomy", "term", "slug",
//! "home_page_url", "rss", "atom", "json"}]}`; `taxonomy`, `term` and `slug` are absent for
//! the global feed; then `"push": {"websub": bool, "hubs": [...]}`, whether the feeds are
//! pushed (WebSub) and through which hubs. Keys keep this order; feeds keep the caller's order.

use serde::Serialize;

use super::FeedInfo;
use crate::config::SiteInfo;

#[derive(Serialize)]
struct List<'a> {
    title: &'a str,
    home_page_url: &'a str,
    feeds: Vec<Entry<'a>>,
    push: Push<'a>,
}

#[derive(Serialize)]
struct Push<'a> {
    websub: bool,
    hubs: &'a [String],
}

#[derive(Serialize)]
struct Entry<'a> {
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    taxonomy: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    term: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    slug: Option<&'a str>,
    language: &'a str,
    home_page_url: &'a str,
    rss: &'a str,
    atom: &'a str,
    json: &'a str,
}

pub fn render(site: &SiteInfo, feeds: &[FeedInfo]) -> String {
    let feeds = feeds
        .iter()
        .map(|f| Entry {
            title: &f.title,
            taxonomy: f.taxonomy.as_deref(),
            term: f.term.as_deref(),
            slug: f.slug.as_deref(),
            language: &f.language,
            home_page_url: &f.html_url,
            rss: &f.rss_url,
            atom: &f.atom_url,
            json: &f.json_url,
        })
        .collect();
    let list = List {
        title: &site.title,
        home_page_url: &site.base_url,
        feeds,
        push: Push {
            websub: !site.hubs.is_empty(),
            hubs: &site.hubs,
        },
    };
    let mut out = serde_json::to_string_pretty(&list).expect("plain data serializes");
    out.push('\n');
    out
}

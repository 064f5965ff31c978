//! A feed's own page, served in its folder (`/categories/rust/`, `/es/`): the topic's
//! latest items, its three feed URLs with copy buttons, and how to subscribe. Made from the
//! same items as the feed, so it changes exactly when the feed does.

use std::sync::Arc;

use super::page::{date, foot, head, page_url, push_note, url_rows, HOW_TO};
use super::text::{escape, post_title};
use super::FeedInfo;
use crate::config::SiteInfo;
use crate::post::Post;

/// `site` is the feed's language's, `home` the default language's (where the index is);
/// `items` are the feed's, newest first.
pub fn render(site: &SiteInfo, home: &SiteInfo, feed: &FeedInfo, items: &[Arc<Post>]) -> String {
    let name = feed.term.as_deref().unwrap_or(&site.title).trim();
    let mut out = head(&site.language, &feed.title, &[feed]);
    out.push_str(&format!(
        "<p class=\"muted\"><a href=\"{}\">All feeds of {}</a></p>\n<h1>{}</h1>\n",
        escape(&home.base_url),
        escape(home.title.trim()),
        escape(name),
    ));
    let description = feed.description.trim();
    if !description.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", escape(description)));
    }
    // With `site_pages: hugo` the feed's home is the site's term page: say where it is.
    if feed.html_url != page_url(home, feed) {
        out.push_str(&format!(
            "<p class=\"muted\">On the site: <a href=\"{0}\">{0}</a></p>\n",
            escape(&feed.html_url),
        ));
    }
    out.push_str(HOW_TO);
    out.push_str(&push_note(site));
    out.push_str(&url_rows(feed));
    out.push_str("<h2>Latest posts</h2>\n");
    if items.is_empty() {
        out.push_str("<p>No posts yet.</p>\n");
    } else {
        out.push_str("<ol class=\"items\">\n");
        for post in items {
            out.push_str(&format!(
                "<li><a href=\"{}\">{}</a> <span class=\"muted\">{}</span>",
                escape(post.url()),
                escape(&post_title(post)),
                date(post),
            ));
            if let Some(summary) = post.summary.as_deref().map(str::trim) {
                if !summary.is_empty() {
                    out.push_str(&format!("<p>{}</p>", escape(summary)));
                }
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ol>\n");
    }
    out.push_str(&foot());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::page::tests::{feed, post, site};

    #[test]
    fn a_topic_page_lists_its_items_newest_first_with_its_feeds() {
        let home = site("en", "Site");
        let rust = feed("en", Some("Rust"));
        let items = [
            post(0, "Newest <b>", Some("First & best")),
            post(1, "Older", None),
            post(2, "Oldest", Some("  ")),
        ];
        let page = render(&home, &home, &rust, &items);
        assert!(page.starts_with("<!doctype html>\n<html lang=\"en\">\n<head>\n"));
        assert!(page.contains("<meta name=\"viewport\""));
        assert!(page.contains("<title>Site: Rust</title>"));
        let head = &page[..page.find("</head>").unwrap()];
        for url in [&rust.rss_url, &rust.atom_url, &rust.json_url] {
            assert!(head.contains(&format!("href=\"{url}\">")), "{head}");
            assert!(page.contains(&format!("<code>{url}</code><button type=\"button\" data-copy=\"{url}\" hidden>Copy</button>")));
        }
        assert!(page.contains("<h1>Rust</h1>"));
        assert!(page.contains("<a href=\"https://e.org/\">All feeds of Site</a>"));
        assert!(page.contains("A feed lets you follow new posts"));
        let at = |s: &str| page.find(s).unwrap_or_else(|| panic!("{s} in {page}"));
        assert!(at("Newest &lt;b&gt;") < at(">Older<") && at(">Older<") < at(">Oldest<"));
        assert!(page.contains("<time datetime=\"2025-02-28T10:00:00+02:00\">2025-02-28</time>"));
        assert!(page.contains("<p>First &amp; best</p>"));
        assert_eq!(
            page.matches("<p>").count() - page.matches("<p>First").count(),
            1,
            "no empty summaries: only the how-to's"
        );
        // Herald's own page is the feed's home: no "on the site" link.
        assert!(!page.contains("On the site"));
    }

    #[test]
    fn with_the_sites_own_term_pages_the_page_links_there_and_an_empty_feed_says_so() {
        let home = site("en", "Site");
        let es = site("es", "Sitio");
        let mut feed = feed("es", Some("Rust"));
        feed.html_url = "https://e.org/es/categories/rust-lang/".into();
        let page = render(&es, &home, &feed, &[]);
        assert!(page.starts_with("<!doctype html>\n<html lang=\"es\">"));
        assert!(page.contains("On the site: <a href=\"https://e.org/es/categories/rust-lang/\">"));
        assert!(page.contains("<a href=\"https://e.org/\">All feeds of Site</a>"));
        assert!(page.contains("No posts yet."));
    }
}

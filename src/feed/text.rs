//! Helpers every format shares: removing characters XML 1.0 cannot carry, date formats,
//! escaping for hand-written markup (OPML, the index page), and item ids as URIs.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};

use crate::config::SiteInfo;
use crate::post::Post;

use super::FeedInfo;

/// Whether `c` must not appear in a feed.
///
/// XML 1.0 forbids C0 controls other than tab, LF and CR (even as `&#..;` references) and
/// U+FFFE/U+FFFF. DEL and the C1 controls are allowed by XML 1.0 but "discouraged", forbidden
/// unescaped in XML 1.1, and never meaningful in prose: they go too. JSON could carry them
/// escaped; we strip them there as well so every format says the same thing.
fn is_unwanted(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}')
}

/// `s` without the characters XML 1.0 cannot carry. Borrows when there is nothing to remove.
pub fn clean(s: &str) -> Cow<'_, str> {
    if may_have_unwanted(s) && s.chars().any(is_unwanted) {
        Cow::Owned(s.chars().filter(|&c| !is_unwanted(c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// A fast byte scan that is true whenever `s` has an [`is_unwanted`] character: C0 controls
/// and DEL are single bytes; C1 controls start with 0xC2 and U+FFFE/U+FFFF with 0xEF. Feed
/// bodies are large and nearly always clean, and decoding every char of them cost a quarter
/// of the time spent rendering feeds (perf, `tests/bench/run`).
fn may_have_unwanted(s: &str) -> bool {
    s.bytes().any(|b| {
        (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || matches!(b, 0x7f | 0xc2 | 0xef)
    })
}

/// [`clean`], owned.
pub fn cleaned(s: &str) -> String {
    clean(s).into_owned()
}

/// A post title, cleaned; never empty (falls back to the post's URL).
pub fn post_title(post: &Post) -> String {
    let title = clean(post.title.trim()).trim().to_owned();
    if title.is_empty() {
        cleaned(post.url())
    } else {
        title
    }
}

/// The `updated` date of an empty feed: fixed, never the clock, and plausible to validators
/// (the W3C validator flags dates before 1990 as ImplausibleDate).
pub fn empty_feed_date() -> DateTime<FixedOffset> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .expect("valid literal date")
        .fixed_offset()
}

/// Newest modification among `posts`, or [`empty_feed_date`] when there are none. This is a
/// function of the content only, so the same posts always give the same feed bytes.
pub fn feed_updated(posts: &[Arc<Post>]) -> DateTime<FixedOffset> {
    posts
        .iter()
        .map(|p| p.modified())
        .max()
        .unwrap_or_else(empty_feed_date)
}

/// RFC 822 date as RSS wants it, in UTC with a numeric zone: `Tue, 1 Jul 2003 10:52:37 +0000`.
pub fn rfc822(dt: DateTime<FixedOffset>) -> String {
    dt.with_timezone(&Utc).fixed_offset().to_rfc2822()
}

/// RFC 3339 date (Atom, JSON Feed), keeping the offset the author wrote.
pub fn rfc3339(dt: DateTime<FixedOffset>) -> String {
    dt.to_rfc3339()
}

/// The feed's description: its own, else the site's, else its title. Never empty (RSS
/// requires a channel description).
pub fn feed_description(site: &SiteInfo, feed: &FeedInfo) -> String {
    [
        feed.description.as_str(),
        site.description.as_str(),
        feed.title.as_str(),
    ]
    .iter()
    .map(|s| clean(s.trim()).trim().to_owned())
    .find(|s| !s.is_empty())
    .unwrap_or_else(|| cleaned(&site.title))
}

/// Escapes text for HTML and XML, in element content and in quoted attributes alike, after
/// removing the characters XML cannot carry.
pub fn escape(s: &str) -> String {
    let s = clean(s);
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether `id` is already an absolute URI we can use as an Atom id as written: a scheme
/// (letter, then letters, digits, `+-.`), a colon, something after it, and no whitespace.
pub fn is_absolute_uri(id: &str) -> bool {
    let Some((scheme, rest)) = id.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !id.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
        })
}

/// A post id as a URI: the id itself when it is one, else
/// `tag:{host of base_url},2000:{id percent-encoded}` (RFC 4151), which is stable as long as
/// the id and the site's host are.
pub fn id_uri(site: &SiteInfo, id: &str) -> String {
    let id = clean(id);
    if is_absolute_uri(&id) {
        return id.into_owned();
    }
    let host = url::Url::parse(&site.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned());
    let mut out = format!("tag:{host},2000:");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether `s` is an absolute http(s) URL as written (what RSS accepts as a permalink guid):
/// no characters a URL parser would have to percent-encode first.
pub fn is_http_url(s: &str) -> bool {
    is_absolute_uri(s)
        && url::Url::parse(s)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// Who wrote an item: the post's authors, else the site's author (readers show an item's
/// author, rarely the feed's). Empty when neither names anyone.
pub fn item_authors(site: &SiteInfo, post: &Post) -> Vec<String> {
    let named: Vec<String> = post
        .authors
        .iter()
        .map(|a| cleaned(a.trim()))
        .filter(|a| !a.is_empty())
        .collect();
    if !named.is_empty() {
        return named;
    }
    site.author
        .as_deref()
        .map(|a| cleaned(a.trim()))
        .filter(|a| !a.is_empty())
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_removes_what_xml_cannot_carry_and_keeps_whitespace() {
        assert_eq!(clean("a\u{13}b\u{0}c\u{fffe}\u{ffff}\u{85}d"), "abcd");
        assert_eq!(clean("tab\tnl\ncr\r"), "tab\tnl\ncr\r");
        assert!(matches!(clean("plain ü"), Cow::Borrowed(_)));
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">&'\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn rfc822_is_utc_with_numeric_zone() {
        let dt = DateTime::parse_from_rfc3339("2024-03-05T14:07:09+02:00").unwrap();
        assert_eq!(rfc822(dt), "Tue, 5 Mar 2024 12:07:09 +0000");
        assert_eq!(rfc3339(dt), "2024-03-05T14:07:09+02:00");
    }

    #[test]
    fn ids_become_uris() {
        let site = SiteInfo {
            icon: None,
            logo: None,
            title: "T".into(),
            description: String::new(),
            language: "en".into(),
            author: None,
            author_email: None,
            base_url: "https://example.org/blog/".into(),
            hubs: Vec::new(),
        };
        assert_eq!(
            id_uri(&site, "https://example.org/p/1/"),
            "https://example.org/p/1/"
        );
        assert_eq!(id_uri(&site, "urn:uuid:1234"), "urn:uuid:1234");
        assert_eq!(
            id_uri(&site, "my post#1"),
            "tag:example.org,2000:my%20post%231"
        );
        assert_eq!(id_uri(&site, "2019:x"), "tag:example.org,2000:2019:x");
        assert!(!is_absolute_uri("c d:e"));
        assert!(is_http_url("http://e.org/x"));
        assert!(!is_http_url("tag:e.org,2000:x"));
        assert!(!is_http_url("https://e.org/a b"));
    }
}

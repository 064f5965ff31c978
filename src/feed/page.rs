//! The human pages Herald serves: the index at `/` (every feed with its newest post, grouped
//! by language, with the autodiscovery tags for site owners folded away) and what it shares
//! with each feed's own page ([`super::topic`]): the head, the inline style and script, the
//! subscribe instructions and the rows of feed URLs with their copy buttons.
//!
//! Plain HTML5 with inline CSS and no external assets. The one small script only adds
//! conveniences (copy buttons, the filter box): without it every URL is visible text to
//! select, and the buttons and the filter stay hidden.

use super::text::escape;
use super::{FeedInfo, Format};
use crate::config::SiteInfo;
use crate::post::Post;

/// Above this many feeds the index gets a filter box.
pub const FILTER_ABOVE: usize = 20;

/// One feed as the index lists it: its identity and its newest item, if it has one.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    pub feed: &'a FeedInfo,
    pub newest: Option<&'a Post>,
}

/// Media type and label of each format, as used in `<link rel="alternate">`.
fn kind(format: Format) -> (&'static str, &'static str) {
    match format {
        Format::Rss => ("application/rss+xml", "RSS"),
        Format::Atom => ("application/atom+xml", "Atom"),
        Format::Json => ("application/feed+json", "JSON Feed"),
    }
}

/// The autodiscovery tags of one feed, one per format, as HTML (unescaped).
pub fn discovery_tags(feed: &FeedInfo) -> Vec<String> {
    Format::ALL
        .iter()
        .map(|&format| {
            let (media_type, label) = kind(format);
            format!(
                "<link rel=\"alternate\" type=\"{media_type}\" title=\"{} ({label})\" href=\"{}\">",
                escape(feed.title.trim()),
                escape(feed.url(format)),
            )
        })
        .collect()
}

/// Mobile first: one column, rows that wrap long URLs anywhere rather than scroll sideways.
const STYLE: &str = "<style>\
:root{color-scheme:light dark}\
[hidden]{display:none!important}\
body{font:16px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;max-width:46rem;margin:0 auto;padding:.75rem 1rem 2rem;overflow-wrap:anywhere}\
h1{font-size:1.5rem;line-height:1.2;margin:.75rem 0 .5rem}\
h2{font-size:1.15rem;margin:1.5rem 0 .25rem}\
time{white-space:nowrap}\
.how{margin:.5rem 0 1rem;padding:.6rem .8rem;border-radius:.4rem;background:#8881}\
.how p{margin:0}\
.muted{opacity:.75;font-size:.9rem}\
ul.feeds{list-style:none;margin:0;padding:0}\
li.feed{border-top:1px solid #8885;padding:.55rem 0}\
.name{font-weight:600}\
.newest{display:block;font-size:.9rem}\
.urls{display:grid;grid-template-columns:2.6rem minmax(0,max-content) auto;justify-content:start;align-items:baseline;gap:.2rem .5rem;margin-top:.25rem;font-size:.8rem;line-height:1.3}\
.url{display:contents}\
.url b{grid-column:1;font-weight:500;opacity:.75}\
.url code{grid-column:2;overflow-wrap:anywhere}\
.url button{font:inherit;font-size:.8rem;padding:.1rem .55rem;cursor:pointer;justify-self:start;grid-column:3}\
.filter input{width:100%;box-sizing:border-box;font:inherit;padding:.4rem .5rem}\
ol.items{padding-left:1.25rem}\
ol.items li{margin:.6rem 0}\
ol.items p{margin:.15rem 0 0;font-size:.95rem}\
details{margin-top:2rem}\
summary{cursor:pointer}\
pre{font-size:.8rem;background:#8881;padding:.5rem;white-space:pre-wrap;word-break:break-all}\
</style>\n";

/// Copy buttons (the Clipboard API where the page is a secure context, else the URL is
/// selected and copied the old way) and the filter box. Both start hidden: no script, no
/// dead controls.
const SCRIPT: &str = "<script>\
document.querySelectorAll('button[data-copy]').forEach(function(b){\
b.hidden=false;\
b.addEventListener('click',function(){\
var done=function(){b.textContent='Copied';setTimeout(function(){b.textContent='Copy'},1500)};\
var pick=function(){var r=document.createRange();r.selectNodeContents(b.previousElementSibling);\
var s=getSelection();s.removeAllRanges();s.addRange(r);try{if(document.execCommand('copy'))done()}catch(e){}};\
var u=b.getAttribute('data-copy');\
if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(u).then(done,pick)}else{pick()}\
})});\
var f=document.getElementById('filter');\
if(f){f.parentNode.parentNode.hidden=false;f.addEventListener('input',function(){\
var q=f.value.trim().toLowerCase();\
document.querySelectorAll('li.feed').forEach(function(li){li.hidden=q!==''&&li.getAttribute('data-name').indexOf(q)<0})\
})}\
</script>\n";

/// What a feed is and how to subscribe, for someone who has never used one.
pub(super) const HOW_TO: &str = "<div class=\"how\"><p>A feed lets you follow new posts \
without coming back to check. Install a feed reader app (there are free ones for every \
phone and computer), then copy a feed's address below and paste it into the reader's \
\u{201c}add feed\u{201d} or \u{201c}subscribe\u{201d} box. The three formats carry the \
same posts: if unsure, take RSS.</p></div>\n";

/// `<!doctype html>` to `<body>`: language, viewport, title, the feeds' autodiscovery
/// tags and the style.
pub(super) fn head(lang: &str, title: &str, feeds: &[&FeedInfo]) -> String {
    let lang = escape(lang.trim());
    let mut out = String::from("<!doctype html>\n");
    if lang.is_empty() {
        out.push_str("<html>\n");
    } else {
        out.push_str(&format!("<html lang=\"{lang}\">\n"));
    }
    out.push_str("<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>{}</title>\n", escape(title.trim())));
    for feed in feeds {
        for tag in discovery_tags(feed) {
            out.push_str(&tag);
            out.push('\n');
        }
    }
    out.push_str(STYLE);
    out.push_str("</head>\n<body>\n");
    out
}

/// The end of every page: the script, then `</html>`.
pub(super) fn foot() -> String {
    format!("<p class=\"muted\">Generated by Herald.</p>\n{SCRIPT}</body>\n</html>\n")
}

/// The three URLs of a feed, each as selectable text with a copy button.
pub(super) fn url_rows(feed: &FeedInfo) -> String {
    let mut out = String::from("<div class=\"urls\">\n");
    for format in Format::ALL {
        let label = match format {
            Format::Rss => "RSS",
            Format::Atom => "Atom",
            Format::Json => "JSON",
        };
        let url = escape(feed.url(format));
        out.push_str(&format!(
            "<div class=\"url\"><b>{label}</b><code>{url}</code><button type=\"button\" data-copy=\"{url}\" hidden>Copy</button></div>\n"
        ));
    }
    out.push_str("</div>\n");
    out
}

/// A post's date as the site shows it, in the offset it was written with.
pub(super) fn date(post: &Post) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        super::text::rfc3339(post.published),
        post.published.format("%Y-%m-%d")
    )
}

/// Herald's own page of a feed: its folder under the site's base URL (see
/// [`crate::layout::page_path`]). The default language's global feed's is the index.
pub(super) fn page_url(site: &SiteInfo, feed: &FeedInfo) -> String {
    format!("{}{}", site.base_url, feed.dir)
}

/// What a row calls a feed: the term, or "All posts" for a language's global feed.
fn row_name(feed: &FeedInfo) -> &str {
    feed.term.as_deref().map_or("All posts", str::trim)
}

/// The index page. `site` is the default language's; `languages` pairs each language code
/// with its site (feeds are grouped under them, in this order, when there are several).
pub fn render(site: &SiteInfo, languages: &[(&str, &SiteInfo)], feeds: &[Listed]) -> String {
    let title = format!("{} feeds", site.title.trim());
    // The head announces the site-wide feeds; term feeds are listed in the body.
    let globals: Vec<&FeedInfo> = feeds
        .iter()
        .map(|l| l.feed)
        .filter(|f| f.term.is_none())
        .collect();
    let mut out = head(&site.language, &title, &globals);
    out.push_str(&format!("<h1>{}</h1>\n", escape(&title)));
    let description = site.description.trim();
    if !description.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", escape(description)));
    }
    out.push_str(HOW_TO);
    out.push_str(&push_note(site));
    out.push_str(&format!(
        "<p class=\"muted\">Every feed at once, to import into a reader: <a href=\"{0}\">{0}</a></p>\n",
        escape(&format!("{}feeds.opml", site.base_url)),
    ));
    if feeds.len() > FILTER_ABOVE {
        out.push_str(
            "<p class=\"filter\" hidden><label>Find a topic<br><input type=\"search\" id=\"filter\" autocomplete=\"off\"></label></p>\n",
        );
    }
    let several_taxonomies = {
        let mut names = feeds.iter().filter_map(|l| l.feed.taxonomy.as_deref());
        names
            .next()
            .is_some_and(|first| names.any(|other| other != first))
    };
    for (group, members) in groups(languages, feeds) {
        if let Some((code, named)) = group {
            let lang = named
                .map(|n| n.language.trim())
                .filter(|l| !l.is_empty())
                .unwrap_or(code);
            let label = named.map(|n| n.title.trim()).filter(|t| !t.is_empty());
            out.push_str(&format!(
                "<section lang=\"{}\">\n<h2>{} <span class=\"muted\">({})</span></h2>\n",
                escape(lang),
                escape(label.unwrap_or(code)),
                escape(code),
            ));
        }
        out.push_str("<ul class=\"feeds\">\n");
        for listed in members {
            out.push_str(&row(site, listed, several_taxonomies));
        }
        out.push_str("</ul>\n");
        if group.is_some() {
            out.push_str("</section>\n");
        }
    }
    owners(&mut out, site, feeds);
    out.push_str(&foot());
    out
}

/// Feeds by language, in `languages`' order (codes it does not name last, by code), each
/// with its code and, when named, its site; one unlabelled group for a single language.
#[allow(clippy::type_complexity)]
fn groups<'a>(
    languages: &[(&'a str, &'a SiteInfo)],
    feeds: &'a [Listed<'a>],
) -> Vec<(Option<(&'a str, Option<&'a SiteInfo>)>, Vec<&'a Listed<'a>>)> {
    let mut codes: Vec<&str> = feeds.iter().map(|l| l.feed.language.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    if languages.len() < 2 && codes.len() < 2 {
        return vec![(None, feeds.iter().collect())];
    }
    let mut order: Vec<&str> = languages.iter().map(|(code, _)| *code).collect();
    let unnamed: Vec<&str> = codes.into_iter().filter(|c| !order.contains(c)).collect();
    order.extend(unnamed);
    order
        .into_iter()
        .filter_map(|code| {
            let members: Vec<&Listed> = feeds.iter().filter(|l| l.feed.language == code).collect();
            let named = languages.iter().find(|(c, _)| *c == code).map(|(_, s)| *s);
            (!members.is_empty()).then_some((Some((code, named)), members))
        })
        .collect()
}

/// One feed's row: its name (linking to its page), its newest post and its URLs.
fn row(site: &SiteInfo, listed: &Listed, several_taxonomies: bool) -> String {
    let feed = listed.feed;
    let name = row_name(feed);
    let mut search = format!("{} {}", name, feed.title.trim()).to_lowercase();
    if let Some(taxonomy) = &feed.taxonomy {
        search.push(' ');
        search.push_str(&taxonomy.to_lowercase());
    }
    let mut out = format!(
        "<li class=\"feed\" data-name=\"{}\">\n<a class=\"name\" href=\"{}\">{}</a>",
        escape(&search),
        escape(&page_url(site, feed)),
        escape(name),
    );
    if let (true, Some(taxonomy)) = (several_taxonomies, &feed.taxonomy) {
        out.push_str(&format!(
            " <span class=\"muted\">{}</span>",
            escape(taxonomy)
        ));
    }
    out.push('\n');
    if let Some(post) = listed.newest {
        out.push_str(&format!(
            "<span class=\"newest\"><span class=\"muted\">Newest:</span> <a href=\"{}\">{}</a> <span class=\"muted\">{}</span></span>\n",
            escape(post.url()),
            escape(&super::text::post_title(post)),
            date(post),
        ));
    }
    out.push_str(&url_rows(feed));
    out.push_str("</li>\n");
    out
}

/// Whether the feeds are pushed (WebSub), for readers that can take it.
pub(super) fn push_note(site: &SiteInfo) -> String {
    if site.hubs.is_empty() {
        return "<p class=\"muted\">Push: off. Readers poll these feeds for new posts.</p>\n"
            .into();
    }
    let hubs: Vec<String> = site
        .hubs
        .iter()
        .map(|h| format!("<code>{}</code>", escape(h)))
        .collect();
    format!(
        "<p class=\"muted\">Push: on. Readers that support WebSub (Inoreader, Feedly, NewsBlur, FreshRSS…) get new posts within seconds through {}.</p>\n",
        hubs.join(", ")
    )
}

/// For site owners, folded away: the feed list for templates and every feed's
/// autodiscovery tags, escaped so the page shows them as text to copy.
fn owners(out: &mut String, site: &SiteInfo, feeds: &[Listed]) {
    out.push_str("<details>\n<summary>For site owners: autodiscovery tags</summary>\n");
    out.push_str(&format!(
        "<p>Put a feed's tags in the <code>&lt;head&gt;</code> of the matching pages of your site, so that browsers and readers find the feed from the page. Every feed as JSON, for site templates: <a href=\"{0}\">{0}</a></p>\n",
        escape(&format!("{}feeds.json", site.base_url)),
    ));
    for listed in feeds {
        let feed = listed.feed;
        out.push_str(&format!(
            "<h3>{}</h3>\n<pre><code>",
            escape(feed.title.trim())
        ));
        let tags: Vec<String> = discovery_tags(feed).iter().map(|t| escape(t)).collect();
        out.push_str(&tags.join("\n"));
        out.push_str("</code></pre>\n");
    }
    out.push_str("</details>\n");
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Arc;

    use chrono::DateTime;

    use super::*;
    use crate::post::Body;

    const BASE: &str = "https://e.org/";
    const HOSTILE: &str = "<script>alert(\"x\")</script> & 'q'";

    pub(crate) fn site(code: &str, title: &str) -> SiteInfo {
        SiteInfo {
            hubs: Vec::new(),
            icon: None,
            logo: None,
            title: title.into(),
            description: String::new(),
            language: code.into(),
            author: None,
            author_email: None,
            base_url: if code == "en" {
                BASE.into()
            } else {
                format!("{BASE}{code}/")
            },
        }
    }

    pub(crate) fn feed(lang: &str, term: Option<&str>) -> FeedInfo {
        let prefix = if lang == "en" {
            String::new()
        } else {
            format!("{lang}/")
        };
        let dir = match term {
            Some(t) => format!("{prefix}categories/{}/", t.to_lowercase()),
            None => prefix,
        };
        FeedInfo {
            title: term.map_or("Site".into(), |t| format!("Site: {t}")),
            description: String::new(),
            term: term.map(Into::into),
            taxonomy: term.map(|_| "categories".into()),
            slug: term.map(str::to_lowercase),
            language: lang.into(),
            html_url: format!("{BASE}{dir}"),
            id: format!("{BASE}{dir}"),
            rss_url: format!("{BASE}{dir}rss.xml"),
            atom_url: format!("{BASE}{dir}atom.xml"),
            json_url: format!("{BASE}{dir}feed.json"),
            dir,
        }
    }

    pub(crate) fn post(i: usize, title: &str, summary: Option<&str>) -> Arc<Post> {
        let date = DateTime::parse_from_rfc3339("2025-03-01T10:00:00+02:00").unwrap()
            - chrono::Duration::days(i as i64);
        Arc::new(Post {
            id: format!("{BASE}p{i}/"),
            summary: summary.map(Into::into),
            ..Post::for_test(
                &format!("p{i}.md"),
                &format!("{BASE}p{i}/?a=1&b=2"),
                title,
                date,
                Body::with_html(String::new(), String::new(), String::new()),
            )
        })
    }

    /// The body's text outside tags, for "is this shown as text" checks.
    fn body(page: &str) -> &str {
        &page[page.find("<body>").unwrap()..]
    }

    #[test]
    fn hostile_titles_and_terms_are_text_everywhere() {
        let mut global = feed("en", None);
        global.title = HOSTILE.into();
        let term = feed("en", Some(HOSTILE));
        let newest = post(0, HOSTILE, None);
        let listed = [
            Listed {
                feed: &global,
                newest: Some(&newest),
            },
            Listed {
                feed: &term,
                newest: None,
            },
        ];
        let mut home = site("en", HOSTILE);
        home.description = HOSTILE.into();
        let page = render(&home, &[], &listed);
        // The only script is Herald's own, and no attribute is broken out of.
        assert_eq!(page.matches("<script").count(), 1, "{page}");
        assert!(!page.contains("alert(\"x\")"));
        assert!(
            page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;")
        );
        assert!(page.contains("href=\"https://e.org/p0/?a=1&amp;b=2\""));
    }

    #[test]
    fn the_index_shows_how_to_subscribe_each_feed_with_its_newest_post_and_folds_the_tags() {
        let (global, rust) = (feed("en", None), feed("en", Some("Rust")));
        let newest = post(0, "Newest one", None);
        let listed = [
            Listed {
                feed: &global,
                newest: Some(&newest),
            },
            Listed {
                feed: &rust,
                newest: Some(&newest),
            },
        ];
        let page = render(&site("en", "Site"), &[], &listed);
        assert!(page.starts_with("<!doctype html>\n<html lang=\"en\">\n<head>\n"));
        assert!(page
            .contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
        let head = &page[..page.find("</head>").unwrap()];
        assert!(head.contains("<link rel=\"alternate\" type=\"application/rss+xml\" title=\"Site (RSS)\" href=\"https://e.org/rss.xml\">"));
        assert!(
            !head.contains("categories/rust/"),
            "term feeds are in the body"
        );
        let body = body(&page);
        assert!(body.contains("A feed lets you follow new posts"));
        assert!(body.contains("<a class=\"name\" href=\"https://e.org/categories/rust/\">Rust</a>"));
        assert!(body.contains("<a class=\"name\" href=\"https://e.org/\">All posts</a>"));
        assert_eq!(
            body.matches("<a href=\"https://e.org/p0/?a=1&amp;b=2\">Newest one</a> <span class=\"muted\"><time datetime=\"2025-03-01T10:00:00+02:00\">2025-03-01</time>").count(),
            2
        );
        for url in [
            "https://e.org/categories/rust/atom.xml",
            "https://e.org/feed.json",
        ] {
            assert!(body.contains(&format!(
                "<code>{url}</code><button type=\"button\" data-copy=\"{url}\" hidden>Copy</button>"
            )));
        }
        let details = body.find("<details>").unwrap();
        assert!(body.rfind("<li class=\"feed\"").unwrap() < details);
        assert!(body[details..].contains("&lt;link rel=&quot;alternate&quot;"));
        assert!(!body[..details].contains("&lt;link"));
        assert!(!page.contains("id=\"filter\""), "no filter for two feeds");
    }

    #[test]
    fn more_than_twenty_feeds_get_a_filter_box() {
        let terms: Vec<String> = (0..FILTER_ABOVE).map(|i| format!("T{i}")).collect();
        let mut feeds = vec![feed("en", None)];
        feeds.extend(terms.iter().map(|t| feed("en", Some(t))));
        let listed = |n: usize| -> Vec<Listed> {
            feeds[..n]
                .iter()
                .map(|feed| Listed { feed, newest: None })
                .collect()
        };
        let home = site("en", "Site");
        assert!(!render(&home, &[], &listed(FILTER_ABOVE)).contains("id=\"filter\""));
        let page = render(&home, &[], &listed(FILTER_ABOVE + 1));
        assert!(page.contains("<input type=\"search\" id=\"filter\""));
        // What the filter matches: the term, the title and the taxonomy, lower case.
        assert!(page.contains("<li class=\"feed\" data-name=\"t7 site: t7 categories\">"));
    }

    #[test]
    fn several_languages_are_grouped_default_first_each_with_its_lang() {
        let (en, es) = (site("en", "Site"), site("es", "Sitio"));
        let feeds = [
            feed("en", None),
            feed("es", None),
            feed("en", Some("Rust")),
            feed("es", Some("Rust")),
        ];
        let listed: Vec<Listed> = feeds
            .iter()
            .map(|feed| Listed { feed, newest: None })
            .collect();
        let page = render(&en, &[("en", &en), ("es", &es)], &listed);
        let en_at = page
            .find("<section lang=\"en\">\n<h2>Site <span class=\"muted\">(en)</span></h2>")
            .unwrap();
        let es_at = page
            .find("<section lang=\"es\">\n<h2>Sitio <span class=\"muted\">(es)</span></h2>")
            .unwrap();
        assert!(en_at < es_at);
        let es_part = &page[es_at..page[es_at..].find("</section>").unwrap() + es_at];
        assert!(es_part.contains("href=\"https://e.org/es/\">All posts</a>"));
        assert!(es_part.contains("https://e.org/es/categories/rust/rss.xml"));
        assert!(!es_part.contains("\"https://e.org/categories/rust/"));
        // One language: no sections.
        let one = render(&en, &[("en", &en)], &listed[..1]);
        assert!(!one.contains("<section"));
    }
}

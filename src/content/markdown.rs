//! Markdown → sanitized HTML with absolute URLs (for feed content), and Markdown → plain
//! text (for summaries taken from the body).
//!
//! pulldown-cmark renders (raw HTML passes through), then ammonia sanitizes: no script,
//! style or iframe, no `on*` attributes, no `javascript:` URLs. The ammonia `Builder` is
//! built once; because its relative-URL rewriting is fixed at build time, it uses a custom
//! resolver that reads the base of the call in progress from a thread-local (`clean` runs
//! synchronously on the calling thread, so the base cannot leak between calls).

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

use super::text;

thread_local! {
    /// Base URL for relative links of the `render_html` call running on this thread.
    static BASE: RefCell<Option<url::Url>> = const { RefCell::new(None) };
}

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.url_relative(ammonia::UrlRelative::Custom(Box::new(resolve_relative)));
    b.link_rel(Some("noopener noreferrer"));
    b
});

/// Resolves a relative URL found by ammonia against the current call's base; without a
/// usable base the attribute is dropped rather than left relative.
fn resolve_relative(url: &str) -> Option<Cow<'_, str>> {
    BASE.with(|base| {
        let base = base.borrow();
        let joined = base.as_ref()?.join(url.trim()).ok()?;
        matches!(joined.scheme(), "http" | "https").then(|| Cow::Owned(joined.to_string()))
    })
}

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
}

/// Markdown → sanitized HTML with every URL absolute. Empty input gives an empty string.
pub fn render_html(markdown: &str, base_url: &str) -> String {
    if markdown.trim().is_empty() {
        return String::new();
    }
    // Task-list checkboxes are form controls, which sanitizing removes: show them as text.
    let events = Parser::new_ext(markdown, options()).map(|e| match e {
        Event::TaskListMarker(done) => {
            Event::Text(CowStr::Borrowed(if done { "☑ " } else { "☐ " }))
        }
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);

    let base = url::Url::parse(base_url).ok();
    let previous = BASE.with(|b| b.replace(base));
    let clean = SANITIZER.clean(&html).to_string();
    BASE.with(|b| b.replace(previous));
    text::strip_controls(&clean)
}

/// The plain text of a Markdown fragment: text and code, raw HTML tags dropped, entities
/// in raw HTML decoded, whitespace collapsed.
pub(crate) fn plain_text(markdown: &str) -> String {
    let mut out = String::new();
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::Html(h) | Event::InlineHtml(h) => {
                out.push_str(&text::decode_entities(&text::strip_all_tags(&h)));
            }
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::CodeBlock,
            ) => out.push(' '),
            Event::Start(Tag::Image { .. }) | Event::FootnoteReference(_) => {}
            _ => {}
        }
    }
    text::one_line(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://example.org/post/x/";

    #[test]
    fn relative_links_and_images_become_absolute() {
        let html = render_html(
            "[a](other/) [b](/about/) ![i](pic.jpg) [c](#note) [d](https://w.org/)",
            BASE,
        );
        assert!(
            html.contains("href=\"https://example.org/post/x/other/\""),
            "{html}"
        );
        assert!(
            html.contains("href=\"https://example.org/about/\""),
            "{html}"
        );
        assert!(
            html.contains("src=\"https://example.org/post/x/pic.jpg\""),
            "{html}"
        );
        assert!(
            html.contains("href=\"https://example.org/post/x/#note\""),
            "{html}"
        );
        assert!(html.contains("href=\"https://w.org/\""), "{html}");
        let raw = render_html("<a href=\"../up\">up</a> <img src=\"/img/a.png\">", BASE);
        assert!(
            raw.contains("href=\"https://example.org/post/up\""),
            "{raw}"
        );
        assert!(
            raw.contains("src=\"https://example.org/img/a.png\""),
            "{raw}"
        );
    }

    #[test]
    fn dangerous_markup_is_removed() {
        let html = render_html(
            "<script>alert(1)</script>\n\n<p onclick=\"x()\">hi</p>\n\n[js](javascript:alert(1)) <iframe src=\"https://e.vil/\"></iframe><style>p{}</style>",
            BASE,
        );
        for bad in [
            "<script",
            "alert(1)",
            "onclick",
            "javascript:",
            "<iframe",
            "<style",
        ] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        assert!(html.contains("<p>hi</p>"), "{html}");
    }

    #[test]
    fn ordinary_formatting_survives() {
        let html = render_html(
            "# T\n\n*e* **s** ~~d~~ `c`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```rust\nfn x() {}\n```\n\n- [x] done\n- [ ] todo\n\nNote[^1]\n\n[^1]: Foot.\n",
            BASE,
        );
        for good in [
            "<h1>T</h1>",
            "<em>e</em>",
            "<strong>s</strong>",
            "<del>d</del>",
            "<code>c</code>",
            "<table>",
            "<td>2</td>",
            "<pre><code",
            "☑ done",
            "☐ todo",
            "Foot.",
        ] {
            assert!(html.contains(good), "{good} missing from {html}");
        }
    }

    #[test]
    fn output_is_deterministic_and_not_double_escaped() {
        let md = "<a title=\"t\" href=\"x\" class=\"c\" rel=\"me\">AT&amp;T &#038; co</a> & more";
        let first = render_html(md, BASE);
        assert_eq!(first, render_html(md, BASE));
        assert!(first.contains("AT&amp;T &amp; co"), "{first}");
        assert!(!first.contains("&amp;#"), "{first}");
    }

    #[test]
    fn control_characters_are_removed_from_html() {
        let html = render_html("a\u{13}b\u{0}c", BASE);
        assert_eq!(html.trim(), "<p>abc</p>");
    }

    #[test]
    fn empty_markdown_renders_empty() {
        assert_eq!(render_html("  \n", BASE), "");
    }

    #[test]
    fn plain_text_drops_markup() {
        assert_eq!(
            plain_text("Hello *big* [world](x).\n<span>raw &amp; html</span>\n\n- `code` item"),
            "Hello big world. raw & html code item"
        );
    }
}

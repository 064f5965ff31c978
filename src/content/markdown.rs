//! Markdown → sanitized HTML with absolute URLs, for feed content.
//!
//! pulldown-cmark renders, with raw HTML handled by the [`super::rawhtml`] policy; then the
//! HTML of Hugo's built-in shortcodes (which stood in the Markdown as placeholders, since
//! Hugo inserts shortcode output after rendering) is put back; then ammonia sanitizes: no
//! script, style or iframe, no `on*` attributes, no `javascript:` URLs. The ammonia
//! `Builder` is built once; because its relative-URL rewriting is fixed at build time, it
//! uses a custom resolver that reads the base of the call in progress from a thread-local
//! (`clean` runs synchronously on the calling thread, so the base cannot leak between calls).

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, Options, Parser};

use super::{bounded, rawhtml, text};

pub use crate::post::RenderOptions;

thread_local! {
    /// Base URL for relative links of the `render_html` call running on this thread.
    static BASE: RefCell<Option<url::Url>> = const { RefCell::new(None) };
}

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.url_relative(ammonia::UrlRelative::Custom(Box::new(resolve_relative)));
    b.link_rel(Some("noopener noreferrer"));
    // `language-go` on code blocks: readers that highlight code need it.
    b.add_tag_attributes("code", &["class"]);
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

pub(crate) fn options(render: RenderOptions) -> Options {
    let mut o = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS;
    if render.typographer {
        o |= Options::ENABLE_SMART_PUNCTUATION;
    }
    o
}

/// Marks a fragment that embeds something (a video, a post): Hugo's version of it has no
/// text, so plain text (summaries) leaves it out. Ammonia removes the comment.
pub(crate) const EMBED_MARK: &str = "<!--herald:embed-->";

const TOKEN_OPEN: &str = "HERALDSHORTCODE";
const TOKEN_CLOSE: &str = "END";

/// The placeholder for fragment `n`: letters and digits only, so Markdown leaves it alone
/// wherever it stands (prose, link text, link destinations).
pub(crate) fn placeholder(n: usize) -> String {
    format!("{TOKEN_OPEN}{n}{TOKEN_CLOSE}")
}

/// Puts the fragments back in place of their placeholders; one alone in a paragraph
/// replaces the paragraph (as Hugo does). `plain`: embeds give a space instead.
pub(crate) fn substitute(html: &str, fragments: &[String], plain: bool) -> String {
    if fragments.is_empty() || !html.contains(TOKEN_OPEN) {
        return html.to_string();
    }
    let mut out =
        String::with_capacity(html.len() + fragments.iter().map(String::len).sum::<usize>());
    let mut rest = html;
    while let Some(pos) = rest.find(TOKEN_OPEN) {
        let after = &rest[pos + TOKEN_OPEN.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let fragment = after[..digits]
            .parse::<usize>()
            .ok()
            .filter(|_| after[digits..].starts_with(TOKEN_CLOSE))
            .and_then(|n| fragments.get(n));
        let Some(fragment) = fragment else {
            out.push_str(&rest[..pos + TOKEN_OPEN.len()]);
            rest = after;
            continue;
        };
        let mut head = &rest[..pos];
        let mut tail = &after[digits + TOKEN_CLOSE.len()..];
        if head.ends_with("<p>") && tail.starts_with("</p>") && is_block(fragment) {
            head = &head[..head.len() - 3];
            tail = &tail[4..];
        }
        out.push_str(head);
        match fragment.strip_prefix(EMBED_MARK) {
            Some(_) if plain => out.push(' '),
            _ => out.push_str(fragment),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Whether a fragment is block-level HTML (that replaces the paragraph it stands alone in).
fn is_block(fragment: &str) -> bool {
    let f = fragment.strip_prefix(EMBED_MARK).unwrap_or(fragment);
    let name: String = f
        .strip_prefix('<')
        .map(|t| t.strip_prefix('/').unwrap_or(t))
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    [
        "p",
        "div",
        "figure",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "table",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
    ]
    .contains(&name.to_ascii_lowercase().as_str())
}

/// Markdown (with placeholders) → HTML before sanitizing: raw HTML per the policy, the
/// fragments put back. Also the source of plain text (`plain` as in [`substitute`]).
pub(crate) fn render_unsanitized(
    markdown: &str,
    fragments: &[String],
    render: RenderOptions,
    plain: bool,
) -> String {
    let opts = options(render);
    let markdown = bounded::markdown_prefix(markdown, render.typographer);
    let tables = bounded::bound_markdown_tables(markdown);
    let fixed = rawhtml::fix_block_closers(&tables, opts);
    // Task-list checkboxes are form controls, which sanitizing removes: show them as text.
    let events = Parser::new_ext(&fixed, opts).map(|e| match e {
        Event::TaskListMarker(done) => {
            Event::Text(CowStr::Borrowed(if done { "☑ " } else { "☐ " }))
        }
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, rawhtml::Policy::new(events, render.unsafe_html));
    substitute(&html, fragments, plain)
}

/// Inline Markdown (a caption) → HTML without the paragraph around it; raw HTML dropped.
pub(crate) fn inline_html(markdown: &str) -> String {
    let html = render_unsanitized(markdown, &[], RenderOptions::default(), false);
    let t = html.trim();
    match t.strip_prefix("<p>").and_then(|t| t.strip_suffix("</p>")) {
        Some(inner) if !inner.contains("<p>") => inner.to_string(),
        _ => t.to_string(),
    }
}

/// Sanitizes HTML, making every URL absolute against `base_url`. The HTML is first kept
/// within [`bounded`]'s limits, where html5ever's work stays linear.
pub(crate) fn sanitize(html: &str, base_url: &str) -> String {
    let html = bounded::bound_html(html);
    let base = url::Url::parse(base_url).ok();
    let previous = BASE.with(|b| b.replace(base));
    let clean = SANITIZER.clean(&html).to_string();
    BASE.with(|b| b.replace(previous));
    text::strip_controls_owned(clean)
}

/// A body → sanitized HTML with every URL absolute. Empty input gives an empty string.
/// `is_html`: the source is HTML (an `.html` content file), not Markdown.
pub(crate) fn render_body(
    source: &str,
    fragments: &[String],
    render: RenderOptions,
    base_url: &str,
    is_html: bool,
) -> String {
    if source.trim().is_empty() {
        return String::new();
    }
    let html = if is_html {
        substitute(&rawhtml::defuse(source), fragments, false)
    } else {
        render_unsanitized(source, fragments, render, false)
    };
    sanitize(&html, base_url)
}

/// Markdown → sanitized HTML with every URL absolute, raw HTML kept (sanitized).
pub fn render_html(markdown: &str, base_url: &str) -> String {
    let keep = RenderOptions {
        unsafe_html: true,
        ..RenderOptions::default()
    };
    render_body(markdown, &[], keep, base_url, false)
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

    fn with_policy(md: &str, unsafe_html: bool) -> String {
        let render = RenderOptions {
            unsafe_html,
            ..RenderOptions::default()
        };
        render_body(md, &[], render, BASE, false)
    }

    /// The posts of the known failures: each must end with its last paragraph rendered.
    const HOSTILE: &[&str] = &[
        "Before.\n\n<STYLE>\np { color: red }\n</STYLE>\n\nAfter *emph*.\n\nFinal **para**.\n",
        "An <iframe src=\"https://www.youtube.com/embed/abc\" width=\"5\">\nin *prose*.\n\nFinal **para**.\n",
        "<iframe src=\"https://v.example/1\">\n\nFinal **para**.\n",
        "A List<String> here and <b>bold</b>.\n\nFinal **para**.\n",
        "Inline <script>x()\n\nFinal **para**.\n",
        "<textarea>\n\nFinal **para**.\n",
    ];

    #[test]
    fn no_raw_html_turns_the_rest_of_a_post_into_markup() {
        for unsafe_html in [false, true] {
            for md in HOSTILE {
                let html = with_policy(md, unsafe_html);
                assert!(
                    html.trim_end()
                        .ends_with("<p>Final <strong>para</strong>.</p>"),
                    "unsafe={unsafe_html} {md:?} → {html}"
                );
                for bad in [
                    "&lt;/",
                    "&lt;p&gt;",
                    "*",
                    "<iframe",
                    "<style",
                    "color: red",
                    "</p></p>",
                ] {
                    assert!(
                        !html.contains(bad),
                        "{bad}: unsafe={unsafe_html} {md:?} → {html}"
                    );
                }
                // Hugo 0.111 (unsafe off) keeps the text after an omitted tag:
                // "<p>Inline <!-- raw HTML omitted -->x()</p>". Kept, a script's code goes.
                if unsafe_html {
                    assert!(!html.contains("x()"), "{md:?} → {html}");
                }
            }
        }
    }

    #[test]
    fn hugo_default_drops_raw_html() {
        // Hugo 0.111 (unsafe off): "<p>A List<!-- raw HTML omitted --> here and <!-- raw
        // HTML omitted -->bold<!-- raw HTML omitted -->.</p>"; an iframe line gives nothing.
        assert_eq!(
            with_policy(
                "A List<String> here and <b>bold</b>.\n\n<div>block</div>\n",
                false
            ),
            "<p>A List here and bold.</p>\n"
        );
        assert_eq!(
            with_policy(
                "An <iframe src=\"https://v.example/1\"></iframe> in prose.",
                false
            ),
            "<p>An  in prose.</p>\n"
        );
    }

    #[test]
    fn unsafe_html_is_kept_sanitized_with_iframes_as_links_and_tag_like_text_as_text() {
        let html = with_policy("A List<String> and <b>bold</b> <iframe src=\"https://v.example/1\"></iframe>.\n\n<div>block</div>\n", true);
        assert_eq!(
            html,
            "<p>A List&lt;String&gt; and <b>bold</b> <a href=\"https://v.example/1\" rel=\"noopener noreferrer\">https://v.example/1</a>.</p>\n<div>block</div>\n"
        );
    }

    #[test]
    fn typographer_makes_smart_punctuation() {
        let render = RenderOptions {
            typographer: true,
            ..RenderOptions::default()
        };
        // Hugo 0.111 (typographer on): <p>“Quoted” – and it’s…</p>
        assert_eq!(
            render_body("\"Quoted\" -- and it's...", &[], render, BASE, false),
            "<p>“Quoted” – and it’s…</p>\n"
        );
    }
}

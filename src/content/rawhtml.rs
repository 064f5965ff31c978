//! The raw-HTML policy: what happens to HTML written inside Markdown (and to `.html`
//! content files) before ammonia sanitizes it.
//!
//! `unsafe_html: false` (Hugo's default, `markup.goldmark.renderer.unsafe`) drops every raw
//! HTML block and inline tag, as Hugo does with its `<!-- raw HTML omitted -->`.
//! `unsafe_html: true` keeps it for ammonia, after defusing what would otherwise swallow
//! the rest of the post: html5ever reads the content of `<iframe>`, `<textarea>`,
//! `<noscript>`... as raw text, so one unclosed tag turns everything after it into
//! visible HTML source. Those tags are removed (an iframe becomes a link to its `src`),
//! `<script>`/`<style>` go with their content, and tag-like text that is no HTML element
//! (`List<String>`) is shown as text.

use pulldown_cmark::{CowStr, Event, Tag, TagEnd};

use super::text;

/// Elements whose content html5ever reads as raw text (script and style are dropped whole).
const RAW_TEXT: &[&str] = &[
    "iframe",
    "textarea",
    "title",
    "xmp",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
];

/// Every HTML element name (WHATWG, plus common obsolete ones): other names in angle
/// brackets are text (`List<String>`, `Vec<T>`).
const ELEMENTS: &str = " a abbr acronym address area article aside audio b base bdi bdo big \
    blink blockquote body br button canvas caption center cite code col colgroup data \
    datalist dd del details dfn dialog dir div dl dt em embed fieldset figcaption figure \
    font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe \
    img input ins kbd label legend li link main map mark marquee menu meta meter nav \
    nobr noembed noframes noscript object ol optgroup option output p param picture \
    plaintext pre progress q rb rp rt rtc ruby s samp script search section select slot \
    small source span strike strong style sub summary sup svg math table tbody td template \
    textarea tfoot th thead time title tr track tt u ul var video wbr xmp ";

/// A tag at the start of `s`: (lower-case name, is closing, byte length). Comments and
/// declarations are not tags here.
fn tag_at(s: &str) -> Option<(String, bool, usize)> {
    let (name, closing) = tag_name_at(s)?;
    let end = s.find('>')?;
    Some((name, closing, end + 1))
}

/// The name of the tag `s` starts with, and whether it is a closing tag, if it is one
/// (without looking for its `>`).
fn tag_name_at(s: &str) -> Option<(String, bool)> {
    let rest = s.strip_prefix('<')?;
    let (closing, rest) = match rest.strip_prefix('/') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let name_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(rest.len());
    let name = &rest[..name_len];
    if name.is_empty() || !name.as_bytes()[0].is_ascii_alphabetic() {
        return None;
    }
    let after = rest[name_len..].chars().next()?;
    if !(after == '>' || after == '/' || after.is_whitespace()) {
        return None;
    }
    Some((name.to_ascii_lowercase(), closing))
}

fn is_element(name: &str) -> bool {
    ELEMENTS.contains(&format!(" {name} "))
}

/// The value of attribute `attr` in one tag's text, entities decoded.
fn attribute(tag: &str, attr: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(attr) {
        let at = from + i;
        from = at + attr.len();
        let before_ok = lower[..at].ends_with(|c: char| c.is_whitespace());
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value_at = tag.len() - rest.len() + 1;
        let v = tag[value_at..].trim_start();
        let value = match v.chars().next()? {
            q @ ('"' | '\'') => &v[1..v[1..].find(q).map_or(v.len(), |e| e + 1)],
            _ => v
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or(""),
        };
        return Some(text::decode_entities(value));
    }
    None
}

/// What an `<iframe>` becomes: a link to what it embeds (nothing without a `src`).
fn iframe_link(tag: &str) -> String {
    match attribute(tag, "src").filter(|s| !s.trim().is_empty()) {
        Some(src) => {
            let src = src.trim();
            format!(
                "<a href=\"{}\">{}</a>",
                html_escape::encode_double_quoted_attribute(src),
                html_escape::encode_text(src)
            )
        }
        None => String::new(),
    }
}

/// Defuses one chunk of raw HTML (an HTML block, or a whole `.html` content file).
pub(crate) fn defuse(html: &str) -> String {
    let html = text::drop_script_and_style(html);
    let mut out = String::with_capacity(html.len());
    // Each tag looks for the next `>`: found once, not once per `<`.
    let mut tag_ends = text::Forward::new(&html, ">");
    let mut pos = 0;
    while let Some(i) = html[pos..].find('<') {
        let at = pos + i;
        out.push_str(&html[pos..at]);
        let tail = &html[at..];
        let raw = tag_name_at(tail)
            .filter(|(name, _)| RAW_TEXT.contains(&name.as_str()))
            .and_then(|(name, closing)| Some((name, closing, tag_ends.at_or_after(at)? + 1)));
        match raw {
            Some((name, closing, end)) => {
                if name == "iframe" && !closing {
                    out.push_str(&iframe_link(&html[at..end]));
                }
                pos = end;
            }
            None => {
                out.push('<');
                pos = at + 1;
            }
        }
    }
    out.push_str(&html[pos..]);
    out
}

/// Applies the policy to a Markdown event stream.
pub(crate) struct Policy<'a, I: Iterator<Item = Event<'a>>> {
    inner: I,
    unsafe_html: bool,
    /// Inside an inline `<script>`/`<style>` whose closing tag is still to come.
    skipping: Option<String>,
}

impl<'a, I: Iterator<Item = Event<'a>>> Policy<'a, I> {
    pub(crate) fn new(inner: I, unsafe_html: bool) -> Self {
        Policy {
            inner,
            unsafe_html,
            skipping: None,
        }
    }

    fn inline(&mut self, chunk: CowStr<'a>) -> Option<Event<'a>> {
        let Some((name, closing, len)) = tag_at(&chunk) else {
            return Some(Event::InlineHtml(chunk)); // comments: ammonia drops them
        };
        if name == "script" || name == "style" {
            let lower = chunk.to_ascii_lowercase();
            if !closing && !lower.contains(&format!("</{name}")) {
                self.skipping = Some(name);
            }
            return None;
        }
        if RAW_TEXT.contains(&name.as_str()) {
            return (name == "iframe" && !closing)
                .then(|| Event::InlineHtml(iframe_link(&chunk[..len]).into()));
        }
        if !is_element(&name) {
            return Some(Event::Text(chunk));
        }
        Some(Event::InlineHtml(chunk))
    }
}

impl<'a, I: Iterator<Item = Event<'a>>> Iterator for Policy<'a, I> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        loop {
            let event = self.inner.next()?;
            if let Some(name) = &self.skipping {
                match &event {
                    Event::InlineHtml(h)
                        if h.to_ascii_lowercase().starts_with(&format!("</{name}")) =>
                    {
                        self.skipping = None;
                        continue;
                    }
                    Event::End(end) if !is_inline(end) => self.skipping = None,
                    _ => continue,
                }
            }
            match event {
                Event::Start(Tag::HtmlBlock) | Event::End(TagEnd::HtmlBlock) => continue,
                Event::Html(h) | Event::InlineHtml(h) if !self.unsafe_html => {
                    let _ = h;
                    continue;
                }
                Event::Html(first) => {
                    // One block arrives line by line: defuse it whole.
                    let mut block = first.into_string();
                    let mut after = None;
                    for e in self.inner.by_ref() {
                        match e {
                            Event::Html(h) => block.push_str(&h),
                            other => {
                                after = Some(other);
                                break;
                            }
                        }
                    }
                    debug_assert!(matches!(after, None | Some(Event::End(TagEnd::HtmlBlock))));
                    return Some(Event::Html(defuse(&block).into()));
                }
                Event::InlineHtml(h) => match self.inline(h) {
                    Some(e) => return Some(e),
                    None => continue,
                },
                other => return Some(other),
            }
        }
    }
}

fn is_inline(end: &TagEnd) -> bool {
    matches!(
        end,
        TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Link
            | TagEnd::Image
            | TagEnd::Superscript
            | TagEnd::Subscript
    )
}

/// pulldown-cmark ends a `<script>`/`<style>`/`<pre>`/`<textarea>` HTML block only at a
/// lower-case closing tag, so `<STYLE>…</STYLE>` would swallow the rest of the post. The
/// closing tags inside such blocks are lower-cased (only there: never in code or prose);
/// such a block never closed is closed at its first blank line.
///
/// Fixing one block can reveal the next, so the Markdown is parsed again after each fix
/// (64 at most, and eight times the post's length in all: further broken blocks swallow what
/// follows, as in Hugo). Each parse reads a window of [`WINDOW`] bytes from the top-level
/// block where the last one stopped, not the whole rest of the post: a window grows only
/// while one block fills it.
pub(crate) fn fix_block_closers(markdown: &str, options: pulldown_cmark::Options) -> String {
    let mut md = markdown.to_string();
    if !BLOCK_OPENERS.iter().any(|n| {
        md.as_bytes()
            .windows(n.len() + 1)
            .any(|w| w[0] == b'<' && w[1..].eq_ignore_ascii_case(n.as_bytes()))
    }) {
        return md;
    }
    // A line start where a top-level block begins: parsing from there sees the same blocks.
    let mut resume = 0;
    let mut window = WINDOW;
    let mut fixes = 0;
    // Bytes parsed, all passes together: broken blocks far apart in one long container
    // make each pass read the container from its start.
    let mut budget = 8 * md.len() + (1 << 20);
    while fixes < 64 && resume < md.len() && budget > 0 {
        let from = (resume + window).min(md.len());
        let end = match md.as_bytes()[from..].iter().position(|&b| b == b'\n') {
            Some(nl) => from + nl + 1,
            None => md.len(),
        };
        let at_end = end == md.len();
        let part = &md[resume..end];
        budget = budget.saturating_sub(part.len());
        let line_of = |at: usize| part[..at].rfind('\n').map_or(0, |i| i + 1);
        let mut depth = 0usize;
        let mut last_top = 0;
        let mut outcome = Outcome::Clean;
        for (event, range) in pulldown_cmark::Parser::new_ext(part, options).into_offset_iter() {
            match event {
                Event::Start(Tag::HtmlBlock) => {
                    let top = if depth == 0 { range.start } else { last_top };
                    if depth == 0 {
                        last_top = range.start;
                    }
                    depth += 1;
                    let block = &part[range.clone()];
                    let fix = if range.end < part.len() || at_end {
                        block_fix(block)
                    } else if let Some(fix) = open_block_fix(block) {
                        // It runs on past the window, and its closing tag is inside it.
                        Some(fix)
                    } else if depth == 1 {
                        // Broken, it runs to the end of the post: see all of it.
                        let start = resume + range.start;
                        block_fix(block_to_end(&md[start..]))
                    } else {
                        // Inside a container that goes on past the window.
                        outcome = Outcome::Grow;
                        break;
                    };
                    if let Some(fix) = fix {
                        outcome = Outcome::Fix(resume + range.start, fix, resume + line_of(top));
                        break;
                    }
                }
                Event::Start(_) => {
                    if depth == 0 {
                        last_top = range.start;
                    }
                    depth += 1;
                }
                Event::End(_) => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        match outcome {
            Outcome::Fix(block, fix, line) => {
                match fix {
                    BlockFix::Lower(r) => {
                        let r = block + r.start..block + r.end;
                        let lowered = md[r.clone()].to_ascii_lowercase();
                        md.replace_range(r, &lowered);
                    }
                    BlockFix::Close(at, close) => md.insert_str(block + at, &close),
                }
                fixes += 1;
                resume = line;
                window = WINDOW;
            }
            Outcome::Grow => window = window.saturating_mul(2),
            Outcome::Clean if at_end => break,
            Outcome::Clean => match line_of(last_top) {
                // The last top-level block may go on past the window: read on from it.
                0 => window = window.saturating_mul(2),
                line => {
                    resume += line;
                    window = WINDOW;
                }
            },
        }
    }
    md
}

/// Bytes of Markdown each pass of [`fix_block_closers`] parses, at least.
const WINDOW: usize = 64 * 1024;

const BLOCK_OPENERS: [&str; 4] = ["script", "style", "pre", "textarea"];

enum Outcome {
    /// No broken block in the window.
    Clean,
    /// The window ends inside a container holding a broken block: read more.
    Grow,
    /// A broken block at this offset, its fix, and the line its top-level block starts at.
    Fix(usize, BlockFix, usize),
}

/// [`block_fix`] for a block seen only in part (it runs on past the window), when that part
/// decides it: its first closing tag is there, before its last line.
fn open_block_fix(part: &str) -> Option<BlockFix> {
    let opened = block_opener(part)?;
    let close = format!("</{opened}>");
    let lower = part.to_ascii_lowercase();
    let at = lower.find(&close).filter(|_| !part.contains(&close))?;
    let line_end = lower[at..].find('\n').map_or(lower.len(), |e| at + e);
    (line_end + 1 < lower.len()).then(|| BlockFix::Lower(at..at + close.len()))
}

/// Which of [`BLOCK_OPENERS`] an HTML block opens with, if any.
fn block_opener(block: &str) -> Option<&'static str> {
    let (name, closing) = tag_name_at(block.trim_start())?;
    BLOCK_OPENERS.into_iter().find(|n| !closing && name == *n)
}

/// The extent of a raw-text HTML block that starts `rest` and runs on past its first line:
/// to the line with its lower-case closing tag (pulldown-cmark's end), else to the end.
/// Empty when `rest` opens no such block.
fn block_to_end(rest: &str) -> &str {
    let Some(name) = block_opener(rest) else {
        return "";
    };
    match rest.find(&format!("</{name}>")) {
        Some(at) => &rest[..rest[at..].find('\n').map_or(rest.len(), |e| at + e + 1)],
        None => rest,
    }
}

/// What a raw `<script>`/`<style>`/`<pre>`/`<textarea>` block needs, offsets in the block.
enum BlockFix {
    /// Its closing tag, not in lower case, ends it here: lower-case it.
    Lower(std::ops::Range<usize>),
    /// Never closed: close it at its first blank line.
    Close(usize, String),
}

fn block_fix(block: &str) -> Option<BlockFix> {
    let opened = block_opener(block)?;
    let lower = block.to_ascii_lowercase();
    let close = format!("</{opened}>");
    if let Some(at) = lower.find(&close).filter(|_| !block.contains(&close)) {
        // Only when that closer does not end the block already.
        let line_end = lower[at..].find('\n').map_or(lower.len(), |e| at + e);
        return (line_end < lower.trim_end().len()).then(|| BlockFix::Lower(at..at + close.len()));
    }
    let blank = block.find("\n\n").filter(|_| !lower.contains(&close))?;
    // Never closed: Hugo loses the rest of the post; end it at the first blank line instead.
    Some(BlockFix::Close(blank, close))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defuse_turns_iframes_into_links_and_drops_raw_text_tags() {
        assert_eq!(
            defuse("<div><iframe src=\"https://v.example/e?a=1&amp;b=2\" width=5>"),
            "<div><a href=\"https://v.example/e?a=1&amp;b=2\">https://v.example/e?a=1&amp;b=2</a>"
        );
        assert_eq!(defuse("<IFRAME>x</IFRAME> <textarea>t</textarea>"), "x t");
        assert_eq!(
            defuse("a<script>evil()</script>b<STYLE>p{}</STYLE>c"),
            "abc"
        );
        assert_eq!(defuse("1 < 2 <b>b</b>"), "1 < 2 <b>b</b>");
    }

    #[test]
    fn attributes_are_read_quoted_or_not() {
        assert_eq!(
            attribute("<i a=1 src='x y'>", "src").as_deref(),
            Some("x y")
        );
        assert_eq!(attribute("<i src=x>", "src").as_deref(), Some("x"));
        assert_eq!(attribute("<i datasrc=x>", "src"), None);
    }

    /// The one-pass-per-fix version this module had before windows, as the reference.
    fn old_fix_block_closers(markdown: &str, options: pulldown_cmark::Options) -> String {
        let mut md = markdown.to_string();
        // Each pass fixes the first broken block; the next may only show after it.
        for _ in 0..64 {
            let mut fix = None;
            for (event, range) in pulldown_cmark::Parser::new_ext(&md, options).into_offset_iter() {
                if let Event::Start(Tag::HtmlBlock) = event {
                    let block = &md[range.clone()];
                    let lower = block.to_ascii_lowercase();
                    let opened = ["script", "style", "pre", "textarea"]
                        .into_iter()
                        .find(|n| {
                            lower.trim_start().starts_with(&format!("<{n}"))
                                && super::tag_at(lower.trim_start())
                                    .is_some_and(|(name, _, _)| name == *n)
                        });
                    if let Some(name) = opened {
                        let close = format!("</{name}>");
                        if let Some(at) = lower.find(&close).filter(|_| !block.contains(&close)) {
                            // Only when that closer does not end the block already.
                            let line_end = lower[at..].find('\n').map_or(lower.len(), |e| at + e);
                            if line_end < lower.trim_end().len() {
                                fix =
                                    Some((range.start + at..range.start + at + close.len(), None));
                                break;
                            }
                        } else if let Some(blank) =
                            block.find("\n\n").filter(|_| !lower.contains(&close))
                        {
                            // Never closed: Hugo loses the rest of the post; end it at the
                            // first blank line instead.
                            let at = range.start + blank;
                            fix = Some((at..at, Some(close)));
                            break;
                        }
                    }
                }
            }
            match fix {
                Some((r, Some(close))) => md.replace_range(r, &close),
                Some((r, None)) => {
                    let lowered = md[r.clone()].to_ascii_lowercase();
                    md.replace_range(r, &lowered);
                }
                None => break,
            }
        }
        md
    }

    #[test]
    fn windows_fix_what_whole_passes_fixed() {
        let filler: String = (0..1_500)
            .map(|i| format!("Paragraph {i} with *emphasis* and `code`.\n\n"))
            .collect();
        let body = format!(
            "{filler}<STYLE>\np{{}}\n</STYLE> x\n\ntext\n\n{filler}<script>\nnever(closed)\n\nafter\n\n\
             {filler}```\n<PRE>\nin code\n</PRE> z\n```\n\n<PRE>\ncode\n</PRE> y\n\n{filler}end\n"
        );
        assert!(body.len() > 3 * WINDOW);
        let quoted: String = body.lines().map(|l| format!("> {l}\n")).collect();
        let listed: String = body
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    format!("- {l}\n")
                } else {
                    format!("  {l}\n")
                }
            })
            .collect();
        let opts = crate::content::markdown::options(Default::default());
        for md in [&body, &quoted, &listed] {
            let fixed = fix_block_closers(md, opts);
            assert_ne!(&fixed, md);
            assert_eq!(fixed, old_fix_block_closers(md, opts));
        }
    }

    #[test]
    fn upper_case_closers_of_raw_blocks_are_fixed() {
        let opts = pulldown_cmark::Options::empty();
        assert_eq!(
            fix_block_closers("<STYLE>\np{}\n</STYLE>\n\n*a*\n", opts),
            "<STYLE>\np{}\n</style>\n\n*a*\n"
        );
        assert_eq!(
            fix_block_closers("<pre>\nx\n\n*a*\n", opts),
            "<pre>\nx</pre>\n\n*a*\n"
        );
        // In code, nothing changes.
        let code = "```\n<STYLE>\n</STYLE>\n```\n\n*a*\n";
        assert_eq!(fix_block_closers(code, opts), code);
    }
}

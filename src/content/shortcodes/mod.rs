//! Hugo shortcodes. `{{< name args >}}` and `{{% name args %}}` tags (opening, closing and
//! self-closing) are expanded before Markdown rendering:
//!
//! - Hugo's built-ins ([`builtins`]) become the HTML Hugo would make, or a reader-safe
//!   equivalent (videos and social embeds become links, never iframes). Hugo inserts the
//!   output of a `{{< >}}` shortcode after rendering Markdown, so that HTML stands in the
//!   Markdown as a placeholder, a *fragment* put back before sanitizing: it is not subject
//!   to the raw-HTML policy. A `{{% %}}` shortcode's output is Markdown to Hugo, so it is
//!   written into the Markdown and the policy applies, as it does in Hugo.
//! - A site's own shortcodes, which Herald cannot run, keep whatever sits between a pair
//!   (their names are reported), unless herald.yaml maps the name to a [`ShortcodeRule`].
//!
//! Escaped shortcodes `{{</* x */>}}` become the literal text `{{< x >}}`, as Hugo renders
//! them. Fenced code blocks and inline code spans are code, not shortcodes: tags there are
//! left alone (only escaped ones are unescaped, since that is what Hugo shows).

mod builtins;
mod tag;

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::markdown::placeholder;
use tag::parse_tag;

/// What a site's herald.yaml says to do with one of its own shortcodes:
/// `shortcodes: { aside: drop, note: "<p>{{ .Inner }}</p>" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShortcodeRule {
    /// Remove it, inner content and all.
    Drop,
    /// HTML with `{{ .Inner }}` (the inner content, as Markdown), `{{ .Get 0 }}` and
    /// `{{ .Get "name" }}` (arguments, escaped).
    Template(String),
}

/// The string `drop` (any case) is [`ShortcodeRule::Drop`]; any other string a template.
impl serde::Serialize for ShortcodeRule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ShortcodeRule::Drop => s.serialize_str("drop"),
            ShortcodeRule::Template(t) => s.serialize_str(t),
        }
    }
}

impl<'de> serde::Deserialize<'de> for ShortcodeRule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(if s.trim().eq_ignore_ascii_case("drop") {
            ShortcodeRule::Drop
        } else {
            ShortcodeRule::Template(s)
        })
    }
}

/// What expanding needs to know about the site and the page.
pub(crate) struct ShortcodeContext<'a> {
    /// The site's base URL (root-relative references resolve against it).
    pub base: &'a url::Url,
    /// The page's permalink (relative references resolve against it).
    pub page: &'a url::Url,
    pub site_params: &'a serde_json::Value,
    pub page_params: &'a super::frontmatter::Map,
    pub custom: &'a BTreeMap<String, ShortcodeRule>,
    /// `"post/x.md"` or `"x"` → absolute permalink of that page.
    pub resolve_ref: &'a dyn Fn(&str) -> Option<String>,
}

/// A body with its shortcodes expanded.
#[derive(Debug, Default)]
pub(crate) struct Expanded {
    /// The body, with placeholders ([`super::markdown::placeholder`]) for fragments.
    pub markdown: String,
    /// HTML of `{{< >}}` built-ins, by placeholder number.
    pub fragments: Vec<String>,
    /// Names of shortcodes neither built in nor configured, each once, in order met.
    pub unknown: Vec<String>,
}

/// One shortcode tag as written.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    raw: &'a str,
    pub name: String,
    closing: bool,
    self_closing: bool,
    /// `{{% %}}`: its output is Markdown.
    pub percent: bool,
    /// Alone on its line(s): its output is a block, not inline.
    pub block: bool,
    positional: Vec<String>,
    named: Vec<(String, String)>,
}

impl Call<'_> {
    /// Named argument `key`, else positional argument `pos`.
    pub fn arg(&self, pos: usize, key: &str) -> Option<&str> {
        self.named
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .or_else(|| self.positional.get(pos).map(String::as_str))
            .filter(|v| !v.is_empty())
    }

    pub fn named(&self, key: &str) -> Option<&str> {
        self.named
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

enum Piece<'a> {
    Text(Cow<'a, str>),
    Tag(Call<'a>),
}

/// Expands every shortcode of a body (Markdown, or HTML for `.html` content files).
pub(crate) fn expand(body: &str, ctx: &ShortcodeContext<'_>) -> Expanded {
    if !body.contains("{{") {
        return Expanded {
            markdown: body.to_string(),
            ..Expanded::default()
        };
    }
    let pieces = scan(body);
    let mut ex = Expander {
        ctx,
        out: Expanded::default(),
        closes: matching_closes(&pieces),
        unknown: Default::default(),
    };
    ex.out.markdown = ex.run(&pieces, 0, pieces.len());
    ex.out
}

/// Shortcodes nested deeper than this are expanded as if never closed (their inner content
/// stays where it is): expanding recurses once per level, and must not run out of stack.
const MAX_DEPTH: usize = 32;

/// For each opening tag, the index of the tag that closes it (same name, nesting counted),
/// as a stack per name finds them in one pass; `None` beyond [`MAX_DEPTH`] levels.
fn matching_closes(pieces: &[Piece<'_>]) -> Vec<Option<usize>> {
    let mut closes = vec![None; pieces.len()];
    let mut open: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (j, p) in pieces.iter().enumerate() {
        if let Piece::Tag(t) = p {
            if t.closing {
                if let Some(o) = open.get_mut(t.name.as_str()).and_then(Vec::pop) {
                    closes[o] = Some(j);
                }
            } else if !t.self_closing {
                open.entry(t.name.as_str()).or_default().push(j);
            }
        }
    }
    // The closes of the pairs kept around the current piece (crossing pairs count too,
    // which only errs towards less depth).
    let mut around: Vec<usize> = Vec::new();
    for (j, close) in closes.iter_mut().enumerate() {
        while around.last().is_some_and(|&c| c < j) {
            around.pop();
        }
        if let Some(c) = *close {
            if around.len() >= MAX_DEPTH {
                *close = None;
            } else {
                around.push(c);
            }
        }
    }
    closes
}

/// Cuts a body into text (prose and code) and shortcode tags.
fn scan(body: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    let mut prose_start = 0;
    let mut pos = 0;
    for line in body.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        match fence {
            Some((ch, len)) => {
                pieces.push(Piece::Text(unescape(line)));
                if is_closing_fence(line, ch, len) {
                    fence = None;
                    prose_start = pos;
                }
            }
            None => {
                if let Some(f) = opening_fence(line) {
                    scan_prose(&body[prose_start..start], &mut pieces);
                    pieces.push(Piece::Text(unescape(line)));
                    fence = Some(f);
                }
            }
        }
    }
    if fence.is_none() {
        scan_prose(&body[prose_start..], &mut pieces);
    }
    pieces
}

/// Shortcode tags of prose (text outside fences); inline code spans are text.
fn scan_prose<'a>(text: &'a str, pieces: &mut Vec<Piece<'a>>) {
    let bytes = text.as_bytes();
    let mut spans = CodeSpans::new(text);
    let mut escapes = Escapes::new(text);
    let mut tags = TagScan::new(text);
    let mut plain_from = 0;
    let mut i = 0;
    let flush = |pieces: &mut Vec<Piece<'a>>, from: usize, to: usize| {
        if to > from {
            pieces.push(Piece::Text(Cow::Borrowed(&text[from..to])));
        }
    };
    while i < text.len() {
        let rest = &text[i..];
        if bytes[i] == b'`' {
            let run = rest.bytes().take_while(|&b| b == b'`').count();
            match spans.end(i, run) {
                Some(end) if text[i..end].contains("{{") => {
                    flush(pieces, plain_from, i);
                    pieces.push(Piece::Text(unescape(&text[i..end])));
                    i = end;
                    plain_from = i;
                }
                Some(end) => i = end,
                None => i += run,
            }
            continue;
        }
        if rest.starts_with("{{<") || rest.starts_with("{{%") {
            if let Some(len) = escapes.len_at(i) {
                flush(pieces, plain_from, i);
                pieces.push(Piece::Text(unescape(&rest[..len])));
                i += len;
                plain_from = i;
                continue;
            }
            if let Some(mut call) = tags.parse_at(i) {
                flush(pieces, plain_from, i);
                let len = call.raw.len();
                // Alone on its line(s): only whitespace back to the line's start and on to
                // its end (scanned from the tag, so a long line is not read once per tag).
                let line_start = text[..i]
                    .chars()
                    .rev()
                    .find(|c| *c == '\n' || !c.is_whitespace())
                    .is_none_or(|c| c == '\n');
                let line_end = text[i + len..]
                    .chars()
                    .find(|c| *c == '\n' || !c.is_whitespace())
                    .is_none_or(|c| c == '\n');
                call.block = line_start && line_end;
                pieces.push(Piece::Tag(call));
                i += len;
                plain_from = i;
                continue;
            }
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    flush(pieces, plain_from, text.len());
}

/// Finds shortcode tags, within a budget: a tag's closing delimiter is looked for outside
/// quotes, so an unclosed tag reads on to the end, and a million of them would be read a
/// million times. Past the budget (four times the text), no more tags are recognised.
struct TagScan<'a> {
    text: &'a str,
    angle_closes: super::text::Forward<'a>,
    percent_closes: super::text::Forward<'a>,
    budget: usize,
}

impl<'a> TagScan<'a> {
    fn new(text: &'a str) -> Self {
        TagScan {
            text,
            angle_closes: super::text::Forward::new(text, ">}}"),
            percent_closes: super::text::Forward::new(text, "%}}"),
            budget: 4 * text.len() + 64 * 1024,
        }
    }

    fn parse_at(&mut self, i: usize) -> Option<Call<'a>> {
        let rest = &self.text[i..];
        // No closing delimiter anywhere after it: no tag, found without reading on.
        let closes = if rest.starts_with("{{%") {
            &mut self.percent_closes
        } else {
            &mut self.angle_closes
        };
        closes.at_or_after(i + 3)?;
        parse_tag(rest, &mut self.budget)
    }
}

/// The inline code spans of a text: its runs of backticks, and for each the next run as
/// long, found in one pass (looking for each span's end afresh is quadratic in the worst
/// case). A span ends at the next run of exactly as many backticks before a blank line.
struct CodeSpans<'a> {
    /// (start, length) of every run of backticks, in order.
    runs: Vec<(u32, u32)>,
    /// For each run, the index of the next run of the same length.
    next_same: Vec<u32>,
    blank_lines: super::text::Forward<'a>,
}

impl<'a> CodeSpans<'a> {
    fn new(text: &'a str) -> Self {
        let mut runs = Vec::new();
        if u32::try_from(text.len()).is_ok() {
            let b = text.as_bytes();
            let mut i = 0;
            while let Some(at) = text[i..].find('`') {
                let start = i + at;
                let len = b[start..].iter().take_while(|&&c| c == b'`').count();
                runs.push((start as u32, len as u32));
                i = start + len;
            }
        }
        let mut next_same = vec![u32::MAX; runs.len()];
        let mut last: std::collections::HashMap<u32, u32> = Default::default();
        for (k, &(_, len)) in runs.iter().enumerate().rev() {
            if let Some(&n) = last.get(&len) {
                next_same[k] = n;
            }
            last.insert(len, k as u32);
        }
        CodeSpans {
            runs,
            next_same,
            blank_lines: super::text::Forward::new(text, "\n\n"),
        }
    }

    /// The end of the code span opened by the `run` backticks at `i`, if it is closed.
    fn end(&mut self, i: usize, run: usize) -> Option<usize> {
        let k = self.runs.binary_search_by_key(&i, |r| r.0 as usize).ok()?;
        if self.runs[k].1 as usize != run {
            return None;
        }
        let (start, len) = *self.runs.get(self.next_same[k] as usize)?;
        let limit = self.blank_lines.at_or_after(i).unwrap_or(usize::MAX);
        ((start as usize) < limit).then(|| (start + len) as usize)
    }
}

/// Escaped shortcodes `{{</* ... */>}}` / `{{%/* ... */%}}`, their ends each found once.
struct Escapes<'a> {
    text: &'a str,
    angle: super::text::Forward<'a>,
    percent: super::text::Forward<'a>,
}

impl<'a> Escapes<'a> {
    fn new(text: &'a str) -> Self {
        Escapes {
            text,
            angle: super::text::Forward::new(text, "*/>}}"),
            percent: super::text::Forward::new(text, "*/%}}"),
        }
    }

    /// Length of an escaped shortcode starting at `i`.
    fn len_at(&mut self, i: usize) -> Option<usize> {
        let s = &self.text[i..];
        let (open, closes) = if s.starts_with("{{</*") {
            ("{{</*", &mut self.angle)
        } else if s.starts_with("{{%/*") {
            ("{{%/*", &mut self.percent)
        } else {
            return None;
        };
        closes
            .at_or_after(i + open.len())
            .map(|end| end + "*/>}}".len() - i)
    }
}

struct Expander<'c, 'a> {
    ctx: &'c ShortcodeContext<'a>,
    out: Expanded,
    /// [`matching_closes`] of the pieces.
    closes: Vec<Option<usize>>,
    /// The names in `out.unknown`.
    unknown: std::collections::HashSet<String>,
}

impl Expander<'_, '_> {
    /// Expands `pieces[from..to]`.
    fn run(&mut self, pieces: &[Piece<'_>], from: usize, to: usize) -> String {
        let mut out = String::new();
        let mut i = from;
        while i < to {
            match &pieces[i] {
                Piece::Text(t) => out.push_str(t),
                Piece::Tag(call) if call.closing => {} // a stray closing tag
                Piece::Tag(call) => {
                    let close = (!call.self_closing && takes_inner(self.ctx, &call.name))
                        .then(|| self.closes[i])
                        .flatten()
                        .filter(|&j| j < to);
                    self.call(pieces, call, close.map(|j| (i + 1, j)), &mut out);
                    i = close.unwrap_or(i);
                }
            }
            i += 1;
        }
        out
    }

    /// Appends what one shortcode becomes to `out`; `inner`: the range of its inner pieces.
    fn call(
        &mut self,
        pieces: &[Piece<'_>],
        call: &Call<'_>,
        inner: Option<(usize, usize)>,
        out: &mut String,
    ) {
        if let Some(rule) = self.ctx.custom.get(&call.name) {
            if let ShortcodeRule::Template(t) = rule {
                let inner = inner
                    .map(|(a, b)| self.run(pieces, a, b))
                    .unwrap_or_default();
                self.template(t, call, &inner, out);
            }
            return;
        }
        let inner_text = inner.map(|(a, b)| raw_text(&pieces[a..b]));
        match builtins::render(call, inner_text.as_deref(), self.ctx) {
            Some(builtins::Out::Fragment(html)) => self.fragment(call, html, out),
            Some(builtins::Out::Markdown(text)) => out.push_str(&text),
            Some(builtins::Out::Unresolved(arg)) => {
                // A reference Herald cannot resolve: never a broken link. As a link's
                // destination it becomes a URL ammonia removes (the link text stays).
                if out.ends_with("](") || out.ends_with("href=\"") {
                    out.push_str("herald-unresolved:");
                    out.push_str(&arg.replace(|c: char| c.is_whitespace() || c == ')', "-"));
                } else {
                    out.push_str(&html_escape::encode_text(&arg));
                }
            }
            None if builtins::is_builtin(&call.name) => {}
            None => {
                if self.unknown.insert(call.name.clone()) {
                    self.out.unknown.push(call.name.clone());
                }
                if let Some((a, b)) = inner {
                    let inner = self.run(pieces, a, b);
                    out.push_str(&inner);
                }
            }
        }
    }

    /// HTML output: a placeholder for `{{< >}}`, Markdown (raw HTML) for `{{% %}}`.
    fn fragment(&mut self, call: &Call<'_>, html: String, out: &mut String) {
        if call.percent {
            out.push_str(&html);
        } else {
            out.push_str(&placeholder(self.out.fragments.len()));
            self.out.fragments.push(html);
        }
    }

    fn template(&mut self, template: &str, call: &Call<'_>, inner: &str, out: &mut String) {
        let mut rest = template;
        let mut html = String::new();
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open..].find("}}") else {
                break;
            };
            html.push_str(&rest[..open]);
            let action = rest[open + 2..open + close].trim().trim_matches('-').trim();
            if action == ".Inner" {
                // The inner content stays Markdown, between the HTML around it.
                let sep = if call.block { "\n\n" } else { "" };
                let before = std::mem::take(&mut html);
                if !before.is_empty() {
                    self.fragment(call, before, out);
                }
                out.push_str(sep);
                out.push_str(inner.trim_matches('\n'));
                out.push_str(sep);
            } else if let Some(arg) = action.strip_prefix(".Get") {
                let arg = arg.trim();
                let v = match arg.parse::<usize>() {
                    Ok(n) => call.positional.get(n).map(String::as_str),
                    Err(_) => call.named(arg.trim_matches('"')),
                };
                html.push_str(&html_escape::encode_text(v.unwrap_or("")));
            }
            rest = &rest[open + close + 2..];
        }
        html.push_str(rest);
        if !html.is_empty() {
            self.fragment(call, html, out);
        }
    }
}

/// Whether a shortcode of this name has inner content (between its tag and a closing one).
fn takes_inner(ctx: &ShortcodeContext<'_>, name: &str) -> bool {
    ctx.custom.contains_key(name) || !builtins::is_builtin(name) || name == "highlight"
}

/// Pieces as their source text (the inner content of `highlight` is code).
fn raw_text(pieces: &[Piece<'_>]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.as_ref(),
            Piece::Tag(c) => c.raw,
        })
        .collect()
}

/// ```` ``` ```` or `~~~` (three or more), indented by at most three spaces.
fn opening_fence(line: &str) -> Option<(char, usize)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let t = &line[indent..];
    let ch = t.chars().next().filter(|&c| c == '`' || c == '~')?;
    let len = t.chars().take_while(|&c| c == ch).count();
    // A backtick fence's info string cannot contain backticks.
    (len >= 3 && !(ch == '`' && t[len..].contains('`'))).then_some((ch, len))
}

fn is_closing_fence(line: &str, ch: char, len: usize) -> bool {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let t = line[indent..].trim_end();
    indent <= 3 && t.chars().all(|c| c == ch) && t.chars().count() >= len
}

/// Turns every escaped shortcode in `s` into its literal text.
fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains("{{</*") && !s.contains("{{%/*") {
        return Cow::Borrowed(s);
    }
    let mut escapes = Escapes::new(s);
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if let Some(len) = escapes.len_at(i) {
            let inner = &rest[5..len - 5];
            let (open, close) = if rest.starts_with("{{<") {
                ("{{<", ">}}")
            } else {
                ("{{%", "%}}")
            };
            out.push_str(open);
            out.push_str(inner);
            out.push_str(close);
            i += len;
            continue;
        }
        let ch = rest.chars().next().unwrap_or('\0');
        out.push(ch);
        i += ch.len_utf8();
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;

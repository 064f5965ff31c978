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
    };
    ex.out.markdown = ex.run(&pieces);
    ex.out
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
            match code_span_len(rest, run) {
                Some(len) if rest[..len].contains("{{") => {
                    flush(pieces, plain_from, i);
                    pieces.push(Piece::Text(unescape(&rest[..len])));
                    i += len;
                    plain_from = i;
                }
                Some(len) => i += len,
                None => i += run,
            }
            continue;
        }
        if rest.starts_with("{{<") || rest.starts_with("{{%") {
            if let Some(len) = escaped_len(rest) {
                flush(pieces, plain_from, i);
                pieces.push(Piece::Text(unescape(&rest[..len])));
                i += len;
                plain_from = i;
                continue;
            }
            if let Some(mut call) = parse_tag(rest) {
                flush(pieces, plain_from, i);
                let len = call.raw.len();
                let line_start = text[..i]
                    .rsplit('\n')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .is_empty();
                let line_end = text[i + len..]
                    .split('\n')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .is_empty();
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

struct Expander<'c, 'a> {
    ctx: &'c ShortcodeContext<'a>,
    out: Expanded,
}

impl Expander<'_, '_> {
    fn run(&mut self, pieces: &[Piece<'_>]) -> String {
        let mut out = String::new();
        let mut i = 0;
        while i < pieces.len() {
            match &pieces[i] {
                Piece::Text(t) => out.push_str(t),
                Piece::Tag(call) if call.closing => {} // a stray closing tag
                Piece::Tag(call) => {
                    let close = (!call.self_closing && takes_inner(self.ctx, &call.name))
                        .then(|| closing_of(pieces, i))
                        .flatten();
                    let inner = close.map(|j| &pieces[i + 1..j]);
                    self.call(call, inner, &mut out);
                    i = close.unwrap_or(i);
                }
            }
            i += 1;
        }
        out
    }

    /// Appends what one shortcode becomes to `out`.
    fn call(&mut self, call: &Call<'_>, inner: Option<&[Piece<'_>]>, out: &mut String) {
        if let Some(rule) = self.ctx.custom.get(&call.name) {
            if let ShortcodeRule::Template(t) = rule {
                let inner = inner.map(|p| self.run(p)).unwrap_or_default();
                self.template(t, call, &inner, out);
            }
            return;
        }
        match builtins::render(call, inner.map(raw_text).as_deref(), self.ctx) {
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
                if !self.out.unknown.contains(&call.name) {
                    self.out.unknown.push(call.name.clone());
                }
                if let Some(inner) = inner {
                    let inner = self.run(inner);
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

/// Index of the tag closing the one at `open` (same name, nesting counted).
fn closing_of(pieces: &[Piece<'_>], open: usize) -> Option<usize> {
    let Piece::Tag(first) = &pieces[open] else {
        return None;
    };
    let mut depth = 0;
    for (j, p) in pieces.iter().enumerate().skip(open + 1) {
        if let Piece::Tag(t) = p {
            if t.name == first.name {
                if t.closing {
                    if depth == 0 {
                        return Some(j);
                    }
                    depth -= 1;
                } else if !t.self_closing {
                    depth += 1;
                }
            }
        }
    }
    None
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

/// Length of an inline code span opened by `run` backticks at the start of `s`: it closes
/// at the next run of exactly as many backticks before a blank line.
fn code_span_len(s: &str, run: usize) -> Option<usize> {
    let limit = s.find("\n\n").unwrap_or(s.len());
    let mut j = run;
    while j < limit {
        let rel = s[j..limit].find('`')?;
        let start = j + rel;
        let n = s[start..limit].bytes().take_while(|&b| b == b'`').count();
        if n == run {
            return Some(start + n);
        }
        j = start + n;
    }
    None
}

/// Length of an escaped shortcode `{{</* ... */>}}` / `{{%/* ... */%}}` at the start of `s`.
fn escaped_len(s: &str) -> Option<usize> {
    let (open, close) = if s.starts_with("{{</*") {
        ("{{</*", "*/>}}")
    } else if s.starts_with("{{%/*") {
        ("{{%/*", "*/%}}")
    } else {
        return None;
    };
    s[open.len()..]
        .find(close)
        .map(|end| open.len() + end + close.len())
}

/// Turns every escaped shortcode in `s` into its literal text.
fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains("{{</*") && !s.contains("{{%/*") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if let Some(len) = escaped_len(rest) {
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

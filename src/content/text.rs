//! Plain-text helpers: removing characters XML 1.0 cannot carry, collapsing whitespace,
//! decoding HTML entities (the full HTML5 table, via `html-escape`), dropping HTML tags
//! from plain-text fields, and cutting a summary-like text at a word boundary.

/// Whether XML 1.0 can carry `c` (and it is not a C1 control or DEL, which are legal but
/// never intended in prose). Tab, LF and CR are kept; callers collapse them where needed.
fn is_allowed(c: char) -> bool {
    match c {
        '\t' | '\n' | '\r' => true,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => false,
        '\u{fffe}' | '\u{ffff}' => false,
        _ => true,
    }
}

/// Whether `s` may hold a character [`is_allowed`] refuses, judged on bytes (most text is
/// clean, and a byte scan is several times faster than decoding every char): a C0 byte
/// other than tab, LF and CR, DEL, a C1 control (`C2 80`–`C2 9F`, only with `c1`), or
/// U+FFFE/U+FFFF (`EF BF BE`/`EF BF BF`).
fn may_hold_controls(s: &str, c1: bool) -> bool {
    let bytes = s.as_bytes();
    // Screened a block at a time without branches (the compiler vectorizes it); only a
    // block holding a byte that may start one is looked at byte by byte.
    const BLOCK: usize = 64;
    let suspect = |b: u8| {
        (b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r')
            | (b == 0x7f)
            | (c1 & (b == 0xc2))
            | (b == 0xef)
    };
    bytes.chunks(BLOCK).enumerate().any(|(n, block)| {
        block.iter().fold(false, |acc, &b| acc | suspect(b))
            && (n * BLOCK..n * BLOCK + block.len()).any(|i| control_at(bytes, i, c1))
    })
}

/// Whether a character [`may_hold_controls`] looks for starts at byte `i`.
fn control_at(bytes: &[u8], i: usize, c1: bool) -> bool {
    match bytes[i] {
        b'\t' | b'\n' | b'\r' => false,
        0..=0x1f | 0x7f => true,
        0xc2 => c1 && matches!(bytes.get(i + 1), Some(0x80..=0x9f)),
        0xef => bytes.get(i + 1) == Some(&0xbf) && matches!(bytes.get(i + 2), Some(0xbe | 0xbf)),
        _ => false,
    }
}

/// Removes C0/C1 control characters (except tab, LF, CR), DEL and U+FFFE/U+FFFF.
pub(crate) fn strip_controls(s: &str) -> String {
    strip_controls_cow(s).into_owned()
}

/// [`strip_controls`], borrowing `s` when it has nothing to remove (most text).
pub(crate) fn strip_controls_cow(s: &str) -> std::borrow::Cow<'_, str> {
    if !may_hold_controls(s, true) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(s.chars().filter(|&c| is_allowed(c)).collect())
}

/// [`strip_controls`] of an owned string: `s` itself when it has nothing to remove, cut to
/// its length as the copy it replaces was (the result is often kept as long as its post).
pub(crate) fn strip_controls_owned(mut s: String) -> String {
    if !may_hold_controls(&s, true) {
        s.shrink_to_fit();
        return s;
    }
    s.chars().filter(|&c| is_allowed(c)).collect()
}

/// Like [`strip_controls`], keeping C1 controls (U+0080–U+009F): the mojibake scan reads
/// them as the Latin-1 bytes they came from, and [`strip_controls`] removes them after it.
pub(crate) fn strip_controls_keep_c1(s: &str) -> String {
    if !may_hold_controls(s, false) {
        return s.to_string();
    }
    let keep = |c: char| is_allowed(c) || ('\u{80}'..='\u{9f}').contains(&c);
    s.chars().filter(|&c| keep(c)).collect()
}

/// Trims and collapses every run of whitespace (including newlines and no-break spaces
/// at the ends) to one ASCII space, after removing control characters.
pub(crate) fn one_line(s: &str) -> String {
    let cleaned = strip_controls_cow(s);
    let mut out = String::with_capacity(cleaned.len());
    for word in cleaned.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Decodes HTML entities: the full HTML5 table (`&eacute;`, `&hellip;`, `&nbsp;`) and
/// numeric ones (`&#038;`, `&#x2014;`); unknown or malformed ones stay as written.
/// Decoding happens once, so `&amp;#038;` becomes `&#038;`, never `&`.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    html_escape::decode_html_entities(s).into_owned()
}

/// HTML tags that plain-text fields (descriptions exported from WordPress) really carry.
/// Anything else in angle brackets, like `<head>` in "Get out of my <head>", is text.
const KNOWN_TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "cite",
    "code",
    "del",
    "div",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
];

/// Removes tags of [`KNOWN_TAGS`] (opening, closing, self-closing) and HTML comments.
pub(crate) fn strip_known_tags(s: &str) -> String {
    strip_tags_where(s, |name| KNOWN_TAGS.contains(&name))
}

/// Removes `<script>` and `<style>` elements with everything inside them (ASCII
/// case-insensitive; an unclosed one runs to the end). For plain-text fields written as
/// HTML: their content is code, never prose a reader should see.
pub(crate) fn drop_script_and_style(s: &str) -> String {
    if !s.contains('<') {
        return s.to_string();
    }
    let lower = s.to_ascii_lowercase();
    let mut scripts = Forward::new(&lower, "<script");
    let mut styles = Forward::new(&lower, "<style");
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    loop {
        let next = [
            scripts.at_or_after(pos).map(|i| (i, "script")),
            styles.at_or_after(pos).map(|i| (i, "style")),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some((start, name)) = next else {
            out.push_str(&s[pos..]);
            return out;
        };
        out.push_str(&s[pos..start]);
        let close = format!("</{name}");
        pos = match lower[start..].find(&close) {
            Some(i) => {
                let after = start + i + close.len();
                lower[after..].find('>').map_or(s.len(), |j| after + j + 1)
            }
            None => s.len(),
        };
    }
}

/// Finds a needle at positions that only move forward, searching each stretch of text once.
/// Searching afresh from every candidate is quadratic on hostile input: a million `<!--`
/// and no `-->`, each looking to the end of the text.
pub(crate) struct Forward<'a> {
    hay: &'a str,
    needle: &'a str,
    /// The last search: where it started and what it found.
    last: Option<(usize, Option<usize>)>,
}

impl<'a> Forward<'a> {
    pub(crate) fn new(hay: &'a str, needle: &'a str) -> Self {
        Forward {
            hay,
            needle,
            last: None,
        }
    }

    /// Byte offset of the first occurrence that starts at or after `at`.
    pub(crate) fn at_or_after(&mut self, at: usize) -> Option<usize> {
        match self.last {
            Some((from, found)) if from <= at && found.is_none_or(|f| f >= at) => found,
            _ => {
                let found = self
                    .hay
                    .get(at..)
                    .and_then(|h| h.find(self.needle))
                    .map(|i| at + i);
                self.last = Some((at, found));
                found
            }
        }
    }
}

/// Removes every HTML tag and comment (for raw HTML found in Markdown bodies).
pub(crate) fn strip_all_tags(s: &str) -> String {
    strip_tags_where(s, |_| true)
}

fn strip_tags_where(s: &str, remove: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut comment_ends = Forward::new(s, "-->");
    let mut pos = 0;
    while let Some(i) = s[pos..].find('<') {
        let at = pos + i;
        out.push_str(&s[pos..at]);
        let tail = &s[at..];
        if tail.starts_with("<!--") {
            if let Some(end) = comment_ends.at_or_after(at + 4) {
                out.push(' ');
                pos = end + 3;
                continue;
            }
        }
        let inner = &tail[1..];
        let name_part = inner.strip_prefix('/').unwrap_or(inner);
        let name_len = name_part
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(name_part.len());
        let name = name_part[..name_len].to_ascii_lowercase();
        // A tag ends at the first `>`, with no other `<` before it.
        let close = inner
            .find(['<', '>'])
            .filter(|&c| inner.as_bytes()[c] == b'>')
            .map(|c| c + 1);
        let well_formed = !name.is_empty()
            && name.as_bytes()[0].is_ascii_alphabetic()
            && close.is_some()
            && name_part[name_len..]
                .chars()
                .next()
                .is_some_and(|c| c == '>' || c == '/' || c.is_whitespace());
        match close {
            Some(close) if well_formed && remove(&name) => {
                out.push(' ');
                pos = at + close + 1;
            }
            _ => {
                out.push('<');
                pos = at + 1;
            }
        }
    }
    out.push_str(&s[pos..]);
    out
}

/// Cuts `s` to at most `max` characters at a word boundary, adding "…" when cut.
pub(crate) fn truncate_words(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    let head = match cut.rfind(char::is_whitespace) {
        Some(i) if i > 0 => &cut[..i],
        _ => cut.as_str(),
    };
    format!(
        "{}…",
        head.trim_end_matches(|c: char| c.is_whitespace() || ",;:.-–—".contains(c))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_and_style_elements_are_dropped_whole() {
        assert_eq!(
            drop_script_and_style(
                "a <SCRIPT src=x>evil()</script > b <style>p{}</Style> c <script>open"
            ),
            "a  b  c "
        );
        assert_eq!(
            drop_script_and_style("Get out of my <head>"),
            "Get out of my <head>"
        );
    }

    #[test]
    fn controls_are_removed_but_newlines_and_tabs_kept() {
        assert_eq!(
            strip_controls("a\u{0}b\u{13}c\td\ne\r\u{85}f\u{fffe}\u{7f}"),
            "abc\td\ne\rf"
        );
        assert_eq!(strip_controls("plain ✓ text"), "plain ✓ text");
        // The byte scan agrees with the char filter on every character class it looks for.
        for c in [
            '\u{0}', '\u{1f}', '\u{7f}', '\u{80}', '\u{9f}', '\u{fffe}', '\u{ffff}',
        ] {
            assert_eq!(strip_controls(&format!("a{c}b")), "ab", "{c:?}");
        }
        for c in ['\t', '\u{a0}', '\u{fffd}', '\u{ff}', '\u{c0}', '\u{2028}'] {
            let text = format!("a{c}b");
            assert_eq!(strip_controls(&text), text, "{c:?}");
        }
        assert_eq!(strip_controls_keep_c1("a\u{85}b\u{1}"), "a\u{85}b");
        // Scanned in blocks: a control at every offset around a block's edges is found,
        // also one whose bytes straddle two blocks.
        for at in 0..140 {
            for c in ['\u{1}', '\u{7f}', '\u{85}', '\u{ffff}'] {
                let text = format!("{}{c}{}", "x".repeat(at), "y".repeat(3));
                assert_eq!(
                    strip_controls(&text),
                    format!("{}yyy", "x".repeat(at)),
                    "{at} {c:?}"
                );
                assert_eq!(
                    strip_controls_owned(text.clone()),
                    strip_controls(&text),
                    "{at}"
                );
            }
            let clean = format!("{}é\u{a0}\u{fffd}\n\t", "x".repeat(at));
            assert!(matches!(
                strip_controls_cow(&clean),
                std::borrow::Cow::Borrowed(_)
            ));
        }
    }

    #[test]
    fn one_line_collapses_whitespace_and_controls() {
        assert_eq!(
            one_line("  A\n  multi-line\u{13}\ttitle \u{a0} "),
            "A multi-line title"
        );
        assert_eq!(one_line(" \n "), "");
    }

    #[test]
    fn entities_are_decoded_once() {
        assert_eq!(
            decode_entities("Tom &amp; Jerry &#038; co &#x2014; &hellip;"),
            "Tom & Jerry & co — …"
        );
        assert_eq!(decode_entities("&amp;#038;"), "&#038;");
        assert_eq!(
            decode_entities("AT&T & friends &bogus; &#0;"),
            "AT&T & friends &bogus; &#0;"
        );
        // Beyond the common few: the whole HTML5 table.
        assert_eq!(
            decode_entities("Caf&eacute; &Uuml;ber &frac12; &rarr; &lambda;"),
            "Café Über ½ → λ"
        );
    }

    #[test]
    fn known_tags_are_stripped_but_tag_like_text_stays() {
        assert_eq!(
            one_line(&strip_known_tags("<p>Hello <a href=\"x\">world</a></p>")),
            "Hello world"
        );
        assert_eq!(
            strip_known_tags("Get out of my <head>"),
            "Get out of my <head>"
        );
        assert_eq!(strip_known_tags("1 < 2 and 3 > 2"), "1 < 2 and 3 > 2");
        assert_eq!(
            one_line(&strip_known_tags("a<br/>b<!-- hidden -->c")),
            "a b c"
        );
    }

    #[test]
    fn all_tags_strips_unknown_tags_too() {
        assert_eq!(
            one_line(&strip_all_tags("<section class=x>Hi</section>")),
            "Hi"
        );
    }

    #[test]
    fn truncation_respects_word_boundaries() {
        assert_eq!(truncate_words("short", 80), "short");
        assert_eq!(truncate_words("alpha beta gamma delta", 13), "alpha beta…");
        assert_eq!(
            truncate_words("Pacemakers, insulin pumps", 14),
            "Pacemakers…"
        );
    }
}

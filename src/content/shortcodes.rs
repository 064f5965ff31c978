//! Hugo shortcodes, which Herald cannot run: `{{< name args >}}` and `{{% name args %}}`
//! tags (opening, closing and self-closing) are removed and whatever sits between a pair is
//! kept. Escaped shortcodes `{{</* x */>}}` become the literal text `{{< x >}}`, as Hugo
//! renders them. Fenced code blocks and inline code spans are code, not shortcodes: tags
//! there are left alone (only escaped ones are unescaped, since that is what Hugo shows).

/// Removes shortcode markup from a Markdown body.
pub(crate) fn strip(body: &str) -> String {
    if !body.contains("{{") {
        return body.to_string();
    }
    let mut out = String::with_capacity(body.len());
    let mut fence: Option<(char, usize)> = None;
    let mut prose = String::new();
    for line in body.split_inclusive('\n') {
        match fence {
            Some((ch, len)) => {
                out.push_str(&unescape(line));
                if is_closing_fence(line, ch, len) {
                    fence = None;
                }
            }
            None => match opening_fence(line) {
                Some(f) => {
                    out.push_str(&strip_prose(&std::mem::take(&mut prose)));
                    out.push_str(&unescape(line));
                    fence = Some(f);
                }
                None => prose.push_str(line),
            },
        }
    }
    out.push_str(&strip_prose(&prose));
    out
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

/// Strips shortcodes from prose (text outside fences), leaving inline code spans alone.
fn strip_prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < text.len() {
        let rest = &text[i..];
        if bytes[i] == b'`' {
            let run = rest.bytes().take_while(|&b| b == b'`').count();
            if let Some(len) = code_span_len(rest, run) {
                out.push_str(&unescape(&rest[..len]));
                i += len;
            } else {
                out.push_str(&rest[..run]);
                i += run;
            }
            continue;
        }
        if rest.starts_with("{{<") || rest.starts_with("{{%") {
            if let Some(len) = escaped_len(rest) {
                out.push_str(&unescape(&rest[..len]));
                i += len;
                continue;
            }
            let close = if rest.starts_with("{{<") {
                ">}}"
            } else {
                "%}}"
            };
            if let Some(end) = rest[3..].find(close) {
                i += 3 + end + close.len();
                continue;
            }
        }
        let ch = rest.chars().next().unwrap_or('\0');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
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
fn unescape(s: &str) -> String {
    if !s.contains("{{</*") && !s.contains("{{%/*") {
        return s.to_string();
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_tags_are_removed_and_inner_content_kept() {
        assert_eq!(
            strip("A {{< highlight go >}}x := 1{{< /highlight >}} B"),
            "A x := 1 B"
        );
        assert_eq!(
            strip("{{% note %}}\nRead **this**.\n{{% /note %}}\n"),
            "\nRead **this**.\n\n"
        );
        assert_eq!(strip("See {{< youtube id=\"abc\" >}} now"), "See  now");
        assert_eq!(strip("self {{< br />}} closing"), "self  closing");
    }

    #[test]
    fn multi_line_tags_are_removed() {
        assert_eq!(
            strip("{{< figure src=\"a.jpg\"\n  caption=\"A\" >}}\nText"),
            "\nText"
        );
    }

    #[test]
    fn escaped_shortcodes_become_literal_text() {
        assert_eq!(
            strip("Write {{</* youtube abc */>}} to embed."),
            "Write {{< youtube abc >}} to embed."
        );
        assert_eq!(strip("Or {{%/* note */%}}."), "Or {{% note %}}.");
    }

    #[test]
    fn code_fences_and_spans_are_untouched() {
        let md = "Intro {{< x >}}\n\n```go\n{{< not-a-shortcode >}}\n{{ .Title }}\n```\n\n~~~~\n{{% y %}}\n~~~~\nAfter {{< z >}}\n";
        assert_eq!(
            strip(md),
            "Intro \n\n```go\n{{< not-a-shortcode >}}\n{{ .Title }}\n```\n\n~~~~\n{{% y %}}\n~~~~\nAfter \n"
        );
        assert_eq!(
            strip("Use `{{< ref \"x\" >}}` here {{< y >}}"),
            "Use `{{< ref \"x\" >}}` here "
        );
        assert_eq!(strip("``a ` {{< k >}}``"), "``a ` {{< k >}}``");
    }

    #[test]
    fn escaped_shortcodes_inside_code_are_unescaped_like_hugo_does() {
        assert_eq!(
            strip("```\n{{</* ref \"x\" */>}}\n```\n"),
            "```\n{{< ref \"x\" >}}\n```\n"
        );
    }

    #[test]
    fn unterminated_tags_and_plain_braces_stay() {
        assert_eq!(strip("a {{< b and no end"), "a {{< b and no end");
        assert_eq!(strip("{{ .Title }} and {x}"), "{{ .Title }} and {x}");
        assert_eq!(strip("café {{< x >}} ✓"), "café  ✓");
    }
}

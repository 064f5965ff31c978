//! Summaries taken from the body, as Hugo 0.111 makes them: [`plain`] is its `.Plain`
//! (the rendered content with tags stripped) and [`auto_summary`] its automatic
//! `.Summary` (`summaryLength` words, then on to the end of that sentence).

use super::text;

/// Hugo's `helpers.StripHTML`: newlines become spaces, `</p>` and `<br>` become newlines,
/// tags and comments go (no space in their place: `<h4>T</h4><p>C` gives `TC`), the
/// content of `<script>`/`<style>` too, and each run of whitespace keeps its first
/// character. Entities stay as written.
pub(crate) fn plain(html: &str) -> String {
    if !html.contains(['<', '>']) {
        return html.to_string();
    }
    let pre = html
        .replace('\n', " ")
        .replace("</p>", "\u{0}")
        .replace("<br>", "\u{0}")
        .replace("<br />", "\u{0}");
    let stripped = strip_tags(&text::drop_script_and_style(&pre)).replace('\u{0}', "\n");
    let mut out = String::with_capacity(stripped.len());
    let mut was_space = false;
    for c in stripped.chars() {
        let space = c.is_whitespace();
        if !(space && was_space) {
            out.push(c);
        }
        was_space = space;
    }
    out
}

/// Removes tags and comments; a `<` that starts no tag is text.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Each `<` looks for the next `>` (or `-->`): found once, not once per `<`.
    let mut tag_ends = text::Forward::new(s, ">");
    let mut comment_ends = text::Forward::new(s, "-->");
    let mut pos = 0;
    while let Some(i) = s[pos..].find('<') {
        let at = pos + i;
        out.push_str(&s[pos..at]);
        let tail = &s[at..];
        let starts_tag = tail[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        let end = if tail.starts_with("<!--") {
            comment_ends.at_or_after(at).map(|e| e + 3)
        } else {
            tag_ends.at_or_after(at).map(|e| e + 1)
        };
        match end.filter(|_| starts_tag) {
            Some(end) => pos = end,
            None => {
                out.push('<');
                pos = at + 1;
            }
        }
    }
    out.push_str(&s[pos..]);
    out
}

/// Hugo 0.111's `TruncateWordsToWholeSentence` on `.Plain`, then entities decoded and
/// whitespace collapsed (a summary is one line of text). Counting whitespace characters
/// up to `words` of them, it then runs to the first `.`, `?`, `!`, `"` or newline; when
/// there is none, the whole text. `None` when that leaves nothing.
pub(crate) fn auto_summary(plain: &str, words: usize) -> Option<String> {
    let mut count = 0;
    let mut last_space = None;
    for (i, c) in plain.char_indices() {
        if c.is_whitespace() {
            count += 1;
            last_space = Some(i);
            if count >= words {
                break;
            }
        }
    }
    let cut = last_space.and_then(|from| {
        plain[from..]
            .char_indices()
            .find(|&(_, c)| matches!(c, '.' | '?' | '!' | '"' | '\n'))
            .map(|(j, c)| from + j + c.len_utf8())
    });
    let summary = match cut {
        Some(end) => &plain[..end],
        None => plain,
    };
    Some(text::one_line(&text::decode_entities(summary))).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: usize) -> String {
        (1..=n)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn plain_is_hugos_strip_html() {
        // Hugo 0.111 .Plain of a figure: "TtlCap em Me" (no space where tags were).
        assert_eq!(
            plain("<figure><img src=\"a\"><figcaption><h4>Ttl</h4><p>Cap <em>em</em>\n <a href=\"x\">Me</a></p></figcaption></figure>"),
            "TtlCap em Me\n"
        );
        // Paragraphs end in a newline; a heading runs into the next block with a space.
        assert_eq!(
            plain("<h2 id=\"h\">Head</h2>\n<p>One &amp; two.</p>\n<ul>\n<li>a</li>\n</ul>\n"),
            "Head One &amp; two.\na "
        );
        assert_eq!(plain("a<br />b<script>x()</script> 1 < 2"), "a\nb 1 < 2");
        assert_eq!(plain("no tags"), "no tags");
    }

    #[test]
    fn long_text_is_cut_at_the_end_of_the_sentence_after_the_limit() {
        // Hugo 0.111 (summaryLength 70) on "Heading one w1 … w65 end of first. Second
        // sentence … yes. Third.": .Summary ends at "…for sure yes." (70 spaces are
        // reached inside the second sentence).
        let plain = format!(
            "Heading one {} end of first. Second sentence goes here and runs on past the limit for sure yes. Third.\nitem a item b code line1 code line2 ",
            words(65)
        );
        let s = auto_summary(&plain, 70).unwrap();
        assert!(s.starts_with("Heading one w1 w2"), "{s}");
        assert!(
            s.ends_with(
                "end of first. Second sentence goes here and runs on past the limit for sure yes."
            ),
            "{s}"
        );
    }

    #[test]
    fn short_text_is_kept_whole() {
        // Hugo 0.111: .Summary of a 2-paragraph post under the limit is its whole .Plain,
        // "One two. Three four five\nPara two &amp; x Café. Line after br."
        assert_eq!(
            auto_summary(
                "One two. Three four five\nPara two &amp; x Café.\nLine after br.\n",
                70
            )
            .as_deref(),
            Some("One two. Three four five Para two & x Café. Line after br.")
        );
        assert_eq!(auto_summary("single", 70).as_deref(), Some("single"));
        assert_eq!(auto_summary(" \n", 70), None);
    }

    #[test]
    fn cjk_without_spaces_is_kept_whole() {
        // Hugo 0.111 (hasCJKLanguage off): no spaces to count, so .Summary is the whole text.
        let p = format!("{}\n二つ目。\n", "日本語の文章です。".repeat(60));
        assert_eq!(auto_summary(&p, 70).unwrap(), text::one_line(&p));
    }

    #[test]
    fn a_quote_or_newline_ends_a_sentence_too() {
        let p = format!("{} said \"stop\" and left. More.", words(70));
        assert!(auto_summary(&p, 70).unwrap().ends_with("said \""));
        let p = format!("{} tail words\nnext para.", words(70));
        assert!(auto_summary(&p, 70).unwrap().ends_with("tail words"));
    }
}

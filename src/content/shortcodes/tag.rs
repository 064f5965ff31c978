//! Reading one shortcode tag: its name, and its positional (`a "b c"`, or back-quoted) or
//! named (`k=v`, `k="v w"`) arguments; `\"` escapes a quote.

use super::Call;

/// A shortcode tag at the start of `s` (which starts with `{{<` or `{{%`). Each character
/// read takes one from `budget`; none left, no tag.
pub(super) fn parse_tag<'a>(s: &'a str, budget: &mut usize) -> Option<Call<'a>> {
    let percent = s.starts_with("{{%");
    let close = if percent { "%}}" } else { ">}}" };
    // The closing delimiter, outside quotes.
    let mut quote = None;
    let mut end = None;
    let mut escaped = false;
    for (j, c) in s.char_indices().skip(3) {
        *budget = budget.checked_sub(1)?;
        if std::mem::take(&mut escaped) {
            continue;
        }
        match quote {
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '`' => quote = Some(c),
            None if s[j..].starts_with(close) => {
                end = Some(j);
                break;
            }
            None => {}
        }
    }
    let end = end?;
    let mut inside = s[3..end].trim();
    let closing = inside.starts_with('/');
    inside = inside.trim_start_matches('/').trim_start();
    let self_closing = inside.ends_with('/');
    inside = inside.trim_end_matches('/').trim_end();
    let name_len = inside.find(char::is_whitespace).unwrap_or(inside.len());
    let name = inside[..name_len].to_string();
    if name.is_empty() {
        return None;
    }
    let (positional, named) = parse_args(&inside[name_len..]);
    Some(Call {
        raw: &s[..end + close.len()],
        name,
        closing,
        self_closing,
        percent,
        block: false,
        positional,
        named,
    })
}

/// `a "b c" \`d\`` positional, `k=v k="v w"` named (Hugo allows one kind per call).
fn parse_args(s: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut positional = Vec::new();
    let mut named = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let (key, after_key) = match rest
            .find(|c: char| c == '=' || c.is_whitespace() || c == '"' || c == '`')
        {
            Some(k) if rest[k..].starts_with('=') && k > 0 => (Some(&rest[..k]), &rest[k + 1..]),
            _ => (None, rest),
        };
        let (value, after) = match after_key.chars().next() {
            Some(q @ ('"' | '`')) => match closing_quote(&after_key[1..], q) {
                Some(e) => {
                    let v = &after_key[1..1 + e];
                    let v = if q == '"' {
                        v.replace("\\\"", "\"")
                    } else {
                        v.to_string()
                    };
                    (v, &after_key[e + 2..])
                }
                None => (after_key[1..].to_string(), ""),
            },
            _ => {
                let e = after_key
                    .find(char::is_whitespace)
                    .unwrap_or(after_key.len());
                (after_key[..e].to_string(), &after_key[e..])
            }
        };
        match key {
            Some(k) => named.push((k.to_string(), value)),
            None => positional.push(value),
        }
        rest = after.trim_start();
    }
    (positional, named)
}

/// Byte offset of the quote closing a value (`\"` does not close a `"` value).
fn closing_quote(s: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if std::mem::take(&mut escaped) {
            continue;
        }
        if c == '\\' && q == '"' {
            escaped = true;
        } else if c == q {
            return Some(i);
        }
    }
    None
}

//! A fast path for the YAML front matter most posts have: `key: value` lines, block lists
//! (`- item`) and one level of nested `key: value` lines, with plain, simply quoted or flow
//! list (`[a, b]`) scalars. Anything else — and anything this reader is not sure it reads
//! exactly as serde_yaml would (tabs, comments after values, continuation lines, escapes,
//! anchors, tags, duplicate keys, numbers serde_yaml would refuse) — gives `None`, and
//! serde_yaml reads the text. libyaml's scanner was most of a cold build at 100,000 posts.
//!
//! Scalars resolve exactly as serde_yaml resolves plain scalars (null, booleans, integers,
//! floats, else strings): the number rules below are serde_yaml's own (`yaml_serde::de`).

use super::{Map, Value};

/// The front matter as a map, when it is simple enough to be sure; `None` otherwise.
pub(super) fn parse(text: &str) -> Option<Value> {
    // Characters libyaml treats specially wherever they are: tabs, line separators
    // (NEL, U+2028, U+2029), a byte-order mark, CR.
    if text.contains(['\t', '\r', '\u{85}', '\u{2028}', '\u{2029}', '\u{feff}']) {
        return None;
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let mut map = Map::new();
    let mut seen = std::collections::HashSet::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_blank(line) || line.starts_with('#') {
            i += 1;
            continue;
        }
        let (key, rest) = split_key(line)?;
        // serde_yaml refuses a duplicate key: so must this reader, by leaving it to it.
        if !seen.insert(key) {
            return None;
        }
        i += 1;
        let value = if rest.is_empty() {
            block(&lines, &mut i)?
        } else {
            scalar(rest)?
        };
        map.entry(key.to_lowercase()).or_insert(value);
    }
    // No key at all: an empty document, for serde_yaml to judge.
    (!seen.is_empty()).then_some(Value::Map(map))
}

fn is_blank(line: &str) -> bool {
    line.bytes().all(|b| b == b' ')
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// `key: rest` with a key that can only be a string (a letter or `_`, then letters, digits,
/// `_`, `.`, `-`; not `null`, `true`, `false` in any spelling YAML reads as such); `rest`
/// trimmed, empty when the line ends after the colon.
fn split_key(line: &str) -> Option<(&str, &str)> {
    let first = line.bytes().next()?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let end = line
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))?;
    let key = &line[..end];
    // libyaml refuses an implicit key longer than 1024 characters.
    if key.len() > 1000 || is_null(key) || parse_bool(key).is_some() {
        return None;
    }
    let rest = line[end..].strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some((key, rest.trim_matches(' ')))
}

/// The value of a key with nothing after its colon: a block list, one level of nested
/// keys, or null. `i` is the line after the key's; it is left on the next key's line.
fn block(lines: &[&str], i: &mut usize) -> Option<Value> {
    let mut j = *i;
    while j < lines.len() && (is_blank(lines[j]) || lines[j].starts_with('#')) {
        j += 1;
    }
    let Some(&first) = lines.get(j) else {
        *i = j;
        return Some(Value::Null);
    };
    let n = indent(first);
    let content = &first[n..];
    let is_item = |c: &str| c == "-" || c.starts_with("- ");
    if n == 0 && !is_item(content) {
        *i = j;
        return Some(Value::Null);
    }
    let list = is_item(content);
    let mut items = Vec::new();
    let mut nested = Map::new();
    let mut seen = std::collections::HashSet::new();
    while j < lines.len() {
        let line = lines[j];
        if is_blank(line) {
            j += 1;
            continue;
        }
        let at = indent(line);
        if at == 0 && !(list && n == 0 && is_item(line)) {
            break;
        }
        if at != n {
            return None;
        }
        let content = &line[n..];
        if list {
            let item = content.strip_prefix("- ")?.trim_matches(' ');
            if item.is_empty() {
                return None;
            }
            items.push(scalar(item)?);
        } else {
            let (key, rest) = split_key(content)?;
            if rest.is_empty() || !seen.insert(key) {
                return None;
            }
            let value = scalar(rest)?;
            nested.entry(key.to_lowercase()).or_insert(value);
        }
        j += 1;
    }
    *i = j;
    Some(if list {
        Value::List(items)
    } else {
        Value::Map(nested)
    })
}

/// A one-line scalar (trimmed, not empty): quoted without escapes, a flow list of plain
/// scalars, or a plain scalar.
fn scalar(s: &str) -> Option<Value> {
    if let Some(inner) = s.strip_prefix('"') {
        let inner = inner.strip_suffix('"')?;
        return (!inner.contains(['"', '\\'])).then(|| Value::Str(inner.to_owned()));
    }
    if let Some(inner) = s.strip_prefix('\'') {
        let inner = inner.strip_suffix('\'')?;
        return (!inner.contains('\'')).then(|| Value::Str(inner.to_owned()));
    }
    if let Some(inner) = s.strip_prefix('[') {
        let inner = inner.strip_suffix(']')?;
        if inner.contains(['[', ']', '{', '}', '"', '\'', '#', ':']) {
            return None;
        }
        if is_blank(inner) {
            return Some(Value::List(Vec::new()));
        }
        return inner
            .split(',')
            .map(|item| plain(item.trim_matches(' ')))
            .collect::<Option<Vec<_>>>()
            .map(Value::List);
    }
    if s.contains(": ") || s.ends_with(':') || s.contains(" #") {
        return None;
    }
    plain(s)
}

/// A plain scalar that starts with no indicator, resolved as serde_yaml resolves it.
fn plain(s: &str) -> Option<Value> {
    let first = s.chars().next()?;
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return None;
    }
    if is_null(s) {
        return Some(Value::Null);
    }
    if let Some(b) = parse_bool(s) {
        return Some(Value::Bool(b));
    }
    if let Some(u) = parse_unsigned_int(s, u64::from_str_radix) {
        return Some(match i64::try_from(u) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(u as f64),
        });
    }
    if let Some(i) = parse_negative_int(s, i64::from_str_radix) {
        return Some(Value::Int(i));
    }
    // 128-bit integers: serde_yaml hands them on as such, which `Value` refuses.
    if parse_unsigned_int(s, u128::from_str_radix).is_some()
        || parse_negative_int(s, i128::from_str_radix).is_some()
    {
        return None;
    }
    if !digits_but_not_number(s) {
        if let Some(f) = parse_f64(s) {
            return Some(Value::Float(f));
        }
    }
    Some(Value::Str(s.to_owned()))
}

// serde_yaml's resolution of plain scalars (yaml_serde 0.10, `de.rs`), unchanged.

fn is_null(s: &str) -> bool {
    matches!(s, "null" | "Null" | "NULL" | "~")
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

type Radix<T> = fn(&str, u32) -> Result<T, std::num::ParseIntError>;

fn parse_unsigned_int<T>(scalar: &str, from_str_radix: Radix<T>) -> Option<T> {
    let unpositive = scalar.strip_prefix('+').unwrap_or(scalar);
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(int) = from_str_radix(rest, radix) {
                return Some(int);
            }
        }
    }
    if unpositive.starts_with(['+', '-']) {
        return None;
    }
    if digits_but_not_number(scalar) {
        return None;
    }
    from_str_radix(unpositive, 10).ok()
}

fn parse_negative_int<T>(scalar: &str, from_str_radix: Radix<T>) -> Option<T> {
    for (prefix, radix) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = scalar.strip_prefix(prefix) {
            if let Ok(int) = from_str_radix(&format!("-{rest}"), radix) {
                return Some(int);
            }
        }
    }
    if digits_but_not_number(scalar) {
        return None;
    }
    from_str_radix(scalar, 10).ok()
}

fn parse_f64(scalar: &str) -> Option<f64> {
    let unpositive = if let Some(unpositive) = scalar.strip_prefix('+') {
        if unpositive.starts_with(['+', '-']) {
            return None;
        }
        unpositive
    } else {
        scalar
    };
    if let ".inf" | ".Inf" | ".INF" = unpositive {
        return Some(f64::INFINITY);
    }
    if let "-.inf" | "-.Inf" | "-.INF" = scalar {
        return Some(f64::NEG_INFINITY);
    }
    if let ".nan" | ".NaN" | ".NAN" = scalar {
        return Some(f64::NAN.copysign(1.0));
    }
    if let Ok(float) = unpositive.parse::<f64>() {
        if float.is_finite() {
            return Some(float);
        }
    }
    None
}

fn digits_but_not_number(scalar: &str) -> bool {
    // Leading zeros followed by digits is a string in YAML 1.2.
    let scalar = scalar.strip_prefix(['-', '+']).unwrap_or(scalar);
    scalar.len() > 1 && scalar.starts_with('0') && scalar[1..].bytes().all(|b| b.is_ascii_digit())
}

//! Splitting a file into front matter and body, and decoding the front matter (YAML between
//! `---` lines, TOML between `+++` lines, or a leading JSON object) into one format-neutral,
//! case-insensitive key map. Every error carries a line counted from the start of the file.

use std::collections::BTreeMap;

/// A front-matter value, independent of the format it was written in. Dates stay strings
/// (TOML datetimes are rendered back to their RFC 3339 text) for [`super::dates`] to read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Map(Map),
}

/// Keys are lower-cased: Hugo treats `publishDate` and `publishdate` as the same key.
/// When two spellings collide, the first one in the file wins.
pub(crate) type Map = BTreeMap<String, Value>;

impl Value {
    /// Scalars as text (numbers and booleans stringified); `None` for null, lists and maps.
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::List(_) | Value::Map(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Yaml,
    Toml,
    Json,
}

/// A file cut in two.
#[derive(Debug)]
pub(crate) struct Split<'a> {
    pub format: Format,
    /// The front matter text, without delimiters.
    pub text: &'a str,
    /// 1-based file line of the opening delimiter (`---`, `+++`, `{`).
    pub open_line: usize,
    /// 1-based file line of the first line of `text`.
    pub first_line: usize,
    /// Everything after the closing delimiter.
    pub body: &'a str,
}

/// A problem, with its 1-based file line when there is one.
pub(crate) type Problem = (Option<usize>, String);

fn is_delim(line: &str, delim: &str) -> bool {
    line.strip_prefix(delim)
        .is_some_and(|rest| rest.trim().is_empty())
}

/// Whether `text` has no front matter at all, or only an empty one (`---` right after
/// `---`): in a Hugo site such a file is a page without a date, not a broken post.
pub(crate) fn is_absent_or_empty(text: &str) -> bool {
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    let Some(first) = lines.next() else {
        return true;
    };
    let delim = if is_delim(first, "---") {
        "---"
    } else if is_delim(first, "+++") {
        "+++"
    } else {
        return !first.trim_start().starts_with('{');
    };
    // Comment lines hold no keys (`# Do not remove front matter.`).
    lines
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .is_none_or(|l| is_delim(l, delim))
}

/// Finds the front matter. `text` has LF line endings.
pub(crate) fn split(text: &str) -> Result<Split<'_>, Problem> {
    let mut offset = 0;
    let mut line_no = 1;
    // Skip blank lines before the opening delimiter.
    loop {
        let rest = &text[offset..];
        let line_end = rest.find('\n');
        let line = &rest[..line_end.unwrap_or(rest.len())];
        if !line.trim().is_empty() {
            break;
        }
        match line_end {
            Some(e) => {
                offset += e + 1;
                line_no += 1;
            }
            None => {
                return Err((
                    None,
                    "the file is empty: a post starts with front matter between `---` lines".into(),
                ))
            }
        }
    }
    let rest = &text[offset..];
    let first = rest.lines().next().unwrap_or("");
    if first.trim_start().starts_with('{') {
        return split_json(text, offset, line_no);
    }
    let (delim, format) = if is_delim(first, "---") {
        ("---", Format::Yaml)
    } else if is_delim(first, "+++") {
        ("+++", Format::Toml)
    } else {
        return Err((
            Some(line_no),
            "no front matter: a post starts with `---` (YAML), `+++` (TOML) or `{` (JSON) front matter".into(),
        ));
    };
    let open_line = line_no;
    let fm_start = match rest.find('\n') {
        Some(e) => offset + e + 1,
        None => text.len(),
    };
    let mut pos = fm_start;
    while pos < text.len() {
        let rest = &text[pos..];
        let end = rest.find('\n');
        let line = &rest[..end.unwrap_or(rest.len())];
        if is_delim(line, delim) {
            let fm = &text[fm_start..pos];
            let body_start = end.map_or(text.len(), |e| pos + e + 1);
            if fm.trim().is_empty() {
                return Err((
                    Some(open_line),
                    "the front matter is empty: add at least `title:` and `date:`".into(),
                ));
            }
            return Ok(Split {
                format,
                text: fm,
                open_line,
                first_line: open_line + 1,
                body: &text[body_start..],
            });
        }
        pos = end.map_or(text.len(), |e| pos + e + 1);
    }
    Err((
        Some(open_line),
        format!("the front matter opened here is never closed: add a `{delim}` line after it"),
    ))
}

fn split_json(text: &str, offset: usize, line_no: usize) -> Result<Split<'_>, Problem> {
    let rest = &text[offset..];
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
    match stream.next() {
        Some(Ok(_)) => {
            let end = stream.byte_offset();
            let body = &rest[end..];
            // The body starts on the line after the closing brace.
            let body = match body.find('\n') {
                Some(nl) if body[..nl].trim().is_empty() => &body[nl + 1..],
                _ => body,
            };
            Ok(Split {
                format: Format::Json,
                text: &rest[..end],
                open_line: line_no,
                first_line: line_no,
                body,
            })
        }
        Some(Err(e)) => Err((
            Some(line_no + e.line().saturating_sub(1)),
            format!("JSON front matter: {}", strip_location(&e.to_string())),
        )),
        None => Err((Some(line_no), "the JSON front matter is empty".into())),
    }
}

/// Removes the ` at line N column M` parts parsers append: our line numbers replace them.
fn strip_location(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        let skip = after
            .find(|c: char| !(c.is_ascii_digit() || c == ' ' || "column".contains(c)))
            .unwrap_or(after.len());
        rest = &after[skip..];
    }
    out.push_str(rest);
    out.trim().to_string()
}

/// Decodes the front matter into a key map.
pub(crate) fn decode(split: &Split<'_>) -> Result<Map, Problem> {
    let value = match split.format {
        Format::Yaml => decode_yaml(split)?,
        Format::Toml => decode_toml(split)?,
        Format::Json => {
            let v: serde_json::Value = serde_json::from_str(split.text).map_err(|e| {
                (
                    Some(split.first_line + e.line().saturating_sub(1)),
                    format!("JSON front matter: {}", strip_location(&e.to_string())),
                )
            })?;
            from_json(v)
        }
    };
    match value {
        Value::Map(m) => Ok(m),
        Value::Null => Err((
            Some(split.open_line),
            "the front matter is empty: add at least `title:` and `date:`".into(),
        )),
        other => Err((
            Some(split.first_line),
            format!(
                "the front matter must be a mapping of `key: value` lines, found {}",
                kind(&other)
            ),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::Float(_) => "a number",
        Value::Str(_) => "a single string",
        Value::List(_) => "a list",
        Value::Map(_) => "a mapping",
    }
}

/// Deepest flow nesting (`[`/`{`) accepted in YAML front matter. The YAML parser has a
/// recursion limit of its own, but its scanner reads every bracket first, and twenty
/// thousand of them cost seconds; real front matter nests two or three levels.
const MAX_FLOW_DEPTH: usize = 64;

/// The line where flow nesting first goes deeper than [`MAX_FLOW_DEPTH`], if it does.
/// Brackets inside quotes or after a `#` comment are ignored (roughly: escapes are not
/// followed, which can only make the count lower).
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some(i);
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    None
}

fn decode_yaml(split: &Split<'_>) -> Result<Value, Problem> {
    if let Some(i) = too_deep(split.text) {
        return Err((
            Some(split.first_line + i),
            format!("YAML front matter: nested more than {MAX_FLOW_DEPTH} levels deep"),
        ));
    }
    // Straight into our `Value`: building serde_yaml's tree first and converting it cost a
    // third of the YAML time. Any error (rare: a broken file) is reported by the tree path,
    // so that messages and lines stay exactly serde_yaml's.
    if let Ok(Direct(v)) = serde_yaml::from_str::<Direct>(split.text) {
        return Ok(v);
    }
    decode_yaml_tree(split)
}

/// The reference path: serde_yaml's own `Value`, converted. [`Direct`] must give the same
/// value whenever it succeeds (a unit test compares them).
fn decode_yaml_tree(split: &Split<'_>) -> Result<Value, Problem> {
    let v: serde_yaml::Value = serde_yaml::from_str(split.text).map_err(|e| {
        let line = e
            .location()
            .map(|l| split.first_line + l.line().saturating_sub(1));
        (
            line.or(Some(split.first_line)),
            format!("YAML front matter: {}", strip_location(&e.to_string())),
        )
    })?;
    Ok(from_yaml(v))
}

/// A [`Value`] deserialized from YAML without serde_yaml's tree: the same visits its
/// `Value` accepts (and no others), mapped as [`from_yaml`] maps them. Keys stay
/// serde_yaml values, to refuse duplicates exactly as its `Mapping` does.
struct Direct(Value);

impl<'de> serde::Deserialize<'de> for Direct {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DirectVisitor).map(Direct)
    }
}

struct DirectVisitor;

impl<'de> serde::de::Visitor<'de> for DirectVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: serde::de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Value, E> {
        Ok(match i64::try_from(u) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(u as f64),
        })
    }
    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_owned()))
    }
    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(DirectVisitor)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Direct(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Map::new();
        while let Some(key) = map.next_key::<serde_yaml::Value>()? {
            if seen.contains(&key) {
                return Err(serde::de::Error::custom("duplicate entry"));
            }
            let Direct(v) = map.next_value()?;
            if let Some(k) = yaml_key_text(&key) {
                out.entry(k.to_lowercase()).or_insert(v);
            }
            seen.insert(key);
        }
        Ok(Value::Map(out))
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        use serde::de::VariantAccess;
        let (tag, contents) = data.variant::<String>()?;
        if tag.is_empty() {
            return Err(serde::de::Error::custom("empty YAML tag"));
        }
        // A tag is dropped, as `from_yaml` drops it.
        contents.newtype_variant::<Direct>().map(|Direct(v)| v)
    }
}

/// `from_yaml(key).scalar_text()`, without consuming the key.
fn yaml_key_text(key: &serde_yaml::Value) -> Option<String> {
    use serde_yaml::Value as Y;
    match key {
        Y::Null | Y::Sequence(_) | Y::Mapping(_) => None,
        Y::Bool(b) => Some(b.to_string()),
        Y::Number(n) => Some(match n.as_i64() {
            Some(i) => i.to_string(),
            None => n.as_f64().unwrap_or(f64::NAN).to_string(),
        }),
        Y::String(s) => Some(s.clone()),
        Y::Tagged(t) => yaml_key_text(&t.value),
    }
}

fn from_yaml(v: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Y::String(s) => Value::Str(s),
        Y::Sequence(items) => Value::List(items.into_iter().map(from_yaml).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match from_yaml(k).scalar_text() {
                    Some(k) => k.to_lowercase(),
                    None => continue,
                };
                out.entry(key).or_insert_with(|| from_yaml(v));
            }
            Value::Map(out)
        }
        Y::Tagged(t) => from_yaml(t.value),
    }
}

fn decode_toml(split: &Split<'_>) -> Result<Value, Problem> {
    let table: toml::Table = toml::from_str(split.text).map_err(|e| {
        let line = e.span().map(|span| {
            split.first_line
                + split.text[..span.start.min(split.text.len())]
                    .matches('\n')
                    .count()
        });
        (
            line.or(Some(split.first_line)),
            format!("TOML front matter: {}", e.message().trim()),
        )
    })?;
    Ok(from_toml(toml::Value::Table(table)))
}

fn from_toml(v: toml::Value) -> Value {
    use toml::Value as T;
    match v {
        T::String(s) => Value::Str(s),
        T::Integer(i) => Value::Int(i),
        T::Float(f) => Value::Float(f),
        T::Boolean(b) => Value::Bool(b),
        T::Datetime(d) => Value::Str(d.to_string()),
        T::Array(items) => Value::List(items.into_iter().map(from_toml).collect()),
        T::Table(t) => {
            let mut out = Map::new();
            for (k, v) in t {
                out.entry(k.to_lowercase()).or_insert_with(|| from_toml(v));
            }
            Value::Map(out)
        }
    }
}

fn from_json(v: serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::Str(s),
        J::Array(items) => Value::List(items.into_iter().map(from_json).collect()),
        J::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                out.entry(k.to_lowercase()).or_insert_with(|| from_json(v));
            }
            Value::Map(out)
        }
    }
}

/// The file line where `key` (lower case) is set in the front matter, if it can be found.
pub(crate) fn key_line(split: &Split<'_>, key: &str) -> Option<usize> {
    split.text.lines().enumerate().find_map(|(i, line)| {
        let l = line.trim_start().trim_start_matches('"').to_lowercase();
        let rest = l.strip_prefix(key)?;
        let rest = rest.trim_start_matches('"').trim_start();
        (rest.starts_with(':') || rest.starts_with('=')).then_some(split.first_line + i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(Map, String), Problem> {
        let s = split(text)?;
        let body = s.body.to_string();
        decode(&s).map(|m| (m, body))
    }

    #[test]
    fn yaml_with_blank_lines_before_and_dashes_in_body() {
        let (m, body) = parse("\n\n---\nTitle: Hi\n---\nbody\n---\nmore\n").unwrap();
        assert_eq!(m.get("title"), Some(&Value::Str("Hi".into())));
        assert_eq!(body, "body\n---\nmore\n");
    }

    #[test]
    fn closing_delimiter_may_have_trailing_whitespace() {
        let (m, body) = parse("---  \ntitle: x\n---   \nB").unwrap();
        assert!(m.contains_key("title"));
        assert_eq!(body, "B");
    }

    #[test]
    fn toml_front_matter_with_datetimes() {
        let (m, body) = parse("+++\ntitle = \"T\"\ndate = 2019-03-12T13:35:48Z\nlastmod = 2019-03-13\ntags = [\"a\", 1]\n+++\nbody").unwrap();
        assert_eq!(m["date"], Value::Str("2019-03-12T13:35:48Z".into()));
        assert_eq!(m["lastmod"], Value::Str("2019-03-13".into()));
        assert_eq!(
            m["tags"],
            Value::List(vec![Value::Str("a".into()), Value::Int(1)])
        );
        assert_eq!(body, "body");
    }

    #[test]
    fn json_front_matter() {
        let (m, body) =
            parse("{\n  \"Title\": \"J\",\n  \"tags\": [\"x\"]\n}\nThe body {with braces}\n")
                .unwrap();
        assert_eq!(m["title"], Value::Str("J".into()));
        assert_eq!(body, "The body {with braces}\n");
    }

    #[test]
    fn keys_are_case_insensitive_first_spelling_wins() {
        let (m, _) = parse("---\npublishDate: 2020-01-01\nPUBLISHDATE: 2021-01-01\n---\n").unwrap();
        assert_eq!(m["publishdate"], Value::Str("2020-01-01".into()));
    }

    #[test]
    fn missing_unclosed_and_empty_front_matter() {
        assert_eq!(split("\n# Just markdown\n").unwrap_err().0, Some(2));
        let (line, msg) = split("\n---\ntitle: x\nbody\n").unwrap_err();
        assert_eq!(line, Some(2));
        assert!(msg.contains("never closed"), "{msg}");
        let (line, msg) = split("---\n\n---\nbody").unwrap_err();
        assert_eq!(line, Some(1));
        assert!(msg.contains("empty"), "{msg}");
        assert!(split("").unwrap_err().1.contains("empty"));
        let (_, msg) = parse("---\n# only a comment\n---\n").unwrap_err();
        assert!(msg.contains("empty"), "{msg}");
    }

    #[test]
    fn yaml_error_line_counts_from_file_start() {
        let (line, msg) =
            parse("\n---\ntitle: ok\ndate: 2019-01-01\ntags: [a, b\nfoo: bar\n---\n").unwrap_err();
        // The flow list opened on file line 5 is broken by line 6.
        assert!(matches!(line, Some(5..=7)), "{line:?}");
        assert!(msg.starts_with("YAML front matter: "), "{msg}");
        assert!(!msg.contains("at line"), "{msg}");
        let (line, _) = parse("---\ntitle: a\nbad: : :\n  - x\n---\n").unwrap_err();
        assert_eq!(line, Some(3));
    }

    #[test]
    fn toml_and_json_error_lines() {
        let (line, msg) = parse("\n+++\ntitle = \"x\"\ndate = \n+++\n").unwrap_err();
        assert_eq!(line, Some(4));
        assert!(msg.starts_with("TOML front matter: "), "{msg}");
        let (line, msg) = parse("{\n\"title\": \"x\",\n\"tags\": [\n}\n").unwrap_err();
        assert_eq!(line, Some(4));
        assert!(!msg.contains("line"), "{msg}");
    }

    #[test]
    fn non_mapping_front_matter_is_an_error() {
        let (line, msg) = parse("---\n- a\n- b\n---\n").unwrap_err();
        assert_eq!(line, Some(2));
        assert!(msg.contains("found a list"), "{msg}");
    }

    #[test]
    fn deep_flow_nesting_is_refused_quickly_with_its_line() {
        let text = format!(
            "---\ntitle: x\nx: {}{}\n---\n",
            "[".repeat(50_000),
            "]".repeat(50_000)
        );
        let started = std::time::Instant::now();
        let (line, msg) = parse(&text).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(line, Some(3));
        assert!(msg.contains("nested"), "{msg}");
        // Brackets in quotes and comments do not count.
        let quoted = format!(
            "---\ntitle: '{}'\n# {}\n---\n",
            "[".repeat(100),
            "{".repeat(100)
        );
        assert!(parse(&quoted).is_ok());
    }

    /// The direct YAML path gives exactly what the tree path gives, or fails where it fails
    /// (and then the tree path's error is the one reported).
    #[test]
    fn direct_yaml_agrees_with_the_tree_path() {
        let cases = [
            "title: Hi\ndate: 2019-03-12T13:35:48Z\ntags: [a, b]\n",
            "Title: x\nTITLE: y\npublishDate: 2020-01-01\n",
            "n: 12\nneg: -3\nbig: 18446744073709551615\nhuge: 99999999999999999999999\nf: 1.5\ne: 1e3\nnan: .nan\ninf: -.inf\nhex: 0x1F\noct: 0o17\n",
            "b: true\nc: yes\nd: ~\ne: null\nf:\ng: ''\n",
            "1: one\ntrue: t\n1.5: f\n~: nothing\n[a, b]: list\n{x: 1}: map\n? complex\n: v\n",
            "t: !custom value\nl: !!str 12\nm: !tag {a: 1}\ns: !seq [1, 2]\n!k key: tagged key\n",
            "a: &anchor {x: 1, y: [1, 2]}\nb: *anchor\nc: &s text\nd: *s\n",
            "<<: {a: 1}\nb: 2\n",
            "nested:\n  Deep:\n    deeper: [1, {k: v}]\n  list:\n    - a\n    - b: c\n",
            "text: |\n  line one\n  line two\nfolded: >\n  a\n  b\n",
            "dup: 1\ndup: 2\n",
            "nested: {a: 1, a: 2}\n",
            "'1': a\n1: b\n",
            "k: \"a\"\n\"k\": b\n",
            "empty_tag: ! x\n",
            "- a\n- b\n",
            "just a string\n",
            "# only a comment\n",
            "a: 1\n---\nb: 2\n",
            "a: [1, 2\nb: c\n",
            "bad: : :\n  - x\n",
            "a: *unknown\n",
            "a:\tb\n\tc: d\n",
        ];
        for text in cases {
            let split = Split {
                format: Format::Yaml,
                text,
                open_line: 1,
                first_line: 2,
                body: "",
            };
            let direct = serde_yaml::from_str::<Direct>(text).map(|Direct(v)| v);
            let tree = decode_yaml_tree(&split);
            match (&direct, &tree) {
                (Ok(d), Ok(t)) => assert_eq!(format!("{d:?}"), format!("{t:?}"), "{text}"),
                (Err(_), Err(_)) => {}
                // Failing where the tree succeeds would still be right (the tree is then
                // used), only slow; accepting what the tree refuses would be wrong.
                (Err(_), Ok(_)) => panic!("{text}: direct failed where the tree did not"),
                (Ok(d), Err(e)) => panic!("{text}: direct accepted {d:?}, tree refused: {e:?}"),
            }
            // Debug, not ==: `.nan` is not equal to itself.
            assert_eq!(
                format!("{:?}", decode_yaml(&split)),
                format!("{tree:?}"),
                "{text}"
            );
        }
    }

    #[test]
    fn key_line_finds_keys_in_every_format() {
        let s = split("\n---\ntitle: x\nPublishDate: 2019\n---\n").unwrap();
        assert_eq!(key_line(&s, "publishdate"), Some(4));
        let s = split("+++\ndate = 1\n+++\n").unwrap();
        assert_eq!(key_line(&s, "date"), Some(2));
        assert_eq!(key_line(&s, "title"), None);
    }
}

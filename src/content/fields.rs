//! Reading typed fields out of the decoded front matter: text, taxonomy term lists,
//! authors, the draft flag and image references. Lenient where real content is messy
//! (terms may be lists, single strings or numbers), strict where a guess would publish
//! something the author did not mean (`draft: maybe` is an error).

use super::frontmatter::{Map, Value};
use super::text;

/// The first of `keys` that is present and not null, with the key that matched.
pub(crate) fn first<'m>(fm: &'m Map, keys: &[&'static str]) -> Option<(&'static str, &'m Value)> {
    keys.iter().find_map(|&k| match fm.get(k) {
        None | Some(Value::Null) => None,
        Some(Value::Str(s)) if s.trim().is_empty() => None,
        Some(v) => Some((k, v)),
    })
}

/// The value of one key when it is present and not null or blank, with the key's
/// spelling as the caller gave it (for messages).
pub(crate) fn first_of<'m, 'k>(fm: &'m Map, key: &'k str) -> Option<(&'k str, &'m Value)> {
    match fm.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Str(s)) if s.trim().is_empty() => None,
        Some(v) => Some((key, v)),
    }
}

/// A scalar as one line of plain text (controls removed, whitespace collapsed); empty → None.
pub(crate) fn line(v: &Value) -> Option<String> {
    v.scalar_text()
        .map(|s| text::one_line(&s))
        .filter(|s| !s.is_empty())
}

/// A scalar as one line of prose: like [`line`], with HTML entities decoded once
/// (WordPress exports write `Tom &#038; Jerry`; kept as is, feeds would show `&#038;`).
pub(crate) fn prose(v: &Value) -> Option<String> {
    line(v)
        .map(|s| text::one_line(&text::decode_entities(&s)))
        .filter(|s| !s.is_empty())
}

/// Term list of one taxonomy: lists, single strings (never split on commas), numbers and
/// booleans (stringified); nulls and nested lists/maps skipped; trimmed, whitespace
/// collapsed, empties dropped, deduplicated case-insensitively keeping the first spelling.
pub(crate) fn terms(v: &Value) -> Vec<String> {
    let items: Vec<&Value> = match v {
        Value::List(items) => items.iter().collect(),
        other => vec![other],
    };
    dedupe(items.into_iter().filter_map(prose))
}

fn dedupe(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|s| seen.insert(s.to_lowercase())).collect()
}

/// `author` (string, list, or map with `name`) then `authors` (list or string).
pub(crate) fn authors(fm: &Map) -> Vec<String> {
    fn names(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::List(items) => items.iter().for_each(|i| names(i, out)),
            Value::Map(m) => {
                if let Some(n) = ["name", "displayname", "title"]
                    .iter()
                    .find_map(|k| m.get(*k))
                    .and_then(prose)
                {
                    out.push(n);
                }
            }
            other => out.extend(prose(other)),
        }
    }
    // Themes' archetypes leave placeholders such as `author: "-"`: nobody to credit.
    let placeholder = |n: &String| n.chars().all(|c| !c.is_alphanumeric());
    let mut all = Vec::new();
    for key in ["author", "authors"] {
        if let Some(v) = fm.get(key) {
            names(v, &mut all);
        }
    }
    all.retain(|n| !placeholder(n));
    dedupe(all.into_iter())
}

/// A yes/no front-matter value: booleans, and the strings `true`/`false`, `yes`/`no`,
/// `on`/`off` in any case (YAML 1.1 and some generators write those). Anything else is an
/// error: guessing could publish what the author meant to keep private.
fn flag(key: &str, v: &Value) -> Result<Option<bool>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Ok(Some(true)),
            "false" | "no" | "off" => Ok(Some(false)),
            "" => Ok(None),
            _ => Err(format!("`{key}: {}` must be true or false", s.trim())),
        },
        other => {
            let shown = other
                .scalar_text()
                .unwrap_or_else(|| "a list or mapping".into());
            Err(format!("`{key}: {shown}` must be true or false"))
        }
    }
}

/// Whether the post opted out of the feeds while not being a draft: `feed: false` (Herald's
/// own key) or `private: true` (used by several Hugo themes). Such a post is treated as a
/// draft: in no feed, OPML, index page or date. `Err((key, message))` for a non-boolean.
pub(crate) fn opted_out(fm: &Map) -> Result<bool, (&'static str, String)> {
    let feed = match fm.get("feed") {
        Some(v) => flag("feed", v).map_err(|m| ("feed", m))?,
        None => None,
    };
    let private = match fm.get("private") {
        Some(v) => flag("private", v).map_err(|m| ("private", m))?,
        None => None,
    };
    Ok(feed == Some(false) || private == Some(true))
}

/// `draft` as a bool, or Hugo's `build`/`_build` `list: never` (also `list: false`).
pub(crate) fn draft(fm: &Map) -> Result<bool, String> {
    let mut draft = match fm.get("draft") {
        None => false,
        Some(v) => flag("draft", v)?.unwrap_or(false),
    };
    for key in ["build", "_build"] {
        if let Some(Value::Map(build)) = fm.get(key) {
            let unlisted = match build.get("list") {
                Some(Value::Str(s)) => s.eq_ignore_ascii_case("never"),
                Some(Value::Bool(b)) => !b,
                _ => false,
            };
            draft |= unlisted;
        }
    }
    Ok(draft)
}

/// Hugo's `build`/`_build` `render: never` (also `render: false`): the page is listed but
/// has no page of its own.
pub(crate) fn unrendered(fm: &Map) -> bool {
    ["build", "_build"].iter().any(|key| match fm.get(*key) {
        Some(Value::Map(build)) => match build.get("render") {
            Some(Value::Str(s)) => s.eq_ignore_ascii_case("never"),
            Some(Value::Bool(b)) => !b,
            _ => false,
        },
        _ => false,
    })
}

/// The featured image reference as written: `featuredImage`, `featured_image`, `image`,
/// else the first of `images`. Map values may carry `src` or `url`.
pub(crate) fn image(fm: &Map) -> Option<String> {
    fn reference(v: &Value) -> Option<String> {
        match v {
            Value::List(items) => items.iter().find_map(reference),
            Value::Map(m) => ["src", "url"]
                .iter()
                .find_map(|k| m.get(*k))
                .and_then(reference),
            other => line(other),
        }
    }
    ["featuredimage", "featured_image", "image", "images"]
        .iter()
        .find_map(|k| fm.get(*k).and_then(reference))
}

/// Hugo's `aliases:` as written: a list of old URLs (or one string), blanks dropped, at
/// most [`MAX_ALIASES`] (each is looked up when the post's id is decided).
pub(crate) fn aliases(fm: &Map) -> Vec<String> {
    let values: Vec<&Value> = match fm.get("aliases") {
        Some(Value::List(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    values
        .into_iter()
        .filter_map(line)
        .take(MAX_ALIASES)
        .collect()
}

/// More aliases than any moved post needs; the rest are ignored.
pub(crate) const MAX_ALIASES: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::frontmatter::{decode, split};

    fn fm(yaml: &str) -> Map {
        decode(&split(&format!("---\n{yaml}\n---\n")).unwrap()).unwrap()
    }

    #[test]
    fn taxonomy_forms() {
        let m = fm("block:\n- Rust\n- rust\n-  medical   devices \n- ''\n- ~\nflush:\n  - a\nflow: [x, 'y, z', 3, 1.5, true, [n], {k: v}]\nempty: []\nsingle: rust, go\nnum: 42");
        assert_eq!(terms(&m["block"]), ["Rust", "medical devices"]);
        assert_eq!(terms(&m["flush"]), ["a"]);
        assert_eq!(terms(&m["flow"]), ["x", "y, z", "3", "1.5", "true"]);
        assert!(terms(&m["empty"]).is_empty());
        assert_eq!(terms(&m["single"]), ["rust, go"]);
        assert_eq!(terms(&m["num"]), ["42"]);
    }

    #[test]
    fn author_forms() {
        let m = fm("author: Ann\nauthors: [Bob, ann, {name: Cy}]");
        assert_eq!(authors(&m), ["Ann", "Bob", "Cy"]);
        assert_eq!(authors(&fm("author:\n  name: Dee\n  email: d@x")), ["Dee"]);
        assert!(authors(&fm("title: x")).is_empty());
        assert!(authors(&fm("author: '-'")).is_empty());
        assert_eq!(authors(&fm("authors: ['', '—', Eve]")), ["Eve"]);
    }

    #[test]
    fn draft_forms() {
        for (yaml, want) in [
            ("draft: true", Some(true)),
            ("draft: false", Some(false)),
            ("draft: 'Yes'", Some(true)),
            ("draft: \"no\"", Some(false)),
            ("draft: 'TRUE'", Some(true)),
            ("draft: 'on'", Some(true)),
            ("draft: 'Off'", Some(false)),
            ("title: x", Some(false)),
            ("build:\n  list: never", Some(true)),
            ("_build: {list: never, render: always}", Some(true)),
            ("build: {list: always}", Some(false)),
            ("draft: maybe", None),
            ("draft: 1", None),
        ] {
            assert_eq!(draft(&fm(yaml)).ok(), want, "{yaml}");
        }
    }

    #[test]
    fn opt_out_forms() {
        for (yaml, want) in [
            ("feed: false", Some(true)),
            ("feed: 'no'", Some(true)),
            ("feed: true", Some(false)),
            ("private: true", Some(true)),
            ("private: false", Some(false)),
            ("noindex: true", Some(false)),
            ("title: x", Some(false)),
            ("feed: perhaps", None),
            ("private: [x]", None),
        ] {
            assert_eq!(opted_out(&fm(yaml)).ok(), want, "{yaml}");
        }
    }

    #[test]
    fn aliases_as_a_list_or_one_string() {
        assert_eq!(
            aliases(&fm("aliases: [/old/, '', /older.html]")),
            ["/old/", "/older.html"]
        );
        assert_eq!(aliases(&fm("aliases: /one/")), ["/one/"]);
        assert!(aliases(&fm("title: x")).is_empty());
    }

    #[test]
    fn image_keys_in_order() {
        assert_eq!(
            image(&fm("image: b.jpg\nfeaturedImage: a.jpg")).as_deref(),
            Some("a.jpg")
        );
        assert_eq!(
            image(&fm("featured_image: c.jpg\nimage: b.jpg")).as_deref(),
            Some("c.jpg")
        );
        assert_eq!(
            image(&fm("images: [d.jpg, e.jpg]")).as_deref(),
            Some("d.jpg")
        );
        assert_eq!(image(&fm("image: {src: f.jpg}")).as_deref(), Some("f.jpg"));
        assert_eq!(image(&fm("image: ''")), None);
    }
}

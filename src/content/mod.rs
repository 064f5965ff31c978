//! Turns one content file into a [`Post`]: split front matter, map fields, parse dates,
//! strip shortcodes, render and sanitize Markdown. Pure: never touches the filesystem.
//!
//! This file owns the entry points and the mapping from front-matter keys to [`Post`]
//! fields. The steps live beside it: [`frontmatter`] (split and decode), [`dates`],
//! [`fields`] (terms, authors, draft, image), [`permalink`] (and absolute URLs),
//! [`shortcodes`], [`markdown`] (render, sanitize, plain text) and [`text`] (cleaning).

mod dates;
mod fields;
mod frontmatter;
mod markdown;
mod mojibake;
mod permalink;
mod shortcodes;
#[cfg(test)]
mod tests;
mod text;

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};

use crate::post::{Body, Post};
use frontmatter::{Map, Value};

/// What `parse` needs to know about the site.
#[derive(Debug, Clone)]
pub struct ContentSettings {
    /// Absolute, ends with `/`.
    pub base_url: url::Url,
    /// Zone for dates written without an offset.
    pub timezone: chrono_tz::Tz,
    /// Hugo-style permalink pattern (`/:section/:slug/`).
    pub permalink: String,
    /// Taxonomies (lower case) to collect from front matter, besides `categories` and `tags`.
    pub taxonomies: Vec<String>,
    /// Repair UTF-8-read-as-Windows-1252 mojibake (`â€”` → `—`). Found either way, and
    /// reported as a warning.
    pub repair_mojibake: bool,
}

impl ContentSettings {
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        ContentSettings {
            base_url: s.base_url.clone(),
            timezone: s.timezone,
            permalink: s.permalink.clone(),
            taxonomies: s.taxonomies.clone(),
            repair_mojibake: s.repair_mojibake,
        }
    }
}

/// Why a file is not a post. Displays as `path:line: message` (ripgrep style).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ParseError {
    /// Source path relative to the content dir.
    pub path: String,
    /// 1-based line in the file, where there is one.
    pub line: Option<usize>,
    pub message: String,
}

/// Longest title kept, in characters; longer ones are cut at a word boundary with `…`.
pub const MAX_TITLE_CHARS: usize = 300;
/// Terms kept per taxonomy per post: each term makes a feed, so a runaway list (a script
/// that pasted a whole tag cloud) would make hundreds. The rest are dropped with a warning.
pub const MAX_TERMS_PER_TAXONOMY: usize = 50;

/// A file parsed: the post or why it is not one, plus warnings (problems that do not keep
/// the post out: mojibake, dropped terms). Warnings use the same `path:line: message` shape.
#[derive(Debug)]
pub struct Parsed {
    pub result: Result<Post, ParseError>,
    pub warnings: Vec<ParseError>,
}

/// Parses the file at `source` (relative to the content dir, `/`-separated) from its raw bytes.
pub fn parse(source: &str, bytes: &[u8], settings: &ContentSettings) -> Result<Post, ParseError> {
    parse_with_warnings(source, bytes, settings).result
}

/// Like [`parse`], keeping the warnings.
pub fn parse_with_warnings(source: &str, bytes: &[u8], settings: &ContentSettings) -> Parsed {
    let mut warnings = Vec::new();
    let result = parse_inner(source, bytes, settings, &mut warnings);
    Parsed { result, warnings }
}

fn parse_inner(
    source: &str,
    bytes: &[u8],
    settings: &ContentSettings,
    warnings: &mut Vec<ParseError>,
) -> Result<Post, ParseError> {
    let err = |line: Option<usize>, message: String| ParseError {
        path: source.to_string(),
        line,
        message,
    };
    let text = decode_utf8(bytes).map_err(|line| {
        err(
            Some(line),
            format!(
                "not valid UTF-8 (first bad byte at line {line}): the file is probably \
                 Windows-1252/Latin-1 or UTF-16; save it as UTF-8"
            ),
        )
    })?;
    let text = mojibake(text, settings.repair_mojibake, |line, message| {
        warnings.push(err(Some(line), message))
    });
    let text = text::strip_controls(&text);
    let split = frontmatter::split(&text).map_err(|(l, m)| err(l, m))?;
    let fm = frontmatter::decode(&split).map_err(|(l, m)| err(l, m))?;
    let at = |key: &str, message: String| err(frontmatter::key_line(&split, key), message);

    // Dates.
    let date = |keys: &[&'static str]| -> Result<Option<DateTime<FixedOffset>>, ParseError> {
        match fields::first(&fm, keys) {
            None => Ok(None),
            Some((key, v)) => read_date(v, settings.timezone)
                .map(Some)
                .map_err(|m| at(key, format!("`{key}`: {m}"))),
        }
    };
    let date_field = date(&["date"])?;
    let publish_date = date(&["publishdate", "pubdate", "published"])?;
    let lastmod = date(&["lastmod", "modified"])?;
    let expires = date(&["expirydate", "unpublishdate"])?;
    let published = match (date_field, publish_date) {
        (Some(d), Some(p)) => d.max(p),
        (d, p) => d.or(p).or(lastmod).ok_or_else(|| {
            err(
                Some(split.open_line),
                "no date: add a `date:` to the front matter".into(),
            )
        })?,
    };
    let updated = lastmod.filter(|&l| l > published);

    let draft = fields::draft(&fm).map_err(|m| at("draft", m))?;
    let opted_out = fields::opted_out(&fm).map_err(|(key, m)| at(key, m))?;
    let draft = draft || opted_out;

    // Body: shortcodes out, control characters out.
    let markdown = text::strip_controls(&shortcodes::strip(split.body));

    // Summary: description/summary, else the text before the divider.
    let summary = fields::first(&fm, &["description", "summary"])
        .and_then(|(_, v)| v.scalar_text())
        .map(|s| {
            let s = text::strip_known_tags(&text::drop_script_and_style(&s));
            text::one_line(&text::decode_entities(&s))
        })
        .filter(|s| !s.is_empty())
        .or_else(|| {
            before_divider(&markdown)
                .map(markdown::plain_text)
                .filter(|s| !s.is_empty())
        });

    // Title, slug, permalink.
    let slug = fm.get("slug").and_then(fields::line);
    let title = fm.get("title").and_then(fields::prose).unwrap_or_else(|| {
        summary
            .as_deref()
            .map(|s| text::truncate_words(s, 80))
            .unwrap_or_else(|| {
                slug.clone()
                    .unwrap_or_else(|| permalink::file_name(source).to_string())
            })
    });
    let title = if title.is_empty() {
        "Untitled".to_string()
    } else {
        text::truncate_words(&title, MAX_TITLE_CHARS)
    };
    let url_field = fm.get("url").and_then(fields::line);
    let rules = permalink::PermalinkRules {
        patterns: BTreeMap::from([("*".to_string(), settings.permalink.clone())]),
        ..Default::default()
    };
    let raw_title = fm.get("title").and_then(fields::line).unwrap_or_default();
    let page = permalink::Page {
        path: source,
        lang_prefix: "",
        slug: slug.as_deref(),
        title: &raw_title,
        date: published,
        url: url_field.as_deref(),
    };
    let permalink = permalink::permalink(&settings.base_url, &rules, &page)
        .map_err(|m| at(if url_field.is_some() { "url" } else { "slug" }, m))?;

    let external_url = match fm.get("link").and_then(Value::scalar_text) {
        Some(l) => permalink::external(&settings.base_url, &text::strip_controls(&l))
            .map_err(|m| at("link", m))?,
        None => None,
    };
    let image =
        fields::image(&fm).and_then(|i| permalink::site_url(&settings.base_url, &permalink, &i));
    let id = fields::first(&fm, &["id", "guid"])
        .and_then(|(_, v)| fields::line(v))
        .unwrap_or_else(|| permalink.to_string());

    Ok(Post {
        source: source.to_string(),
        id,
        title,
        permalink: permalink.to_string(),
        external_url,
        published,
        updated,
        expires,
        draft,
        summary,
        taxonomies: taxonomies(&fm, &settings.taxonomies, |name, dropped| {
            warnings.push(at(
                name,
                format!(
                    "warning: `{name}` lists more than {MAX_TERMS_PER_TAXONOMY} terms; \
                     the other {dropped} are left out (each term makes a feed)"
                ),
            ))
        }),
        authors: fields::authors(&fm),
        image,
        body: Body::new(markdown, permalink.to_string()),
    })
}

/// Markdown → sanitized HTML with every URL absolute (relative ones resolved against `base_url`).
pub fn render_html(markdown: &str, base_url: &str) -> String {
    markdown::render_html(markdown, base_url)
}

/// Finds (and, when asked, repairs) mojibake; reports one warning per line that has some.
fn mojibake(text: String, repair: bool, mut warn: impl FnMut(usize, String)) -> String {
    let (repaired, found) = mojibake::scan(&text, repair);
    let mut lines = found.iter().map(|f| f.line).collect::<Vec<_>>();
    lines.dedup();
    for line in lines {
        let here: Vec<String> = found
            .iter()
            .filter(|f| f.line == line)
            .take(3)
            .map(|f| format!("`{}` → `{}`", f.damaged, f.meant))
            .collect();
        let action = if repair {
            "repaired"
        } else {
            "left as is; set `repair_mojibake: true` to repair it"
        };
        warn(
            line,
            format!(
                "warning: mojibake (UTF-8 once read as Windows-1252): {}; {action}",
                here.join(", ")
            ),
        );
    }
    repaired.unwrap_or(text)
}

/// BOM stripped, CRLF (and a lone CR) → LF; `Err(line)` names the line of the first invalid byte.
fn decode_utf8(bytes: &[u8]) -> Result<String, usize> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    })?;
    // Control characters go before YAML sees them: it rejects some even in quoted strings,
    // and real posts carry NUL and U+0013. Removing them keeps every line number. C1
    // controls (U+0080-U+009F) are kept for now: mojibake detection needs them, and the
    // caller strips them after it.
    let text = text::strip_controls_keep_c1(text);
    Ok(if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text
    })
}

/// A date value: strings in any accepted form (TOML datetimes arrive as strings too).
fn read_date(v: &Value, tz: chrono_tz::Tz) -> Result<DateTime<FixedOffset>, String> {
    match v {
        Value::Str(s) => dates::parse_date(s, tz),
        other => Err(format!(
            "must be a date like 2019-03-12 or 2019-03-12T13:35:48Z, not `{}`",
            other
                .scalar_text()
                .unwrap_or_else(|| "a list or mapping".into())
        )),
    }
}

/// The part of the body before `<!--more-->` / `<!-- more -->`, when there is a divider.
fn before_divider(markdown: &str) -> Option<&str> {
    let mut search = 0;
    while let Some(i) = markdown[search..].find("<!--") {
        let start = search + i;
        let after = &markdown[start + 4..];
        if let Some(end) = after.find("-->") {
            if after[..end].trim().eq_ignore_ascii_case("more") {
                return Some(&markdown[..start]);
            }
        }
        search = start + 4;
    }
    None
}

/// `categories`, `tags` and the configured taxonomies; only non-empty lists are kept, each
/// cut to [`MAX_TERMS_PER_TAXONOMY`] terms (`dropped(name, count)` hears about the rest).
fn taxonomies(
    fm: &Map,
    configured: &[String],
    mut dropped: impl FnMut(&str, usize),
) -> BTreeMap<String, Vec<String>> {
    let mut names: Vec<String> = vec!["categories".into(), "tags".into()];
    names.extend(configured.iter().map(|t| t.to_lowercase()));
    let mut out = BTreeMap::new();
    for name in names {
        if out.contains_key(&name) {
            continue;
        }
        if let Some(v) = fm.get(&name) {
            let mut terms = fields::terms(v);
            if terms.len() > MAX_TERMS_PER_TAXONOMY {
                dropped(&name, terms.len() - MAX_TERMS_PER_TAXONOMY);
                terms.truncate(MAX_TERMS_PER_TAXONOMY);
            }
            if !terms.is_empty() {
                out.insert(name, terms);
            }
        }
    }
    out
}

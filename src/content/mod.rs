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
}

impl ContentSettings {
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        ContentSettings {
            base_url: s.base_url.clone(),
            timezone: s.timezone,
            permalink: s.permalink.clone(),
            taxonomies: s.taxonomies.clone(),
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

/// Parses the file at `source` (relative to the content dir, `/`-separated) from its raw bytes.
pub fn parse(source: &str, bytes: &[u8], settings: &ContentSettings) -> Result<Post, ParseError> {
    let err = |line: Option<usize>, message: String| ParseError {
        path: source.to_string(),
        line,
        message,
    };
    let text = decode_utf8(bytes).map_err(|line| {
        err(
            Some(line),
            format!("not valid UTF-8 (first bad byte at line {line}); save the file as UTF-8"),
        )
    })?;
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

    // Body: shortcodes out, control characters out.
    let markdown = text::strip_controls(&shortcodes::strip(split.body));

    // Summary: description/summary, else the text before the divider.
    let summary = fields::first(&fm, &["description", "summary"])
        .and_then(|(_, v)| v.scalar_text())
        .map(|s| text::one_line(&text::decode_entities(&text::strip_known_tags(&s))))
        .filter(|s| !s.is_empty())
        .or_else(|| {
            before_divider(&markdown)
                .map(markdown::plain_text)
                .filter(|s| !s.is_empty())
        });

    // Title, slug, permalink.
    let parts = permalink::SourceParts::of(source);
    let slug = fm.get("slug").and_then(fields::line);
    let title = fm.get("title").and_then(fields::prose).unwrap_or_else(|| {
        summary
            .as_deref()
            .map(|s| text::truncate_words(s, 80))
            .unwrap_or_else(|| slug.clone().unwrap_or_else(|| parts.filename.clone()))
    });
    let title = if title.is_empty() {
        "Untitled".to_string()
    } else {
        title
    };
    let url_field = fm.get("url").and_then(fields::line);
    let tokens = permalink::Tokens {
        parts: &parts,
        slug: slug.as_deref(),
        title: &title,
        published,
    };
    let permalink = permalink::permalink(
        &settings.base_url,
        &settings.permalink,
        url_field.as_deref(),
        &tokens,
    )
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
        taxonomies: taxonomies(&fm, &settings.taxonomies),
        authors: fields::authors(&fm),
        image,
        body: Body::new(markdown, permalink.to_string()),
    })
}

/// Markdown → sanitized HTML with every URL absolute (relative ones resolved against `base_url`).
pub fn render_html(markdown: &str, base_url: &str) -> String {
    markdown::render_html(markdown, base_url)
}

/// BOM stripped, CRLF → LF; `Err(line)` names the line of the first invalid byte.
fn decode_utf8(bytes: &[u8]) -> Result<String, usize> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    })?;
    // Control characters go before YAML sees them: it rejects some even in quoted strings,
    // and real posts carry NUL and U+0013. Removing them keeps every line number.
    let text = text::strip_controls(text);
    Ok(if text.contains('\r') {
        text.replace("\r\n", "\n")
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

/// `categories`, `tags` and the configured taxonomies; only non-empty lists are kept.
fn taxonomies(fm: &Map, configured: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut names: Vec<String> = vec!["categories".into(), "tags".into()];
    names.extend(configured.iter().map(|t| t.to_lowercase()));
    let mut out = BTreeMap::new();
    for name in names {
        if out.contains_key(&name) {
            continue;
        }
        if let Some(v) = fm.get(&name) {
            let terms = fields::terms(v);
            if !terms.is_empty() {
                out.insert(name, terms);
            }
        }
    }
    out
}

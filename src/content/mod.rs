//! Turns one content file into a [`Post`]: split front matter, map fields, parse dates,
//! strip shortcodes, render and sanitize Markdown. Pure: never touches the filesystem.

use crate::post::Post;

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
    let _ = (source, bytes, settings);
    unimplemented!("content::parse")
}

/// Markdown → sanitized HTML with every URL absolute (relative ones resolved against `base_url`).
pub fn render_html(markdown: &str, base_url: &str) -> String {
    let _ = (markdown, base_url);
    unimplemented!("content::render_html")
}

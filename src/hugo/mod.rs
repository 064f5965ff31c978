//! Reading a Hugo site's own configuration, merged exactly as Hugo 0.111 merges it.
//!
//! This module owns the site's config files only (`hugo.toml`, `config/_default/…`); it never
//! reads content. [`load`] finds and merges the files ([`files`]), then picks out the settings
//! a feed must follow ([`extract`]), with one warning per setting Herald cannot honour.

mod extract;
mod files;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The Hugo settings Herald follows, with Hugo's defaults filled in.
#[derive(Debug, Clone)]
pub struct HugoConfig {
    /// The site root as given.
    pub root: PathBuf,
    /// `baseURL`.
    pub base_url: Option<String>,
    pub title: Option<String>,
    /// `languageCode`.
    pub language_code: Option<String>,
    /// `params.description`.
    pub description: Option<String>,
    /// `params.author` (a string, or a map's `name`), else top-level `author.name` / `author`.
    pub author: Option<String>,
    /// `params.author.email`, else `author.email`, else `params.email`.
    pub author_email: Option<String>,
    /// `root.join(contentDir)`, `content` by default.
    pub content_dir: PathBuf,
    /// `defaultContentLanguage`, lower-cased, `en` by default.
    pub default_language: String,
    /// `defaultContentLanguageInSubdir`; always true on a multihost site, as in Hugo.
    pub default_language_in_subdir: bool,
    /// Never empty. Sorted by weight, unset (0) last, then by code; disabled ones removed.
    pub languages: Vec<Language>,
    /// Section → permalink pattern for regular pages.
    pub permalinks: BTreeMap<String, String>,
    /// (singular, plural), sorted by singular.
    pub taxonomies: Vec<(String, String)>,
    /// `ignoreFiles` regular expressions, each checked to compile.
    pub ignore_files: Vec<String>,
    /// `summaryLength` in words, 70 by default.
    pub summary_length: usize,
    pub frontmatter: DateKeys,
    /// `timeZone`.
    pub time_zone: Option<String>,
    /// `uglyURLs` (only the boolean form).
    pub ugly_urls: bool,
    pub remove_path_accents: bool,
    pub disable_path_to_lower: bool,
    /// `markup.goldmark.renderer.unsafe`, false by default.
    pub goldmark_unsafe: bool,
    /// `markup.goldmark.extensions.typographer`, true by default.
    pub typographer: bool,
    /// `markup.goldmark.extensions.linkify`, true by default.
    pub linkify: bool,
    pub build_drafts: bool,
    pub build_future: bool,
    pub build_expired: bool,
    /// Merged `params`, keys lower-cased, for the `param` shortcode. Always an object.
    pub params: serde_json::Value,
    /// `services.rss.limit`, else `rssLimit`; `None` when unset or not positive (no limit).
    pub rss_limit: Option<usize>,
    /// One message per site setting Herald does not honour: which key, and what Herald does instead.
    pub warnings: Vec<String>,
}

/// One configured language. `None` fields are not set for this language: the site-wide value applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language {
    /// Lower-case key under `languages`.
    pub code: String,
    /// `root.join(contentDir)` when set.
    pub content_dir: Option<PathBuf>,
    pub title: Option<String>,
    /// `languageCode`.
    pub language_code: Option<String>,
    /// `languageName`.
    pub language_name: Option<String>,
    pub weight: i64,
    /// Per-language `baseURL` (a multihost site).
    pub base_url: Option<String>,
    /// `languages.X.params.description`, else `languages.X.description`.
    pub description: Option<String>,
}

/// Hugo's `frontmatter` config: which front matter keys give each date, first found wins.
/// `:default` is expanded and Hugo's aliases added (`lastmod` brings `modified`, `publishdate`
/// brings `pubdate` and `published`, `expirydate` brings `unpublishdate`), keys lower-cased.
/// Entries starting with `:` (`:filename`, `:git`, `:filemodtime`) are not front matter keys.
pub type DateKeys = crate::content::DateRules;

/// Why a site's config cannot be used. Messages name the file and, where there is one, the line.
#[derive(Debug, Error)]
pub enum HugoError {
    #[error("{}: no Hugo config found: none of {} nor config/_default/ or config/<environment>/ files", .root.display(), files::ROOT_NAMES.join(", "))]
    NotFound { root: PathBuf },
    #[error("{}: cannot read config: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", .path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A value that parses but cannot be used; `path` is the file that last set the key.
    #[error("{}: {key}: {message}", .path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// Reads the site at `root` for the `production` environment, as `hugo` (build) does.
pub fn load(root: &Path) -> Result<HugoConfig, HugoError> {
    load_env(root, "production")
}

/// Reads the site at `root`, with `config/<environment>/` overriding `config/_default/`.
pub fn load_env(root: &Path, environment: &str) -> Result<HugoConfig, HugoError> {
    let merged = files::merged(root, environment)?;
    extract::extract(root, merged)
}

impl HugoConfig {
    /// The enabled language with this code (lower-case).
    pub fn language(&self, code: &str) -> Option<&Language> {
        self.languages
            .iter()
            .find(|l| l.code.eq_ignore_ascii_case(code))
    }
}

//! A Hugo site's own configuration, read as Hugo 0.111 reads it (file lookup, the config
//! folder's merge order, case-insensitive keys) and reduced to what Herald needs to publish
//! what the site shows. It never reads content: [`crate::config`] turns this into settings.

mod files;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

/// Why a site's configuration cannot be used. Messages name the file and, where there is
/// one, the line.
#[derive(Debug, Error)]
pub enum HugoError {
    #[error(
        "{root}: no Hugo configuration (hugo.toml, hugo.yaml, config.toml … or config/_default/)"
    )]
    NoConfig { root: PathBuf },
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// What Herald takes from a Hugo site's configuration.
#[derive(Debug, Clone)]
pub struct HugoConfig {
    /// The site root as given.
    pub root: PathBuf,
    pub base_url: Option<String>,
    pub title: Option<String>,
    pub language_code: Option<String>,
    /// `params.description`.
    pub description: Option<String>,
    /// `params.author` (a string, or a map's `name`), else the top-level `author`.
    pub author: Option<String>,
    pub author_email: Option<String>,
    /// `root/contentDir` (default `content`).
    pub content_dir: PathBuf,
    /// `defaultContentLanguage`, default `en`.
    pub default_language: String,
    pub default_language_in_subdir: bool,
    /// Never empty; sorted as Hugo sorts them (weight, unset last, then code).
    pub languages: Vec<Language>,
    /// Section → pattern for regular pages (flat form, or the `page` kind).
    pub permalinks: BTreeMap<String, String>,
    /// (singular, plural), as configured; Hugo's default is categories and tags.
    pub taxonomies: Vec<(String, String)>,
    pub ignore_files: Vec<String>,
    pub summary_length: usize,
    pub frontmatter: DateKeys,
    pub time_zone: Option<String>,
    pub ugly_urls: bool,
    pub remove_path_accents: bool,
    pub disable_path_to_lower: bool,
    pub goldmark_unsafe: bool,
    pub typographer: bool,
    pub linkify: bool,
    pub build_drafts: bool,
    pub build_future: bool,
    pub build_expired: bool,
    pub params: Value,
    /// `services.rss.limit` or `rssLimit`, when positive.
    pub rss_limit: Option<usize>,
    /// One message per site setting Herald does not honour: which key, what Herald does.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language {
    pub code: String,
    pub content_dir: Option<PathBuf>,
    pub title: Option<String>,
    pub language_code: Option<String>,
    pub language_name: Option<String>,
    pub weight: i64,
    pub base_url: Option<String>,
    pub description: Option<String>,
}

/// Hugo's `frontmatter` date rules, `:default` expanded, keys lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateKeys {
    pub date: Vec<String>,
    pub publish_date: Vec<String>,
    pub lastmod: Vec<String>,
    pub expiry_date: Vec<String>,
}

impl HugoConfig {
    pub fn language(&self, code: &str) -> Option<&Language> {
        self.languages.iter().find(|l| l.code == code)
    }
}

/// Reads the site at `root` as a production build does (`hugo` with no flags).
pub fn load(root: &Path) -> Result<HugoConfig, HugoError> {
    load_env(root, "production")
}

/// Reads the site at `root` for the given Hugo environment.
pub fn load_env(root: &Path, environment: &str) -> Result<HugoConfig, HugoError> {
    let (c, _) = files::merged(root, environment)?;
    Ok(extract(root, &c))
}

fn get<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn text(v: &Value, path: &str) -> Option<String> {
    match get(v, path)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn flag(v: &Value, path: &str, default: bool) -> bool {
    match get(v, path) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => default,
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// A name from a string or a map's `name`.
fn person(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Object(m) => m.get("name").and_then(|n| n.as_str()).map(str::to_string),
        _ => None,
    }
}

fn extract(root: &Path, c: &Value) -> HugoConfig {
    let mut warnings = Vec::new();
    let content_dir = root.join(text(c, "contentdir").unwrap_or_else(|| "content".into()));
    let default_language = text(c, "defaultcontentlanguage")
        .unwrap_or_else(|| "en".into())
        .to_lowercase();
    let disabled: Vec<String> = strings(get(c, "disablelanguages"))
        .iter()
        .map(|s| s.to_lowercase())
        .collect();
    let mut languages: Vec<Language> = match get(c, "languages") {
        Some(Value::Object(m)) => m
            .iter()
            .filter(|(code, l)| !disabled.contains(code) && !flag(l, "disabled", false))
            .map(|(code, l)| Language {
                code: code.clone(),
                content_dir: text(l, "contentdir").map(|d| root.join(d)),
                title: text(l, "title"),
                language_code: text(l, "languagecode"),
                language_name: text(l, "languagename"),
                weight: get(l, "weight").and_then(Value::as_i64).unwrap_or(0),
                base_url: text(l, "baseurl"),
                description: text(l, "params.description").or_else(|| text(l, "description")),
            })
            .collect(),
        _ => Vec::new(),
    };
    if !languages.iter().any(|l| l.code == default_language) {
        languages.push(Language {
            code: default_language.clone(),
            content_dir: None,
            title: None,
            language_code: None,
            language_name: None,
            weight: 0,
            base_url: None,
            description: None,
        });
    }
    languages.sort_by(|a, b| {
        let w = |l: &Language| if l.weight == 0 { i64::MAX } else { l.weight };
        w(a).cmp(&w(b)).then_with(|| a.code.cmp(&b.code))
    });

    let mut permalinks = BTreeMap::new();
    if let Some(Value::Object(m)) = get(c, "permalinks") {
        for (k, v) in m {
            match v {
                Value::String(p) => {
                    permalinks.insert(k.clone(), p.clone());
                }
                Value::Object(kind) if k == "page" => {
                    for (section, p) in kind {
                        if let Some(p) = p.as_str() {
                            permalinks.insert(section.clone(), p.to_string());
                        }
                    }
                }
                Value::Object(_) => warnings.push(format!(
                    "permalinks.{k}: only regular pages have feed items; Herald uses the `page` patterns"
                )),
                _ => {}
            }
        }
    }

    let taxonomies = match get(c, "taxonomies") {
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(s, p)| p.as_str().map(|p| (s.clone(), p.to_lowercase())))
            .collect(),
        _ => vec![
            ("category".into(), "categories".into()),
            ("tag".into(), "tags".into()),
        ],
    };

    let frontmatter = date_keys(c, &mut warnings);
    let ugly_urls = match get(c, "uglyurls") {
        Some(Value::Bool(b)) => *b,
        Some(Value::Object(_)) => {
            warnings.push(
                "uglyURLs per section: Herald uses pretty URLs (`/x/`) for every section".into(),
            );
            false
        }
        _ => false,
    };
    if let Some(h) = text(c, "markup.defaultmarkdownhandler") {
        if h != "goldmark" {
            warnings.push(format!(
                "markup.defaultMarkdownHandler = {h:?}: Herald renders Markdown as goldmark would"
            ));
        }
    }
    let linkify = flag(c, "markup.goldmark.extensions.linkify", true);
    // On by default in Hugo: said only when a site asks for it explicitly.
    if linkify && get(c, "markup.goldmark.extensions.linkify").is_some() {
        warnings.push(
            "markup.goldmark.extensions.linkify: bare URLs in prose stay text in feeds (Herald does not turn them into links)".into(),
        );
    }
    let rss_limit = get(c, "services.rss.limit")
        .or_else(|| get(c, "rsslimit"))
        .and_then(Value::as_i64)
        .filter(|&l| l > 0)
        .map(|l| l as usize);

    HugoConfig {
        root: root.to_owned(),
        base_url: text(c, "baseurl"),
        title: text(c, "title"),
        language_code: text(c, "languagecode"),
        description: text(c, "params.description"),
        author: person(get(c, "params.author")).or_else(|| person(get(c, "author"))),
        author_email: text(c, "params.author.email")
            .or_else(|| text(c, "author.email"))
            .or_else(|| text(c, "params.email")),
        content_dir,
        default_language,
        default_language_in_subdir: flag(c, "defaultcontentlanguageinsubdir", false),
        languages,
        permalinks,
        taxonomies,
        ignore_files: strings(get(c, "ignorefiles")),
        summary_length: get(c, "summarylength")
            .and_then(Value::as_u64)
            .map_or(70, |n| n as usize),
        frontmatter,
        time_zone: text(c, "timezone"),
        ugly_urls,
        remove_path_accents: flag(c, "removepathaccents", false),
        disable_path_to_lower: flag(c, "disablepathtolower", false),
        goldmark_unsafe: flag(c, "markup.goldmark.renderer.unsafe", false),
        typographer: flag(c, "markup.goldmark.extensions.typographer", true),
        linkify,
        build_drafts: flag(c, "builddrafts", false),
        build_future: flag(c, "buildfuture", false),
        build_expired: flag(c, "buildexpired", false),
        params: get(c, "params").cloned().unwrap_or(Value::Null),
        rss_limit,
        warnings,
    }
}

/// Hugo 0.111's `frontmatter` defaults, with a site's lists in their place (`:default`
/// expands to the default list). `:git` and `:fileModTime` depend on the checkout, not on
/// the content, so Herald skips them (and says so once).
fn date_keys(c: &Value, warnings: &mut Vec<String>) -> DateKeys {
    let keys = |k: &[&str]| -> Vec<String> { k.iter().map(|s| s.to_string()).collect() };
    let defaults = DateKeys {
        date: keys(&[
            ":filename",
            "date",
            "publishdate",
            "pubdate",
            "published",
            "lastmod",
            "modified",
        ]),
        publish_date: keys(&["publishdate", "pubdate", "published", "date"]),
        lastmod: keys(&[
            ":git",
            "lastmod",
            "modified",
            "date",
            "publishdate",
            "pubdate",
            "published",
        ]),
        expiry_date: keys(&["expirydate", "unpublishdate"]),
    };
    let mut read = |key: &str, default: &[String]| -> Vec<String> {
        let given = strings(get(c, &format!("frontmatter.{key}")));
        if given.is_empty() {
            return default.to_vec();
        }
        let mut out = Vec::new();
        for k in given {
            let k = k.to_lowercase();
            match k.as_str() {
                ":default" => out.extend(default.iter().filter(|d| *d != ":filename").cloned()),
                ":filemodtime" => warnings.push(format!(
                    "frontmatter.{key}: `:fileModTime` is skipped (feeds must not depend on file times); the next rule applies"
                )),
                _ => out.push(k),
            }
        }
        out
    };
    DateKeys {
        date: read("date", &defaults.date),
        publish_date: read("publishdate", &defaults.publish_date),
        lastmod: read("lastmod", &defaults.lastmod),
        expiry_date: read("expirydate", &defaults.expiry_date),
    }
}

//! The configuration file: its types, their defaults (one `impl Default`), loading with
//! `file:line` errors, and validation into the settings the rest of Herald uses.
//!
//! Every key is documented in `config/herald.yaml`; unknown keys are rejected, because a
//! misspelt key that is silently ignored is worse than a refusal to start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

mod cache;
mod fingerprint;
mod hugo_site;

pub use cache::{
    CacheControl, CacheControlConfig, PurgeApiTarget, PurgeConfig, PurgeTarget,
    DEFAULT_CACHE_CONTROL,
};

/// The file as written. Paths are still relative to the config file's folder.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Root of a Hugo site (relative to the config file's folder): its own configuration
    /// (baseURL, languages, permalinks, taxonomies …) is read and keys set here override it.
    pub hugo_site: Option<PathBuf>,
    /// Folder of Markdown posts, relative to the config file's folder.
    pub content_dir: PathBuf,
    /// Public URL the feeds are served under; every link in a feed is made absolute with it.
    pub base_url: String,
    /// Address `herald serve` listens on.
    pub listen: SocketAddr,
    pub title: String,
    pub description: String,
    pub language: String,
    pub author: Option<String>,
    pub author_email: Option<String>,
    /// A small square image for the feeds (URL, absolute or relative to `base_url`).
    pub icon: Option<String>,
    /// A larger, wide image for the feeds (URL, absolute or relative to `base_url`).
    pub logo: Option<String>,
    /// Items per feed, newest first.
    pub items_per_feed: usize,
    /// A site's own shortcodes (Herald cannot run them; their inner content is kept by
    /// default): `drop` removes one, a string is a small template (`{{ .Inner }}`,
    /// `{{ .Get 0 }}`, `{{ .Get "name" }}`).
    pub shortcodes: std::collections::BTreeMap<String, crate::content::ShortcodeRule>,
    /// IANA time zone for dates written without an offset.
    pub timezone: String,
    /// Hugo permalink pattern for every section (`:year`, `:month`, `:day`, `:section`,
    /// `:sections`, `:slug`, `:slugorfilename`, `:filename`, `:title` …); empty: Hugo's
    /// default, the file's path (`post/linux/x.md` → `/post/linux/x/`, `slug` replacing `x`).
    pub permalink: String,
    /// Front-matter lists that get one feed per term.
    pub taxonomies: Vec<String>,
    /// `Cache-Control` sent with every feed, list and page; or one value per kind.
    pub cache_control: CacheControlConfig,
    /// Open connections at most; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Seconds a client has to send its request headers.
    pub header_read_timeout_secs: u64,
    /// Seconds an idle keep-alive connection is kept open.
    pub keep_alive_timeout_secs: u64,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// Posts larger than this many bytes are reported and skipped.
    pub max_post_bytes: u64,
    /// Bytes of HTML one item's content carries at most; a longer post's item is cut.
    pub max_item_bytes: usize,
    /// Repair mojibake (`â€”` → `—`: UTF-8 once read as Windows-1252). Reported either way.
    pub repair_mojibake: bool,
    /// How `herald serve` notices changes: `notify` (kernel events), `poll`, or `off`.
    pub watch: WatchMode,
    /// Milliseconds of quiet that end a burst of changes (one rebuild per burst).
    pub watch_debounce_ms: u64,
    /// Milliseconds between polls in `watch: poll` mode.
    pub poll_interval_ms: u64,
    /// Seconds between full rescans of the content dir (a safety net); 0 turns them off.
    pub rescan_interval_secs: u64,
    /// Log lines on stderr: `text` (human-readable) or `json` (one object a line).
    pub log_format: LogFormat,
    /// Path of the health endpoint (JSON); empty turns it off.
    pub health_path: String,
    /// Path of the Prometheus metrics endpoint; empty turns it off.
    pub metrics_path: String,
    /// Where `herald serve` keeps what survives a restart (relative to the config file's
    /// folder); unset: systemd's `$STATE_DIRECTORY`, else `/var/lib/herald` if it exists.
    pub state_dir: Option<PathBuf>,
    /// Old path → new path, answered `301`: a renamed category or a moved feed. A key ending
    /// in `/` moves everything under that folder.
    pub redirects: std::collections::BTreeMap<String, String>,
    /// Paths (or folders, ending in `/`) answered `410 Gone`: feeds retired on purpose.
    pub retired_feeds: Vec<String>,
    /// Which pages feeds link to as their home: Herald's own or the site's term pages
    /// (`None`: `hugo` with `hugo_site`, else `herald`).
    pub site_pages: Option<SitePages>,
    /// Caches and CDNs in front of Herald to tell when paths change.
    pub purge: Vec<PurgeConfig>,
    /// Push (WebSub): the built-in hub, external hubs to ping, and their limits.
    pub websub: crate::websub::WebSubConfig,
}

/// Whose HTML pages a feed's channel link and the OPML `htmlUrl` point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SitePages {
    /// Herald's page in the feed's folder (`/categories/rust/`).
    Herald,
    /// The Hugo site's own term pages (where Hugo puts them).
    Hugo,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event, fields at the top level.
    Json,
}

/// How the content directory is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchMode {
    /// Kernel notifications (inotify on Linux): immediate and cheap.
    Notify,
    /// Compare the tree's files every `poll_interval_ms`: for network filesystems where
    /// the kernel sees no changes.
    Poll,
    /// Do not watch: content is read once at start.
    Off,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hugo_site: None,
            content_dir: PathBuf::from("content"),
            base_url: "http://127.0.0.1:8080/".into(),
            listen: "127.0.0.1:8080".parse().expect("valid literal"),
            title: "Herald".into(),
            description: String::new(),
            language: "en".into(),
            author: None,
            author_email: None,
            icon: None,
            logo: None,
            items_per_feed: 50,
            shortcodes: Default::default(),
            timezone: "UTC".into(),
            permalink: String::new(),
            taxonomies: vec!["categories".into()],
            cache_control: CacheControlConfig::default(),
            max_connections: 1024,
            header_read_timeout_secs: 10,
            keep_alive_timeout_secs: 60,
            shutdown_grace_secs: 10,
            max_post_bytes: 4 * 1024 * 1024,
            max_item_bytes: 256 * 1024,
            repair_mojibake: false,
            watch: WatchMode::Notify,
            watch_debounce_ms: 5,
            poll_interval_ms: 1000,
            rescan_interval_secs: 600,
            log_format: LogFormat::Text,
            health_path: "/healthz".into(),
            metrics_path: "/metrics".into(),
            state_dir: None,
            redirects: Default::default(),
            retired_feeds: Vec::new(),
            site_pages: None,
            purge: Vec::new(),
            websub: Default::default(),
        }
    }
}

/// Why a config file cannot be used. Messages name the file and, where there is one, the line.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: cannot read config: {source}")]
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
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Validated settings, with paths resolved and strings parsed, in one section per step
/// of the pipeline that reads them.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The herald.yaml this was loaded from (`None`: defaults and a Hugo site only).
    pub config_path: Option<PathBuf>,
    /// The Hugo site whose configuration was read, if any.
    pub hugo_site: Option<PathBuf>,
    /// Folder (a Hugo site's `data/`) where the feed list is kept as `herald.json` for the
    /// site's templates; set on the command line (`--hugo-data`).
    pub hugo_data: Option<PathBuf>,
    /// `state_dir`, resolved against the config file's folder.
    pub state_dir: Option<PathBuf>,
    /// Site settings Herald does not honour, each once: `check` prints them, `serve` logs them.
    pub warnings: Vec<String>,
    pub log_format: LogFormat,
    /// What is read, and how a file becomes a post.
    pub content: ContentSection,
    /// What is published: the site, its languages, its feeds and where old paths went.
    pub feeds: FeedsSection,
    /// How the feeds are served.
    pub http: HttpSection,
    /// How changes to the content are noticed.
    pub watch: WatchSection,
    /// `purge:`: whom to tell which paths changed.
    pub purge: Vec<PurgeTarget>,
    /// `websub:`, checked.
    pub websub: crate::websub::WebSubSettings,
}

/// Where the content is and how each file is read and parsed.
#[derive(Debug, Clone)]
pub struct ContentSection {
    pub dir: PathBuf,
    pub max_post_bytes: u64,
    pub max_item_bytes: usize,
    pub repair_mojibake: bool,
    /// The zone of dates written without one.
    pub timezone: chrono_tz::Tz,
    /// The taxonomies whose terms get feeds (lower case).
    pub taxonomies: Vec<String>,
    /// Which front-matter keys give each date.
    pub dates: crate::content::DateRules,
    pub build_drafts: bool,
    pub build_expired: bool,
    /// Where each page lives: section → pattern (`*`: every section; none: Hugo's
    /// path-based default), `uglyURLs` and the path rules.
    pub permalinks: crate::content::PermalinkRules,
    /// Files that are not content (Hugo's `ignoreFiles`).
    pub ignore_files: Vec<regex::Regex>,
    /// How Markdown becomes HTML.
    pub markup: MarkupSection,
}

/// The Markdown and shortcode settings that change what readers see.
#[derive(Debug, Clone)]
pub struct MarkupSection {
    /// Raw HTML in Markdown: kept (sanitized) when true, left out when false (Hugo's default).
    pub unsafe_html: bool,
    /// Words in an automatic summary (Hugo's `summaryLength`).
    pub summary_length: usize,
    /// Typographic quotes and dashes (goldmark's typographer extension).
    pub typographer: bool,
    /// What to do with the site's own shortcodes.
    pub shortcodes: std::collections::BTreeMap<String, crate::content::ShortcodeRule>,
    /// The site's `params`, for the `param` shortcode.
    pub site_params: serde_json::Value,
}

/// What the feeds say and which are published.
#[derive(Debug, Clone)]
pub struct FeedsSection {
    /// Always ends with `/`.
    pub base_url: url::Url,
    pub site: SiteInfo,
    /// The site's languages, default first (one for a site without translations).
    pub languages: Vec<Language>,
    pub items_per_feed: usize,
    pub site_pages: SitePages,
    /// `redirects:` and `retired_feeds:`.
    pub moves: crate::snapshot::Moves,
}

/// The listener, its limits, and what responses say to caches.
#[derive(Debug, Clone)]
pub struct HttpSection {
    pub listen: SocketAddr,
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub shutdown_grace: Duration,
    pub cache_control: CacheControl,
    /// `None`: no health endpoint.
    pub health_path: Option<String>,
    /// `None`: no metrics endpoint.
    pub metrics_path: Option<String>,
}

/// How `serve` notices changes.
#[derive(Debug, Clone)]
pub struct WatchSection {
    pub mode: WatchMode,
    pub debounce: Duration,
    pub poll_interval: Duration,
    /// `None`: no periodic rescans.
    pub rescan_interval: Option<Duration>,
}

/// One language of the site: what its feeds say, and where its content lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language {
    /// What this language's feeds say about the site; `base_url` is the language's home
    /// (the site's base URL plus its prefix, e.g. `https://example.org/es/`).
    pub site: SiteInfo,
    /// Code, URL prefix and content folder, as the parser needs them.
    pub content: crate::content::ContentLanguage,
}

impl Language {
    pub fn code(&self) -> &str {
        &self.content.code
    }
}

/// What a feed says about the site as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteInfo {
    pub title: String,
    pub description: String,
    pub language: String,
    pub author: Option<String>,
    pub author_email: Option<String>,
    /// Absolute URLs of the feeds' icon (small, square) and logo (wide), if set.
    pub icon: Option<String>,
    pub logo: Option<String>,
    /// Absolute, ends with `/`.
    pub base_url: String,
    /// WebSub hubs the feeds advertise (the built-in one first); empty: push is off.
    pub hubs: Vec<String>,
}

impl Config {
    /// Parses YAML text; `path` is only used in messages.
    pub fn from_yaml(path: &Path, text: &str) -> Result<Config, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_yaml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            line: e.location().map_or(1, |l| l.line()),
            message: e.to_string(),
        })
    }

    /// Checks values and resolves paths against the config file's folder.
    pub fn validate(self, path: &Path) -> Result<Settings, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let mut base_url = url::Url::parse(&self.base_url).map_err(|e| {
            invalid(format!(
                "base_url {:?} is not an absolute URL: {e}",
                self.base_url
            ))
        })?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host().is_none() {
            return Err(invalid(format!(
                "base_url {:?} must be an http(s) URL with a host",
                self.base_url
            )));
        }
        if !base_url.path().ends_with('/') {
            base_url.set_path(&format!("{}/", base_url.path()));
        }
        base_url.set_query(None);
        base_url.set_fragment(None);
        let timezone: chrono_tz::Tz = self.timezone.parse().map_err(|_| {
            invalid(format!(
                "timezone {:?} is not an IANA time zone name (e.g. Europe/Paris, UTC)",
                self.timezone
            ))
        })?;
        if self.items_per_feed == 0 {
            return Err(invalid("items_per_feed must be at least 1".into()));
        }
        if self.max_item_bytes < crate::content::MIN_ITEM_BYTES {
            return Err(invalid(format!(
                "max_item_bytes must be at least {}",
                crate::content::MIN_ITEM_BYTES
            )));
        }
        if self.max_connections == 0 {
            return Err(invalid("max_connections must be at least 1".into()));
        }
        if !self.permalink.is_empty() && !self.permalink.starts_with('/') {
            return Err(invalid(format!(
                "permalink {:?} must start with '/'",
                self.permalink
            )));
        }
        if self.title.trim().is_empty() {
            return Err(invalid(
                "title must not be empty: feeds require a title".into(),
            ));
        }
        let taxonomies: Vec<String> = self
            .taxonomies
            .iter()
            .map(|t| t.trim().to_lowercase())
            .collect();
        if let Some(bad) = taxonomies.iter().find(|t| {
            t.is_empty()
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }) {
            return Err(invalid(format!(
                "taxonomy name {bad:?} must be letters, digits, '-' or '_'"
            )));
        }
        let health_path = endpoint_path("health_path", &self.health_path).map_err(invalid)?;
        let metrics_path = endpoint_path("metrics_path", &self.metrics_path).map_err(invalid)?;
        if health_path.is_some() && health_path == metrics_path {
            return Err(invalid(format!(
                "health_path and metrics_path are both {:?}: give them different paths",
                self.health_path
            )));
        }
        for (from, to) in &self.redirects {
            for p in [from, to] {
                if !p.starts_with('/') || p.contains(['?', '#', ' ']) {
                    return Err(invalid(format!(
                        "redirects: {p:?} must be an absolute path such as /categories/old/"
                    )));
                }
            }
            if from.ends_with('/') != to.ends_with('/') {
                return Err(invalid(format!(
                    "redirects: {from:?} → {to:?}: a folder (ending in /) moves to a folder, a file to a file"
                )));
            }
        }
        if let Some(bad) = self.retired_feeds.iter().find(|p| !p.starts_with('/')) {
            return Err(invalid(format!(
                "retired_feeds: {bad:?} must be an absolute path such as /categories/old/"
            )));
        }
        let cache_control = self.cache_control.validate().map_err(invalid)?;
        let purge = self
            .purge
            .iter()
            .enumerate()
            .map(|(n, entry)| entry.validate(n + 1))
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        let moves = crate::snapshot::Moves {
            redirects: self.redirects.clone(),
            retired: self.retired_feeds.iter().cloned().collect(),
        };
        let folder = path.parent().unwrap_or(Path::new("."));
        let content_dir = folder.join(&self.content_dir);
        let image = |key: &str, value: &Option<String>| -> Result<Option<String>, ConfigError> {
            let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
                return Ok(None);
            };
            match base_url.join(value) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(Some(url.to_string())),
                _ => Err(invalid(format!(
                    "{key} {value:?} must be an http(s) URL, or a path under base_url such as /favicon.png"
                ))),
            }
        };
        let icon = image("icon", &self.icon)?;
        let logo = image("logo", &self.logo)?;
        let websub =
            crate::websub::WebSubSettings::from_config(&self.websub, &base_url).map_err(invalid)?;
        let site = SiteInfo {
            hubs: websub.advertised(),
            icon,
            logo,
            title: self.title.trim().to_owned(),
            description: self.description.trim().to_owned(),
            language: self.language.clone(),
            author: self.author.filter(|a| !a.trim().is_empty()),
            author_email: self.author_email.filter(|a| !a.trim().is_empty()),
            base_url: base_url.to_string(),
        };
        let code = self.language.trim().to_lowercase();
        let code = if code.is_empty() { "en".into() } else { code };
        let permalinks = if self.permalink.is_empty() {
            std::collections::BTreeMap::new()
        } else {
            [("*".to_string(), self.permalink.clone())].into()
        };
        Ok(Settings {
            config_path: Some(path.to_owned()),
            hugo_site: None,
            hugo_data: None,
            state_dir: self.state_dir.as_ref().map(|d| folder.join(d)),
            warnings: Vec::new(),
            log_format: self.log_format,
            content: ContentSection {
                dir: content_dir,
                max_post_bytes: self.max_post_bytes,
                max_item_bytes: self.max_item_bytes,
                repair_mojibake: self.repair_mojibake,
                timezone,
                taxonomies,
                dates: crate::content::DateRules::default(),
                build_drafts: false,
                build_expired: false,
                permalinks: crate::content::PermalinkRules {
                    patterns: permalinks,
                    ..Default::default()
                },
                ignore_files: Vec::new(),
                markup: MarkupSection {
                    unsafe_html: true,
                    summary_length: 70,
                    typographer: false,
                    shortcodes: self.shortcodes.clone(),
                    site_params: serde_json::Value::Null,
                },
            },
            feeds: FeedsSection {
                base_url,
                languages: vec![Language {
                    site: site.clone(),
                    content: crate::content::ContentLanguage::single(&code).remove(0),
                }],
                site,
                items_per_feed: self.items_per_feed,
                site_pages: self.site_pages.unwrap_or(SitePages::Herald),
                moves,
            },
            http: HttpSection {
                listen: self.listen,
                max_connections: self.max_connections,
                header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.max(1)),
                keep_alive_timeout: Duration::from_secs(self.keep_alive_timeout_secs.max(1)),
                shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
                cache_control,
                health_path,
                metrics_path,
            },
            watch: WatchSection {
                mode: self.watch,
                debounce: Duration::from_millis(self.watch_debounce_ms),
                poll_interval: Duration::from_millis(self.poll_interval_ms.max(10)),
                rescan_interval: (self.rescan_interval_secs > 0)
                    .then(|| Duration::from_secs(self.rescan_interval_secs)),
            },
            purge,
            websub,
        })
    }
}

/// An endpoint path: empty turns the endpoint off; otherwise an absolute path without a
/// query, so it can be compared with request paths as is.
fn endpoint_path(key: &str, value: &str) -> Result<Option<String>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if !value.starts_with('/') || value.contains(['?', '#', ' ']) {
        return Err(format!(
            "{key} {value:?} must be an absolute path such as /healthz (or empty to turn it off)"
        ));
    }
    Ok(Some(value.to_owned()))
}

impl Settings {
    /// The keys whose new values in `new` a running server cannot take on: they are fixed
    /// when the listener, the connection handling, the logger or the purging tasks are set up.
    pub fn needs_restart(&self, new: &Settings) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let mut check = |key: &'static str, differs: bool| {
            if differs {
                keys.push(key);
            }
        };
        check("listen", self.http.listen != new.http.listen);
        check(
            "max_connections",
            self.http.max_connections != new.http.max_connections,
        );
        check(
            "header_read_timeout_secs",
            self.http.header_read_timeout != new.http.header_read_timeout,
        );
        check(
            "keep_alive_timeout_secs",
            self.http.keep_alive_timeout != new.http.keep_alive_timeout,
        );
        check(
            "shutdown_grace_secs",
            self.http.shutdown_grace != new.http.shutdown_grace,
        );
        check("log_format", self.log_format != new.log_format);
        check("health_path", self.http.health_path != new.http.health_path);
        check(
            "metrics_path",
            self.http.metrics_path != new.http.metrics_path,
        );
        check("purge", self.purge != new.purge);
        check("websub", self.websub != new.websub);
        keys
    }

    /// Takes the running values of every key [`Settings::needs_restart`] compares.
    pub fn keep_fixed(&mut self, running: &Settings) {
        // Set on the command line, not in the file: a reload cannot change it.
        self.hugo_data = running.hugo_data.clone();
        self.http.listen = running.http.listen;
        self.http.max_connections = running.http.max_connections;
        self.http.header_read_timeout = running.http.header_read_timeout;
        self.http.keep_alive_timeout = running.http.keep_alive_timeout;
        self.http.shutdown_grace = running.http.shutdown_grace;
        self.log_format = running.log_format;
        self.http.health_path = running.http.health_path.clone();
        self.http.metrics_path = running.http.metrics_path.clone();
        self.purge = running.purge.clone();
        // The hub and its distributor start with the server; feeds keep advertising the
        // hubs that are actually running.
        self.websub = running.websub.clone();
        let hubs = running.feeds.site.hubs.clone();
        self.feeds.site.hubs = hubs.clone();
        for language in &mut self.feeds.languages {
            language.site.hubs = hubs.clone();
        }
    }
}

/// Reads, parses and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    load_with(Some(path), None)
}

/// Loads the settings from a herald.yaml, a Hugo site, or both (the file's keys override
/// the site's). `hugo_site` (from the command line) wins over the file's `hugo_site:`.
/// With neither, the defaults.
pub fn load_with(config: Option<&Path>, hugo_site: Option<&Path>) -> Result<Settings, ConfigError> {
    let (config, set, file) = match config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let config = Config::from_yaml(path, &text)?;
            (config, keys_set(&text), path.to_owned())
        }
        None => (
            Config::default(),
            Default::default(),
            PathBuf::from("herald.yaml"),
        ),
    };
    let folder = file.parent().unwrap_or(Path::new(".")).to_owned();
    let site_root = hugo_site
        .map(Path::to_path_buf)
        .or_else(|| config.hugo_site.as_ref().map(|p| folder.join(p)));
    let mut settings = match site_root {
        Some(root) => hugo_site::apply(config, &set, &file, &root)?,
        None => config.validate(&file)?,
    };
    if settings.config_path.is_some() && !file.exists() {
        settings.config_path = None;
    }
    Ok(settings)
}

/// The top-level keys a YAML config sets (empty when it is not a mapping).
fn keys_set(text: &str) -> std::collections::BTreeSet<String> {
    match serde_yaml::from_str::<serde_yaml::Value>(text) {
        Ok(serde_yaml::Value::Mapping(m)) => m
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect(),
        _ => Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_rejected_with_its_line() {
        let err = Config::from_yaml(Path::new("h.yaml"), "title: x\nbase_ulr: https://e.org/\n")
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("h.yaml:2: "), "{msg}");
        assert!(msg.contains("base_ulr"), "{msg}");
    }

    #[test]
    fn the_shipped_config_loads_and_documents_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/herald.yaml");
        let settings = load(&path).expect("config/herald.yaml loads");
        assert!(
            settings.content.dir.is_dir(),
            "the sample content dir exists"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let serde_yaml::Value::Mapping(keys) = serde_yaml::to_value(Config::default()).unwrap()
        else {
            panic!()
        };
        for key in keys.keys() {
            let key = key.as_str().unwrap();
            let documented = text.lines().any(|l| {
                l.trim_start_matches(['#', ' '])
                    .starts_with(&format!("{key}:"))
            });
            assert!(documented, "config/herald.yaml does not document `{key}`");
        }
    }

    #[test]
    fn icon_and_logo_resolve_against_base_url_and_must_be_http() {
        let p = Path::new("h.yaml");
        let load = |text: &str| Config::from_yaml(p, text).unwrap().validate(p);
        let s = load(
            "base_url: https://e.org/blog/\nicon: /favicon.png\nlogo: https://cdn.e.org/l.png\n",
        )
        .unwrap();
        assert_eq!(
            s.feeds.site.icon.as_deref(),
            Some("https://e.org/favicon.png")
        );
        assert_eq!(
            s.feeds.site.logo.as_deref(),
            Some("https://cdn.e.org/l.png")
        );
        assert!(load("icon: \"javascript:alert(1)\"\n").is_err());
    }

    #[test]
    fn endpoint_paths_can_be_turned_off_and_must_be_absolute_and_distinct() {
        let p = Path::new("h.yaml");
        let load = |text: &str| Config::from_yaml(p, text).unwrap().validate(p);
        let s = load("").unwrap();
        assert_eq!(s.http.health_path.as_deref(), Some("/healthz"));
        assert_eq!(s.http.metrics_path.as_deref(), Some("/metrics"));
        let s = load("health_path: ''\nmetrics_path: /ops/metrics\n").unwrap();
        assert_eq!(s.http.health_path, None);
        assert_eq!(s.http.metrics_path.as_deref(), Some("/ops/metrics"));
        let err = load("health_path: healthz\n").unwrap_err();
        assert!(err.to_string().contains("health_path"), "{err}");
        let err = load("health_path: /x\nmetrics_path: /x\n").unwrap_err();
        assert!(err.to_string().contains("different"), "{err}");
        let err = Config::from_yaml(p, "log_format: yaml\n").unwrap_err();
        assert!(err.to_string().starts_with("h.yaml:1: "), "{err}");
    }

    #[test]
    fn needs_restart_names_only_the_keys_fixed_at_start() {
        let p = Path::new("h.yaml");
        let load = |text: &str| Config::from_yaml(p, text).unwrap().validate(p).unwrap();
        let old = load("title: A\n");
        assert!(old
            .needs_restart(&load("title: B\nwatch: poll\n"))
            .is_empty());
        let mut new = load("listen: 127.0.0.1:9999\nlog_format: json\ntitle: B\n");
        assert_eq!(old.needs_restart(&new), ["listen", "log_format"]);
        new.keep_fixed(&old);
        assert!(old.needs_restart(&new).is_empty());
        assert_eq!(new.feeds.site.title, "B");
        // Push starts with the server: a reload keeps the running hubs in the feeds.
        let mut push = load("title: B\nwebsub:\n  builtin_hub: true\n");
        assert_eq!(old.needs_restart(&push), ["websub"]);
        assert_eq!(push.feeds.site.hubs, ["http://127.0.0.1:8080/websub"]);
        push.keep_fixed(&old);
        assert!(push.feeds.site.hubs.is_empty() && !push.websub.push_on());
    }

    #[test]
    fn content_dir_is_relative_to_the_config_file() {
        let s = Config::from_yaml(
            Path::new("/etc/herald/h.yaml"),
            "content_dir: site/content\n",
        )
        .unwrap()
        .validate(Path::new("/etc/herald/h.yaml"))
        .unwrap();
        assert_eq!(s.content.dir, Path::new("/etc/herald/site/content"));
    }

    #[test]
    fn base_url_gains_a_trailing_slash_and_bad_values_are_named() {
        let p = Path::new("h.yaml");
        let s = Config::from_yaml(p, "base_url: https://e.org/blog\n")
            .unwrap()
            .validate(p)
            .unwrap();
        assert_eq!(s.feeds.site.base_url, "https://e.org/blog/");
        let err = Config::from_yaml(p, "base_url: /relative\n")
            .unwrap()
            .validate(p)
            .unwrap_err();
        assert!(err.to_string().contains("base_url"), "{err}");
        let err = Config::from_yaml(p, "timezone: Mars/Olympus\n")
            .unwrap()
            .validate(p)
            .unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
    }

    #[test]
    fn site_pages_default_to_the_sites_own_with_a_hugo_site_and_can_be_set() {
        let p = Path::new("h.yaml");
        let load = |text: &str| Config::from_yaml(p, text).unwrap().validate(p);
        assert_eq!(load("").unwrap().feeds.site_pages, SitePages::Herald);
        assert_eq!(
            load("site_pages: hugo\n").unwrap().feeds.site_pages,
            SitePages::Hugo
        );
        let err = Config::from_yaml(p, "title: x\nsite_pages: jekyll\n").unwrap_err();
        assert!(err.to_string().starts_with("h.yaml:2: "), "{err}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hugo.toml"), "baseURL = 'https://e.org/'\n").unwrap();
        let hugo = load_with(None, Some(dir.path())).unwrap();
        assert_eq!(hugo.feeds.site_pages, SitePages::Hugo);
        let own = dir.path().join("herald.yaml");
        std::fs::write(&own, "site_pages: herald\n").unwrap();
        let set = load_with(Some(&own), Some(dir.path())).unwrap();
        assert_eq!(set.feeds.site_pages, SitePages::Herald);
    }
}

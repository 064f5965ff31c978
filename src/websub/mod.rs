//! WebSub (W3C Recommendation): push instead of poll. This module owns the `websub:`
//! settings and starts the parts; each concern has its own file:
//!
//! - [`guard`]: which addresses outbound requests may reach (loopback, private, link-local
//!   and metadata addresses refused by default), checked at every connection through a DNS
//!   resolver of our own, and the HTTP client built on it.
//! - [`store`]: the subscriptions, in memory and in the state database (`subscriptions`
//!   table), so that they survive restarts; they expire at their lease.
//! - [`hub`]: `POST /websub` (subscribe, unsubscribe): checks, limits, rate limit, `202`.
//! - [`verify`]: the verification of intent (`GET callback?hub.challenge=…`).
//! - [`deliver`]: the distributor: hears which feeds changed ([`crate::announce`]) and
//!   posts the newest bytes to every active subscriber, signed, retried, bounded.
//! - [`ping`]: `hub.mode=publish` pings to external hubs on every change.
//!
//! Nothing here runs on the owner: the distributor listens to the announcer and runs on the
//! HTTP runtime; the owner never waits for it.

pub mod deliver;
pub mod guard;
pub mod hub;
pub mod ping;
pub mod store;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;
use crate::site::Handles;

pub use hub::Hub;

/// The `websub:` section as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSubConfig {
    /// Herald is the hub, at `/websub`, advertised in every feed.
    pub builtin_hub: bool,
    /// External hubs: advertised in every feed and pinged on every change.
    pub hubs: Vec<HubEntry>,
    /// Callbacks on loopback, private, link-local and metadata addresses (tests, intranets).
    pub allow_private_callbacks: bool,
    pub max_subscriptions_per_topic: usize,
    pub max_subscriptions_per_callback_host: usize,
    /// Lease when the subscriber asks for none; requests are clamped to the min/max.
    pub default_lease_secs: u64,
    pub min_lease_secs: u64,
    pub max_lease_secs: u64,
    /// Seconds one delivery (or verification) may take, connecting included.
    pub delivery_timeout_secs: u64,
    /// Deliveries in flight at once, over all callbacks (each callback gets one at a time).
    pub max_concurrent_deliveries: usize,
    /// A callback that keeps failing is retried with backoff this long, then dropped.
    pub retry_failed_deliveries_secs: u64,
    /// Requests to `/websub` one client address may make at once, and per minute after.
    pub rate_limit_burst: u32,
    pub rate_limit_per_minute: u32,
}

/// One external hub: its URL, or `{url, batch}` when it takes several topics per ping.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum HubEntry {
    Url(String),
    Options(HubOptions),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HubOptions {
    pub url: String,
    /// The hub accepts several `hub.url` (and `hub.topic`) in one ping.
    #[serde(default)]
    pub batch: bool,
}

impl Default for WebSubConfig {
    fn default() -> Self {
        WebSubConfig {
            builtin_hub: false,
            hubs: Vec::new(),
            allow_private_callbacks: false,
            max_subscriptions_per_topic: 10_000,
            max_subscriptions_per_callback_host: 1_000,
            default_lease_secs: 10 * 24 * 3600,
            min_lease_secs: 3600,
            max_lease_secs: 30 * 24 * 3600,
            delivery_timeout_secs: 10,
            max_concurrent_deliveries: 64,
            retry_failed_deliveries_secs: 24 * 3600,
            rate_limit_burst: 200,
            rate_limit_per_minute: 120,
        }
    }
}

/// An external hub, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalHub {
    pub url: url::Url,
    pub batch: bool,
}

/// The `websub:` settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSubSettings {
    /// The built-in hub's public URL (`base_url` + `websub`), when it is on.
    pub builtin_hub: Option<url::Url>,
    pub hubs: Vec<ExternalHub>,
    pub allow_private_callbacks: bool,
    pub max_per_topic: usize,
    pub max_per_callback_host: usize,
    pub default_lease: u64,
    pub min_lease: u64,
    pub max_lease: u64,
    pub delivery_timeout: Duration,
    pub max_concurrent_deliveries: usize,
    pub retry_for: Duration,
    pub rate_burst: u32,
    pub rate_per_minute: u32,
    /// The site's base URL: topics are feed URLs under it.
    pub base_url: url::Url,
}

/// The path the built-in hub answers on.
pub const HUB_PATH: &str = "/websub";

impl WebSubSettings {
    /// Checks the section; `base_url` is the site's (ends with `/`).
    pub fn from_config(config: &WebSubConfig, base_url: &url::Url) -> Result<Self, String> {
        let mut hubs = Vec::new();
        for entry in &config.hubs {
            let (text, batch) = match entry {
                HubEntry::Url(url) => (url.as_str(), false),
                HubEntry::Options(o) => (o.url.as_str(), o.batch),
            };
            let url = url::Url::parse(text.trim())
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .ok_or_else(|| format!("websub.hubs: {text:?} must be an http(s) URL"))?;
            hubs.push(ExternalHub { url, batch });
        }
        if config.min_lease_secs == 0 || config.min_lease_secs > config.max_lease_secs {
            return Err(
                "websub: min_lease_secs must be at least 1 and at most max_lease_secs".into(),
            );
        }
        if !(config.min_lease_secs..=config.max_lease_secs).contains(&config.default_lease_secs) {
            return Err(
                "websub: default_lease_secs must lie between min_lease_secs and max_lease_secs"
                    .into(),
            );
        }
        if config.max_concurrent_deliveries == 0 || config.rate_limit_burst == 0 {
            return Err(
                "websub: max_concurrent_deliveries and rate_limit_burst must be at least 1".into(),
            );
        }
        let builtin_hub = config.builtin_hub.then(|| {
            base_url
                .join(HUB_PATH.trim_start_matches('/'))
                .expect("a relative path joins")
        });
        Ok(WebSubSettings {
            builtin_hub,
            hubs,
            allow_private_callbacks: config.allow_private_callbacks,
            max_per_topic: config.max_subscriptions_per_topic,
            max_per_callback_host: config.max_subscriptions_per_callback_host,
            default_lease: config.default_lease_secs,
            min_lease: config.min_lease_secs,
            max_lease: config.max_lease_secs,
            delivery_timeout: Duration::from_secs(config.delivery_timeout_secs.max(1)),
            max_concurrent_deliveries: config.max_concurrent_deliveries,
            retry_for: Duration::from_secs(config.retry_failed_deliveries_secs),
            rate_burst: config.rate_limit_burst,
            rate_per_minute: config.rate_limit_per_minute,
            base_url: base_url.clone(),
        })
    }

    /// Every hub to advertise in feeds, the built-in one first.
    pub fn advertised(&self) -> Vec<String> {
        self.builtin_hub
            .iter()
            .chain(self.hubs.iter().map(|h| &h.url))
            .map(|u| u.to_string())
            .collect()
    }

    /// Whether anything is pushed at all.
    pub fn push_on(&self) -> bool {
        self.builtin_hub.is_some() || !self.hubs.is_empty()
    }

    /// The served path of a topic URL (`https://e.org/rss.xml` → `/rss.xml`), if the URL is
    /// under the base URL.
    pub fn topic_path(&self, topic: &str) -> Option<String> {
        let rest = topic.strip_prefix(self.base_url.as_str())?;
        if rest.contains(['?', '#']) {
            return None;
        }
        Some(format!("/{rest}"))
    }

    /// The public URL of a served path (`/rss.xml` → `https://e.org/rss.xml`).
    pub fn topic_url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path.trim_start_matches('/'))
    }
}

impl Default for WebSubSettings {
    fn default() -> Self {
        let base = url::Url::parse("http://127.0.0.1:8080/").expect("valid literal");
        WebSubSettings::from_config(&WebSubConfig::default(), &base).expect("defaults are valid")
    }
}

/// Whether a served resource is a feed (what can be a topic).
pub fn is_feed(resource: &crate::snapshot::Resource) -> bool {
    [
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
    ]
    .iter()
    .any(|t| resource.content_type.starts_with(t))
}

/// The running push machinery: the built-in hub (if on) and the tasks that deliver and ping.
pub struct WebSub {
    hub: Option<Arc<Hub>>,
}

impl WebSub {
    /// The built-in hub, for the HTTP server to route `/websub` to.
    pub fn hub(&self) -> Option<Arc<Hub>> {
        self.hub.clone()
    }
}

/// Starts push if it is on: listens to the announcer (call before the first publish, so
/// that what changed while Herald was down is pushed too) and spawns the distributor on
/// the current (HTTP) runtime. `None` when push is off.
pub fn start(
    settings: &WebSubSettings,
    handles: &Handles,
    metrics: Arc<Metrics>,
) -> Option<WebSub> {
    if !settings.push_on() {
        return None;
    }
    let listener = handles.announcer.listen();
    let pinger = ping::Pinger::start(settings, metrics.clone());
    let hub = settings.builtin_hub.as_ref().map(|_| {
        Arc::new(Hub::new(
            settings.clone(),
            store::Store::load(handles.state.clone(), handles.clock),
            handles.shared.clone(),
            metrics.clone(),
        ))
    });
    let distributor = deliver::Distributor::new(settings.clone(), hub.clone(), pinger);
    tokio::spawn(distributor.run(listener));
    if let Some(hub) = &hub {
        tokio::spawn(hub.clone().expire_periodically());
        tracing::info!(hub = %settings.advertised()[0], subscriptions = hub.store.len(), "WebSub hub on");
    }
    Some(WebSub { hub })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(yaml: &str) -> Result<WebSubSettings, String> {
        let config: WebSubConfig = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        WebSubSettings::from_config(&config, &url::Url::parse("https://e.org/blog/").unwrap())
    }

    #[test]
    fn hubs_are_checked_and_advertised_builtin_first() {
        let s = settings(
            "builtin_hub: true\nhubs:\n  - https://hub.example.net/\n  - url: https://b.example.net/\n    batch: true\n",
        )
        .unwrap();
        assert_eq!(
            s.advertised(),
            [
                "https://e.org/blog/websub",
                "https://hub.example.net/",
                "https://b.example.net/"
            ]
        );
        assert!(s.hubs[1].batch && !s.hubs[0].batch);
        assert!(s.push_on());
        assert!(!settings("{}").unwrap().push_on());
        assert!(settings("hubs: [ftp://x.example.net/]").is_err());
        assert!(settings("hubs: [{url: https://x.example.net/, bach: true}]").is_err());
        assert!(
            settings("buitin_hub: true").is_err(),
            "unknown keys are refused"
        );
        assert!(settings("min_lease_secs: 100\nmax_lease_secs: 10").is_err());
        assert!(settings("default_lease_secs: 5").is_err());
    }

    #[test]
    fn topics_are_feed_urls_under_the_base_url() {
        let s = settings("builtin_hub: true").unwrap();
        assert_eq!(
            s.topic_path("https://e.org/blog/rss.xml").as_deref(),
            Some("/rss.xml")
        );
        assert_eq!(
            s.topic_path("https://e.org/blog/categories/rust/atom.xml")
                .as_deref(),
            Some("/categories/rust/atom.xml")
        );
        assert_eq!(s.topic_path("https://e.org/rss.xml"), None);
        assert_eq!(s.topic_path("https://e.org/blog/rss.xml?x=1"), None);
        assert_eq!(s.topic_url("/feed.json"), "https://e.org/blog/feed.json");
    }
}

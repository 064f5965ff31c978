//! What the config says to the caches in front of Herald: `Cache-Control` per kind of
//! resource, and the caches and CDNs to tell when something changed (`purge:`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `cache_control:` as written: one value for everything, or one per kind of resource.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum CacheControlConfig {
    All(String),
    Kinds(CacheControlKinds),
}

/// `cache_control: {feeds: …, listings: …, pages: …}`; a kind left out keeps its default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheControlKinds {
    pub feeds: Option<String>,
    pub listings: Option<String>,
    pub pages: Option<String>,
}

/// What every kind gets by default: fresh for five minutes, then a cache may serve the old
/// copy for a minute while it asks again, and for a day while Herald cannot answer.
pub const DEFAULT_CACHE_CONTROL: &str =
    "public, max-age=300, stale-while-revalidate=60, stale-if-error=86400";

impl Default for CacheControlConfig {
    fn default() -> CacheControlConfig {
        CacheControlConfig::All(DEFAULT_CACHE_CONTROL.into())
    }
}

/// The `Cache-Control` value of each kind of served resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheControl {
    /// RSS, Atom and JSON feeds.
    pub feeds: String,
    /// The machine-read lists: OPML and `/feeds.json`.
    pub listings: String,
    /// The HTML pages for people: the index and each feed's page.
    pub pages: String,
}

impl Default for CacheControl {
    fn default() -> CacheControl {
        CacheControl {
            feeds: DEFAULT_CACHE_CONTROL.into(),
            listings: DEFAULT_CACHE_CONTROL.into(),
            pages: DEFAULT_CACHE_CONTROL.into(),
        }
    }
}

impl CacheControlConfig {
    /// The value of each kind; an error names the kind whose value cannot be a header.
    pub fn validate(&self) -> Result<CacheControl, String> {
        let defaults = CacheControl::default();
        let out = match self {
            CacheControlConfig::All(all) => CacheControl {
                feeds: all.clone(),
                listings: all.clone(),
                pages: all.clone(),
            },
            CacheControlConfig::Kinds(kinds) => CacheControl {
                feeds: kinds.feeds.clone().unwrap_or(defaults.feeds),
                listings: kinds.listings.clone().unwrap_or(defaults.listings),
                pages: kinds.pages.clone().unwrap_or(defaults.pages),
            },
        };
        for (kind, value) in [
            ("feeds", &out.feeds),
            ("listings", &out.listings),
            ("pages", &out.pages),
        ] {
            if value.trim().is_empty() || !crate::snapshot::is_header_text(value) {
                return Err(format!(
                    "cache_control ({kind}) {value:?} cannot be sent as a header: use visible ASCII, e.g. \"{DEFAULT_CACHE_CONTROL}\""
                ));
            }
        }
        Ok(out)
    }
}

/// One `purge:` entry as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum PurgeConfig {
    /// `{url: http://127.0.0.1:6081}`: `PURGE <path>` per changed path (Varnish, nginx
    /// `proxy_cache_purge`, Squid), with `Host` set to `base_url`'s host.
    Cache(PurgeCache),
    /// A CDN's purge API: one request per batch of changes.
    Api(PurgeApi),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeCache {
    pub url: String,
}

/// `{api: {url, method, headers, body, batch}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeApi {
    pub api: PurgeApiRequest,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeApiRequest {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    /// Header values may name a secret as `${env:NAME}` or `${file:/path}`: read when sent,
    /// never written in the config.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body, with `{{urls}}`, `{{paths}}` and `{{keys}}` replaced by JSON arrays of the
    /// changed absolute URLs, paths and surrogate keys.
    #[serde(default)]
    pub body: Option<String>,
    /// Changed paths per request at most (APIs limit how many a call may name).
    #[serde(default = "default_batch")]
    pub batch: usize,
}

fn default_method() -> String {
    "POST".into()
}

fn default_batch() -> usize {
    30
}

/// A validated `purge:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeTarget {
    Cache { base: url::Url },
    Api(PurgeApiTarget),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeApiTarget {
    pub url: url::Url,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub batch: usize,
}

impl PurgeConfig {
    /// Checks the URLs, method and header names; `n` is the entry's place in the list.
    pub fn validate(&self, n: usize) -> Result<PurgeTarget, String> {
        let http_url = |text: &str| -> Result<url::Url, String> {
            let url = url::Url::parse(text)
                .map_err(|e| format!("purge entry {n}: {text:?} is not a URL: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                return Err(format!(
                    "purge entry {n}: {text:?} must be an http(s) URL with a host"
                ));
            }
            Ok(url)
        };
        match self {
            PurgeConfig::Cache(cache) => Ok(PurgeTarget::Cache {
                base: http_url(&cache.url)?,
            }),
            PurgeConfig::Api(PurgeApi { api }) => {
                let method = api.method.to_ascii_uppercase();
                if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(format!(
                        "purge entry {n}: method {:?} is not an HTTP method",
                        api.method
                    ));
                }
                for (name, value) in &api.headers {
                    let token = !name.is_empty()
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
                    if !token || !crate::snapshot::is_header_text(value) {
                        return Err(format!(
                            "purge entry {n}: header {name:?} is not a valid header name and value"
                        ));
                    }
                }
                if api.batch == 0 {
                    return Err(format!("purge entry {n}: batch must be at least 1"));
                }
                Ok(PurgeTarget::Api(PurgeApiTarget {
                    url: http_url(&api.url)?,
                    method,
                    headers: api
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    body: api.body.clone(),
                    batch: api.batch,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(yaml: &str) -> T {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn one_value_for_all_or_one_per_kind_with_defaults_for_the_rest() {
        let all: CacheControlConfig = parse("public, max-age=60");
        let all = all.validate().unwrap();
        assert_eq!(all.feeds, "public, max-age=60");
        assert_eq!(all.pages, "public, max-age=60");
        let kinds: CacheControlConfig = parse("{feeds: 'public, s-maxage=3600', pages: no-cache}");
        let kinds = kinds.validate().unwrap();
        assert_eq!(kinds.feeds, "public, s-maxage=3600");
        assert_eq!(kinds.pages, "no-cache");
        assert_eq!(kinds.listings, DEFAULT_CACHE_CONTROL);
        let bad: CacheControlConfig = parse("{feeds: \"a\\nb\"}");
        assert!(bad.validate().unwrap_err().contains("feeds"));
        assert!(serde_yaml::from_str::<CacheControlConfig>("{feed: x}").is_err());
    }

    #[test]
    fn purge_entries_are_a_cache_or_an_api_request() {
        let list: Vec<PurgeConfig> = parse(
            "- url: http://127.0.0.1:6081\n- api: {url: 'http://127.0.0.1:9/purge', headers: {Authorization: 'Bearer ${env:TOKEN}'}, body: '{\"files\": {{urls}}}'}\n",
        );
        assert!(matches!(list[0].validate(0), Ok(PurgeTarget::Cache { .. })));
        match list[1].validate(1).unwrap() {
            PurgeTarget::Api(api) => {
                assert_eq!(api.method, "POST");
                assert_eq!(api.batch, 30);
                assert_eq!(api.headers[0].0, "Authorization");
            }
            other => panic!("{other:?}"),
        }
        let bad: Vec<PurgeConfig> = parse("- url: ftp://127.0.0.1/\n");
        assert!(bad[0].validate(0).unwrap_err().contains("http(s)"));
    }
}

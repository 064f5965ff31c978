//! Tells the caches and CDNs in front of Herald (`purge:`) which paths changed, so that a
//! long `s-maxage` never means a stale feed.
//!
//! Each configured target gets its own task and its own [`Listener`]: a cache that is down
//! retries on its own (exponential backoff, up to [`GIVE_UP`]) and delays no other target
//! and never the owner. What changes while a target is busy or retrying is merged into its
//! next attempt, so a burst of edits costs one purge per path, not one per edit.
//!
//! - A cache (`{url}`) gets `PURGE <path>` per changed path with `Host` set to `base_url`'s
//!   host: what Varnish, nginx `proxy_cache_purge` and Squid expect. A 404 means "not in
//!   the cache", which is as good as purged.
//! - An API (`{api}`) gets one request per `batch` paths, its body made from the template
//!   with `{{urls}}`, `{{paths}}` and `{{keys}}` (surrogate keys) as JSON arrays. Header
//!   values may read secrets as `${env:NAME}` or `${file:/path}` when sent.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::announce::{Change, Listener};
use crate::config::{PurgeApiTarget, PurgeTarget};
use crate::metrics::Metrics;
use crate::snapshot::Snapshot;

/// First wait after a failed purge; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A path that could not be purged for this long is dropped (and counted): the cache's
/// own `max-age` ends its life.
const GIVE_UP: Duration = Duration::from_secs(600);
/// Time for one purge request, connecting included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// PURGE requests in flight at once per cache.
const CONCURRENCY: usize = 8;

#[derive(Debug, Error)]
pub enum PurgeError {
    #[error("{url}: {source}")]
    Request { url: String, source: reqwest::Error },
    #[error("{url}: answered {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    #[error("header {header}: {message}")]
    Secret { header: String, message: String },
}

/// Starts one task per target on the current runtime, each with a listener of its own
/// from `listen`. `base` is `base_url`: its host is the `Host` caches get, and it makes
/// the absolute URLs an API is told.
pub fn start(
    targets: &[PurgeTarget],
    base: &url::Url,
    mut listen: impl FnMut() -> Arc<Listener>,
    metrics: Arc<Metrics>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let client = match reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("cannot make an HTTP client for purges, none will be sent: {e}");
            return Vec::new();
        }
    };
    targets
        .iter()
        .enumerate()
        .map(|(n, target)| {
            let purger = Purger {
                name: format!("purge entry {}", n + 1),
                target: target.clone(),
                base: base.clone(),
                client: client.clone(),
                metrics: metrics.clone(),
            };
            tokio::spawn(purger.run(listen()))
        })
        .collect()
}

struct Purger {
    name: String,
    target: PurgeTarget,
    base: url::Url,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
}

impl Purger {
    async fn run(self, listener: Arc<Listener>) {
        // Paths still to purge; since when the purges of this target fail.
        let mut todo: BTreeSet<String> = BTreeSet::new();
        let mut snapshot: Option<Arc<Snapshot>> = None;
        let mut failing_since: Option<tokio::time::Instant> = None;
        let mut backoff = FIRST_BACKOFF;
        loop {
            let change = if todo.is_empty() {
                Some(listener.next().await)
            } else {
                // Retrying: wait out the backoff, but take what changed meanwhile too.
                tokio::time::sleep(backoff).await;
                listener.take()
            };
            if let Some(Change {
                snapshot: newest,
                paths,
            }) = change
            {
                snapshot = Some(newest);
                todo.extend(paths);
            }
            let Some(current) = snapshot.clone() else {
                continue;
            };
            let failed = self.purge(&current, &todo).await;
            self.metrics.purged(todo.len() - failed.len(), failed.len());
            if failed.is_empty() {
                todo.clear();
                failing_since = None;
                backoff = FIRST_BACKOFF;
                continue;
            }
            let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= GIVE_UP {
                tracing::error!(
                    target = %self.name,
                    paths = failed.len(),
                    "purges kept failing for {} s; giving up on these paths (the cache's max-age ends them)",
                    GIVE_UP.as_secs()
                );
                self.metrics.purges_dropped(failed.len());
                todo.clear();
                failing_since = None;
                backoff = FIRST_BACKOFF;
                continue;
            }
            todo = failed;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Purges `paths`; returns those that failed.
    async fn purge(&self, snapshot: &Snapshot, paths: &BTreeSet<String>) -> BTreeSet<String> {
        match &self.target {
            PurgeTarget::Cache { base } => self.purge_cache(base, paths).await,
            PurgeTarget::Api(api) => self.purge_api(api, snapshot, paths).await,
        }
    }

    async fn purge_cache(&self, cache: &url::Url, paths: &BTreeSet<String>) -> BTreeSet<String> {
        let host = host_header(&self.base);
        let method = reqwest::Method::from_bytes(b"PURGE").expect("PURGE is a method token");
        let mut failed = BTreeSet::new();
        let mut in_flight = tokio::task::JoinSet::new();
        let mut paths = paths.iter();
        loop {
            while in_flight.len() < CONCURRENCY {
                let Some(path) = paths.next() else { break };
                let url = cache_url(cache, path);
                let request = self
                    .client
                    .request(method.clone(), &url)
                    .header(reqwest::header::HOST, host.clone());
                let path = path.clone();
                in_flight.spawn(async move {
                    let outcome = match request.send().await {
                        Ok(r) if r.status().is_success() || r.status() == 404 => Ok(()),
                        Ok(r) => Err(PurgeError::Status {
                            url,
                            status: r.status(),
                        }),
                        Err(source) => Err(PurgeError::Request { url, source }),
                    };
                    (path, outcome)
                });
            }
            let Some(done) = in_flight.join_next().await else {
                break;
            };
            if let Ok((path, Err(error))) = done {
                tracing::warn!(target = %self.name, "purge failed, will retry: {error}");
                failed.insert(path);
            }
        }
        failed
    }

    async fn purge_api(
        &self,
        api: &PurgeApiTarget,
        snapshot: &Snapshot,
        paths: &BTreeSet<String>,
    ) -> BTreeSet<String> {
        let mut failed = BTreeSet::new();
        let paths: Vec<&String> = paths.iter().collect();
        for chunk in paths.chunks(api.batch) {
            if let Err(error) = self.send_api(api, snapshot, chunk).await {
                tracing::warn!(target = %self.name, "purge failed, will retry: {error}");
                failed.extend(chunk.iter().map(|p| (*p).clone()));
            }
        }
        failed
    }

    async fn send_api(
        &self,
        api: &PurgeApiTarget,
        snapshot: &Snapshot,
        paths: &[&String],
    ) -> Result<(), PurgeError> {
        let method =
            reqwest::Method::from_bytes(api.method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let mut request = self.client.request(method, api.url.clone());
        for (name, value) in &api.headers {
            let value = expand_secrets(value).map_err(|message| PurgeError::Secret {
                header: name.clone(),
                message,
            })?;
            request = request.header(name.as_str(), value);
        }
        if let Some(template) = &api.body {
            request = request.body(api_body(template, &self.base, snapshot, paths));
        }
        let url = api.url.to_string();
        let response = request.send().await.map_err(|source| PurgeError::Request {
            url: url.clone(),
            source,
        })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(PurgeError::Status {
                url,
                status: response.status(),
            })
        }
    }
}

/// `Host` as the cache files Herald's responses: `base_url`'s host, with a non-default port.
fn host_header(base: &url::Url) -> String {
    let host = base.host_str().unwrap_or_default();
    match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The cache's address with the served path (which may be under a base path of its own).
fn cache_url(cache: &url::Url, path: &str) -> String {
    let base = cache.as_str().trim_end_matches('/');
    format!("{base}{path}")
}

/// The API body: the template with its placeholders replaced by JSON arrays.
fn api_body(template: &str, base: &url::Url, snapshot: &Snapshot, paths: &[&String]) -> String {
    let urls: Vec<String> = paths
        .iter()
        .map(|p| {
            base.join(p.trim_start_matches('/'))
                .map(String::from)
                .unwrap_or_else(|_| (*p).clone())
        })
        .collect();
    let mut keys: BTreeSet<String> = BTreeSet::new();
    for path in paths {
        if let Some(resource) = snapshot.get(path) {
            for (name, value) in &resource.headers {
                if *name == "surrogate-key" {
                    let text = String::from_utf8_lossy(value);
                    // `herald` would purge everything: only the specific keys.
                    keys.extend(
                        text.split(' ')
                            .filter(|k| *k != crate::publish::keys::ALL)
                            .map(str::to_owned),
                    );
                }
            }
        }
    }
    template
        .replace("{{urls}}", &json(&urls))
        .replace("{{paths}}", &json(&paths))
        .replace("{{keys}}", &json(&keys))
}

/// A list as a JSON array.
fn json<T: serde::Serialize>(list: &T) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

/// Replaces `${env:NAME}` and `${file:/path}` with the variable's value or the file's
/// content (trailing newline removed).
fn expand_secrets(value: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("an unclosed ${".into());
        };
        let reference = &after[..end];
        let secret = if let Some(name) = reference.strip_prefix("env:") {
            std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))?
        } else if let Some(path) = reference.strip_prefix("file:") {
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {path}: {e}"))?
                .trim_end_matches(['\r', '\n'])
                .to_owned()
        } else {
            return Err(format!(
                "${{{reference}}}: use ${{env:NAME}} or ${{file:/path}}"
            ));
        };
        if !crate::snapshot::is_header_text(&secret) {
            return Err(format!("${{{reference}}} is not valid header text"));
        }
        out.push_str(&secret);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_the_environment_or_a_file_when_sent() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret\n").unwrap();
        let value = format!("Bearer ${{file:{}}}", file.display());
        assert_eq!(expand_secrets(&value).unwrap(), "Bearer s3cret");
        assert_eq!(expand_secrets("plain").unwrap(), "plain");
        assert!(expand_secrets("${env:HERALD_TEST_SURELY_UNSET_VAR}")
            .unwrap_err()
            .contains("HERALD_TEST_SURELY_UNSET_VAR"));
        assert!(expand_secrets("${vault:x}").is_err());
    }

    #[test]
    fn the_host_is_the_public_one_and_the_path_goes_to_the_cache() {
        let base = url::Url::parse("https://example.org/").unwrap();
        assert_eq!(host_header(&base), "example.org");
        let base = url::Url::parse("http://127.0.0.1:8080/blog/").unwrap();
        assert_eq!(host_header(&base), "127.0.0.1:8080");
        let cache = url::Url::parse("http://127.0.0.1:6081").unwrap();
        assert_eq!(
            cache_url(&cache, "/categories/rust/rss.xml"),
            "http://127.0.0.1:6081/categories/rust/rss.xml"
        );
    }

    #[test]
    fn an_api_body_names_urls_paths_and_specific_keys() {
        let base = url::Url::parse("https://example.org/").unwrap();
        let mut snapshot = Snapshot::default();
        let resource = crate::snapshot::Resource::new(
            "application/rss+xml",
            bytes::Bytes::from_static(b"<rss/>"),
            None,
            &bytes::Bytes::from_static(b"public"),
        )
        .with_header("surrogate-key", "herald feed:/ post:/a/");
        snapshot
            .resources
            .insert("/rss.xml".into(), Arc::new(resource));
        let path = "/rss.xml".to_string();
        let body = api_body(
            r#"{"files": {{urls}}, "paths": {{paths}}, "tags": {{keys}}}"#,
            &base,
            &snapshot,
            &[&path],
        );
        assert_eq!(
            body,
            r#"{"files": ["https://example.org/rss.xml"], "paths": ["/rss.xml"], "tags": ["feed:/","post:/a/"]}"#
        );
    }
}

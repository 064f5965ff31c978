//! `POST /websub`: the subscriber's requests to the built-in hub (WebSub §5.1).
//!
//! A form body (at most [`MAX_BODY`] bytes, read within [`BODY_TIMEOUT`]) with `hub.mode`
//! (`subscribe` or `unsubscribe`), `hub.topic` (a feed's self URL, any format, any
//! language), `hub.callback`, optional `hub.lease_seconds` (clamped to the configured
//! range) and `hub.secret` (under 200 bytes). A request that can be taken is answered
//! `202 Accepted` and its intent verified afterwards ([`super::verify`]); anything else gets
//! a 4xx with the reason as text, and no request is ever made to that callback:
//!
//! - `400`: a missing or malformed field, a callback that is not http(s) or does not resolve;
//! - `403`: a callback on a refused address (see [`super::guard`]), or over the limits of
//!   subscriptions per topic or per callback host;
//! - `404`: a topic that is not one of this site's feeds;
//! - `413`, `408`: a body too large or too slow; `415`: not a form;
//! - `429` with `Retry-After`: over the rate limit for the client's address (a token bucket
//!   of `rate_limit_burst`, refilled at `rate_limit_per_minute`);
//! - `503`: too many verifications pending.
//!
//! `hub.mode=publish` (a ping from another replica that advertises this hub) is answered
//! `202` and ignored: this hub pushes the changes its own replica publishes.
//! `GET /websub` answers a short text for people; other methods get `405`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};

use super::store::{callback_host, Store};
use super::verify::{self, Intent, Mode};
use super::{guard, is_feed, WebSubSettings};
use crate::metrics::Metrics;
use crate::snapshot::SharedSnapshot;

/// Largest request body taken.
pub const MAX_BODY: usize = 8 * 1024;
/// Time a client has to send its body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Verifications waiting or running at once; more are answered 503.
pub const MAX_PENDING_VERIFICATIONS: usize = 4096;
/// Longest secret taken (the spec: under 200 bytes).
pub const MAX_SECRET: usize = 199;
/// Client addresses the rate limiter remembers; beyond, full buckets are forgotten.
const MAX_TRACKED_CLIENTS: usize = 10_000;

type Body = Full<Bytes>;

/// The built-in hub: its settings, subscriptions, and what it needs to check topics.
pub struct Hub {
    pub settings: WebSubSettings,
    pub store: Store,
    pub(super) snapshot: SharedSnapshot,
    pub(super) metrics: Arc<Metrics>,
    /// For verification requests and deliveries: guarded at every connection.
    pub(super) client: reqwest::Client,
    pub(super) pending: Arc<tokio::sync::Semaphore>,
    limiter: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("hub", &self.settings.builtin_hub)
            .field("subscriptions", &self.store.len())
            .finish_non_exhaustive()
    }
}

impl Hub {
    pub fn new(
        settings: WebSubSettings,
        store: Store,
        snapshot: SharedSnapshot,
        metrics: Arc<Metrics>,
    ) -> Hub {
        let client = guard::client(
            settings.allow_private_callbacks,
            true,
            settings.delivery_timeout,
            settings.max_concurrent_deliveries,
        );
        metrics.websub_subscriptions(store.len());
        Hub {
            settings,
            store,
            snapshot,
            metrics,
            client,
            pending: Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_VERIFICATIONS)),
            limiter: Mutex::new(HashMap::new()),
        }
    }

    /// Drops subscriptions whose lease ended, once a minute (deliveries skip them anyway).
    pub async fn expire_periodically(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let n = self.store.expire().await;
            if n > 0 {
                tracing::info!(expired = n, "WebSub subscriptions ended at their lease");
                self.metrics.websub_subscriptions(self.store.len());
            }
        }
    }

    /// Answers one request to `/websub` from `peer`.
    pub async fn handle<B>(self: &Arc<Self>, req: Request<B>, peer: IpAddr) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match *req.method() {
            Method::GET | Method::HEAD => return about(req.method() == Method::HEAD),
            Method::POST => {}
            _ => {
                let mut r = text(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed\n".into(),
                );
                r.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
                return r;
            }
        }
        if !self.take_token(peer) {
            let mut r = text(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests from this address; try again shortly\n".into(),
            );
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("5"));
            return r;
        }
        let form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if !form {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be application/x-www-form-urlencoded\n".into(),
            );
        }
        let body = Limited::new(req.into_body(), MAX_BODY);
        let body = match tokio::time::timeout(BODY_TIMEOUT, body.collect()).await {
            Err(_) => {
                return text(
                    StatusCode::REQUEST_TIMEOUT,
                    "the body took too long\n".into(),
                )
            }
            Ok(Err(_)) => {
                return text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body must be at most {MAX_BODY} bytes\n"),
                )
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        if form_urlencoded::parse(&body).any(|(k, v)| k == "hub.mode" && v == "publish") {
            // Another replica pinging the owner of the hub: the owner pushes the changes it
            // publishes itself, so there is nothing to do.
            return text(
                StatusCode::ACCEPTED,
                "accepted: this hub pushes its feeds' changes as it publishes them\n".into(),
            );
        }
        match self.take(&body).await {
            Ok(intent) => {
                let Ok(permit) = self.pending.clone().try_acquire_owned() else {
                    return text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "too many verifications pending; try again later\n".into(),
                    );
                };
                let hub = self.clone();
                tokio::spawn(async move {
                    verify::run(&hub, intent).await;
                    drop(permit);
                });
                text(StatusCode::ACCEPTED, "accepted: verifying intent\n".into())
            }
            Err((status, reason)) => {
                tracing::debug!(%peer, status = status.as_u16(), reason, "WebSub request refused");
                text(status, format!("{reason}\n"))
            }
        }
    }

    /// Parses and checks one request body into what to verify.
    async fn take(&self, body: &[u8]) -> Result<Intent, (StatusCode, String)> {
        let bad = |s: &str| (StatusCode::BAD_REQUEST, s.to_owned());
        let mut mode = None;
        let mut topic = None;
        let mut callback = None;
        let mut lease = None;
        let mut secret = None;
        for (k, v) in form_urlencoded::parse(body) {
            match &*k {
                "hub.mode" => mode = Some(v.into_owned()),
                "hub.topic" => topic = Some(v.into_owned()),
                "hub.callback" => callback = Some(v.into_owned()),
                "hub.lease_seconds" => lease = Some(v.into_owned()),
                "hub.secret" => secret = Some(v.into_owned()),
                _ => {}
            }
        }
        let mode = match mode.as_deref() {
            Some("subscribe") => Mode::Subscribe,
            Some("unsubscribe") => Mode::Unsubscribe,
            Some(_) => return Err(bad("hub.mode must be subscribe or unsubscribe")),
            None => return Err(bad("hub.mode is missing")),
        };
        let topic = topic.ok_or_else(|| bad("hub.topic is missing"))?;
        let callback = callback.ok_or_else(|| bad("hub.callback is missing"))?;
        let lease = match lease.as_deref().map(str::trim) {
            None | Some("") => self.settings.default_lease,
            Some(text) => text
                .parse::<u64>()
                .map_err(|_| bad("hub.lease_seconds must be a whole number of seconds"))?,
        }
        .clamp(self.settings.min_lease, self.settings.max_lease);
        if secret.as_ref().is_some_and(|s| s.len() > MAX_SECRET) {
            return Err(bad("hub.secret must be under 200 bytes"));
        }
        let secret = secret.filter(|s| !s.is_empty());
        let path = self
            .settings
            .topic_path(&topic)
            .filter(|path| self.snapshot.load().get(path).is_some_and(|r| is_feed(r)));
        let Some(path) = path else {
            return Err((
                StatusCode::NOT_FOUND,
                format!(
                    "unknown topic: hub.topic must be the URL of one of this site's feeds (under {})",
                    self.settings.base_url
                ),
            ));
        };
        let callback_url = url::Url::parse(&callback)
            .map_err(|e| bad(&format!("hub.callback is not a URL: {e}")))?;
        if callback_url.fragment().is_some() {
            return Err(bad("hub.callback must not have a fragment"));
        }
        match guard::check_resolves(
            &callback_url,
            self.settings.allow_private_callbacks,
            Duration::from_secs(5),
        )
        .await
        {
            Ok(()) => {}
            Err(err @ guard::GuardError::Disallowed(_)) => {
                self.metrics.websub_delivery("refused", None);
                return Err((StatusCode::FORBIDDEN, err.to_string()));
            }
            Err(err) => return Err(bad(&err.to_string())),
        }
        if mode == Mode::Subscribe && self.store.get(&path, &callback).is_none() {
            let (topic_count, host_count) = self.store.counts(&path, &callback_host(&callback));
            if topic_count >= self.settings.max_per_topic {
                return Err((
                    StatusCode::FORBIDDEN,
                    "this topic has as many subscriptions as this hub takes".into(),
                ));
            }
            if host_count >= self.settings.max_per_callback_host {
                return Err((
                    StatusCode::FORBIDDEN,
                    "this callback host has as many subscriptions as this hub takes".into(),
                ));
            }
        }
        Ok(Intent {
            mode,
            topic,
            path,
            callback,
            lease,
            secret,
        })
    }

    /// One token from `peer`'s bucket, if it has one left.
    fn take_token(&self, peer: IpAddr) -> bool {
        let burst = f64::from(self.settings.rate_burst);
        let per_sec = f64::from(self.settings.rate_per_minute) / 60.0;
        let now = Instant::now();
        let mut buckets = self.limiter.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_TRACKED_CLIENTS {
            buckets
                .retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * per_sec < burst);
        }
        let (tokens, at) = buckets.entry(peer).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_sec).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn about(head: bool) -> Response<Body> {
    let mut r = text(
        StatusCode::OK,
        "This is a WebSub hub (https://www.w3.org/TR/websub/) for this site's feeds.\nReaders subscribe with POST hub.mode=subscribe&hub.topic=<feed URL>&hub.callback=<URL>; new versions of the feed are then pushed to the callback.\n".into(),
    );
    if head {
        *r.body_mut() = Body::default();
    }
    r
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let len = body.len();
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    r
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use arc_swap::ArcSwap;

    use super::*;
    use crate::clock::Clock;
    use crate::snapshot::Snapshot;
    use crate::state::State;

    fn hub(yaml: &str) -> Arc<Hub> {
        let config: super::super::WebSubConfig = serde_yaml::from_str(yaml).unwrap();
        let base = url::Url::parse("https://e.org/").unwrap();
        let settings = WebSubSettings::from_config(&config, &base).unwrap();
        Arc::new(Hub::new(
            settings,
            Store::load(Arc::new(State::memory()), Clock::System),
            Arc::new(ArcSwap::from_pointee(Snapshot::default())),
            Arc::new(Metrics::new()),
        ))
    }

    fn req(method: Method, content_type: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
        Request::builder()
            .method(method)
            .uri("/websub")
            .header(CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    }

    const FORM: &str = "application/x-www-form-urlencoded";
    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn methods_media_types_and_body_size_are_checked_first() {
        let hub = hub("builtin_hub: true\n");
        let status = |r: Response<Body>| r.status();
        assert_eq!(
            status(hub.handle(req(Method::GET, FORM, vec![]), PEER).await),
            200
        );
        let put = hub.handle(req(Method::PUT, FORM, vec![]), PEER).await;
        assert_eq!(put.status(), 405);
        assert_eq!(put.headers()[ALLOW], "GET, HEAD, POST");
        let json = req(Method::POST, "application/json", b"{}".to_vec());
        assert_eq!(status(hub.handle(json, PEER).await), 415);
        let big = req(Method::POST, FORM, vec![b'a'; MAX_BODY + 1]);
        assert_eq!(status(hub.handle(big, PEER).await), 413);
        let publish = req(Method::POST, FORM, b"hub.mode=publish&hub.url=x".to_vec());
        assert_eq!(status(hub.handle(publish, PEER).await), 202);
        let bad = req(Method::POST, FORM, b"hub.mode=subscribe".to_vec());
        assert_eq!(status(hub.handle(bad, PEER).await), 400);
        let unknown = req(
            Method::POST,
            FORM,
            b"hub.mode=subscribe&hub.topic=https%3A%2F%2Fe.org%2Frss.xml&hub.callback=http%3A%2F%2F127.0.0.1%3A9%2F"
                .to_vec(),
        );
        assert_eq!(status(hub.handle(unknown, PEER).await), 404, "no such feed");
    }

    #[tokio::test]
    async fn the_rate_limit_takes_a_burst_then_refills_slowly() {
        let hub = hub("builtin_hub: true\nrate_limit_burst: 100\nrate_limit_per_minute: 60\n");
        assert!((0..100).all(|_| hub.take_token(PEER)));
        assert!(!hub.take_token(PEER));
        let r = hub.handle(req(Method::POST, FORM, vec![]), PEER).await;
        assert_eq!(r.status(), 429);
        assert!(r.headers().contains_key(RETRY_AFTER));
        // Another client has its own bucket.
        assert!(hub.take_token(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)));
    }
}

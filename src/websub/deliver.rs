//! The distributor (WebSub §7): hears which served paths each publish changed, and pushes
//! the new bytes of every changed feed to its active subscribers, and tells the external
//! hubs ([`super::ping`]).
//!
//! A delivery is `POST callback` with the feed's full new representation as the body, its
//! `Content-Type`, `Link: <hub>; rel="hub"` and `Link: <topic>; rel="self"`, and
//! `X-Hub-Signature: sha256=<HMAC-SHA256 of the body>` when the subscriber gave a secret.
//! A 2xx is success; `410 Gone` ends the subscription; anything else is a failure.
//!
//! Bounded everywhere:
//! - one worker per callback URL at a time (per-callback concurrency 1), with a mailbox
//!   holding at most one pending version per topic: when several changes queue up, only
//!   the newest is delivered;
//! - at most `max_concurrent_deliveries` requests in flight over all callbacks, each
//!   bounded by `delivery_timeout_secs`, response bodies never read beyond [`MAX_ANSWER`];
//! - failures are retried after 1 s, 2 s, 4 s … (at most [`MAX_BACKOFF`]); a subscription
//!   still failing `retry_failed_deliveries_secs` after its first failure is dropped.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use thiserror::Error;

use super::hub::Hub;
use super::ping::Pinger;
use super::store::Subscription;
use super::{guard, is_feed, WebSubSettings};
use crate::announce::Listener;
use crate::snapshot::Resource;

/// Bytes of a callback's answer read at most (then the connection is dropped).
pub const MAX_ANSWER: usize = 4 * 1024;
/// Longest pause between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The first retry's pause (the issue asks for one within 5 s).
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// One version of a topic waiting for one callback.
struct Pending {
    resource: Arc<Resource>,
    /// When the distributor heard of the change: delivery latency is measured from it.
    heard: Instant,
}

/// Hears changes and hands deliveries to the per-callback workers.
pub struct Distributor {
    settings: WebSubSettings,
    hub: Option<Arc<Hub>>,
    pinger: Option<Arc<Pinger>>,
    /// Callback URL → topic path → the newest version not yet delivered. A callback is in
    /// the map exactly while its worker runs.
    mailboxes: Arc<Mutex<HashMap<String, BTreeMap<String, Pending>>>>,
    global: Arc<tokio::sync::Semaphore>,
}

#[derive(Debug, Error)]
enum DeliveryError {
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
    #[error("{0}")]
    Request(#[from] reqwest::Error),
    #[error("answered {0}")]
    Status(u16),
    #[error("answered 410 Gone: the subscriber ended the subscription")]
    Gone,
}

impl Distributor {
    pub fn new(
        settings: WebSubSettings,
        hub: Option<Arc<Hub>>,
        pinger: Option<Arc<Pinger>>,
    ) -> Self {
        let global = Arc::new(tokio::sync::Semaphore::new(
            settings.max_concurrent_deliveries,
        ));
        Distributor {
            settings,
            hub,
            pinger,
            mailboxes: Arc::new(Mutex::new(HashMap::new())),
            global,
        }
    }

    /// Runs until the process ends: each change is sorted into mailboxes and pings at once,
    /// so this loop never waits for a callback or a hub.
    pub async fn run(self, listener: Arc<Listener>) {
        let this = Arc::new(self);
        loop {
            let change = listener.next().await;
            let heard = Instant::now();
            let feeds: Vec<(&String, &Arc<Resource>)> = change
                .paths
                .iter()
                .filter_map(|p| change.snapshot.get(p).map(|r| (p, r)))
                .filter(|(_, r)| is_feed(r))
                .collect();
            if feeds.is_empty() {
                continue;
            }
            if let Some(pinger) = &this.pinger {
                pinger.add(feeds.iter().map(|(p, _)| this.settings.topic_url(p)));
            }
            if let Some(hub) = &this.hub {
                for (path, resource) in &feeds {
                    for sub in hub.store.active(path) {
                        this.enqueue(hub, sub.callback, path, resource, heard);
                    }
                }
            }
        }
    }

    fn enqueue(
        self: &Arc<Self>,
        hub: &Arc<Hub>,
        callback: String,
        path: &str,
        resource: &Arc<Resource>,
        heard: Instant,
    ) {
        let mut boxes = self.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
        let pending = Pending {
            resource: resource.clone(),
            heard,
        };
        match boxes.get_mut(&callback) {
            Some(mailbox) => {
                // The worker is running: it takes this (replacing an older version) next.
                mailbox.insert(path.to_owned(), pending);
            }
            None => {
                boxes.insert(
                    callback.clone(),
                    BTreeMap::from([(path.to_owned(), pending)]),
                );
                let this = self.clone();
                let hub = hub.clone();
                tokio::spawn(async move { this.work(hub, callback).await });
            }
        }
    }

    /// The only worker for `callback`: delivers its mailbox one topic at a time, and
    /// removes the mailbox when it is empty.
    async fn work(self: Arc<Self>, hub: Arc<Hub>, callback: String) {
        loop {
            let next = {
                let mut boxes = self.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
                let Some(mailbox) = boxes.get_mut(&callback) else {
                    return;
                };
                match mailbox.pop_first() {
                    Some(next) => next,
                    None => {
                        boxes.remove(&callback);
                        return;
                    }
                }
            };
            self.deliver_with_retries(&hub, &callback, next.0, next.1)
                .await;
        }
    }

    async fn deliver_with_retries(
        &self,
        hub: &Hub,
        callback: &str,
        path: String,
        mut pending: Pending,
    ) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let Some(sub) = hub.store.get(&path, callback) else {
                return; // unsubscribed or expired meanwhile
            };
            let result = {
                let _permit = self.global.acquire().await.expect("never closed");
                post(hub, &sub, &pending.resource).await
            };
            match result {
                Ok(()) => {
                    hub.store.delivered(&path, callback);
                    hub.metrics
                        .websub_delivery("delivered", Some(pending.heard.elapsed()));
                    tracing::debug!(topic = %sub.topic, callback, "WebSub delivered");
                    return;
                }
                Err(DeliveryError::Gone) => {
                    hub.store.remove(&path, callback).await;
                    hub.metrics.websub_subscriptions(hub.store.len());
                    hub.metrics.websub_delivery("dropped", None);
                    tracing::info!(topic = %sub.topic, callback, "WebSub subscriber answered 410 Gone; subscription ended");
                    return;
                }
                Err(err) => {
                    let refused = matches!(&err, DeliveryError::Guard(_))
                        || matches!(&err, DeliveryError::Request(e) if guard::is_refusal(e));
                    hub.metrics
                        .websub_delivery(if refused { "refused" } else { "failed" }, None);
                    let since = hub.store.failed(&path, callback);
                    let failing = (hub.store.now() - since).max(0) as u64;
                    if failing >= self.settings.retry_for.as_secs() {
                        hub.store.remove(&path, callback).await;
                        hub.metrics.websub_subscriptions(hub.store.len());
                        hub.metrics.websub_delivery("dropped", None);
                        tracing::warn!(topic = %sub.topic, callback, failing_secs = failing, "WebSub callback kept failing ({err}); subscription dropped");
                        return;
                    }
                    tracing::info!(topic = %sub.topic, callback, retry_in_ms = backoff.as_millis() as u64, "WebSub delivery failed ({err}); retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    // A newer version that arrived meanwhile replaces this one.
                    let mut boxes = self.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(newer) = boxes.get_mut(callback).and_then(|m| m.remove(&path)) {
                        pending = newer;
                    }
                }
            }
        }
    }
}

/// One delivery attempt.
async fn post(hub: &Hub, sub: &Subscription, resource: &Resource) -> Result<(), DeliveryError> {
    let url = url::Url::parse(&sub.callback).map_err(|_| guard::GuardError::NoHost)?;
    guard::check_url(&url, hub.settings.allow_private_callbacks)?;
    let body = resource.identity.body.clone();
    let mut request = hub
        .client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, resource.content_type);
    for (name, value) in &resource.headers {
        if *name == "link" {
            request = request.header(reqwest::header::LINK, value.as_ref());
        }
    }
    if let Some(secret) = &sub.secret {
        request = request.header("X-Hub-Signature", format!("sha256={}", sign(secret, &body)));
    }
    let mut response = request
        .body(body)
        .send()
        .await
        .inspect_err(guard::warn_if_sandboxed)?;
    let status = response.status();
    let mut read = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        read += chunk.len();
        if read > MAX_ANSWER {
            break;
        }
    }
    if status.is_success() {
        Ok(())
    } else if status == reqwest::StatusCode::GONE {
        Err(DeliveryError::Gone)
    } else {
        Err(DeliveryError::Status(status.as_u16()))
    }
}

/// HMAC-SHA256 of `body` with `secret`, hex.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_rfc_4231s_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

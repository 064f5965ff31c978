//! Pings to external hubs (`websub.hubs`): on every change, `POST hub.mode=publish` with
//! `hub.url=<topic>` (and `hub.topic=<topic>`, which some hubs read instead) to each hub.
//! A hub marked `batch: true` gets every changed topic in one request (at most
//! [`MAX_BATCH`]); others one request per topic.
//!
//! One worker per hub, with a set of topics still to ping: changes that arrive while it is
//! busy or backing off join the set (each topic once), so the set is bounded by the number
//! of feeds. Failures (no answer, 5xx, 429) are retried after 1 s, 2 s, 4 s … up to
//! [`MAX_ATTEMPTS`] times; a hub that refuses a ping (another 4xx) is not asked again.
//! Publishing never waits for any of this. Hubs are the operator's own choice, so they are
//! not subject to the callback address policy.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{guard, ExternalHub, WebSubSettings};
use crate::metrics::Metrics;

/// Topics per request to a hub that takes several.
pub const MAX_BATCH: usize = 100;
/// Tries per ping before it is given up (about 4 minutes of backoff).
pub const MAX_ATTEMPTS: u32 = 8;

/// Why a ping did not go through.
#[derive(Debug, thiserror::Error)]
enum PingError {
    /// A 4xx other than 429: not retried.
    #[error("answered {0}")]
    Refused(u16),
    /// No answer, a 5xx or a 429: retried with backoff.
    #[error("{0}")]
    Failed(String),
}

/// Every hub's worker.
pub struct Pinger {
    hubs: Vec<Arc<HubWorker>>,
}

struct HubWorker {
    hub: ExternalHub,
    pending: Mutex<BTreeSet<String>>,
    wake: tokio::sync::Notify,
}

impl Pinger {
    /// Spawns one worker per configured hub; `None` without hubs.
    pub fn start(settings: &WebSubSettings, metrics: Arc<Metrics>) -> Option<Arc<Pinger>> {
        if settings.hubs.is_empty() {
            return None;
        }
        let client = guard::client(true, false, settings.delivery_timeout, 2);
        let hubs = settings
            .hubs
            .iter()
            .map(|hub| {
                let worker = Arc::new(HubWorker {
                    hub: hub.clone(),
                    pending: Mutex::new(BTreeSet::new()),
                    wake: tokio::sync::Notify::new(),
                });
                tokio::spawn(worker.clone().run(client.clone(), metrics.clone()));
                worker
            })
            .collect();
        Some(Arc::new(Pinger { hubs }))
    }

    /// Topics (feed URLs) that changed: every hub will be told.
    pub fn add(&self, topics: impl IntoIterator<Item = String>) {
        let topics: Vec<String> = topics.into_iter().collect();
        for worker in &self.hubs {
            worker
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(topics.iter().cloned());
            worker.wake.notify_one();
        }
    }
}

impl HubWorker {
    async fn run(self: Arc<Self>, client: reqwest::Client, metrics: Arc<Metrics>) {
        let mut attempts = 0u32;
        let mut backoff = Duration::from_secs(1);
        loop {
            let batch: Vec<String> = {
                let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                let size = if self.hub.batch { MAX_BATCH } else { 1 };
                let batch: Vec<String> = pending.iter().take(size).cloned().collect();
                for t in &batch {
                    pending.remove(t);
                }
                batch
            };
            if batch.is_empty() {
                self.wake.notified().await;
                continue;
            }
            match self.ping(&client, &batch).await {
                Ok(()) => {
                    metrics.websub_ping("sent");
                    tracing::debug!(hub = %self.hub.url, topics = batch.len(), "WebSub hub pinged");
                    attempts = 0;
                    backoff = Duration::from_secs(1);
                }
                Err(PingError::Refused(status)) => {
                    // The hub will not take it (4xx): asking again changes nothing.
                    metrics.websub_ping("failed");
                    tracing::warn!(hub = %self.hub.url, topics = batch.len(), status, "WebSub hub refused the ping; not retried");
                }
                Err(PingError::Failed(err)) => {
                    metrics.websub_ping("failed");
                    attempts += 1;
                    if attempts >= MAX_ATTEMPTS {
                        tracing::warn!(hub = %self.hub.url, topics = batch.len(), "WebSub ping failed {attempts} times ({err}); given up until the next change");
                        attempts = 0;
                        backoff = Duration::from_secs(1);
                        continue;
                    }
                    tracing::info!(hub = %self.hub.url, retry_in_ms = backoff.as_millis() as u64, "WebSub ping failed ({err}); retrying");
                    self.pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend(batch);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(120));
                }
            }
        }
    }

    async fn ping(&self, client: &reqwest::Client, topics: &[String]) -> Result<(), PingError> {
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("hub.mode", "publish");
            for topic in topics {
                form.append_pair("hub.url", topic);
            }
            for topic in topics {
                form.append_pair("hub.topic", topic);
            }
            form.finish()
        };
        let response = client
            .post(self.hub.url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| {
                guard::warn_if_sandboxed(&e);
                PingError::Failed(e.to_string())
            })?;
        let status = response.status();
        drop(response);
        if status.is_success() {
            Ok(())
        } else if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(PingError::Refused(status.as_u16()))
        } else {
            Err(PingError::Failed(format!("answered {}", status.as_u16())))
        }
    }
}

//! Verification of intent (WebSub §5.3): before a subscription starts or ends, the hub asks
//! the callback `GET callback?hub.mode=…&hub.topic=…&hub.challenge=…&hub.lease_seconds=…`
//! and acts only on a 2xx whose body is the challenge (surrounding whitespace ignored).
//! The callback's own query is kept; the response body is read up to [`MAX_ANSWER`] bytes.
//! Anything else (another status, another body, a refused address, a timeout) changes
//! nothing: such a callback is never delivered to.

use thiserror::Error;

use super::guard;
use super::hub::Hub;
use super::store::Subscription;

/// Bytes of the verification answer read at most.
pub const MAX_ANSWER: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Subscribe,
    Unsubscribe,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Subscribe => "subscribe",
            Mode::Unsubscribe => "unsubscribe",
        }
    }
}

/// A checked request, to be verified.
#[derive(Debug, Clone)]
pub struct Intent {
    pub mode: Mode,
    pub topic: String,
    pub path: String,
    pub callback: String,
    pub lease: u64,
    pub secret: Option<String>,
}

#[derive(Debug, Error)]
pub enum VerifyError {
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("answered {0}")]
    Status(u16),
    #[error("the answer is not the challenge")]
    Challenge,
}

/// Verifies `intent` and applies it if the callback confirms.
pub async fn run(hub: &Hub, intent: Intent) {
    match ask(hub, &intent).await {
        Ok(()) => {
            match intent.mode {
                Mode::Subscribe => {
                    let expires_at = hub.store.now() + intent.lease as i64;
                    hub.store
                        .put(Subscription {
                            topic: intent.topic.clone(),
                            path: intent.path.clone(),
                            callback: intent.callback.clone(),
                            secret: intent.secret.clone(),
                            expires_at,
                        })
                        .await;
                }
                Mode::Unsubscribe => {
                    hub.store.remove(&intent.path, &intent.callback).await;
                }
            }
            hub.metrics.websub_subscriptions(hub.store.len());
            tracing::info!(mode = intent.mode.as_str(), topic = %intent.topic, callback = %intent.callback, lease_secs = intent.lease, "WebSub subscription verified");
        }
        Err(err) => {
            tracing::info!(mode = intent.mode.as_str(), topic = %intent.topic, callback = %intent.callback, "WebSub verification failed: {err}");
        }
    }
}

async fn ask(hub: &Hub, intent: &Intent) -> Result<(), VerifyError> {
    let mut url = url::Url::parse(&intent.callback).map_err(|_| guard::GuardError::NoHost)?;
    guard::check_url(&url, hub.settings.allow_private_callbacks)?;
    let challenge = challenge();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("hub.mode", intent.mode.as_str())
            .append_pair("hub.topic", &intent.topic)
            .append_pair("hub.challenge", &challenge);
        if intent.mode == Mode::Subscribe {
            query.append_pair("hub.lease_seconds", &intent.lease.to_string());
        }
    }
    let mut response = hub.client.get(url).send().await.inspect_err(|e| {
        guard::warn_if_sandboxed(e);
        if guard::is_refusal(e) {
            hub.metrics.websub_delivery("refused", None);
        }
    })?;
    let status = response.status();
    let mut answer = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        answer.extend_from_slice(&chunk);
        if answer.len() > MAX_ANSWER {
            break;
        }
    }
    if !status.is_success() {
        return Err(VerifyError::Status(status.as_u16()));
    }
    if answer.trim_ascii() != challenge.as_bytes() {
        return Err(VerifyError::Challenge);
    }
    Ok(())
}

/// 32 random bytes, hex: what only the callback that received it can echo.
fn challenge() -> String {
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: still unpredictable enough to prove the callback read it.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes[..16].copy_from_slice(&nanos.to_le_bytes());
    }
    super::deliver::hex(&bytes)
}

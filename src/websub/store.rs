//! The built-in hub's subscriptions: in memory for the distributor, written through to the
//! `subscriptions` table of the state database so that they survive restarts. Each expires
//! at its lease (by the injectable [`Clock`]), and expired ones are never delivered to.
//!
//! Like the rest of the state, persistence is a help, never a requirement: a write that
//! fails is logged once and the subscription stays active in memory.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::state::State;

/// Any failure of the database (redb has one error type per step); logged, never fatal.
type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// `topic path \n callback` → [`Subscription`] (JSON).
const SUBSCRIPTIONS: TableDefinition<&str, &str> = TableDefinition::new("subscriptions");

/// One verified subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The topic as the subscriber named it (a feed's self URL).
    pub topic: String,
    /// The feed's served path (`/rss.xml`).
    pub path: String,
    pub callback: String,
    /// For `X-Hub-Signature`; under 200 bytes.
    pub secret: Option<String>,
    /// Unix seconds (by the hub's clock) when the lease ends.
    pub expires_at: i64,
}

impl Subscription {
    fn key(&self) -> String {
        key(&self.path, &self.callback)
    }

    /// The callback's host, for the per-host limit.
    pub fn host(&self) -> String {
        callback_host(&self.callback)
    }
}

fn key(path: &str, callback: &str) -> String {
    format!("{path}\n{callback}")
}

/// The host part of a callback URL (lower case), or the whole text if it does not parse.
pub fn callback_host(callback: &str) -> String {
    url::Url::parse(callback)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_else(|| callback.to_owned())
}

struct Entry {
    sub: Subscription,
    /// Unix seconds of the first failed delivery since the last success.
    failing_since: Option<i64>,
}

/// Every subscription, by (topic path, callback).
pub struct Store {
    state: Arc<State>,
    clock: Clock,
    subs: Mutex<BTreeMap<(String, String), Entry>>,
    write_failed: AtomicBool,
}

impl Store {
    /// Reads the stored subscriptions, dropping those whose lease ended while Herald was down.
    pub fn load(state: Arc<State>, clock: Clock) -> Store {
        let store = Store {
            state,
            clock,
            subs: Mutex::new(BTreeMap::new()),
            write_failed: AtomicBool::new(false),
        };
        let now = store.now();
        let mut loaded = BTreeMap::new();
        let mut expired = Vec::new();
        if let Some(db) = store.state.database() {
            let mut read = || -> Result<(), Box<dyn std::error::Error>> {
                let txn = db.begin_read()?;
                let Ok(table) = txn.open_table(SUBSCRIPTIONS) else {
                    return Ok(());
                };
                for row in table.iter()? {
                    let (k, v) = row?;
                    match serde_json::from_str::<Subscription>(v.value()) {
                        Ok(sub) if sub.expires_at > now => {
                            loaded.insert(
                                (sub.path.clone(), sub.callback.clone()),
                                Entry {
                                    sub,
                                    failing_since: None,
                                },
                            );
                        }
                        _ => expired.push(k.value().to_owned()),
                    }
                }
                Ok(())
            };
            if let Err(err) = read() {
                tracing::warn!("cannot read the WebSub subscriptions from the state ({err}); starting with none");
            }
        }
        *store.lock() = loaded;
        store.delete_keys(expired);
        store
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Entry>> {
        self.subs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Now, by the hub's clock, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Active subscriptions to the feed at `path`.
    pub fn active(&self, path: &str) -> Vec<Subscription> {
        let now = self.now();
        self.lock()
            .range((path.to_owned(), String::new())..)
            .take_while(|((p, _), _)| p == path)
            .filter(|(_, e)| e.sub.expires_at > now)
            .map(|(_, e)| e.sub.clone())
            .collect()
    }

    /// The active subscription of `callback` to `path`.
    pub fn get(&self, path: &str, callback: &str) -> Option<Subscription> {
        let now = self.now();
        self.lock()
            .get(&(path.to_owned(), callback.to_owned()))
            .filter(|e| e.sub.expires_at > now)
            .map(|e| e.sub.clone())
    }

    /// Subscriptions to `path`, and those whose callback is on `host`.
    pub fn counts(&self, path: &str, host: &str) -> (usize, usize) {
        let subs = self.lock();
        let topic = subs.keys().filter(|(p, _)| p == path).count();
        let on_host = subs.values().filter(|e| e.sub.host() == host).count();
        (topic, on_host)
    }

    /// Adds or renews a subscription (and writes it through).
    pub async fn put(&self, sub: Subscription) {
        let key = sub.key();
        let json = serde_json::to_string(&sub).expect("plain struct");
        self.lock().insert(
            (sub.path.clone(), sub.callback.clone()),
            Entry {
                sub,
                failing_since: None,
            },
        );
        self.write(move |table| {
            table.insert(key.as_str(), json.as_str())?;
            Ok(())
        })
        .await;
    }

    /// Removes a subscription; whether there was one.
    pub async fn remove(&self, path: &str, callback: &str) -> bool {
        let removed = self
            .lock()
            .remove(&(path.to_owned(), callback.to_owned()))
            .is_some();
        if removed {
            let key = key(path, callback);
            self.write(move |table| {
                table.remove(key.as_str())?;
                Ok(())
            })
            .await;
        }
        removed
    }

    /// Records a successful delivery.
    pub fn delivered(&self, path: &str, callback: &str) {
        if let Some(e) = self.lock().get_mut(&(path.to_owned(), callback.to_owned())) {
            e.failing_since = None;
        }
    }

    /// Records a failed delivery; returns since when it has been failing (Unix seconds).
    pub fn failed(&self, path: &str, callback: &str) -> i64 {
        let now = self.now();
        match self.lock().get_mut(&(path.to_owned(), callback.to_owned())) {
            Some(e) => *e.failing_since.get_or_insert(now),
            None => now,
        }
    }

    /// Drops every subscription whose lease ended; how many.
    pub async fn expire(&self) -> usize {
        let now = self.now();
        let gone: Vec<String> = {
            let mut subs = self.lock();
            let keys: Vec<(String, String)> = subs
                .iter()
                .filter(|(_, e)| e.sub.expires_at <= now)
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter()
                .filter_map(|k| subs.remove(k))
                .map(|e| e.sub.key())
                .collect()
        };
        let n = gone.len();
        if n > 0 {
            let state = self.state.clone();
            let _ = tokio::task::spawn_blocking(move || delete(&state, &gone)).await;
        }
        n
    }

    fn delete_keys(&self, keys: Vec<String>) {
        if !keys.is_empty() {
            if let Err(err) = delete(&self.state, &keys) {
                tracing::debug!("cannot delete expired WebSub subscriptions ({err})");
            }
        }
    }

    /// One write transaction, off the async threads, durable before it returns (a
    /// subscriber was told its subscription is active).
    async fn write(
        &self,
        change: impl FnOnce(&mut redb::Table<&str, &str>) -> Result<(), StoreError> + Send + 'static,
    ) {
        if self.state.database().is_none() {
            return;
        }
        let state = self.state.clone();
        let result = tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            let Some(db) = state.database() else {
                return Ok(());
            };
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(SUBSCRIPTIONS)?;
                change(&mut table)?;
            }
            txn.commit()?;
            Ok(())
        })
        .await;
        match result {
            Ok(Ok(())) => self.write_failed.store(false, Ordering::Relaxed),
            Ok(Err(err)) => {
                if !self.write_failed.swap(true, Ordering::Relaxed) {
                    tracing::warn!("cannot write WebSub subscriptions to the state ({err}); they stay active but may be lost at a restart");
                }
            }
            Err(_) => {}
        }
    }
}

fn delete(state: &State, keys: &[String]) -> Result<(), StoreError> {
    let Some(db) = state.database() else {
        return Ok(());
    };
    let txn = db.begin_write()?;
    {
        let mut table = txn.open_table(SUBSCRIPTIONS)?;
        for k in keys {
            table.remove(k.as_str())?;
        }
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(path: &str, callback: &str, expires_at: i64) -> Subscription {
        Subscription {
            topic: format!("https://e.org{path}"),
            path: path.into(),
            callback: callback.into(),
            secret: None,
            expires_at,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn subscriptions_survive_a_reopen_and_end_at_their_lease() {
        let dir = tempfile::tempdir().unwrap();
        let at = chrono::DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap();
        let clock = Clock::starting_at(at);
        let now = at.timestamp();
        let store = Store::load(Arc::new(State::open(dir.path())), clock);
        store
            .put(sub("/rss.xml", "http://127.0.0.1:1/a", now + 60))
            .await;
        store
            .put(sub("/rss.xml", "http://127.0.0.1:1/b", now + 3600))
            .await;
        store
            .put(sub("/atom.xml", "http://127.0.0.1:1/a", now + 3600))
            .await;
        assert_eq!(store.active("/rss.xml").len(), 2);
        assert_eq!(store.counts("/rss.xml", "127.0.0.1"), (2, 3));
        drop(store);

        let store = Store::load(Arc::new(State::open(dir.path())), clock);
        assert_eq!(store.len(), 3, "kept across a reopen");
        tokio::time::advance(std::time::Duration::from_secs(61)).await;
        assert_eq!(store.active("/rss.xml").len(), 1, "a's lease ended");
        assert!(store.get("/rss.xml", "http://127.0.0.1:1/a").is_none());
        assert_eq!(store.expire().await, 1);
        assert!(store.remove("/atom.xml", "http://127.0.0.1:1/a").await);
        drop(store);

        let store = Store::load(Arc::new(State::open(dir.path())), clock);
        assert_eq!(store.len(), 1);
        assert!(store.get("/rss.xml", "http://127.0.0.1:1/b").is_some());
    }

    #[tokio::test]
    async fn a_memory_state_keeps_subscriptions_for_the_process() {
        let store = Store::load(Arc::new(State::memory()), Clock::System);
        let now = store.now();
        store
            .put(sub("/rss.xml", "http://127.0.0.1:1/a", now + 60))
            .await;
        assert_eq!(store.failed("/rss.xml", "http://127.0.0.1:1/a"), now);
        assert_eq!(store.active("/rss.xml").len(), 1);
    }
}

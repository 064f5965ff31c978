//! The served snapshot across restarts: a listener off the owner thread stores what each
//! publish changed ([`start`]), and the next `serve` serves what was stored at once
//! ([`warm`]), before it has read a single post; the content is then loaded in the
//! background and its snapshot replaces the stored one in one step.
//!
//! A stored snapshot is used only if it was written by this version of Herald under the
//! same output settings ([`Settings::output_fingerprint`]), and only whole: one resource
//! that cannot be read (its ETag no longer the hash of its bytes, say) and the start is
//! cold, as without a state directory. What is stored is always one snapshot that was
//! served, never a mix: each write brings the store from one published snapshot to a
//! later one in one transaction.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::announce::Listener;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::snapshot::encode::{self, DecodeError};
use crate::snapshot::{Resource, SharedSnapshot, Snapshot};
use crate::state::{SnapshotReadError, SnapshotStore};

/// What the stored snapshot says about itself (JSON beside the resources).
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    /// The Herald version that wrote it.
    herald: String,
    /// [`Snapshot::fingerprint`], in hex.
    settings: String,
    /// What `/healthz` said when it was written, for it to say while it is served again.
    posts: u64,
    feeds: u64,
    problems: u64,
}

/// A snapshot the last run stored, to serve while the content loads.
#[derive(Debug)]
pub struct Warm {
    pub snapshot: Arc<Snapshot>,
    pub posts: u64,
    pub feeds: u64,
    pub problems: u64,
}

/// Why the stored snapshot is not served.
#[derive(Debug, Error)]
pub enum Cold {
    #[error("it was stored by Herald {0}")]
    Version(String),
    #[error("the output settings changed since it was stored")]
    Settings,
    #[error("its description cannot be read ({0})")]
    Meta(serde_json::Error),
    #[error("{path} cannot be read back ({source})")]
    Resource { path: String, source: DecodeError },
}

/// The stored snapshot, if there is one stored by this version under `settings` and it
/// reads back whole. Otherwise says why once (nothing when nothing is stored).
pub fn warm(store: &SnapshotStore, settings: &Settings) -> Option<Warm> {
    let started = Instant::now();
    let fingerprint = settings.output_fingerprint();
    let mut meta = None;
    let mut resources = imbl::OrdMap::new();
    // redb asserts on some damage rather than erring: a panic is a damaged store too.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.read(
            |bytes| {
                let m: Meta = serde_json::from_slice(bytes).map_err(Cold::Meta)?;
                if m.herald != env!("CARGO_PKG_VERSION") {
                    return Err(Cold::Version(m.herald));
                }
                if m.settings != format!("{fingerprint:032x}") {
                    return Err(Cold::Settings);
                }
                meta = Some(m);
                Ok(())
            },
            |path, bytes| {
                let resource = encode::decode(bytes).map_err(|source| Cold::Resource {
                    path: path.to_owned(),
                    source,
                })?;
                resources.insert(path.to_owned(), Arc::new(resource));
                Ok(())
            },
        )
    }));
    let file = store.path().display().to_string();
    let Ok(read) = read else {
        tracing::warn!(%file, "not serving the stored snapshot: it is damaged; loading the content first");
        return None;
    };
    match read {
        Ok(true) => {}
        Ok(false) => return None,
        Err(SnapshotReadError::Refused(why @ (Cold::Version(_) | Cold::Settings))) => {
            tracing::info!(%file, "not serving the stored snapshot: {why}; loading the content first");
            return None;
        }
        Err(err) => {
            tracing::warn!(%file, "not serving the stored snapshot: {err}; loading the content first");
            return None;
        }
    }
    let meta = meta?;
    tracing::info!(
        resources = resources.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "serving the snapshot the last run stored while the content loads"
    );
    Some(Warm {
        snapshot: Arc::new(Snapshot {
            resources,
            moves: Arc::new(settings.feeds.moves.clone()),
            fingerprint,
        }),
        posts: meta.posts,
        feeds: meta.feeds,
        problems: meta.problems,
    })
}

/// The persisting thread's handle.
pub struct Persister {
    loaded: Arc<tokio::sync::Notify>,
    done: tokio::sync::oneshot::Receiver<()>,
}

/// Nice value of the persisting thread: it makes the compressed codings it stores when the
/// compressor has not yet, and that must not take the CPU from serving or rebuilding (the
/// compressor's own, spare CPU only).
const NICE: i32 = 19;

/// Starts the thread that keeps `store` equal to the snapshot served in `shared`. It
/// waits for [`Persister::loaded`] (the content's first snapshot), then writes what differs
/// from `stored` (what the store holds now: the warm snapshot, or `None` to write it all),
/// then, woken by `listener` after each publish, what the publish changed. On `stop` it
/// writes what is served, if it has started, and ends.
pub fn start(
    store: SnapshotStore,
    shared: SharedSnapshot,
    listener: Arc<Listener>,
    metrics: Arc<Metrics>,
    stored: Option<Arc<Snapshot>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Persister {
    let loaded = Arc::new(tokio::sync::Notify::new());
    let (done_tx, done) = tokio::sync::oneshot::channel();
    let persister = Persister {
        loaded: loaded.clone(),
        done,
    };
    let spawned = std::thread::Builder::new()
        .name("herald-persist".into())
        .spawn(move || {
            crate::snapshot::lower_priority(NICE);
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    tracing::warn!("cannot start the snapshot's persisting thread ({err}); the next start loads the content before serving");
                    return;
                }
            };
            runtime.block_on(async move {
                let mut writer = Writer {
                    store,
                    metrics,
                    stored,
                    failed: false,
                };
                tokio::select! {
                    () = loaded.notified() => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                loop {
                    // Taken before looking at what is served: a publish after this look
                    // leaves a change for the next turn.
                    let _ = listener.take();
                    writer.sync(shared.load_full());
                    tokio::select! {
                        _ = listener.next() => {}
                        _ = stop.wait_for(|s| *s) => {
                            writer.sync(shared.load_full());
                            return;
                        }
                    }
                }
            });
            drop(done_tx);
        });
    if let Err(err) = spawned {
        tracing::warn!("cannot start the snapshot's persisting thread ({err}); the next start loads the content before serving");
    }
    persister
}

impl Persister {
    /// The content's first snapshot is published: from now on, what is served is stored.
    pub fn loaded(&self) {
        self.loaded.notify_one();
    }

    /// Waits, at most `grace`, for the last write after a stop.
    pub async fn finished(self, grace: Duration) {
        if tokio::time::timeout(grace, self.done).await.is_err() {
            tracing::info!("the served snapshot was still being stored at shutdown; the next start may serve an older one");
        }
    }
}

/// The persisting thread's state: the store and what it holds.
struct Writer {
    store: SnapshotStore,
    metrics: Arc<Metrics>,
    /// What the store holds; `None`: unknown (replaced whole at the next write).
    stored: Option<Arc<Snapshot>>,
    /// A failed write is logged once until one succeeds.
    failed: bool,
}

impl Writer {
    /// Brings the store from `self.stored` to `now`, in one transaction.
    fn sync(&mut self, now: Arc<Snapshot>) {
        if self.stored.as_ref().is_some_and(|s| Arc::ptr_eq(s, &now)) {
            return;
        }
        let started = Instant::now();
        let changes = changes(self.stored.as_deref(), &now);
        let health = self.metrics.health();
        let meta = Meta {
            herald: env!("CARGO_PKG_VERSION").into(),
            settings: format!("{:032x}", now.fingerprint),
            posts: health.map_or(0, |h| h.posts),
            feeds: health.map_or(0, |h| h.feeds),
            problems: health.map_or(0, |h| h.problems),
        };
        let meta = serde_json::to_vec(&meta).expect("plain struct");
        let replace_all = self.stored.is_none();
        let entries = changes
            .into_iter()
            .map(|(path, resource)| (path, resource.map(|r| encode::encode(&r))));
        match self.store.write(&meta, replace_all, entries) {
            Ok(written) => {
                self.failed = false;
                self.stored = Some(now);
                let elapsed_ms = started.elapsed().as_millis() as u64;
                if replace_all {
                    tracing::info!(resources = written, elapsed_ms, file = %self.store.path().display(), "stored the served snapshot for the next start");
                } else {
                    tracing::debug!(
                        resources = written,
                        elapsed_ms,
                        "stored what the publish changed"
                    );
                }
            }
            Err(err) => {
                if !std::mem::replace(&mut self.failed, true) {
                    tracing::warn!(file = %self.store.path().display(), "cannot store the served snapshot ({err}); the next start may serve an older one, or load the content first");
                }
            }
        }
    }
}

/// What to write to bring a store holding `stored` to `now`: every resource when `stored`
/// is unknown; else the paths whose resource differs (`None`: no longer served).
fn changes(stored: Option<&Snapshot>, now: &Snapshot) -> Vec<(String, Option<Arc<Resource>>)> {
    let Some(stored) = stored else {
        return now
            .resources
            .iter()
            .map(|(path, r)| (path.clone(), Some(r.clone())))
            .collect();
    };
    let mut out: Vec<(String, Option<Arc<Resource>>)> = now
        .resources
        .iter()
        .filter(|(path, r)| {
            stored
                .resources
                .get(*path)
                .is_none_or(|old| !(Arc::ptr_eq(old, r) || old.same_as(r)))
        })
        .map(|(path, r)| (path.clone(), Some(r.clone())))
        .collect();
    out.extend(
        stored
            .resources
            .keys()
            .filter(|path| !now.resources.contains_key(*path))
            .map(|path| (path.clone(), None)),
    );
    out
}

#[cfg(test)]
mod tests;

//! The single owner of the site's state: the index of posts, the publisher's rendered feeds,
//! and the served snapshot. It applies changes, re-renders what changed and swaps in the
//! next snapshot; requests never wait for it and never see a half-built state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use chrono::{DateTime, FixedOffset, Utc};

use crate::config::Settings;
use crate::content::{ContentSettings, ParseError};
use crate::http::SharedSnapshot;
use crate::index::Index;
use crate::publish::{PublishStats, Publisher};
use crate::snapshot::Snapshot;
use crate::source::{Source, SourceError};

/// The wall clock, as the offset-aware time the index compares post dates with.
pub fn now() -> DateTime<FixedOffset> {
    Utc::now().fixed_offset()
}

/// Index, publisher and the snapshot they produce.
pub struct Site {
    pub source: Source,
    pub index: Index,
    publisher: Publisher,
    /// Current problems by source path (files that could not be used).
    problems: BTreeMap<String, ParseError>,
    shared: SharedSnapshot,
}

impl Site {
    /// Reads the whole content directory and publishes the first snapshot.
    pub fn load(settings: &Settings) -> Result<Site, SourceError> {
        let started = Instant::now();
        let source = Source::open(&settings.content_dir, settings.max_post_bytes, ContentSettings::from_settings(settings))?;
        let loaded = source.load_all();
        let mut index = Index::new(&settings.taxonomies);
        for post in loaded.posts {
            index.insert(Arc::new(post));
        }
        let problems = loaded.problems.into_iter().map(|p| (p.path.clone(), p)).collect();
        let mut site = Site {
            source,
            index,
            publisher: Publisher::new(settings),
            problems,
            shared: Arc::new(ArcSwap::from_pointee(Snapshot::default())),
        };
        let stats = site.publish();
        tracing::info!(
            posts = site.index.len(),
            problems = site.problems.len(),
            feeds = stats.feeds,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "content loaded"
        );
        Ok(site)
    }

    /// Re-renders what changed as of now and swaps in the next snapshot.
    pub fn publish(&mut self) -> PublishStats {
        let (snapshot, stats) = self.publisher.publish(&self.index, now());
        self.shared.store(Arc::new(snapshot));
        stats
    }

    /// The snapshot handle the HTTP server reads.
    pub fn shared(&self) -> SharedSnapshot {
        self.shared.clone()
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.load_full()
    }

    /// Every problem with the content, sorted by path: unusable files, then duplicate ids.
    pub fn problems(&self) -> Vec<ParseError> {
        let mut out: Vec<ParseError> = self.problems.values().cloned().collect();
        for dup in self.index.duplicate_ids() {
            out.push(ParseError {
                path: dup.source,
                line: None,
                message: format!("same id as {} ({}); left out of the feeds: give one of them its own `slug` or `id`", dup.kept, dup.id),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path).then(a.line.cmp(&b.line)));
        out
    }

    /// How long until a post comes due or expires, if any will.
    pub fn next_timed_change(&self) -> Option<Duration> {
        let now = now();
        let at = self.index.next_change_after(now)?;
        Some((at - now).to_std().unwrap_or_default())
    }

    /// Runs until `shutdown` resolves: republishes when a post comes due or expires.
    /// (The file watcher plugs in here as a second source of changes.)
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            // Sleep in bounded steps: a clock that jumps must not strand a due post for days.
            let wait = self.next_timed_change().map_or(Duration::from_secs(3600), |d| d.min(Duration::from_secs(3600)));
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(wait + Duration::from_millis(5)) => {
                    let stats = self.publish();
                    if stats.rendered > 0 {
                        tracing::info!(rendered = stats.rendered, feeds = stats.feeds, "scheduled posts changed the feeds");
                    }
                }
            }
        }
    }
}

//! Coalescing: a burst of watcher hints becomes one batch, applied in one rebuild. A batch
//! is bounded: past [`MAX_PATHS`] paths it stops listing them and becomes a rescan, which
//! costs one walk however many files changed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::timeout_at;

use crate::source::watch::{Change, Events};

/// A burst of events is cut off after this long even if events keep coming, so a
/// never-ending stream of writes cannot starve the feeds of updates.
pub const MAX_BURST: Duration = Duration::from_millis(500);
/// Beyond this many distinct paths, one walk of the tree is cheaper than checking each.
pub const MAX_PATHS: usize = 10_000;

/// What the loop has accumulated from one burst of events.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub paths: BTreeSet<PathBuf>,
    pub rescan: Option<String>,
    /// A poll, not a notable event: logged only when it finds a change.
    pub routine: bool,
}

impl Batch {
    /// A batch that compares the whole tree with what was read.
    pub fn rescan(reason: &str) -> Batch {
        Batch {
            rescan: Some(reason.into()),
            ..Batch::default()
        }
    }

    pub fn add(&mut self, change: Change) {
        match change {
            Change::Paths(paths) if self.rescan.is_none() => {
                self.paths.extend(paths);
                if self.paths.len() > MAX_PATHS {
                    self.paths.clear();
                    self.rescan = Some(format!("more than {MAX_PATHS} files changed at once"));
                }
            }
            // A rescan already covers every path.
            Change::Paths(_) => {}
            Change::Rescan(reason) => {
                self.paths.clear();
                self.rescan = Some(reason);
            }
        }
    }
}

/// Adds events to `batch` until none arrives for `debounce` (or the burst is too long).
pub async fn collect_burst(events: &mut Events, batch: &mut Batch, debounce: Duration) {
    let cutoff = tokio::time::Instant::now() + MAX_BURST;
    loop {
        let quiet = (tokio::time::Instant::now() + debounce).min(cutoff);
        match timeout_at(quiet, events.recv()).await {
            Ok(Some(change)) => batch.add(change),
            Ok(None) | Err(_) => break,
        }
    }
    if let Some(lost) = events.lost() {
        batch.add(lost);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(n: usize) -> Change {
        Change::Paths(
            (0..n)
                .map(|i| PathBuf::from(format!("/c/{i}.md")))
                .collect(),
        )
    }

    #[test]
    fn paths_accumulate_without_duplicates() {
        let mut batch = Batch::default();
        batch.add(paths(3));
        batch.add(paths(2));
        assert_eq!(batch.paths.len(), 3);
        assert!(batch.rescan.is_none());
    }

    #[test]
    fn too_many_paths_become_one_rescan_that_holds_no_paths() {
        let mut batch = Batch::default();
        batch.add(paths(MAX_PATHS));
        assert!(batch.rescan.is_none());
        batch.add(paths(MAX_PATHS + 1));
        assert!(batch.rescan.is_some());
        assert!(batch.paths.is_empty());
        batch.add(paths(5));
        assert!(
            batch.paths.is_empty(),
            "a rescan already covers later paths"
        );
    }

    #[test]
    fn a_rescan_drops_the_paths_it_covers() {
        let mut batch = Batch::default();
        batch.add(paths(4));
        batch.add(Change::Rescan("overflow".into()));
        assert_eq!(batch, Batch::rescan("overflow"));
    }
}

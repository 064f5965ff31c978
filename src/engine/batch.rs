//! Coalescing: a burst of watcher hints becomes one batch, applied in one rebuild. A batch
//! is bounded: past [`MAX_PATHS`] paths it stops listing them and becomes a rescan, which
//! costs one walk however many files changed.
//!
//! How long a burst waits for quiet depends on what the kernel said of its writers: while
//! some file may still be written, the configured debounce; once every written file was
//! closed (or the changes were renames and removals, which happen at once), only
//! [`SETTLED_QUIET`], so a save is served in a few milliseconds while a copy of a whole
//! tree, whose events come back to back, still becomes one batch.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::timeout_at;

use crate::source::watch::{Change, Events, Writer};

/// A burst of events is cut off after this long even if events keep coming, so a
/// never-ending stream of writes cannot starve the feeds of updates.
pub const MAX_BURST: Duration = Duration::from_millis(500);
/// Beyond this many distinct paths, one walk of the tree is cheaper than checking each.
pub const MAX_PATHS: usize = 10_000;
/// The quiet that ends a burst in which no file is known to be still open for writing.
pub const SETTLED_QUIET: Duration = Duration::from_millis(1);

/// What the loop has accumulated from one burst of events.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub paths: BTreeSet<PathBuf>,
    pub rescan: Option<String>,
    /// A poll, not a notable event: logged only when it finds a change.
    pub routine: bool,
    /// Files written in this burst and not closed since (as far as events tell).
    open: BTreeSet<PathBuf>,
    /// More files were open at once than are worth tracking: wait the full debounce.
    open_overflowed: bool,
}

impl Batch {
    /// A batch that compares the whole tree with what was read.
    pub fn rescan(reason: &str) -> Batch {
        Batch {
            rescan: Some(reason.into()),
            ..Batch::default()
        }
    }

    /// A rescan that a timer asked for; `routine` (a poll) is logged only when it finds a change.
    pub fn timed_rescan(reason: &str, routine: bool) -> Batch {
        Batch {
            routine,
            ..Batch::rescan(reason)
        }
    }

    pub fn add(&mut self, change: Change) {
        if let Change::Paths { paths, writer } = &change {
            self.note_writer(paths, *writer);
        }
        match change {
            Change::Paths { paths, .. } if self.rescan.is_none() => {
                self.paths.extend(paths);
                if self.paths.len() > MAX_PATHS {
                    self.paths.clear();
                    self.rescan = Some(format!("more than {MAX_PATHS} files changed at once"));
                }
            }
            // A rescan already covers every path.
            Change::Paths { .. } => {}
            Change::Rescan(reason) => {
                self.paths.clear();
                self.rescan = Some(reason);
            }
        }
    }
}

impl Batch {
    fn note_writer(&mut self, paths: &[PathBuf], writer: Writer) {
        match writer {
            Writer::Open if self.open.len() + paths.len() > MAX_PATHS => {
                self.open.clear();
                self.open_overflowed = true;
            }
            Writer::Open if !self.open_overflowed => self.open.extend(paths.iter().cloned()),
            Writer::Open => {}
            Writer::Closed | Writer::None => {
                for path in paths {
                    self.open.remove(path);
                }
            }
        }
    }

    /// Whether some file of this burst may still be being written.
    pub fn has_open_writers(&self) -> bool {
        self.open_overflowed || !self.open.is_empty()
    }

    /// How long to wait for the next event before the burst counts as over.
    fn quiet(&self, debounce: Duration) -> Duration {
        if self.has_open_writers() {
            debounce
        } else {
            debounce.min(SETTLED_QUIET)
        }
    }
}

/// Adds events to `batch` until none arrives for its quiet time (`debounce` while a file
/// may still be being written, else [`SETTLED_QUIET`]) or the burst is too long.
pub async fn collect_burst(events: &mut Events, batch: &mut Batch, debounce: Duration) {
    let cutoff = tokio::time::Instant::now() + MAX_BURST;
    loop {
        let quiet = batch.quiet(debounce);
        let next = if quiet <= SETTLED_QUIET {
            next_within(events, quiet, cutoff).await
        } else {
            timeout_at(
                (tokio::time::Instant::now() + quiet).min(cutoff),
                events.recv(),
            )
            .await
            .ok()
            .flatten()
        };
        match next {
            Some(change) => batch.add(change),
            None => break,
        }
    }
    if let Some(lost) = events.lost() {
        batch.add(lost);
    }
}

/// The next event if one comes within `quiet` (and before `cutoff`), waited for to the
/// tenth of a millisecond: tokio's timers tick in whole milliseconds, which made a 1 ms
/// quiet last up to 2 ms of every save's latency. The waits are short sleeps on the
/// owner's own thread (they hold up no other work); between them the runtime's other
/// tasks run.
async fn next_within(
    events: &mut Events,
    quiet: Duration,
    cutoff: tokio::time::Instant,
) -> Option<Change> {
    const STEP: Duration = Duration::from_micros(100);
    let deadline = std::time::Instant::now() + quiet;
    loop {
        if let std::task::Poll::Ready(next) = events.try_next() {
            return next;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || tokio::time::Instant::now() >= cutoff {
            return None;
        }
        std::thread::sleep(left.min(STEP));
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(n: usize) -> Change {
        Change::Paths {
            paths: (0..n)
                .map(|i| PathBuf::from(format!("/c/{i}.md")))
                .collect(),
            writer: Writer::None,
        }
    }

    fn event(path: &str, writer: Writer) -> Change {
        Change::Paths {
            paths: vec![PathBuf::from(path)],
            writer,
        }
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

    /// How long `collect_burst` takes to end after the events `feed` sends (paused time).
    async fn burst_length(debounce: Duration, feed: Vec<(Duration, Change)>) -> (Duration, Batch) {
        let (tx, mut events) = Events::for_test();
        let mut batch = Batch::default();
        let started = tokio::time::Instant::now();
        tokio::spawn(async move {
            for (gap, change) in feed {
                tokio::time::sleep(gap).await;
                tx.send(change).await.unwrap();
            }
            // The sender stays open: the burst must end by its quiet time, not by a closed queue.
            std::future::pending::<()>().await;
        });
        collect_burst(&mut events, &mut batch, debounce).await;
        (started.elapsed(), batch)
    }

    const DEBOUNCE: Duration = Duration::from_millis(50);

    #[tokio::test(start_paused = true)]
    async fn a_save_whose_writer_closed_the_file_ends_the_burst_without_the_debounce() {
        let (took, batch) = burst_length(
            DEBOUNCE,
            vec![
                (Duration::ZERO, event("/c/a.md", Writer::Open)),
                (Duration::ZERO, event("/c/a.md", Writer::Open)),
                (Duration::ZERO, event("/c/a.md", Writer::Closed)),
            ],
        )
        .await;
        assert!(took < DEBOUNCE, "{took:?}");
        assert_eq!(batch.paths.len(), 1);
        assert!(!batch.has_open_writers());
    }

    #[tokio::test(start_paused = true)]
    async fn a_file_still_open_for_writing_waits_the_whole_debounce() {
        let (took, batch) = burst_length(
            DEBOUNCE,
            vec![
                (Duration::ZERO, event("/c/a.md", Writer::Open)),
                (Duration::ZERO, event("/c/b.md", Writer::Open)),
                (Duration::ZERO, event("/c/a.md", Writer::Closed)),
            ],
        )
        .await;
        assert_eq!(took, DEBOUNCE, "b.md was never closed");
        assert!(batch.has_open_writers());
    }

    #[tokio::test(start_paused = true)]
    async fn a_rename_into_place_ends_the_burst_at_once() {
        // An editor's atomic save: write a temporary file, close it, rename it over the post.
        let (took, batch) = burst_length(
            DEBOUNCE,
            vec![
                (Duration::ZERO, event("/c/.a.md.tmp", Writer::Open)),
                (Duration::ZERO, event("/c/.a.md.tmp", Writer::Closed)),
                (Duration::ZERO, event("/c/a.md", Writer::None)),
            ],
        )
        .await;
        assert!(took < DEBOUNCE, "{took:?}");
        assert_eq!(batch.paths.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tree_copied_file_after_file_stays_one_batch() {
        // `cp -r`: each file created, written and closed, the next one right after (tokio's
        // timers cannot express the real gaps of tens of microseconds, so none here). The
        // copy is one batch, over once the last file is closed.
        let mut feed = Vec::new();
        for i in 0..100 {
            let path = format!("/c/{i}.md");
            feed.push((Duration::ZERO, event(&path, Writer::Open)));
            feed.push((Duration::ZERO, event(&path, Writer::Closed)));
        }
        let (took, batch) = burst_length(DEBOUNCE, feed).await;
        assert_eq!(
            batch.paths.len(),
            100,
            "every file of the copy is in the one batch"
        );
        assert!(took < DEBOUNCE, "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn too_many_open_files_to_track_wait_the_debounce() {
        let many: Vec<PathBuf> = (0..=MAX_PATHS)
            .map(|i| PathBuf::from(format!("/c/{i}.md")))
            .collect();
        let (took, batch) = burst_length(
            DEBOUNCE,
            vec![
                (
                    Duration::ZERO,
                    Change::Paths {
                        paths: many,
                        writer: Writer::Open,
                    },
                ),
                (Duration::ZERO, event("/c/0.md", Writer::Closed)),
            ],
        )
        .await;
        assert_eq!(took, DEBOUNCE);
        assert!(batch.has_open_writers());
    }

    #[tokio::test]
    async fn a_burst_of_twenty_thousand_new_files_holds_bounded_memory_and_becomes_one_rescan() {
        // Real inotify events (create, modify, close for each file: 60,000 events) into a
        // queue nobody drains while they arrive, as while the owner is busy rebuilding.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let (_watcher, mut events) = crate::source::watch::watch(&root, &[]).unwrap();
        for i in 0..20_000 {
            std::fs::write(root.join(format!("{i}.md")), "x").unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while events.queued() < crate::source::watch::QUEUE && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            events.queued(),
            crate::source::watch::QUEUE,
            "the queue is full, and no fuller"
        );
        let mut batch = Batch::default();
        let first = events.recv().await.unwrap();
        batch.add(first);
        collect_burst(&mut events, &mut batch, Duration::from_millis(5)).await;
        assert!(batch.rescan.is_some(), "the lost events became a rescan");
        assert!(batch.paths.is_empty(), "a rescan holds no paths");
    }
}

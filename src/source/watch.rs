//! Noticing changes in the content directory. The watcher is a trigger only: it reports
//! *which paths* may have changed (or that everything must be rescanned), never what
//! happened to them — event kinds lie (editors save by rename, or delete and re-create), so
//! the owner re-checks every reported path on disk.
//!
//! The queue to the owner is bounded: when a burst (a `git checkout` of a large tree, a
//! mass delete) fills it, further events are dropped and the owner is told to rescan once
//! instead, which sees every change whatever was dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

/// How many events may wait for the owner before the rest become one rescan.
pub const QUEUE: usize = 4096;

/// A hint from the watcher.
#[derive(Debug)]
pub enum Change {
    /// These absolute paths may have changed: files, or folders (whose whole subtree may
    /// have). `writer` says whether somebody may still be writing them.
    Paths { paths: Vec<PathBuf>, writer: Writer },
    /// Events were lost or the watcher failed: compare the whole tree with what was read.
    Rescan(String),
}

/// What the kernel says of a writer of an event's paths: only a hint for how long to wait
/// for more events, never for what changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// Written to or created: the writer may not be done (more bytes may follow).
    Open,
    /// A writer closed the file: it is whole, as far as that writer goes.
    Closed,
    /// Renamed, removed, or its metadata changed: a change that happens at once.
    None,
}

impl Writer {
    fn of(kind: &EventKind) -> Writer {
        use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind};
        match kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => Writer::Closed,
            EventKind::Create(CreateKind::File | CreateKind::Any)
            | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => Writer::Open,
            _ => Writer::None,
        }
    }
}

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    _inner: notify::RecommendedWatcher,
    root: PathBuf,
}

impl Watcher {
    /// The tree this watcher watches.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// The owner's end of the watcher's queue.
pub struct Events {
    rx: mpsc::Receiver<Change>,
    overflowed: Arc<AtomicBool>,
}

impl Events {
    /// The next hint; `None` once the watcher is gone.
    pub async fn recv(&mut self) -> Option<Change> {
        if let Some(lost) = self.lost() {
            return Some(lost);
        }
        self.rx.recv().await
    }

    /// The next hint if one is waiting, without waiting: `Pending` when none is yet,
    /// `Ready(None)` once the watcher is gone (as [`Events::recv`] would say).
    pub fn try_next(&mut self) -> Poll<Option<Change>> {
        if let Some(lost) = self.lost() {
            return Poll::Ready(Some(lost));
        }
        match self.rx.try_recv() {
            Ok(change) => Poll::Ready(Some(change)),
            Err(mpsc::error::TryRecvError::Empty) => Poll::Pending,
            Err(mpsc::error::TryRecvError::Disconnected) => Poll::Ready(None),
        }
    }

    /// A queue fed by hand, for tests of what consumes events.
    #[cfg(test)]
    pub fn for_test() -> (mpsc::Sender<Change>, Events) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let overflowed = Arc::new(AtomicBool::new(false));
        (tx, Events { rx, overflowed })
    }

    /// How many hints wait in the queue.
    pub fn queued(&self) -> usize {
        self.rx.len()
    }

    /// A rescan standing for the events dropped since the last call, if any were.
    pub fn lost(&self) -> Option<Change> {
        self.overflowed
            .swap(false, Ordering::AcqRel)
            .then(|| Change::Rescan("more changes at once than the event queue holds".into()))
    }
}

/// Starts watching `root` recursively with kernel events (inotify on Linux), and the folder
/// holding each of `links` (the symlinks on the way to `root`) for changes to that link
/// only: swapping a link replaces the tree without an event inside it. Changes arrive on
/// the returned queue. (`watch: poll` needs no watcher: the owner compares the tree with
/// what it read on a timer, with finer stamps than a poll watcher keeps.)
pub fn watch(root: &Path, links: &[PathBuf]) -> notify::Result<(Watcher, Events)> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let overflowed = Arc::new(AtomicBool::new(false));
    let flag = overflowed.clone();
    let root_path = root.to_path_buf();
    let links_owned = links.to_vec();
    let handler = move |event: notify::Result<notify::Event>| {
        let change = match event {
            // Our own reads cause access events: ignoring them prevents rebuild loops. A
            // writer closing a file is the one access that matters.
            Ok(event)
                if matches!(event.kind, EventKind::Access(_))
                    && Writer::of(&event.kind) != Writer::Closed =>
            {
                return
            }
            Ok(event) if event.need_rescan() => {
                Change::Rescan("the kernel's event queue overflowed".into())
            }
            Ok(event) if event.paths.is_empty() => return,
            Ok(mut event) => {
                // The link folders' other entries are none of Herald's business.
                event
                    .paths
                    .retain(|p| p.starts_with(&root_path) || links_owned.contains(p));
                if event.paths.is_empty() {
                    return;
                }
                Change::Paths {
                    writer: Writer::of(&event.kind),
                    paths: event.paths,
                }
            }
            Err(err) => Change::Rescan(format!("watcher error: {err}")),
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(change) {
            flag.store(true, Ordering::Release);
        }
    };
    let mut inner = notify::RecommendedWatcher::new(handler, notify::Config::default())?;
    inner.watch(root, RecursiveMode::Recursive)?;
    for link in links {
        if let Some(folder) = link.parent() {
            inner.watch(folder, RecursiveMode::NonRecursive)?;
        }
    }
    let watcher = Watcher {
        _inner: inner,
        root: root.to_path_buf(),
    };
    Ok((watcher, Events { rx, overflowed }))
}

//! Noticing changes in the content directory. The watcher is a trigger only: it reports
//! *which paths* may have changed (or that everything must be rescanned), never what
//! happened to them — event kinds lie (editors save by rename, or delete and re-create), so
//! the owner re-checks every reported path on disk.

use std::path::{Path, PathBuf};

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

/// A hint from the watcher.
#[derive(Debug)]
pub enum Change {
    /// These absolute paths may have changed: files, or folders (whose whole subtree may have).
    Paths(Vec<PathBuf>),
    /// Events were lost or the watcher failed: compare the whole tree with what was read.
    Rescan(String),
}

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    _inner: notify::RecommendedWatcher,
}

/// Starts watching `root` recursively with kernel events (inotify on Linux). Changes
/// arrive on the returned channel. (`watch: poll` needs no watcher: the owner compares the
/// tree with what it read on a timer, with finer stamps than a poll watcher keeps.)
pub fn watch(root: &Path) -> notify::Result<(Watcher, mpsc::UnboundedReceiver<Change>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = move |event: notify::Result<notify::Event>| {
        let change = match event {
            // Our own reads cause access events: ignoring them prevents rebuild loops.
            Ok(event) if matches!(event.kind, EventKind::Access(_)) => return,
            Ok(event) if event.need_rescan() => {
                Change::Rescan("the kernel's event queue overflowed".into())
            }
            Ok(event) if event.paths.is_empty() => return,
            Ok(event) => Change::Paths(event.paths),
            Err(err) => Change::Rescan(format!("watcher error: {err}")),
        };
        let _ = tx.send(change);
    };
    let mut inner = notify::RecommendedWatcher::new(handler, notify::Config::default())?;
    inner.watch(root, RecursiveMode::Recursive)?;
    Ok((Watcher { _inner: inner }, rx))
}

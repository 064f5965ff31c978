//! Tells the parts that push changes outward (WebSub deliveries, cache purges) which served
//! paths changed, without ever making the owner wait for them.
//!
//! The owner calls [`Announcer::announce`] after each publish: it adds the changed paths to
//! every listener's pending set and wakes it. A listener that is busy (a slow hub, a cache
//! that is down) finds, when it next looks, the union of everything that changed meanwhile
//! and the newest snapshot: it delivers the latest version once, never a queue of
//! superseded ones. The pending set holds each path at most once, so it is bounded by the
//! number of served paths whatever the rate of change.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, Weak};

use crate::snapshot::Snapshot;

/// What changed since a listener last looked.
#[derive(Debug, Clone)]
pub struct Change {
    /// The newest published snapshot: what to deliver for each path.
    pub snapshot: Arc<Snapshot>,
    /// Served paths whose bytes changed or that stopped being served, sorted.
    pub paths: BTreeSet<String>,
}

/// The owner's end; cheap to clone, handed over to the site a reload builds.
#[derive(Clone, Default)]
pub struct Announcer {
    listeners: Arc<Mutex<Vec<Weak<Listener>>>>,
}

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcer").finish_non_exhaustive()
    }
}

/// One consumer's end: what changed since it last took, and a wake-up.
#[derive(Default)]
pub struct Listener {
    pending: Mutex<Option<Change>>,
    wake: tokio::sync::Notify,
}

impl Announcer {
    pub fn new() -> Announcer {
        Announcer::default()
    }

    /// A new listener: it hears of every publish from now on. Dropping it unregisters it.
    pub fn listen(&self) -> Arc<Listener> {
        let listener = Arc::new(Listener::default());
        let mut listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        listeners.retain(|l| l.strong_count() > 0);
        listeners.push(Arc::downgrade(&listener));
        listener
    }

    /// After a publish: `paths` changed in `snapshot`. Never blocks on a listener's work.
    pub fn announce(&self, snapshot: &Arc<Snapshot>, paths: &[String]) {
        if paths.is_empty() {
            return;
        }
        let mut listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        listeners.retain(|listener| {
            let Some(listener) = listener.upgrade() else {
                return false;
            };
            listener.add(snapshot, paths);
            true
        });
    }
}

impl Listener {
    fn add(&self, snapshot: &Arc<Snapshot>, paths: &[String]) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let change = pending.get_or_insert_with(|| Change {
            snapshot: snapshot.clone(),
            paths: BTreeSet::new(),
        });
        change.snapshot = snapshot.clone();
        change.paths.extend(paths.iter().cloned());
        drop(pending);
        // Stores a permit when nobody waits: a change announced between `take` and
        // `next`'s wait is not lost.
        self.wake.notify_one();
    }

    /// What changed since the last take, if anything.
    pub fn take(&self) -> Option<Change> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Waits for the next change and takes it (everything announced meanwhile, merged).
    pub async fn next(&self) -> Change {
        loop {
            if let Some(change) = self.take() {
                return change;
            }
            self.wake.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_busy_listener_gets_the_union_and_the_newest_snapshot() {
        let announcer = Announcer::new();
        let listener = announcer.listen();
        let first = Arc::new(Snapshot::default());
        let second = Arc::new(Snapshot::default());
        announcer.announce(&first, &paths(&["/feed.xml", "/atom.xml"]));
        announcer.announce(&second, &paths(&["/feed.xml", "/categories/a/feed.xml"]));
        let change = listener.take().expect("a change is pending");
        assert!(Arc::ptr_eq(&change.snapshot, &second));
        assert_eq!(
            change.paths.into_iter().collect::<Vec<_>>(),
            paths(&["/atom.xml", "/categories/a/feed.xml", "/feed.xml"])
        );
        assert!(listener.take().is_none(), "taken once");
    }

    #[test]
    fn every_listener_hears_and_a_dropped_one_is_forgotten() {
        let announcer = Announcer::new();
        let a = announcer.listen();
        let b = announcer.listen();
        drop(b);
        announcer.announce(&Arc::new(Snapshot::default()), &paths(&["/feed.xml"]));
        assert!(a.take().is_some());
        assert_eq!(announcer.listeners.lock().unwrap().len(), 1);
        announcer.announce(&Arc::new(Snapshot::default()), &[]);
        assert!(a.take().is_none(), "nothing changed, nothing to hear");
    }

    #[tokio::test]
    async fn a_change_announced_before_the_wait_wakes_it() {
        let announcer = Announcer::new();
        let listener = announcer.listen();
        announcer.announce(&Arc::new(Snapshot::default()), &paths(&["/feed.xml"]));
        let change = tokio::time::timeout(std::time::Duration::from_secs(5), listener.next())
            .await
            .expect("woken");
        assert!(change.paths.contains("/feed.xml"));
    }
}

//! The single owner of the site's state: the index of posts, what each file looked like when
//! it was read, the publisher's rendered feeds, and the served snapshot. It applies changes,
//! re-reads only the files that changed, re-renders only the feeds whose items changed, and
//! swaps in the next snapshot; requests never wait for it and never see a half-built state.
//!
//! Memory follows the feeds, not the corpus: every post's metadata (dates, terms, ids) is
//! kept, but its body only while some feed holds it. A post in no feed is kept as
//! [`Post::without_body`]; when it enters a feed (a newer post went, expired or moved, or it
//! came due), its file is read again through [`Source::load`] before the feed is rendered,
//! and only then. That read is the ordinary apply path: a file that changed meanwhile is
//! the change it is. One that cannot be read again (unreadable, broken, being written) is
//! never shown without its content: it is left out of the feeds and reported as that file's
//! problem until it can be read.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::announce::Announcer;
use crate::clock::Clock;
use crate::config::Settings;
use crate::content::{ContentSettings, Diagnostic};
use crate::ids::Ids;
use crate::index::{FeedKey, Index};
use crate::post::Post;
use crate::publish::{PublishStats, Publisher};
use crate::snapshot::SharedSnapshot;
use crate::snapshot::Snapshot;
use crate::source::{self, Outcome, Read, Source, SourceError, Stamp};
use crate::state::State;

/// What applying a batch of changes did, for the log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub read: usize,
    pub removed: usize,
    pub failed: usize,
}

/// What a site shares with the rest of the process, handed over to the site a reload builds.
#[derive(Debug, Clone)]
pub struct Handles {
    /// The snapshot the server reads.
    pub shared: SharedSnapshot,
    /// What "now" is for scheduled and expiring posts.
    pub clock: Clock,
    /// What survives a restart.
    pub state: Arc<State>,
    /// Who hears which paths each publish changed (push, purge).
    pub announcer: Announcer,
}

impl Handles {
    /// An empty snapshot and nobody listening yet.
    pub fn new(clock: Clock, state: Arc<State>) -> Handles {
        Handles {
            shared: Arc::new(ArcSwap::from_pointee(Snapshot::default())),
            clock,
            state,
            announcer: Announcer::new(),
        }
    }
}

/// Index, publisher and the snapshot they produce.
pub struct Site {
    pub source: Source,
    pub index: Index,
    publisher: Publisher,
    /// Every post file as it was when last read whole (posts and broken files alike). Every
    /// key of the index is here: a post gets in only by being read.
    stamps: BTreeMap<String, Stamp>,
    /// Files that could not be used, by source path. A broken edit of a published post
    /// keeps the last good version in the index, so it is in both.
    problems: BTreeMap<String, Diagnostic>,
    /// Files that could not be read at all at their last try (EMFILE, EACCES, EIO…): each
    /// is also in `problems`, keeps its last good version, and is read again at the next
    /// chance whatever its stamp says.
    unreadable_files: BTreeSet<String>,
    /// Folders (or entries) the last walks could not list, with the OS error ("" for the
    /// root): nothing at or under them is forgotten until a walk lists them again.
    unlisted: BTreeMap<String, String>,
    /// Read errors met since the metrics last took them (see [`Site::take_read_errors`]).
    read_errors: AtomicU64,
    /// Problems with the tree itself, from the last walk.
    tree_problems: Vec<Diagnostic>,
    /// Warnings by source path (mojibake, dropped terms): reported, never blocking.
    warnings: BTreeMap<String, Vec<Diagnostic>>,
    shared: SharedSnapshot,
    /// Where the feed list is kept for a Hugo site's templates (`--hugo-data`).
    hugo_data: Option<PathBuf>,
    /// What "now" is for scheduled and expiring posts.
    pub clock: Clock,
    /// The clock's time at the last publish: posts timed after it are still to be published.
    published_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// What survives a restart (shared with the site a reload builds).
    pub state: Arc<State>,
    /// Told the changed paths after each publish.
    announcer: Announcer,
    /// Every item id ever published: what keeps a moved post's id.
    ids: Ids,
    /// Warnings about ids (a published post given a new one), by source path: kept apart
    /// from the parser's, which each read of the file replaces.
    id_warnings: BTreeMap<String, Diagnostic>,
    /// Posts that may have a body no feed holds (just read, or in a feed that is looked at
    /// again): after the next publish, those no feed holds lose it.
    unsettled: BTreeSet<String>,
    /// Files read again because their post entered a feed without its body in memory.
    rereads: u64,
    /// Known paths looked at to find what a vanished path held (see [`Site::keys_examined`]).
    examined: std::cell::Cell<u64>,
}

/// Files read (and parsed) at once while loading: the bodies of one batch are dropped
/// before the next is read, so that the whole corpus is never in memory at once.
const LOAD_BATCH: usize = 2048;

impl Site {
    /// Reads the whole content directory and publishes the first snapshot.
    pub fn load(settings: &Settings) -> Result<Site, SourceError> {
        Site::load_into(
            settings,
            Handles::new(Clock::from_env(), Arc::new(State::memory())),
        )
    }

    /// [`Site::load`], publishing into an existing handle: how a reloaded configuration
    /// takes over the snapshot the server is already reading. Nothing is stored into
    /// `shared` unless the content directory can be opened.
    pub fn load_into(settings: &Settings, handles: Handles) -> Result<Site, SourceError> {
        let started = Instant::now();
        let mut site = Site::read(settings, handles)?;
        let (stats, _) = site.publish();
        tracing::info!(
            posts = site.index.len(),
            problems = site.problems.len(),
            feeds = stats.feeds,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "content loaded"
        );
        Ok(site)
    }

    /// Reads the whole content directory without publishing anything into `shared`: a
    /// reload looks at what it read before it replaces the running site.
    pub fn read(settings: &Settings, handles: Handles) -> Result<Site, SourceError> {
        let Handles {
            shared,
            clock,
            state,
            announcer,
        } = handles;
        let mut source = Source::open(
            &settings.content.dir,
            settings.content.max_post_bytes,
            ContentSettings::from_settings(settings),
        )?;
        source.ignore = settings.content.ignore_files.clone();
        source.static_dir = settings.hugo_site.as_ref().map(|site| site.join("static"));
        let listing = source.list();
        let mut site = Site {
            source,
            index: Index::with_languages(
                &settings.content.taxonomies,
                &settings
                    .feeds
                    .languages
                    .iter()
                    .map(|l| l.code().to_string())
                    .collect::<Vec<_>>(),
            ),
            publisher: Publisher::new(settings),
            stamps: BTreeMap::new(),
            problems: BTreeMap::new(),
            unreadable_files: BTreeSet::new(),
            read_errors: AtomicU64::new(listing.unreadable.len() as u64),
            unlisted: listing.unreadable,
            tree_problems: listing.problems,
            warnings: BTreeMap::new(),
            shared,
            hugo_data: settings.hugo_data.clone(),
            clock,
            published_at: None,
            state,
            announcer,
            ids: Ids::default(),
            id_warnings: BTreeMap::new(),
            unsettled: BTreeSet::new(),
            rereads: 0,
            examined: std::cell::Cell::new(0),
        };
        let mut remembered = site.state.remembered();
        site.ids = Ids::new(
            std::mem::take(&mut remembered.items),
            std::mem::take(&mut remembered.paths),
            site.state.writes(),
        );
        site.publisher.remember(remembered);
        site.publisher.seed(&site.shared.load());
        for batch in listing.files.chunks(LOAD_BATCH) {
            for read in site.source.load_many(batch) {
                site.take(read);
            }
            site.settle_loaded_bodies();
        }
        // Logged with every other warning once the whole load is known (log_problems).
        site.check_new_ids(false);
        site.log_unreadable("loading");
        Ok(site)
    }

    /// [`Site::take`], then logs what went wrong with the file: for changes while serving.
    /// (After a whole load, the caller reports the complete list instead; files that could
    /// not be read at all are summed up once per rebuild by [`Site::log_unreadable`].)
    fn take_and_log(&mut self, read: Read) -> Applied {
        let key = read.key.clone();
        let unreadable = matches!(read.outcome, Outcome::Unreadable(_));
        let applied = self.take(read);
        let root = &self.source.root;
        for warning in self.warnings.get(&key).into_iter().flatten() {
            tracing::warn!("{}", show(root, warning));
        }
        if applied.read > 0 && applied.failed == 0 {
            if let Some(warning) = self.id_warnings.get(&key) {
                tracing::warn!("{}", show(root, warning));
            }
        }
        if applied.failed > 0 && !unreadable {
            if let Some(problem) = self.problems.get(&key) {
                tracing::warn!("{}", show(root, problem));
            }
        }
        applied
    }

    /// Records one file read: a good post replaces the old version; a broken or unreadable
    /// one keeps the last good version published and is kept as a problem; one being
    /// written is left for its next event; a vanished one is removed.
    fn take(&mut self, read: Read) -> Applied {
        let (stamp, result) = match read.outcome {
            Outcome::Gone => return self.forget(&read.key),
            Outcome::Changing => {
                tracing::debug!(file = %read.key, "changed while being read; read again at its next change");
                return Applied::default();
            }
            Outcome::Unreadable(problem) => {
                self.read_errors.fetch_add(1, Ordering::Relaxed);
                self.unreadable_files.insert(read.key.clone());
                self.problems.insert(read.key, problem);
                return Applied {
                    failed: 1,
                    ..Applied::default()
                };
            }
            Outcome::Read { stamp, result } => (stamp, result),
        };
        self.unreadable_files.remove(&read.key);
        self.stamps.insert(read.key.clone(), stamp);
        if read.warnings.is_empty() {
            self.warnings.remove(&read.key);
        } else {
            self.warnings.insert(read.key.clone(), read.warnings);
        }
        match result {
            Ok(Some(mut post)) => {
                self.problems.remove(&read.key);
                match self.ids.assign(&mut post) {
                    Some(warning) => self.id_warnings.insert(read.key.clone(), warning),
                    None => self.id_warnings.remove(&read.key),
                };
                self.index.insert(Arc::new(post));
                self.unsettled.insert(read.key.clone());
                Applied {
                    read: 1,
                    ..Applied::default()
                }
            }
            Ok(None) => {
                // A page, not a post (it lost its date, say): out of the feeds, no problem.
                self.problems.remove(&read.key);
                let removed = self.index.remove(&read.key).is_some();
                Applied {
                    read: 1,
                    removed: usize::from(removed),
                    ..Applied::default()
                }
            }
            Err(problem) => {
                self.problems.insert(read.key, problem);
                Applied {
                    read: 1,
                    failed: 1,
                    ..Applied::default()
                }
            }
        }
    }

    /// Applies the reads of one batch. If the root vanished while they were made, every
    /// file "vanished" with it: that is no reason to unpublish anything, so those reads are
    /// dropped (one stat per batch, not per file); the owner rescans when it comes back.
    fn take_all(&mut self, reads: Vec<Read>) -> Applied {
        let root_gone = reads.iter().any(|r| matches!(r.outcome, Outcome::Gone))
            && !self.source.root_is_there();
        let mut applied = Applied::default();
        for read in reads {
            if !(root_gone && matches!(read.outcome, Outcome::Gone)) {
                applied = applied + self.take_and_log(read);
            }
        }
        applied
    }

    /// Drops everything known about the file `key`. Callers make sure the root is there:
    /// that is checked once per batch, not once per file.
    fn forget(&mut self, key: &str) -> Applied {
        self.warnings.remove(key);
        self.id_warnings.remove(key);
        self.ids.vacate(key);
        self.unreadable_files.remove(key);
        let known = self.stamps.remove(key).is_some() | self.problems.remove(key).is_some();
        let removed = self.index.remove(key).is_some();
        Applied {
            removed: usize::from(removed || known),
            ..Applied::default()
        }
    }

    /// Whether `key` is at or under a path the last walks could not list: then its absence
    /// from a listing proves nothing.
    fn is_unlisted(&self, key: &str) -> bool {
        if self.unlisted.is_empty() {
            return false;
        }
        let mut at = key;
        loop {
            if self.unlisted.contains_key(at) {
                return true;
            }
            match at.rsplit_once('/') {
                Some((parent, _)) => at = parent,
                None => return !at.is_empty() && self.unlisted.contains_key(""),
            }
        }
    }

    /// Replaces what is known to be unlisted at or under `key` with what a new walk of it
    /// could not list.
    fn relist(&mut self, key: &str, unreadable: BTreeMap<String, String>) {
        for k in under(&self.unlisted, key) {
            self.unlisted.remove(&k);
        }
        self.read_errors
            .fetch_add(unreadable.len() as u64, Ordering::Relaxed);
        self.unlisted.extend(unreadable);
    }

    /// Walks the folder `rel_dir`: its content files go to `changed` (to be read if they
    /// changed), and files known under it that the walk did not find go to `gone` (unless the
    /// walk could not see them: those are kept as unlisted).
    fn compare_folder(
        &mut self,
        rel_dir: &Path,
        changed: &mut BTreeSet<PathBuf>,
        gone: &mut BTreeSet<String>,
    ) {
        let key = source::source_key(rel_dir);
        let listing = self.source.list_in(rel_dir);
        self.relist(&key, listing.unreadable);
        let present: BTreeSet<String> = listing
            .files
            .iter()
            .map(|f| source::source_key(f))
            .collect();
        gone.extend(
            self.keys_under(&key)
                .into_iter()
                .filter(|k| !present.contains(k)),
        );
        changed.extend(listing.files);
    }

    /// Re-checks the given absolute paths on disk. A path may be a post file, a folder
    /// (everything under it is compared), or something that no longer exists (it and
    /// everything that was under it are removed).
    pub fn apply_paths(&mut self, paths: &BTreeSet<PathBuf>) -> Applied {
        let errors_before = self.read_errors.load(Ordering::Relaxed);
        let mut changed: BTreeSet<PathBuf> = BTreeSet::new();
        let mut gone: BTreeSet<String> = BTreeSet::new();
        // Files to re-read even though they did not change themselves.
        let mut forced: BTreeSet<PathBuf> = BTreeSet::new();
        // Folders whose `index.*` came or went: their other files changed between page and
        // bundle resource, so the folder is compared like a new one.
        let mut bundles: BTreeSet<PathBuf> = BTreeSet::new();
        for path in paths {
            let Ok(rel) = path.strip_prefix(&self.source.root) else {
                continue;
            };
            let key = source::source_key(rel);
            let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if source::is_bundle_index(name) {
                let dir = rel.parent().unwrap_or(Path::new(""));
                self.source.forget_bundle(dir);
                bundles.insert(dir.to_owned());
            }
            match self.source.is_folder(rel) {
                Ok(true) => {
                    // A new or moved-in folder: files may have been written before its watch
                    // existed, so walk it.
                    self.compare_folder(rel, &mut changed, &mut gone);
                }
                Ok(_) if self.source.is_content(rel) => {
                    changed.insert(rel.to_owned());
                }
                Ok(_) if is_section_page(rel) => forced.extend(self.below_section_page(rel)),
                Ok(_) => {}
                Err(e) if source::is_gone(&e) => {
                    if is_section_page(rel) {
                        forced.extend(self.below_section_page(rel));
                    }
                    gone.insert(key.clone());
                    gone.extend(self.keys_under(&key));
                }
                Err(e) => {
                    // Cannot tell what is there: keep what was read, look again later.
                    self.relist(&key, BTreeMap::from([(key.clone(), e.to_string())]));
                }
            }
        }
        for dir in bundles {
            self.compare_folder(&dir, &mut changed, &mut gone);
        }
        if !self.source.root_is_there() {
            // The whole directory went away while we looked: that is not every post being
            // deleted. Keep serving what we have; the owner waits for it to come back.
            return Applied::default();
        }
        gone.retain(|k| !self.is_unlisted(k));
        let mut applied = Applied::default();
        for key in &gone {
            applied = applied + self.forget(key);
        }
        let mut stale: BTreeSet<PathBuf> = changed
            .into_iter()
            .filter(|rel| self.is_stale(rel))
            .collect();
        stale.extend(
            forced
                .into_iter()
                .filter(|rel| !gone.contains(&source::source_key(rel))),
        );
        let stale: Vec<PathBuf> = stale.into_iter().collect();
        applied = applied + self.take_all(self.source.load_many(&stale));
        self.check_new_ids(true);
        if self.read_errors.load(Ordering::Relaxed) > errors_before {
            self.log_unreadable("applying changes");
        }
        applied
    }

    /// Compares the whole tree with what was read: re-reads changed files, drops vanished
    /// ones. The configured path is resolved first, so a swapped symlink is read as a whole
    /// new tree in this one pass (files only in the old tree go, the others are compared by
    /// key). What the walk could not list is kept as it was.
    pub fn rescan(&mut self) -> Applied {
        self.source.forget_cascades();
        if let Err(error) = self.source.resolve() {
            // Vanished: an empty listing says nothing about the posts.
            tracing::warn!(%error, "cannot rescan; still serving the last feeds");
            return Applied::default();
        }
        let listing = self.source.list();
        if !self.source.root_is_there() {
            return Applied::default();
        }
        self.tree_problems = listing.problems;
        self.relist("", listing.unreadable);
        let present: BTreeSet<String> = listing
            .files
            .iter()
            .map(|f| source::source_key(f))
            .collect();
        let vanished: BTreeSet<String> = self
            .stamps
            .keys()
            .chain(self.problems.keys())
            .filter(|k| !present.contains(*k) && !self.is_unlisted(k))
            .cloned()
            .collect();
        let mut applied = Applied::default();
        for key in vanished {
            applied = applied + self.forget(&key);
        }
        let stale: Vec<PathBuf> = listing
            .files
            .into_iter()
            .filter(|rel| self.is_stale(rel))
            .collect();
        applied = applied + self.take_all(self.source.load_many(&stale));
        self.check_new_ids(true);
        self.log_unreadable("rescanning");
        applied
    }

    /// Looks at the posts that just got an id never published before: one that looks like
    /// a published post whose file is gone (it moved, with neither an alias nor an `id:`)
    /// is warned about, naming the file. After a batch, when every move in it is complete.
    fn check_new_ids(&mut self, log: bool) {
        let fresh = self.ids.take_fresh();
        let index = &self.index;
        let posts: Vec<&crate::post::Post> = fresh
            .iter()
            .filter_map(|s| index.get(s))
            .map(|p| &**p)
            .collect();
        for warning in self.ids.moved_warnings(&posts, |s| index.get(s).is_some()) {
            if log {
                tracing::warn!("{}", show(&self.source.root, &warning));
            }
            self.id_warnings.insert(warning.path.clone(), warning);
        }
    }

    /// One warning for everything that could not be read, however many paths: the count,
    /// the first few with their OS errors, and what is served meanwhile.
    fn log_unreadable(&self, during: &str) {
        let count = self.unreadable_count();
        if count == 0 {
            return;
        }
        let examples: Vec<String> = self
            .unlisted
            .iter()
            .map(|(k, e)| format!("{}: {e}", show_key(&self.source.root, k)))
            .chain(
                self.unreadable_files
                    .iter()
                    .filter_map(|k| self.problems.get(k).map(|p| show(&self.source.root, p))),
            )
            .take(3)
            .collect();
        tracing::warn!(
            unreadable = count,
            during,
            examples = %examples.join("; "),
            "{count} paths under the content directory cannot be read; their last good versions are served, and they are read again at their next change or rescan"
        );
    }

    /// How many paths (folders that could not be listed, files that could not be read)
    /// are being served from their last good versions.
    pub fn unreadable_count(&self) -> usize {
        self.unlisted.len() + self.unreadable_files.len()
    }

    /// Read errors met since the last call (for the metrics' counter).
    pub fn take_read_errors(&self) -> u64 {
        self.read_errors.swap(0, Ordering::Relaxed)
    }

    /// Whether a file differs from when it was read (or was never read).
    /// A file that could not be read last time is always stale: its stamp (if any) is that
    /// of its last good version.
    fn is_stale(&self, rel: &Path) -> bool {
        let key = source::source_key(rel);
        self.unreadable_files.contains(&key)
            || self.stamps.get(&key).copied() != self.source.stamp(rel)
            || !self.stamps.contains_key(&key)
    }

    /// A section page changed or went: its `cascade` may have changed what every page below
    /// it says, so those are read again (cascades are re-read first).
    fn below_section_page(&self, rel: &Path) -> Vec<PathBuf> {
        self.source.forget_cascades();
        let dir = rel.parent().map(source::source_key).unwrap_or_default();
        self.keys_under(&dir)
            .into_iter()
            .map(PathBuf::from)
            .collect()
    }

    /// Known files at or under `key` (a file or a folder): two range queries on the ordered
    /// maps, O(log n + k), as a mass delete asks this once per vanished path. Every post in
    /// the index has a stamp, so the index itself need not be searched.
    fn keys_under(&self, key: &str) -> Vec<String> {
        let mut keys = under(&self.stamps, key);
        keys.extend(under(&self.problems, key));
        self.examined.set(self.examined.get() + keys.len() as u64);
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Re-renders what changed as of now and swaps in the next snapshot. Returns what was
    /// rendered and the moment readers started getting the new snapshot.
    pub fn publish(&mut self) -> (PublishStats, Instant) {
        let now = self.clock.now();
        let due = self.fill_bodies(now);
        // What these feeds held may leave them now: the ones that did are looked at once
        // the feeds are rendered (an edit moves one post, not the feed's fifty).
        let held_before: Vec<(&FeedKey, Vec<Arc<Post>>)> = due
            .iter()
            .map(|key| (key, self.publisher.items_of(key).to_vec()))
            .collect();
        self.published_at = Some(now);
        let (snapshot, stats) = self.publisher.publish(&mut self.index, now);
        for (key, before) in held_before {
            let after: HashSet<*const Post> = self
                .publisher
                .items_of(key)
                .iter()
                .map(Arc::as_ptr)
                .collect();
            self.unsettled.extend(
                before
                    .iter()
                    .filter(|post| !after.contains(&Arc::as_ptr(post)))
                    .map(|post| post.source.clone()),
            );
        }
        self.settle_bodies();
        if let Some(dir) = &self.hugo_data {
            // The site's templates must see the feeds the server is about to serve.
            if let Err(e) = crate::output::write_feed_list(&snapshot, dir) {
                tracing::warn!("cannot write the feed list for the Hugo site: {e}");
            }
        }
        let snapshot = Arc::new(snapshot);
        self.shared.store(snapshot.clone());
        let served = Instant::now();
        self.announcer
            .announce(&snapshot, &self.publisher.take_changed_paths());
        // After serving: a slow disk delays no edit.
        let mut changes = self.publisher.take_changes();
        changes.ids = self.ids.take_changes();
        self.state.save(&changes);
        (stats, served)
    }

    /// The feeds the next publish looks at (as [`Publisher::publish`] picks them), after the
    /// posts entering them got their bodies back: each post among their newest items that has
    /// none is read again, and what those reads change is looked at in turn. Each round
    /// leaves fewer posts without a body in the index, so it ends.
    fn fill_bodies(&mut self, now: chrono::DateTime<chrono::FixedOffset>) -> BTreeSet<FeedKey> {
        let mut due = self.index.changed().clone();
        match self.published_at {
            Some(last) if now >= last => due.extend(self.index.feeds_changing(last, now)),
            _ => due.extend(self.index.feed_keys()),
        }
        let limit = self.publisher.items_per_feed();
        loop {
            let missing: BTreeSet<String> = due
                .iter()
                .flat_map(|key| self.index.items(key, now, limit))
                .filter(|post| !post.body.is_kept())
                .map(|post| post.source.clone())
                .collect();
            if missing.is_empty() {
                break;
            }
            let files: Vec<PathBuf> = missing.iter().map(PathBuf::from).collect();
            self.rereads += files.len() as u64;
            for read in self.source.load_many(&files) {
                self.take_again(read);
            }
            due.extend(self.index.changed().iter().cloned());
        }
        self.check_new_ids(true);
        due
    }

    /// Records a file read again for its body: an unchanged one quietly (it was reported
    /// when first read), a changed one as any change. When the read brought no body (the
    /// file cannot be read, is being written or is broken now), the post is left out of the
    /// feeds rather than shown empty, and reported; it is read again at its next chance.
    fn take_again(&mut self, read: Read) {
        let key = read.key.clone();
        let failure = match &read.outcome {
            Outcome::Read {
                result: Err(problem),
                ..
            }
            | Outcome::Unreadable(problem) => Some(problem.message.clone()),
            Outcome::Changing => Some("it changed while being read".to_string()),
            _ => None,
        };
        let unchanged = matches!(&read.outcome, Outcome::Read { stamp, result: Ok(_) } if self.stamps.get(&key) == Some(stamp));
        if unchanged {
            // The same file: what was said about its id when it was read still holds (the
            // id it got then is found again by its path, so assigning says nothing now).
            let id_warning = self.id_warnings.remove(&key);
            self.take(read);
            if let Some(warning) = id_warning {
                self.id_warnings.insert(key.clone(), warning);
            }
        } else {
            self.take_and_log(read);
        }
        if self.index.get(&key).is_none_or(|p| p.body.is_kept()) {
            return;
        }
        let reason = failure.unwrap_or_default();
        let reason = reason.trim_end_matches("; its last good version stays published");
        let problem = Diagnostic {
            severity: crate::diagnostic::Severity::Error,
            path: key.clone(),
            line: None,
            message: format!(
                "it enters a feed, but its content (not kept in memory while it was in none) cannot be read again: {reason}; it is left out of the feeds until it can be read"
            ),
        };
        tracing::warn!("{}", show(&self.source.root, &problem));
        self.index.remove(&key);
        // No stamp: stale, so its next event or the next rescan reads it again.
        self.stamps.remove(&key);
        self.problems.insert(key, problem);
    }

    /// While loading (nothing rendered yet): drops the body of each post just read that is
    /// not among the newest of any of its feeds now. Loading only adds posts, which push
    /// others down, so a post dropped here can never be among the newest when the load ends
    /// and is not read again; one kept here is looked at again after the first publish.
    fn settle_loaded_bodies(&mut self) {
        let now = self.clock.now();
        let limit = self.publisher.items_per_feed();
        let mut newest: BTreeMap<FeedKey, Vec<Arc<Post>>> = BTreeMap::new();
        let mut kept = BTreeSet::new();
        for source in std::mem::take(&mut self.unsettled) {
            let Some(post) = self.index.get(&source).cloned() else {
                continue;
            };
            if !post.body.is_kept() {
                continue;
            }
            let in_a_feed = self.index.feeds_of(&post).into_iter().any(|key| {
                let items = newest
                    .entry(key)
                    .or_insert_with_key(|key| self.index.items(key, now, limit));
                items.iter().any(|held| Arc::ptr_eq(held, &post))
            });
            if in_a_feed {
                kept.insert(source);
            } else {
                self.index.replace_quietly(Arc::new(post.without_body()));
            }
        }
        self.unsettled = kept;
    }

    /// Drops the body of each unsettled post that no rendered feed holds.
    fn settle_bodies(&mut self) {
        for source in std::mem::take(&mut self.unsettled) {
            let Some(post) = self.index.get(&source) else {
                continue;
            };
            if !post.body.is_kept() || self.is_held(post) {
                continue;
            }
            let bare = Arc::new(post.without_body());
            self.index.replace_quietly(bare);
        }
    }

    /// Whether some rendered feed holds this very post (not another version of its file).
    fn is_held(&self, post: &Arc<Post>) -> bool {
        self.index.feeds_of(post).iter().any(|key| {
            self.publisher
                .items_of(key)
                .iter()
                .any(|held| Arc::ptr_eq(held, post))
        })
    }

    /// How many known paths were looked at, so far, to find what vanished paths held: a
    /// range query looks only at the paths it returns, so an editor's save (whose backup
    /// and probe files vanish) costs nothing here however big the site.
    pub fn keys_examined(&self) -> u64 {
        self.examined.get()
    }

    /// How many files were read again because their post entered a feed without its body
    /// in memory, since the site was loaded.
    pub fn rereads(&self) -> u64 {
        self.rereads
    }

    /// What this site shares with the process: a reload's new site takes these over.
    pub fn handles(&self) -> Handles {
        Handles {
            shared: self.shared.clone(),
            clock: self.clock,
            state: self.state.clone(),
            announcer: self.announcer.clone(),
        }
    }

    /// The snapshot handle the HTTP server reads.
    pub fn shared(&self) -> SharedSnapshot {
        self.shared.clone()
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.load_full()
    }

    /// Every problem with the content, sorted by path: unusable files, the tree, duplicate ids.
    pub fn problems(&self) -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> = self
            .problems
            .values()
            .chain(&self.tree_problems)
            .cloned()
            .collect();
        for dup in self.index.duplicate_ids() {
            out.push(Diagnostic {
                severity: crate::diagnostic::Severity::Error,
                path: dup.source,
                line: None,
                message: format!("same id as {} ({}); left out of the feeds: give one of them its own `slug` or `id`", dup.kept, dup.id),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path).then(a.line.cmp(&b.line)));
        out
    }

    /// Logs every problem and warning, each as [`show`] writes it: after a whole load
    /// (start or reload), when nothing was logged file by file.
    pub fn log_problems(&self, content_dir: &Path) {
        for problem in self.problems().iter().chain(&self.warnings()) {
            tracing::warn!("{}", show(content_dir, problem));
        }
    }

    /// How many problems [`Site::problems`] would list, without building the list.
    pub fn problem_count(&self) -> usize {
        self.problems.len() + self.tree_problems.len() + self.index.duplicate_count()
    }

    /// Warnings about the content, sorted by path and line: things `herald check` reports
    /// without failing (mojibake, dropped terms), each of severity [`crate::diagnostic::Severity::Warning`].
    pub fn warnings(&self) -> Vec<Diagnostic> {
        let paths: BTreeSet<&String> = self
            .warnings
            .keys()
            .chain(self.id_warnings.keys())
            .collect();
        paths
            .into_iter()
            .flat_map(|p| {
                self.warnings
                    .get(p)
                    .into_iter()
                    .flatten()
                    .chain(self.id_warnings.get(p))
            })
            .cloned()
            .collect()
    }

    /// How long until a post comes due or expires, if any will: zero when one already did
    /// since the last publish (the loop woke for something else at that moment, say).
    pub fn next_timed_change(&self) -> Option<Duration> {
        let now = self.clock.now();
        let since = self.published_at.unwrap_or(now).min(now);
        let at = self.index.next_change_after(since)?;
        Some((at - now).to_std().unwrap_or_default())
    }
}

impl std::ops::Add for Applied {
    type Output = Applied;
    fn add(self, o: Applied) -> Applied {
        Applied {
            read: self.read + o.read,
            removed: self.removed + o.removed,
            failed: self.failed + o.failed,
        }
    }
}

/// Keys of `map` equal to `key` or under the folder `key` (every key when `key` is ""), in
/// order. `key/` up to `key0` (`'0'` follows `'/'`) is exactly the keys starting with `key/`.
fn under<V>(map: &BTreeMap<String, V>, key: &str) -> Vec<String> {
    if key.is_empty() {
        return map.keys().cloned().collect();
    }
    let from = format!("{key}/");
    let to = format!("{key}0");
    let exact = map.get_key_value(key).map(|(k, _)| k.clone());
    exact
        .into_iter()
        .chain(
            map.range::<str, _>((Bound::Included(from.as_str()), Bound::Excluded(to.as_str())))
                .map(|(k, _)| k.clone()),
        )
        .collect()
}

/// A key (or "" for the root) as the operator finds it: under the content dir.
fn show_key(content_dir: &Path, key: &str) -> String {
    show(
        content_dir,
        &Diagnostic {
            severity: crate::diagnostic::Severity::Error,
            path: key.to_string(),
            line: None,
            message: String::new(),
        },
    )
    .trim_end_matches(": ")
    .to_string()
}

/// `_index.md`, `_index.es.md`: a section page, whose `cascade` reaches the pages below.
fn is_section_page(rel: &Path) -> bool {
    rel.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("_index."))
}

pub use crate::diagnostic::show;

#[cfg(test)]
mod tests;

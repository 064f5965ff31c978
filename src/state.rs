//! Herald's memory across restarts: a small embedded database (redb) in the state directory
//! (`state_dir`, default systemd's `StateDirectory`). It holds, per served path, the ETag and
//! `Last-Modified` last served, so that validators stay the same across a restart and only
//! ever move forward; and every feed ever published, so that a feed whose last post goes keeps
//! answering instead of vanishing under its subscribers; and every item id ever published,
//! with its post's content path, permalinks and aliases (see [`crate::ids`]), so that a
//! post keeps its id when it moves.
//!
//! The state is a help, never a requirement: a missing file is created, a corrupt one is
//! moved aside and started afresh, and a store that cannot be opened or written is logged
//! once while Herald keeps serving from memory.
//!
//! Beside it, in a file of its own ([`SNAPSHOT_FILE_NAME`], see [`SnapshotStore`]), the
//! snapshot last served, for the next start to serve at once ([`crate::persist`]). A file
//! of its own so that writing it (megabytes after a big publish) never holds up the
//! owner's writes of the state, and so that it can be thrown away whole: it is only ever
//! a copy of what the content gives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::feed::FeedInfo;
use crate::ids::{IdChanges, KnownItem};
use crate::index::FeedKey;

/// Served path → [`Validator`] (JSON).
const VALIDATORS: TableDefinition<&str, &str> = TableDefinition::new("validators");
/// Feed folder → [`KnownFeed`] (JSON).
const FEEDS: TableDefinition<&str, &str> = TableDefinition::new("feeds");
/// Item id → [`KnownItem`] (JSON).
const ITEMS: TableDefinition<&str, &str> = TableDefinition::new("items");
/// Content path → the item id published for it.
const PATHS: TableDefinition<&str, &str> = TableDefinition::new("paths");

/// redb's page cache. Its default (1 GiB) would hold the whole item table in memory beside
/// the index that already has it; the state is read once at start and written in small
/// transactions, so a small cache costs nothing measurable.
const CACHE_BYTES: usize = 8 << 20;

fn builder() -> redb::Builder {
    let mut builder = Database::builder();
    builder.set_cache_size(CACHE_BYTES);
    builder
}

/// Why a database file cannot be opened.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error(transparent)]
    Db(#[from] redb::DatabaseError),
    #[error("the file is damaged ({0})")]
    Damaged(String),
}

/// Opens or creates the database at `path`. redb asserts, rather than errs, on some damage
/// (a file cut short panics it): such a panic is that file's error too, never Herald's end.
fn create(path: &Path) -> Result<Database, OpenError> {
    match std::panic::catch_unwind(|| builder().create(path)) {
        Ok(opened) => Ok(opened?),
        Err(panic) => Err(OpenError::Damaged(
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the database library gave up on it".into()),
        )),
    }
}

/// File name of the database inside the state directory.
pub const FILE_NAME: &str = "herald.redb";

/// File name of the stored snapshot inside the state directory.
pub const SNAPSHOT_FILE_NAME: &str = "snapshot.redb";
/// Served path → the resource, as [`crate::snapshot::encode`] writes it.
const SERVED: TableDefinition<&str, &[u8]> = TableDefinition::new("served");
/// [`SNAPSHOT_META`] → what the stored snapshot is (the caller's bytes), written in the
/// same transaction as the resources: present means complete.
const SERVED_META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SNAPSHOT_META: &str = "snapshot";

/// What was last served at one path: the identity ETag and `Last-Modified` (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    pub etag: String,
    pub last_modified: Option<i64>,
}

/// A feed that was published once: what it is, so it can still be served when empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownFeed {
    pub key: FeedKey,
    pub info: FeedInfo,
}

/// Everything the state remembers, as read at start.
#[derive(Debug, Default, Clone)]
pub struct Remembered {
    pub validators: BTreeMap<String, Validator>,
    pub feeds: BTreeMap<String, KnownFeed>,
    /// Item id → what it was published for.
    pub items: BTreeMap<String, KnownItem>,
    /// Content path → item id.
    pub paths: BTreeMap<String, String>,
}

/// What one publish changed, to be written.
#[derive(Debug, Default)]
pub struct Changes {
    pub validators: Vec<(String, Validator)>,
    pub feeds: Vec<KnownFeed>,
    pub ids: IdChanges,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
            && self.feeds.is_empty()
            && self.ids.items.is_empty()
            && self.ids.paths.is_empty()
    }
}

/// The state store; `memory()` keeps nothing beyond the process.
pub struct State {
    db: Option<Database>,
    path: Option<PathBuf>,
    /// A failed write is logged once, not on every publish.
    write_failed: AtomicBool,
    /// Serializes writers (the owner is the only one; reloads hand the store over).
    lock: Mutex<()>,
    /// Read, never written: `herald check` looks at what a server published.
    read_only: bool,
}

/// A new file only this process can reach: created in the temp folder (readable by its
/// owner only) and unlinked at once.
fn scratch_file() -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = std::env::temp_dir();
    for _ in 0..8 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".herald-state-{}-{n}.redb", std::process::id()));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => {
                std::fs::remove_file(&path).ok()?;
                return Some(file);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => return None,
        }
    }
    None
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("path", &self.path).finish()
    }
}

impl State {
    /// No persistence at all: `herald build` and `herald check`, whose output depends on the
    /// content alone and which keep nothing.
    pub fn memory() -> State {
        State {
            db: None,
            path: None,
            write_failed: AtomicBool::new(false),
            lock: Mutex::new(()),
            read_only: false,
        }
    }

    /// Kept for this process only: serving when no state directory can be used. A reload
    /// still takes over the running validators (the same bytes keep their ETag and
    /// `Last-Modified`, and push and purge hear only of what changed).
    ///
    /// The database is an unlinked file in the temp folder, gone with the process: redb's
    /// in-memory backend would hold it in the heap: at 100,000 posts (a 92 MB file) steady
    /// RSS was 813 MiB with it and 594 MiB with this file, the same as with a `state_dir`.
    /// Without a usable temp folder, it is in memory after all.
    pub fn in_process() -> State {
        let db = scratch_file()
            .and_then(|file| redb::backends::FileBackend::new(file).ok())
            .and_then(|backend| builder().create_with_backend(backend).ok())
            .or_else(|| {
                builder()
                    .create_with_backend(redb::backends::InMemoryBackend::new())
                    .ok()
            });
        State {
            db,
            ..State::memory()
        }
    }

    /// Opens (or creates) the database in `dir`. Never fails: a corrupt file is moved aside
    /// and replaced; a directory that cannot be used gives a memory-only state. Both warn.
    pub fn open(dir: &Path) -> State {
        let path = dir.join(FILE_NAME);
        if let Err(err) = std::fs::create_dir_all(dir) {
            tracing::warn!(dir = %dir.display(), "cannot create the state directory ({err}); validators and known feeds are kept in memory only and start afresh on restart");
            return State::in_process();
        }
        let db = match create(&path) {
            Ok(db) => db,
            Err(err) => {
                let aside = dir.join(format!("{FILE_NAME}.corrupt"));
                tracing::warn!(file = %path.display(), aside = %aside.display(), "the state file cannot be used ({err}); it is moved aside and started afresh: Last-Modified of each feed restarts from its content");
                let _ = std::fs::rename(&path, &aside);
                match create(&path) {
                    Ok(db) => db,
                    Err(err) => {
                        tracing::warn!(file = %path.display(), "cannot create the state file ({err}); validators and known feeds are kept in memory only");
                        return State::in_process();
                    }
                }
            }
        };
        State {
            db: Some(db),
            path: Some(path),
            write_failed: AtomicBool::new(false),
            lock: Mutex::new(()),
            read_only: false,
        }
    }

    /// The state in `dir` as it is, to be read and never written (`herald check`): memory
    /// only when there is none or it cannot be opened (a running server holds it, say).
    /// redb 2 has no read-only mode: opening a file a killed server left may run its
    /// recovery, which rewrites bookkeeping, never the entries.
    pub fn read_only(dir: &Path) -> State {
        let path = dir.join(FILE_NAME);
        if !path.is_file() {
            return State::memory();
        }
        match builder().open(&path) {
            Ok(db) => State {
                db: Some(db),
                path: Some(path),
                write_failed: AtomicBool::new(false),
                lock: Mutex::new(()),
                read_only: true,
            },
            Err(err) => {
                tracing::info!(file = %path.display(), "cannot read the state ({err}); ids are checked against the content alone");
                State::memory()
            }
        }
    }

    /// Whether [`State::save`] writes anything (a database, not read only).
    pub fn writes(&self) -> bool {
        self.db.is_some() && !self.read_only
    }

    /// The database file, if there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The database itself, for a part that keeps a table of its own in it (WebSub's
    /// `subscriptions`); `None` when nothing is persisted.
    pub fn database(&self) -> Option<&Database> {
        self.db.as_ref()
    }

    /// Everything stored. Entries that cannot be read are skipped (with one warning).
    pub fn remembered(&self) -> Remembered {
        let Some(db) = &self.db else {
            return Remembered::default();
        };
        let mut out = Remembered::default();
        let mut skipped = 0usize;
        let mut read = || -> Result<(), Box<dyn std::error::Error>> {
            let txn = db.begin_read()?;
            skipped += read_json(&txn, VALIDATORS, &mut out.validators)?;
            skipped += read_json(&txn, FEEDS, &mut out.feeds)?;
            skipped += read_json(&txn, ITEMS, &mut out.items)?;
            if let Ok(table) = txn.open_table(PATHS) {
                for row in table.iter()? {
                    let (path, id) = row?;
                    out.paths
                        .insert(path.value().to_owned(), id.value().to_owned());
                }
            }
            Ok(())
        };
        if let Err(err) = read() {
            tracing::warn!(file = %self.path.as_deref().unwrap_or(Path::new("-")).display(), "cannot read the state ({err}); starting from the content alone");
            return Remembered::default();
        }
        if skipped > 0 {
            tracing::warn!(skipped, "state entries that cannot be read were ignored");
        }
        out
    }

    /// Writes what a publish changed, in one transaction. A failure is logged (once until a
    /// write succeeds again) and changes nothing that is served.
    pub fn save(&self, changes: &Changes) {
        let Some(db) = &self.db else { return };
        if changes.is_empty() || self.read_only {
            return;
        }
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let write = || -> Result<(), Box<dyn std::error::Error>> {
            let mut txn = db.begin_write()?;
            // Crash-safe without an fsync per edit: a lost tail only makes the next
            // Last-Modified come from the clock, which still moves forward.
            txn.set_durability(redb::Durability::Eventual);
            {
                let mut table = txn.open_table(VALIDATORS)?;
                for (path, v) in &changes.validators {
                    let json = serde_json::to_string(v).expect("plain struct");
                    table.insert(path.as_str(), json.as_str())?;
                }
                let mut table = txn.open_table(FEEDS)?;
                for feed in &changes.feeds {
                    let json = serde_json::to_string(feed).expect("plain struct");
                    table.insert(feed.info.dir.as_str(), json.as_str())?;
                }
                let mut table = txn.open_table(ITEMS)?;
                for (id, item) in &changes.ids.items {
                    let json = serde_json::to_string(item).expect("plain struct");
                    table.insert(id.as_str(), json.as_str())?;
                }
                let mut table = txn.open_table(PATHS)?;
                for (path, id) in &changes.ids.paths {
                    match id {
                        Some(id) => table.insert(path.as_str(), id.as_str()).map(drop)?,
                        None => table.remove(path.as_str()).map(drop)?,
                    }
                }
            }
            txn.commit()?;
            Ok(())
        };
        match write() {
            Ok(()) => self.write_failed.store(false, Ordering::Relaxed),
            Err(err) => {
                if !self.write_failed.swap(true, Ordering::Relaxed) {
                    tracing::warn!(file = %self.path.as_deref().unwrap_or(Path::new("-")).display(), "cannot write the state ({err}); still serving, but validators may restart from the content after a restart");
                }
            }
        }
    }
}

/// The snapshot a run served, kept for the next start (see the module's doc). One writer
/// (the persisting thread); read once at start, before that writer starts.
pub struct SnapshotStore {
    db: Database,
    path: PathBuf,
}

/// Why the stored snapshot cannot be read: the store itself, or the caller's reason to
/// refuse what it holds.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotReadError<E: std::error::Error + 'static> {
    #[error("cannot read {}: {source}", path.display())]
    Store {
        path: PathBuf,
        #[source]
        source: Box<redb::Error>,
    },
    #[error(transparent)]
    Refused(E),
}

/// One change to the stored snapshot: a path's new encoded resource, or `None` when it is
/// not served any more.
pub type SnapshotEntry = (String, Option<Vec<u8>>);

impl State {
    /// The stored snapshot's file beside this state: only for a state kept on disk and
    /// written (`serve` with a state directory). `None`, logged, when it cannot be used.
    pub fn snapshot_store(&self) -> Option<SnapshotStore> {
        if !self.writes() {
            return None;
        }
        SnapshotStore::open(&self.path.as_deref()?.parent()?.join(SNAPSHOT_FILE_NAME))
    }
}

impl SnapshotStore {
    /// Opens or creates the file. One that cannot be opened is removed and made afresh:
    /// it holds nothing the content cannot give again.
    fn open(path: &Path) -> Option<SnapshotStore> {
        let db = match create(path) {
            Ok(db) => db,
            Err(
                err @ OpenError::Db(
                    redb::DatabaseError::DatabaseAlreadyOpen
                    | redb::DatabaseError::Storage(redb::StorageError::Io(_)),
                ),
            ) => {
                // Not broken, only not ours now (another process has it) or not readable:
                // left as it is.
                tracing::warn!(file = %path.display(), "cannot open the stored snapshot ({err}); this start loads the content before serving, and stores nothing for the next");
                return None;
            }
            Err(err) => {
                tracing::warn!(file = %path.display(), "the stored snapshot cannot be used ({err}); it is made afresh, and this start loads the content before serving");
                let _ = std::fs::remove_file(path);
                match create(path) {
                    Ok(db) => db,
                    Err(err) => {
                        tracing::warn!(file = %path.display(), "cannot create the stored snapshot ({err}); every start loads the content before serving");
                        return None;
                    }
                }
            }
        };
        Some(SnapshotStore {
            db,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hands the stored meta to `meta`, then, if it accepts it, every resource in path
    /// order to `each`, all from one read transaction; stops at the first refusal.
    /// `Ok(false)`: nothing is stored.
    pub fn read<E: std::error::Error + 'static>(
        &self,
        meta: impl FnOnce(&[u8]) -> Result<(), E>,
        mut each: impl FnMut(&str, &[u8]) -> Result<(), E>,
    ) -> Result<bool, SnapshotReadError<E>> {
        let store = |source: redb::Error| SnapshotReadError::Store {
            path: self.path.clone(),
            source: Box::new(source),
        };
        let txn = self.db.begin_read().map_err(|e| store(e.into()))?;
        let meta_table = match txn.open_table(SERVED_META) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(false),
            Err(e) => return Err(store(e.into())),
        };
        let Some(stored) = meta_table.get(SNAPSHOT_META).map_err(|e| store(e.into()))? else {
            return Ok(false);
        };
        meta(stored.value()).map_err(SnapshotReadError::Refused)?;
        let table = txn.open_table(SERVED).map_err(|e| store(e.into()))?;
        for row in table.iter().map_err(|e| store(e.into()))? {
            let (path, bytes) = row.map_err(|e| store(e.into()))?;
            each(path.value(), bytes.value()).map_err(SnapshotReadError::Refused)?;
        }
        Ok(true)
    }

    /// Writes `meta` and `entries` in one transaction, after removing every stored
    /// resource first when `replace_all`. The entries are made as they are written (one at a
    /// time in memory); nobody else writes this file, so holding it open while they are
    /// made delays nobody.
    pub fn write(
        &self,
        meta: &[u8],
        replace_all: bool,
        entries: impl Iterator<Item = SnapshotEntry>,
    ) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        let write = || -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
            let mut txn = self.db.begin_write()?;
            // A lost tail (power loss) only means an older snapshot at the next start.
            txn.set_durability(redb::Durability::Eventual);
            let mut written = 0;
            {
                if replace_all {
                    txn.delete_table(SERVED)?;
                }
                let mut table = txn.open_table(SERVED)?;
                for (path, bytes) in entries {
                    match bytes {
                        Some(bytes) => table.insert(path.as_str(), bytes.as_slice()).map(drop)?,
                        None => table.remove(path.as_str()).map(drop)?,
                    }
                    written += 1;
                }
                txn.open_table(SERVED_META)?.insert(SNAPSHOT_META, meta)?;
            }
            txn.commit()?;
            Ok(written)
        };
        write()
    }
}

/// Reads a table of JSON values into `out` (nothing when the table was never written);
/// returns how many values could not be read.
fn read_json<T: serde::de::DeserializeOwned>(
    txn: &redb::ReadTransaction,
    table: TableDefinition<&str, &str>,
    out: &mut BTreeMap<String, T>,
) -> Result<usize, Box<dyn std::error::Error>> {
    let Ok(table) = txn.open_table(table) else {
        return Ok(0);
    };
    let mut skipped = 0;
    for row in table.iter()? {
        let (key, value) = row?;
        match serde_json::from_str(value.value()) {
            Ok(v) => {
                out.insert(key.value().to_owned(), v);
            }
            Err(_) => skipped += 1,
        }
    }
    Ok(skipped)
}

/// `Last-Modified` (Unix seconds) for a representation whose identity ETag is `etag`, given
/// what was served at its path before: unchanged bytes keep their date; changed bytes get
/// the content's newest date when that is newer than the old one (a new post), else the
/// moment of the change, and never a date at or before the old one. Without history, the
/// content's date: what any fresh replica computes too.
pub fn last_modified(
    previous: Option<&Validator>,
    etag: &str,
    content_newest: Option<i64>,
    now: i64,
) -> Option<i64> {
    let Some(previous) = previous else {
        return content_newest;
    };
    if previous.etag == etag {
        return previous.last_modified;
    }
    let Some(old) = previous.last_modified else {
        return content_newest.or(Some(now));
    };
    let candidate = match content_newest {
        Some(newest) if newest > old => newest,
        _ => now,
    };
    Some(candidate.max(old + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(etag: &str, lm: i64) -> Validator {
        Validator {
            etag: etag.into(),
            last_modified: Some(lm),
        }
    }

    #[test]
    fn last_modified_keeps_unchanged_bytes_and_moves_forward_on_any_change() {
        // First sight: the content's date.
        assert_eq!(last_modified(None, "a", Some(100), 5000), Some(100));
        // Same bytes (a restart): the same date.
        assert_eq!(
            last_modified(Some(&v("a", 100)), "a", Some(100), 5000),
            Some(100)
        );
        // A title edit: the content's newest date did not move, the moment of the change is used.
        assert_eq!(
            last_modified(Some(&v("a", 100)), "b", Some(100), 5000),
            Some(5000)
        );
        // A new post dated after the old date: its date.
        assert_eq!(
            last_modified(Some(&v("a", 100)), "b", Some(200), 5000),
            Some(200)
        );
        // A backdated post: the moment of the change.
        assert_eq!(
            last_modified(Some(&v("a", 100)), "b", Some(50), 5000),
            Some(5000)
        );
        // A clock behind the old date: still one second later, never the same or earlier.
        assert_eq!(
            last_modified(Some(&v("a", 100)), "b", Some(90), 10),
            Some(101)
        );
    }

    #[test]
    fn what_is_saved_is_remembered_after_reopening_and_a_corrupt_file_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path());
        state.save(&Changes {
            validators: vec![("/rss.xml".into(), v("\"e\"", 42))],
            feeds: Vec::new(),
            ids: IdChanges::default(),
        });
        drop(state);
        let again = State::open(dir.path());
        assert_eq!(again.remembered().validators["/rss.xml"], v("\"e\"", 42));
        drop(again);
        std::fs::write(dir.path().join(FILE_NAME), b"not a database at all").unwrap();
        let fresh = State::open(dir.path());
        assert!(
            fresh.path().is_some(),
            "a new file replaces the corrupt one"
        );
        assert!(fresh.remembered().validators.is_empty());
        assert!(dir.path().join(format!("{FILE_NAME}.corrupt")).exists());
    }

    #[test]
    fn an_unusable_directory_gives_a_memory_only_state() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let state = State::open(&file.join("sub"));
        assert!(state.path().is_none());
        state.save(&Changes {
            validators: vec![("/rss.xml".into(), v("x", 1))],
            feeds: Vec::new(),
            ids: IdChanges::default(),
        });
        // Kept for this process (a reload takes it over), and nothing written to disk.
        assert_eq!(state.remembered().validators["/rss.xml"], v("x", 1));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(
            State::in_process().remembered().validators.is_empty(),
            "a new one starts empty"
        );
    }
}

//! The single owner of the site's state: the index of posts, what each file looked like when
//! it was read, the publisher's rendered feeds, and the served snapshot. It applies changes,
//! re-reads only the files that changed, re-renders only the feeds whose items changed, and
//! swaps in the next snapshot; requests never wait for it and never see a half-built state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::clock::Clock;
use crate::config::Settings;
use crate::content::{ContentSettings, ParseError};
use crate::index::Index;
use crate::publish::{PublishStats, Publisher};
use crate::snapshot::SharedSnapshot;
use crate::snapshot::Snapshot;
use crate::source::{self, Read, Source, SourceError, Stamp};

/// What applying a batch of changes did, for the log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub read: usize,
    pub removed: usize,
    pub failed: usize,
}

/// Index, publisher and the snapshot they produce.
pub struct Site {
    pub source: Source,
    pub index: Index,
    publisher: Publisher,
    /// Every post file as it was when last read (posts and broken files alike).
    stamps: BTreeMap<String, Stamp>,
    /// Files that could not be used, by source path. A broken edit of a published post
    /// keeps the last good version in the index, so it is in both.
    problems: BTreeMap<String, ParseError>,
    /// Problems with the tree itself, from the last walk.
    tree_problems: Vec<ParseError>,
    /// Warnings by source path (mojibake, dropped terms): reported, never blocking.
    warnings: BTreeMap<String, Vec<ParseError>>,
    shared: SharedSnapshot,
    /// Where the feed list is kept for a Hugo site's templates (`--hugo-data`).
    hugo_data: Option<PathBuf>,
    /// What "now" is for scheduled and expiring posts.
    pub clock: Clock,
    /// The clock's time at the last publish: posts timed after it are still to be published.
    published_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

impl Site {
    /// Reads the whole content directory and publishes the first snapshot.
    pub fn load(settings: &Settings) -> Result<Site, SourceError> {
        Site::load_into(
            settings,
            Arc::new(ArcSwap::from_pointee(Snapshot::default())),
            Clock::from_env(),
        )
    }

    /// [`Site::load`], publishing into an existing handle: how a reloaded configuration
    /// takes over the snapshot the server is already reading. Nothing is stored into
    /// `shared` unless the content directory can be opened.
    pub fn load_into(
        settings: &Settings,
        shared: SharedSnapshot,
        clock: Clock,
    ) -> Result<Site, SourceError> {
        let started = Instant::now();
        let mut source = Source::open(
            &settings.content_dir,
            settings.max_post_bytes,
            ContentSettings::from_settings(settings),
        )?;
        source.ignore = settings.ignore_files.clone();
        let loaded = source.load_all();
        let mut site = Site {
            source,
            index: Index::with_languages(
                &settings.taxonomies,
                &settings
                    .languages
                    .iter()
                    .map(|l| l.code().to_string())
                    .collect::<Vec<_>>(),
            ),
            publisher: Publisher::new(settings),
            stamps: BTreeMap::new(),
            problems: BTreeMap::new(),
            tree_problems: loaded.problems,
            warnings: BTreeMap::new(),
            shared,
            hugo_data: settings.hugo_data.clone(),
            clock,
            published_at: None,
        };
        for read in loaded.reads {
            site.take(read);
        }
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

    /// [`Site::take`], then logs what went wrong with the file: for changes while serving.
    /// (After a whole load, the caller reports the complete list instead.)
    fn take_and_log(&mut self, read: Read) -> Applied {
        let key = read.key.clone();
        let applied = self.take(read);
        let root = &self.source.root;
        for warning in self.warnings.get(&key).into_iter().flatten() {
            tracing::warn!("{}", show(root, warning));
        }
        if applied.failed > 0 {
            if let Some(problem) = self.problems.get(&key) {
                tracing::warn!("{}", show(root, problem));
            }
        }
        applied
    }

    /// Records one file read: a good post replaces the old version; a broken one keeps the
    /// last good version published and is kept as a problem; a vanished one is removed.
    fn take(&mut self, read: Read) -> Applied {
        let Some(stamp) = read.stamp else {
            return self.forget(&read.key);
        };
        self.stamps.insert(read.key.clone(), stamp);
        if read.warnings.is_empty() {
            self.warnings.remove(&read.key);
        } else {
            self.warnings.insert(read.key.clone(), read.warnings);
        }
        match read.result {
            Ok(Some(post)) => {
                self.problems.remove(&read.key);
                self.index.insert(Arc::new(post));
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

    /// Drops everything known about the file `key`.
    fn forget(&mut self, key: &str) -> Applied {
        if !self.source.root.is_dir() {
            // Every file "vanishes" when the whole directory is moved away mid-read: that is
            // no reason to unpublish anything. The owner rescans when it comes back.
            return Applied::default();
        }
        self.warnings.remove(key);
        let known = self.stamps.remove(key).is_some() | self.problems.remove(key).is_some();
        let removed = self.index.remove(key).is_some();
        Applied {
            removed: usize::from(removed || known),
            ..Applied::default()
        }
    }

    /// Re-checks the given absolute paths on disk. A path may be a post file, a folder
    /// (everything under it is compared), or something that no longer exists (it and
    /// everything that was under it are removed).
    pub fn apply_paths(&mut self, paths: &BTreeSet<PathBuf>) -> Applied {
        let mut changed: BTreeSet<PathBuf> = BTreeSet::new();
        let mut gone: BTreeSet<String> = BTreeSet::new();
        // Files to re-read even though they did not change themselves.
        let mut forced: BTreeSet<PathBuf> = BTreeSet::new();
        for path in paths {
            let Ok(rel) = path.strip_prefix(&self.source.root) else {
                continue;
            };
            let key = source::source_key(rel);
            match std::fs::metadata(path) {
                Ok(meta) if meta.is_dir() => {
                    // A new or moved-in folder: files may have been written before its watch
                    // existed, so walk it. Files that were under it and are gone go too.
                    let (files, _) = self.source.list_in(rel);
                    let present: BTreeSet<String> =
                        files.iter().map(|f| source::source_key(f)).collect();
                    gone.extend(
                        self.keys_under(&key)
                            .into_iter()
                            .filter(|k| !present.contains(k)),
                    );
                    changed.extend(files);
                }
                Ok(_) if self.source.is_content(rel) => {
                    changed.insert(rel.to_owned());
                }
                Ok(_) if is_section_page(rel) => forced.extend(self.below_section_page(rel)),
                Ok(_) => {}
                Err(_) => {
                    if is_section_page(rel) {
                        forced.extend(self.below_section_page(rel));
                    }
                    gone.insert(key.clone());
                    gone.extend(self.keys_under(&key));
                }
            }
        }
        if !self.source.root.is_dir() {
            // The whole directory went away while we looked: that is not every post being
            // deleted. Keep serving what we have; the owner waits for it to come back.
            return Applied::default();
        }
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
        for read in self.source.load_many(&stale) {
            applied = applied + self.take_and_log(read);
        }
        applied
    }

    /// Compares the whole tree with what was read: re-reads changed files, drops vanished ones.
    pub fn rescan(&mut self) -> Applied {
        self.source.forget_cascades();
        let (files, tree_problems) = self.source.list();
        if !self.source.root.is_dir() {
            // Vanished during the walk: an empty listing says nothing about the posts.
            return Applied::default();
        }
        self.tree_problems = tree_problems;
        let present: BTreeSet<String> = files.iter().map(|f| source::source_key(f)).collect();
        let vanished: Vec<String> = self
            .stamps
            .keys()
            .chain(self.index.sources())
            .filter(|k| !present.contains(*k))
            .cloned()
            .collect();
        let mut applied = Applied::default();
        for key in vanished {
            applied = applied + self.forget(&key);
        }
        let stale: Vec<PathBuf> = files.into_iter().filter(|rel| self.is_stale(rel)).collect();
        for read in self.source.load_many(&stale) {
            applied = applied + self.take_and_log(read);
        }
        applied
    }

    /// Whether a file differs from when it was read (or was never read).
    fn is_stale(&self, rel: &Path) -> bool {
        let key = source::source_key(rel);
        self.stamps.get(&key).copied() != self.source.stamp(rel) || !self.stamps.contains_key(&key)
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

    /// Known files at or under the folder `key`.
    fn keys_under(&self, key: &str) -> Vec<String> {
        let prefix = if key.is_empty() {
            String::new()
        } else {
            format!("{key}/")
        };
        self.stamps
            .keys()
            .chain(self.index.sources())
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// Re-renders what changed as of now and swaps in the next snapshot.
    pub fn publish(&mut self) -> PublishStats {
        let now = self.clock.now();
        self.published_at = Some(now);
        let (snapshot, stats) = self.publisher.publish(&mut self.index, now);
        if let Some(dir) = &self.hugo_data {
            // The site's templates must see the feeds the server is about to serve.
            if let Err(e) = crate::output::write_feed_list(&snapshot, dir) {
                tracing::warn!("cannot write the feed list for the Hugo site: {e}");
            }
        }
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

    /// Every problem with the content, sorted by path: unusable files, the tree, duplicate ids.
    pub fn problems(&self) -> Vec<ParseError> {
        let mut out: Vec<ParseError> = self
            .problems
            .values()
            .chain(&self.tree_problems)
            .cloned()
            .collect();
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
    /// without failing (mojibake, dropped terms). Each message starts with `warning: `.
    pub fn warnings(&self) -> Vec<ParseError> {
        self.warnings.values().flatten().cloned().collect()
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

/// `_index.md`, `_index.es.md`: a section page, whose `cascade` reaches the pages below.
fn is_section_page(rel: &Path) -> bool {
    rel.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("_index."))
}

/// A problem as the operator opens it: the path under the content dir, then the line.
/// Control characters in a file name (a newline, say) are escaped, so one problem is
/// always one line.
pub fn show(content_dir: &Path, problem: &ParseError) -> String {
    let path = content_dir.join(&problem.path).display().to_string();
    let path: String = path
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    match problem.line {
        Some(line) => format!("{path}:{line}: {}", problem.message),
        None => format!("{path}: {}", problem.message),
    }
}

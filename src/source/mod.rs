//! The only code that touches the content directory: which files are posts, walking a
//! tree, stamping and reading one file (in parallel for a whole tree), and — in
//! [`watch`] — noticing changes.
//!
//! Paths handed to the rest of Herald are relative to the content dir, `/`-separated.

pub mod watch;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

#[cfg(test)]
use crate::content::ContentLanguage;
use crate::content::{self, Cascade, ContentSettings, Diagnostic};
use crate::post::{Post, SiteFile};

/// The content directory cannot be used at all (as opposed to one bad file).
#[derive(Debug, Error)]
pub enum SourceError {
    /// The OS error is in the message, not a `source`: printed once, also through anyhow.
    #[error("content directory {path}: {reason}")]
    Unreadable {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error("content directory {path} is not a directory")]
    NotADirectory { path: PathBuf },
}

/// Where posts come from and the limits on reading them.
#[derive(Debug, Clone)]
pub struct Source {
    /// The content directory as configured (absolute). It may be or pass through symlinks:
    /// it is resolved again before every rescan, so a deploy that swaps a link is followed.
    pub configured: PathBuf,
    /// Where `configured` led when it was last resolved (canonical): the tree being read.
    /// Keys are relative to it, so a post present in two swapped trees keeps its key.
    pub root: PathBuf,
    pub max_post_bytes: u64,
    pub content: ContentSettings,
    /// The site's `ignoreFiles`: files whose path (relative to the root, or absolute) matches
    /// one are not content.
    pub ignore: Vec<regex::Regex>,
    /// The site's `static/` folder (a Hugo site's), where root-relative featured images are.
    pub static_dir: Option<PathBuf>,
    /// The `cascade` of each folder's section page (`_index.md`), read once per folder.
    cascades: std::sync::Arc<std::sync::Mutex<BTreeMap<PathBuf, Arc<Cascade>>>>,
    /// Whether each folder holds a leaf bundle's `index.*` file: learnt from the walks (for
    /// folders that are not bundles) or looked up once per folder, so a folder of 10,000
    /// posts is not listed again for each edit in it.
    bundles: std::sync::Arc<std::sync::Mutex<BTreeMap<PathBuf, bool>>>,
    /// How many folders were listed to learn whether they are leaf bundles.
    bundle_lookups: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Fault injection for unit tests: errors that opening a file returns, and a hook run
    /// between reading a file and checking that it did not change meanwhile.
    #[cfg(test)]
    pub hooks: Arc<tests::Hooks>,
}

/// What a file looked like on disk when it was read: if any part differs now, it changed.
/// The inode catches saves that rename a new file over the old one; ctime catches writes
/// that restore the old mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    mtime_ns: i128,
    ctime_ns: i128,
    size: u64,
    inode: u64,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
            size: meta.size(),
            inode: meta.ino(),
        }
    }
}

/// One file read: what was found on disk, and warnings that do not keep the post out
/// (mojibake, dropped terms).
#[derive(Debug)]
pub struct Read {
    pub key: String,
    pub outcome: Outcome,
    pub warnings: Vec<Diagnostic>,
}

/// What reading one file found. Only [`Outcome::Gone`] is evidence that a post was deleted:
/// a file that cannot be read now (too many open files, permissions, I/O errors) or that
/// is being written says nothing about what it should contain, so its last good version
/// stays published.
// Most reads are `Read`: boxing the post would add an allocation to each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Outcome {
    /// Not there (ENOENT, ENOTDIR), or no longer a regular file: not a post any more.
    Gone,
    /// Could not be stat'ed or read for another reason; the problem names the OS error.
    /// Nothing about the file is recorded, so it is read again at the next chance.
    Unreadable(Diagnostic),
    /// Its size, times or inode changed while it was read: a writer is still at it. The
    /// read is discarded; the writer's next event (or the next poll) reads it again.
    Changing,
    /// Read whole: its stamp, and the post (`Ok(None)`: a page that is not a post, no
    /// date) or why it cannot be used (over `max_post_bytes`, bad front matter).
    Read {
        stamp: Stamp,
        result: Result<Option<Post>, Diagnostic>,
    },
}

impl Read {
    /// The post or problem, when the file was read whole.
    pub fn result(&self) -> Option<&Result<Option<Post>, Diagnostic>> {
        match &self.outcome {
            Outcome::Read { result, .. } => Some(result),
            _ => None,
        }
    }
}

/// What walking a tree found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Post files, relative to the root, sorted.
    pub files: Vec<PathBuf>,
    /// Problems with the tree itself (symlinks leaving it, loops, unreadable folders,
    /// file names that are not UTF-8).
    pub problems: Vec<Diagnostic>,
    /// Keys of the folders (or entries) that could not be listed or examined ("" for the
    /// root), with the OS error: what is at or under them is unknown, not gone.
    pub unreadable: BTreeMap<String, String>,
}

/// The outcome of reading a whole tree: posts and the files that could not be used.
#[derive(Debug, Default)]
pub struct Loaded {
    /// One per post file, sorted by source path.
    pub reads: Vec<Read>,
    /// Problems with the tree itself (symlinks leaving it, loops, unreadable folders,
    /// file names that are not UTF-8).
    pub problems: Vec<Diagnostic>,
    /// See [`Listing::unreadable`].
    pub unreadable: BTreeMap<String, String>,
}

/// Whether an error says the path is not there (ENOENT, or ENOTDIR: a folder on the way is
/// now a file): the only evidence of a deletion. Anything else (EMFILE, ENFILE, EACCES,
/// EIO…) says only that the path cannot be looked at now.
pub fn is_gone(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::NotFound || err.raw_os_error() == Some(libc::ENOTDIR)
}

/// File extensions of the content files Hugo renders as pages without external helpers:
/// Markdown, and HTML with front matter.
const CONTENT_EXTENSIONS: &[&str] = &["md", "markdown", "mdown", "html", "htm"];

/// Whether a relative path names a post file: Markdown or HTML content, not a section page
/// (`_index.md`, `_index.es.md`), not hidden (no component starts with `.`), not an editor
/// dropping.
pub fn is_post_path(rel: &Path) -> bool {
    let mut components = rel.components().peekable();
    while let Some(c) = components.next() {
        let Component::Normal(name) = c else {
            return false;
        };
        let Some(name) = name.to_str() else {
            return false;
        };
        if name.starts_with('.') || name.is_empty() {
            return false;
        }
        if components.peek().is_none() {
            let droppings = name.ends_with('~')
                || name.starts_with('#')
                || name.ends_with(".swp")
                || name.ends_with(".swx");
            let is_content = name
                .rsplit_once('.')
                .is_some_and(|(stem, ext)| !stem.is_empty() && CONTENT_EXTENSIONS.contains(&ext));
            let is_section = name.starts_with("_index.");
            return is_content && !droppings && !is_section;
        }
    }
    false
}

/// `index.md`, `index.es.md`, `index.html`…: the file that makes its folder a leaf bundle.
pub fn is_bundle_index(name: &str) -> bool {
    name.strip_prefix("index.")
        .and_then(|rest| rest.rsplit('.').next())
        .is_some_and(|ext| CONTENT_EXTENSIONS.contains(&ext))
}

/// `rel` as the `/`-separated string the rest of Herald uses as a post's key.
pub fn source_key(rel: &Path) -> String {
    rel.components()
        .filter_map(|c| c.as_os_str().to_str())
        .collect::<Vec<_>>()
        .join("/")
}

/// A path with every non-UTF-8 byte replaced by U+FFFD, for messages.
fn lossy(rel: &Path) -> PathBuf {
    PathBuf::from(rel.to_string_lossy().into_owned())
}

impl Source {
    /// Opens the content directory. Fails only when the directory itself is unusable.
    pub fn open(
        dir: &Path,
        max_post_bytes: u64,
        content: ContentSettings,
    ) -> Result<Source, SourceError> {
        let configured = std::path::absolute(dir).map_err(|reason| SourceError::Unreadable {
            path: dir.to_owned(),
            reason,
        })?;
        let root = resolve(&configured)?;
        Ok(Source {
            configured,
            root,
            max_post_bytes,
            content,
            ignore: Vec::new(),
            static_dir: None,
            cascades: Default::default(),
            bundles: Default::default(),
            bundle_lookups: Default::default(),
            #[cfg(test)]
            hooks: Default::default(),
        })
    }

    /// Resolves the configured path again (a symlink may have been swapped) and reads from
    /// where it leads now. Returns whether that is another path than before; a directory
    /// replaced at the same path is noticed by [`Source::identity`] instead.
    pub fn resolve(&mut self) -> Result<bool, SourceError> {
        let root = resolve(&self.configured)?;
        if root == self.root {
            return Ok(false);
        }
        tracing::info!(from = %self.root.display(), to = %root.display(), "the content directory now leads elsewhere");
        self.root = root;
        self.forget_cascades();
        Ok(true)
    }

    /// Device and inode of the directory the configured path leads to now (links followed),
    /// `None` while there is none: a change means another tree is in place.
    pub fn identity(&self) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&self.configured).ok()?;
        meta.is_dir().then(|| (meta.dev(), meta.ino()))
    }

    /// Whether the configured path leads to a directory now.
    pub fn is_present(&self) -> bool {
        self.identity().is_some()
    }

    /// The symlinks on the way to the content directory (the configured path itself and its
    /// ancestors that are links): swapping one of them replaces the tree without touching
    /// it, so the watcher also watches the folder holding each.
    pub fn links(&self) -> Vec<PathBuf> {
        self.configured
            .ancestors()
            .filter(|a| a.parent().is_some())
            .filter(|a| {
                a.symlink_metadata()
                    .is_ok_and(|m| m.file_type().is_symlink())
            })
            .map(Path::to_path_buf)
            .collect()
    }

    /// Forgets every section page's `cascade`, and which folders are leaf bundles: one
    /// changed (or a rescan compares everything), so they are looked up again.
    pub fn forget_cascades(&self) {
        self.cascades
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.bundles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// How many folders were listed, so far, to learn whether they are leaf bundles: a walk
    /// tells that of every folder it lists, so an edit after it lists none.
    pub fn bundle_lookups(&self) -> u64 {
        self.bundle_lookups
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Forgets whether `rel_dir` is a leaf bundle: an `index.*` file in it came or went.
    pub fn forget_bundle(&self, rel_dir: &Path) {
        self.bundles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(rel_dir);
    }

    /// What the section pages above `rel` pass down to it (the nearest wins). Fails when a
    /// section page exists but cannot be read now: parsing without its `cascade` would
    /// publish a wrong version of the post.
    fn cascade_for(&self, rel: &Path) -> std::io::Result<Cascade> {
        let mut dirs: Vec<&Path> = rel.ancestors().skip(1).collect();
        dirs.reverse();
        let mut acc = Cascade::default();
        for dir in dirs {
            let here = self.section_cascade(dir)?;
            if !here.is_empty() {
                acc = here.under(&acc);
            }
        }
        Ok(acc)
    }

    /// The `cascade` of the section page in `rel_dir`, cached. A missing (or oversized)
    /// section page has none; one that cannot be read now is an error, and not cached.
    fn section_cascade(&self, rel_dir: &Path) -> std::io::Result<Arc<Cascade>> {
        if let Some(c) = self
            .cascades
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(rel_dir)
        {
            return Ok(c.clone());
        }
        let mut found = Cascade::default();
        for ext in CONTENT_EXTENSIONS {
            let page = self.root.join(rel_dir).join(format!("_index.{ext}"));
            match read_capped(&page, self.max_post_bytes) {
                Ok(bytes) => {
                    found = Cascade::of_section_page(&bytes);
                    break;
                }
                // `Other`: over the cap or not a regular file, ignored as before.
                Err(e) if is_gone(&e) || e.kind() == std::io::ErrorKind::Other => {}
                Err(e) => return Err(e),
            }
        }
        let found = Arc::new(found);
        self.cascades
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(rel_dir.to_owned(), found.clone());
        Ok(found)
    }

    /// Whether `rel` is a content file of this site: a post path, not matched by the site's
    /// `ignoreFiles`, and not a resource inside a leaf bundle (`post/b/notes.md` beside
    /// `post/b/index.md` belongs to that page, as in Hugo).
    pub fn is_content(&self, rel: &Path) -> bool {
        is_post_path(rel) && !self.is_ignored(rel) && !self.in_leaf_bundle(rel)
    }

    fn is_ignored(&self, rel: &Path) -> bool {
        if self.ignore.is_empty() {
            return false;
        }
        let key = source_key(rel);
        let abs = self.root.join(rel);
        let abs = abs.to_string_lossy();
        self.ignore
            .iter()
            .any(|re| re.is_match(&key) || re.is_match(&abs))
    }

    /// Whether a folder above `rel` (below the root) holds a leaf bundle's `index.*` file,
    /// `rel` not being that file itself.
    fn in_leaf_bundle(&self, rel: &Path) -> bool {
        let mut dir = rel.parent();
        let own = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let mut first = true;
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            if !(first && is_bundle_index(own)) && self.holds_bundle_index(d) {
                return true;
            }
            first = false;
            dir = d.parent();
        }
        false
    }

    fn holds_bundle_index(&self, rel_dir: &Path) -> bool {
        let cached = self
            .bundles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(rel_dir)
            .copied();
        if let Some(holds) = cached {
            return holds;
        }
        self.bundle_lookups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Ok(entries) = std::fs::read_dir(self.root.join(rel_dir)) else {
            // Not cached: a folder that cannot be listed now is looked at again next time.
            return false;
        };
        let holds = entries.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|name| is_bundle_index(name) && !self.is_ignored(&rel_dir.join(name)))
        });
        self.bundles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(rel_dir.to_owned(), holds);
        holds
    }

    /// Every post file under the root, as relative paths, sorted. Symlinks are followed only
    /// while they stay inside the content directory; problems with the tree are returned too.
    pub fn list(&self) -> Listing {
        self.list_in(Path::new(""))
    }

    /// Like [`Source::list`], for the folder `rel_dir` under the root only.
    pub fn list_in(&self, rel_dir: &Path) -> Listing {
        let mut files = Vec::new();
        let problems = std::cell::RefCell::new(Vec::new());
        let unreadable = std::cell::RefCell::new(BTreeMap::new());
        let key_of = |path: &Path| {
            path.strip_prefix(&self.root)
                .map(source_key)
                .unwrap_or_default()
        };
        let problem = |path: &Path, message: String| {
            problems.borrow_mut().push(Diagnostic {
                severity: crate::diagnostic::Severity::Error,
                path: key_of(path),
                line: None,
                message,
            });
        };
        // What is under `path` is unknown (not gone): recorded, and reported as a problem.
        let cannot_read = |path: &Path, err: &std::io::Error| {
            unreadable
                .borrow_mut()
                .insert(key_of(path), err.to_string());
            problem(
                path,
                format!("cannot read, last good versions of what is under it kept: {err}"),
            );
        };
        if rel_dir
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        {
            return Listing::default();
        }
        let walker = walkdir::WalkDir::new(self.root.join(rel_dir))
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                if e.depth() == 0 {
                    return true;
                }
                // Never descend into hidden folders such as .git.
                if e.file_name().to_string_lossy().starts_with('.') {
                    return false;
                }
                // A link may point anywhere: follow it only while it stays inside the content dir.
                if e.path_is_symlink() {
                    match e.path().canonicalize() {
                        Ok(real) if real.starts_with(&self.root) => {}
                        Ok(real) => {
                            problem(
                                e.path(),
                                format!(
                                    "symlink to {} outside the content directory, skipped",
                                    real.display()
                                ),
                            );
                            return false;
                        }
                        Err(err) if is_gone(&err) || err.raw_os_error() == Some(libc::ELOOP) => {
                            problem(e.path(), format!("broken symlink, skipped: {err}"));
                            return false;
                        }
                        Err(err) => {
                            cannot_read(e.path(), &err);
                            return false;
                        }
                    }
                }
                true
            });
        // Every folder listed, to remember which are leaf bundles (see below).
        let mut folders: Vec<PathBuf> = Vec::new();
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    self.walk_error(&err, &problem, &cannot_read);
                    continue;
                }
            };
            if entry.file_type().is_dir() {
                if let Ok(rel) = entry.path().strip_prefix(&self.root) {
                    folders.push(rel.to_owned());
                }
                continue;
            }
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(&self.root) else {
                continue;
            };
            if rel.to_str().is_none() && is_post_path(&lossy(rel)) {
                problem(
                    &self.root.join(lossy(rel)),
                    "file name is not valid UTF-8, skipped: rename the file".into(),
                );
                continue;
            }
            if is_post_path(rel) && !self.is_ignored(rel) {
                files.push(rel.to_owned());
            }
        }
        // Leaf bundles: other content files in a folder with an `index.*` are its resources.
        let bundles: std::collections::BTreeSet<PathBuf> = files
            .iter()
            .filter(|f| {
                f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(is_bundle_index)
            })
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .filter(|d| !d.as_os_str().is_empty())
            .collect();
        files.retain(|f| {
            let own = f.parent().map(Path::to_path_buf);
            let is_index = f
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_bundle_index);
            !f.ancestors()
                .skip(1)
                .filter(|a| !a.as_os_str().is_empty())
                .any(|a| bundles.contains(a) && !(is_index && own.as_deref() == Some(a)))
        });
        let mut unreadable = unreadable.into_inner();
        // The folders this walk listed whole that are not leaf bundles (sections and the
        // like, few but big): the next edit in a folder of 100,000 posts then does not list
        // it again to learn that. Bundles, one per post on some sites, are small to list and
        // are looked up when asked.
        {
            let mut known = self.bundles.lock().unwrap_or_else(|e| e.into_inner());
            for folder in folders {
                if !bundles.contains(&folder) && !unreadable.contains_key(&source_key(&folder)) {
                    known.insert(folder, false);
                }
            }
        }
        if !self.root.is_dir() {
            // The root went away during the walk: whatever was not seen is unknown, not gone.
            unreadable.insert(String::new(), "the content directory vanished".into());
        }
        Listing {
            files,
            problems: problems.into_inner(),
            unreadable,
        }
    }

    /// Sorts out one error of the walk: a loop or a broken link is a problem of the tree;
    /// an entry that vanished meanwhile is simply gone; anything else (a folder whose
    /// `read_dir` failed with EMFILE or EACCES, an entry that cannot be stat'ed) leaves what
    /// is under that path unknown.
    fn walk_error(
        &self,
        err: &walkdir::Error,
        problem: &dyn Fn(&Path, String),
        cannot_read: &dyn Fn(&Path, &std::io::Error),
    ) {
        let path = err.path().unwrap_or(&self.root);
        if err.loop_ancestor().is_some() {
            return problem(path, "symlink loop, skipped".into());
        }
        let Some(io) = err.io_error() else {
            return problem(path, err.to_string());
        };
        let is_link = path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
        if is_link && (is_gone(io) || io.raw_os_error() == Some(libc::ELOOP)) {
            problem(path, format!("broken symlink, skipped: {io}"));
        } else if !is_gone(io) {
            cannot_read(path, io);
        }
    }

    /// Whether the tree being read (where the configured path last led) is still there.
    pub fn root_is_there(&self) -> bool {
        self.root.is_dir()
    }

    /// Whether `rel` is a folder now (`Ok(false)`: something else); the error when it is
    /// gone or cannot be looked at.
    pub fn is_folder(&self, rel: &Path) -> std::io::Result<bool> {
        std::fs::metadata(self.root.join(rel)).map(|meta| meta.is_dir())
    }

    /// The stamp of a post file now; `None` when it is gone (or is not a regular file), or
    /// cannot be stat'ed (which makes it stale, so it is read and the error reported).
    pub fn stamp(&self, rel: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(self.root.join(rel)).ok()?;
        meta.is_file().then(|| Stamp::of(&meta))
    }

    /// Reads and parses one post file. A file is used only if it looked the same (size,
    /// times, inode) before and after it was read: a post being written is never published
    /// (nor remembered as the last good version) half-written.
    pub fn load(&self, rel: &Path) -> Read {
        let key = source_key(rel);
        let fail = |message: String| Diagnostic {
            severity: crate::diagnostic::Severity::Error,
            path: key.clone(),
            line: None,
            message,
        };
        let mut warnings = Vec::new();
        let outcome = match self.read_settled(&key, &self.root.join(rel)) {
            Bytes::Gone => Outcome::Gone,
            Bytes::Changing => Outcome::Changing,
            Bytes::Unreadable(e) => Outcome::Unreadable(fail(format!(
                "cannot read ({e}); its last good version stays published"
            ))),
            Bytes::Oversized(stamp, len) => Outcome::Read {
                stamp,
                result: Err(fail(format!(
                    "file is {len} bytes, over the limit of {} (max_post_bytes); its last good version stays published",
                    self.max_post_bytes
                ))),
            },
            Bytes::Read(stamp, bytes) => match self.cascade_for(rel) {
                Err(e) => Outcome::Unreadable(fail(format!(
                    "cannot read a section page above it ({e}); its last good version stays published"
                ))),
                Ok(inherited) => {
                // A panic on hostile input is this file's problem, never the owner's.
                let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    content::parse_in(&key, &bytes, &self.content, &inherited)
                }))
                .unwrap_or_else(|_| content::Parsed {
                    result: Err(fail(
                        "parsing this file panicked (a bug in Herald: please report it with the file); its last good version stays published".into(),
                    )),
                    warnings: Vec::new(),
                });
                warnings = parsed.warnings;
                let mut result = parsed.result;
                if let Ok(Some(post)) = &mut result {
                    self.measure_image(post);
                }
                Outcome::Read { stamp, result }
                }
            },
        };
        Read {
            key,
            outcome,
            warnings,
        }
    }

    /// Fills in the size of the post's featured image when it is a file of the site. The
    /// size is content (the same file gives the same feeds); the file's times never are. An
    /// image that changes alone shows its new size when the post is next read (its next
    /// change, a reload or a restart): images are not watched for their own sake, and a
    /// rescan re-reads only the posts whose own file changed.
    fn measure_image(&self, post: &mut Post) {
        let path = match &post.image_meta.file {
            Some(SiteFile::Content(rel)) => self.root.join(rel),
            Some(SiteFile::Static(rel)) => match &self.static_dir {
                Some(dir) => dir.join(rel),
                None => return,
            },
            None => return,
        };
        post.image_meta.length = std::fs::metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
    }

    /// Stats the file, reads it (refusing more than `max_post_bytes`, never truncating) and
    /// stats it again: a different stamp afterwards means a writer is still at it.
    fn read_settled(&self, key: &str, path: &Path) -> Bytes {
        let before = match std::fs::metadata(path) {
            Err(e) if is_gone(&e) => return Bytes::Gone,
            Err(e) => return Bytes::Unreadable(e),
            Ok(meta) if !meta.is_file() => return Bytes::Gone,
            Ok(meta) => meta,
        };
        let stamp = Stamp::of(&before);
        if before.len() > self.max_post_bytes {
            return Bytes::Oversized(stamp, before.len());
        }
        let read = self
            .open_error(key)
            .map_or_else(|| read_capped(path, self.max_post_bytes), Err);
        #[cfg(test)]
        self.hooks.after_read(key, path);
        let settled = match std::fs::metadata(path) {
            Err(e) if is_gone(&e) => return Bytes::Gone,
            Err(e) => return Bytes::Unreadable(e),
            Ok(after) => Stamp::of(&after) == stamp,
        };
        match read {
            _ if !settled => Bytes::Changing,
            Ok(bytes) => Bytes::Read(stamp, bytes),
            Err(e) if is_gone(&e) => Bytes::Gone,
            Err(e) => Bytes::Unreadable(e),
        }
    }

    /// An error injected by a unit test for opening `key`; never one outside tests.
    fn open_error(&self, _key: &str) -> Option<std::io::Error> {
        #[cfg(test)]
        return self.hooks.open_error(_key);
        #[cfg(not(test))]
        None
    }

    /// Reads and parses many files, on every core (rayon's pool, so an edit's one file
    /// spawns no thread). The result is in the order of `files`, written in place: no
    /// vector per batch to leave the heap fragmented at 100,000 posts.
    pub fn load_many(&self, files: &[PathBuf]) -> Vec<Read> {
        use rayon::prelude::*;
        if files.len() == 1 {
            // An edit's one file: read here, without a hop to the pool and back.
            return vec![self.load(&files[0])];
        }
        files.par_iter().map(|rel| self.load(rel)).collect()
    }

    /// Lists and reads the whole tree.
    pub fn load_all(&self) -> Loaded {
        let listing = self.list();
        Loaded {
            reads: self.load_many(&listing.files),
            problems: listing.problems,
            unreadable: listing.unreadable,
        }
    }
}

/// What [`Source::read_settled`] found.
enum Bytes {
    Gone,
    Unreadable(std::io::Error),
    Changing,
    Oversized(Stamp, u64),
    Read(Stamp, Vec<u8>),
}

/// The canonical directory `configured` leads to now.
fn resolve(configured: &Path) -> Result<PathBuf, SourceError> {
    let root = configured
        .canonicalize()
        .map_err(|reason| SourceError::Unreadable {
            path: configured.to_owned(),
            reason,
        })?;
    if !root.is_dir() {
        return Err(SourceError::NotADirectory {
            path: configured.to_owned(),
        });
    }
    Ok(root)
}

/// Reads at most `cap` bytes: a file that grew past the cap after its size was checked
/// (or a FIFO posing as one) is refused rather than read whole into memory.
fn read_capped(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    // O_NONBLOCK: a FIFO swapped in after the stat must not block the reader forever.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    // Sized once (and one byte more, so the read that finds the end needs no growth):
    // growing from empty cost a copy and a read call per doubling.
    let mut bytes = Vec::with_capacity(meta.len().min(cap).saturating_add(1) as usize);
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::other(format!(
            "file grew over the limit of {cap} bytes (max_post_bytes) while being read"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Faults a unit test injects into [`Source::load`].
    #[derive(Default)]
    pub struct Hooks {
        /// `errno` that opening the file with this key fails with.
        pub open_errors: Mutex<BTreeMap<String, i32>>,
        /// Run after a file is read, before it is stat'ed again (a writer's next write).
        #[allow(clippy::type_complexity)]
        pub after_read: Mutex<Option<Box<dyn Fn(&str, &Path) + Send>>>,
    }

    impl std::fmt::Debug for Hooks {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Hooks")
        }
    }

    impl Hooks {
        pub fn open_error(&self, key: &str) -> Option<std::io::Error> {
            let errors = self.open_errors.lock().unwrap();
            errors
                .get(key)
                .map(|&errno| std::io::Error::from_raw_os_error(errno))
        }

        pub fn after_read(&self, key: &str, path: &Path) {
            if let Some(hook) = self.after_read.lock().unwrap().as_ref() {
                hook(key, path);
            }
        }
    }

    #[test]
    fn only_markdown_posts_are_candidates() {
        for yes in [
            "post/a.md",
            "a.markdown",
            "post/bundle/index.md",
            "deep/er/x.md",
            "a.html",
            "post/b/index.es.md",
        ] {
            assert!(is_post_path(Path::new(yes)), "{yes}");
        }
        for no in [
            "post/_index.md",
            "_index.md",
            ".hidden.md",
            ".git/x.md",
            "post/.drafts/a.md",
            "a.md~",
            "#a.md#",
            ".#a.md",
            "a.md.swp",
            "post/_index.es.md",
            "a.txt",
            ".md",
        ] {
            assert!(!is_post_path(Path::new(no)), "{no}");
        }
    }

    fn source(dir: &Path) -> Source {
        let settings = ContentSettings {
            base_url: url::Url::parse("https://example.org/").unwrap(),
            timezone: chrono_tz::UTC,
            permalinks: Default::default(),
            taxonomies: vec![],
            repair_mojibake: false,
            languages: ContentLanguage::single("en"),
            dates: Default::default(),
            build_drafts: false,
            build_expired: false,
            pages_need_no_front_matter: false,
            render: crate::content::RenderOptions::default(),
            summary_length: 70,
            max_item_bytes: 256 * 1024,
            site_params: serde_json::Value::Null,
            shortcodes: std::collections::BTreeMap::new(),
        };
        Source::open(dir, 1000, settings).unwrap()
    }

    const POST: &str = "---\ntitle: t\ndate: 2020-01-01\n---\nbody\n";

    #[test]
    fn a_file_deleted_between_listing_and_reading_is_gone_not_broken() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.md"), POST).unwrap();
        std::fs::write(dir.path().join("b.md"), POST).unwrap();
        let src = source(dir.path());
        let listing = src.list();
        assert_eq!(listing.files.len(), 2);
        assert!(listing.problems.is_empty() && listing.unreadable.is_empty());
        std::fs::remove_file(dir.path().join("a.md")).unwrap();
        let reads = src.load_many(&listing.files);
        assert_eq!(reads[0].key, "a.md");
        assert!(matches!(reads[0].outcome, Outcome::Gone), "{reads:?}");
        assert!(matches!(reads[1].result(), Some(Ok(Some(_)))));
    }

    #[test]
    fn oversized_fifo_and_non_utf8_names_are_refused_without_blocking() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big.md"), "x".repeat(1001)).unwrap();
        let fifo =
            std::ffi::CString::new(dir.path().join("pipe.md").as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.md");
        std::fs::write(dir.path().join(name), POST).unwrap();
        let src = source(dir.path());
        let Listing {
            files, problems, ..
        } = src.list();
        assert_eq!(files, [PathBuf::from("big.md")], "the FIFO is not a file");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].message.contains("not valid UTF-8"),
            "{problems:?}"
        );
        assert_eq!(problems[0].path, "caf\u{fffd}.md");
        let big = src.load(Path::new("big.md"));
        let Some(Err(problem)) = big.result() else {
            panic!("{big:?}")
        };
        assert!(problem.message.contains("max_post_bytes"), "{problem}");
        // Handed the FIFO directly (as a watcher event would), the read does not block,
        // and a FIFO is not a post.
        let pipe = src.load(Path::new("pipe.md"));
        assert!(matches!(pipe.outcome, Outcome::Gone), "{pipe:?}");
    }

    #[test]
    fn bundle_resources_and_ignored_files_are_not_posts() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "post/b/index.md",
            "post/b/notes.md",
            "post/b/extra/deep.md",
            "post/k/index.markdown",
            "post/k/index.knit.md",
            "post/plain.md",
            "post/page.html",
            "post/_index.es.md",
        ] {
            let path = dir.path().join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, POST).unwrap();
        }
        let mut src = source(dir.path());
        src.ignore = vec![regex::Regex::new(r"\.knit\.md$").unwrap()];
        let files = src.list().files;
        let keys: Vec<String> = files.iter().map(|f| source_key(f)).collect();
        assert_eq!(
            keys,
            [
                "post/b/index.md",
                "post/k/index.markdown",
                "post/page.html",
                "post/plain.md"
            ]
        );
        assert!(!src.is_content(Path::new("post/b/notes.md")));
        assert!(!src.is_content(Path::new("post/k/index.knit.md")));
        assert!(src.is_content(Path::new("post/k/index.markdown")));
        assert!(src.is_content(Path::new("post/plain.md")));
    }

    #[test]
    fn a_parser_panic_is_that_files_problem() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.md"), POST).unwrap();
        let mut bad = crate::content::tests::PANIC_IN_PARSE.to_vec();
        bad.extend_from_slice(b"\n");
        std::fs::write(dir.path().join("b.md"), bad).unwrap();
        let src = source(dir.path());
        let loaded = src.load_all();
        assert!(matches!(loaded.reads[0].result(), Some(Ok(Some(_)))));
        let Some(Err(problem)) = loaded.reads[1].result() else {
            panic!("{:?}", loaded.reads[1])
        };
        assert_eq!(problem.path, "b.md");
        assert!(problem.message.contains("panicked"), "{problem}");
    }

    #[test]
    fn read_capped_refuses_a_file_larger_than_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.md");
        std::fs::write(&path, "12345").unwrap();
        assert_eq!(read_capped(&path, 5).unwrap(), b"12345");
        assert!(read_capped(&path, 4).is_err());
    }
}

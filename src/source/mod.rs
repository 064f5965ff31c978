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
use crate::content::{self, Cascade, ContentSettings, ParseError};
use crate::post::Post;

/// The content directory cannot be used at all (as opposed to one bad file).
#[derive(Debug, Error)]
pub enum SourceError {
    #[error("content directory {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("content directory {path} is not a directory")]
    NotADirectory { path: PathBuf },
}

/// Where posts come from and the limits on reading them.
#[derive(Debug, Clone)]
pub struct Source {
    /// The content directory, canonicalized (symlinks resolved).
    pub root: PathBuf,
    pub max_post_bytes: u64,
    pub content: ContentSettings,
    /// The site's `ignoreFiles`: files whose path (relative to the root, or absolute) matches
    /// one are not content.
    pub ignore: Vec<regex::Regex>,
    /// The `cascade` of each folder's section page (`_index.md`), read once per folder.
    cascades: std::sync::Arc<std::sync::Mutex<BTreeMap<PathBuf, Arc<Cascade>>>>,
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

/// One file read: its stamp (if it could be stat'ed) and the post or the problem.
#[derive(Debug)]
pub struct Read {
    pub key: String,
    pub stamp: Option<Stamp>,
    /// `Ok(None)`: a page that is not a post (no date), nothing to publish or report.
    pub result: Result<Option<Post>, ParseError>,
    /// Problems that do not keep the post out (mojibake, dropped terms).
    pub warnings: Vec<ParseError>,
}

/// The outcome of reading a whole tree: posts and the files that could not be used.
#[derive(Debug, Default)]
pub struct Loaded {
    /// One per post file, sorted by source path.
    pub reads: Vec<Read>,
    /// Problems with the tree itself (symlinks leaving it, loops, unreadable folders,
    /// file names that are not UTF-8).
    pub problems: Vec<ParseError>,
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
fn is_bundle_index(name: &str) -> bool {
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
        let root = dir
            .canonicalize()
            .map_err(|source| SourceError::Unreadable {
                path: dir.to_owned(),
                source,
            })?;
        if !root.is_dir() {
            return Err(SourceError::NotADirectory {
                path: dir.to_owned(),
            });
        }
        Ok(Source {
            root,
            max_post_bytes,
            content,
            ignore: Vec::new(),
            cascades: Default::default(),
        })
    }

    /// Forgets every section page's `cascade`: one changed, so they are read again.
    pub fn forget_cascades(&self) {
        self.cascades
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// What the section pages above `rel` pass down to it (the nearest wins).
    fn cascade_for(&self, rel: &Path) -> Cascade {
        let mut dirs: Vec<&Path> = rel.ancestors().skip(1).collect();
        dirs.reverse();
        let mut acc = Cascade::default();
        for dir in dirs {
            let here = self.section_cascade(dir);
            if !here.is_empty() {
                acc = here.under(&acc);
            }
        }
        acc
    }

    fn section_cascade(&self, rel_dir: &Path) -> Arc<Cascade> {
        let mut cache = self.cascades.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(rel_dir) {
            return c.clone();
        }
        let found = CONTENT_EXTENSIONS
            .iter()
            .map(|ext| self.root.join(rel_dir).join(format!("_index.{ext}")))
            .find_map(|p| read_capped(&p, self.max_post_bytes).ok())
            .map(|bytes| Cascade::of_section_page(&bytes))
            .unwrap_or_default();
        let found = Arc::new(found);
        cache.insert(rel_dir.to_owned(), found.clone());
        found
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
        let Ok(entries) = std::fs::read_dir(self.root.join(rel_dir)) else {
            return false;
        };
        entries.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|name| is_bundle_index(name) && !self.is_ignored(&rel_dir.join(name)))
        })
    }

    /// Every post file under the root, as relative paths, sorted. Symlinks are followed only
    /// while they stay inside the content directory; problems with the tree are returned too.
    pub fn list(&self) -> (Vec<PathBuf>, Vec<ParseError>) {
        self.list_in(Path::new(""))
    }

    /// Like [`Source::list`], for the folder `rel_dir` under the root only.
    pub fn list_in(&self, rel_dir: &Path) -> (Vec<PathBuf>, Vec<ParseError>) {
        let mut files = Vec::new();
        let problems = std::cell::RefCell::new(Vec::new());
        let problem = |path: &Path, message: String| {
            let path = path
                .strip_prefix(&self.root)
                .map(source_key)
                .unwrap_or_default();
            problems.borrow_mut().push(ParseError {
                path,
                line: None,
                message,
            });
        };
        if rel_dir
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        {
            return (files, Vec::new());
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
                        Err(err) => {
                            problem(e.path(), format!("broken symlink, skipped: {err}"));
                            return false;
                        }
                    }
                }
                true
            });
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    let is_link = err
                        .path()
                        .and_then(|p| p.symlink_metadata().ok())
                        .is_some_and(|m| m.file_type().is_symlink());
                    let message = if err.loop_ancestor().is_some() {
                        "symlink loop, skipped".to_string()
                    } else if is_link {
                        match err.io_error() {
                            Some(io) => format!("broken symlink, skipped: {io}"),
                            None => "broken symlink, skipped".to_string(),
                        }
                    } else {
                        err.to_string()
                    };
                    problem(err.path().unwrap_or(&self.root), message);
                    continue;
                }
            };
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
        (files, problems.into_inner())
    }

    /// The stamp of a post file now; `None` when it is gone (or is not a regular file).
    pub fn stamp(&self, rel: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(self.root.join(rel)).ok()?;
        meta.is_file().then(|| Stamp::of(&meta))
    }

    /// Reads and parses one post file.
    pub fn load(&self, rel: &Path) -> Read {
        let key = source_key(rel);
        let fail = |message: String| ParseError {
            path: key.clone(),
            line: None,
            message,
        };
        let path = self.root.join(rel);
        let mut warnings = Vec::new();
        let (stamp, result) = match std::fs::metadata(&path) {
            Err(e) => (None, Err(fail(format!("cannot read: {e}")))),
            Ok(meta) if !meta.is_file() => (None, Err(fail("not a regular file, skipped".into()))),
            Ok(meta) if meta.len() > self.max_post_bytes => (
                Some(Stamp::of(&meta)),
                Err(fail(format!(
                    "file is {} bytes, over the limit of {} (max_post_bytes)",
                    meta.len(),
                    self.max_post_bytes
                ))),
            ),
            Ok(meta) => {
                let stamp = Some(Stamp::of(&meta));
                match read_capped(&path, self.max_post_bytes) {
                    Ok(bytes) => {
                        let inherited = self.cascade_for(rel);
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
                        (stamp, parsed.result)
                    }
                    // Gone between the stat and the read: nothing to publish, nothing to report.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        (None, Err(fail(format!("cannot read: {e}"))))
                    }
                    Err(e) => (stamp, Err(fail(format!("cannot read: {e}")))),
                }
            }
        };
        Read {
            key,
            stamp,
            result,
            warnings,
        }
    }

    /// Reads and parses many files, on every core. The result is in the order of `files`.
    pub fn load_many(&self, files: &[PathBuf]) -> Vec<Read> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(files.len().max(1));
        let chunk = files.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || part.iter().map(|rel| self.load(rel)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("parser thread panicked"))
                .collect()
        })
    }

    /// Lists and reads the whole tree.
    pub fn load_all(&self) -> Loaded {
        let (files, problems) = self.list();
        Loaded {
            reads: self.load_many(&files),
            problems,
        }
    }
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
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::other(format!(
            "file grew over the limit of {cap} bytes (max_post_bytes) while being read"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (files, problems) = src.list();
        assert_eq!(files.len(), 2);
        assert!(problems.is_empty());
        std::fs::remove_file(dir.path().join("a.md")).unwrap();
        let reads = src.load_many(&files);
        assert_eq!(reads[0].key, "a.md");
        assert!(reads[0].stamp.is_none(), "a vanished file has no stamp");
        assert!(reads[1].stamp.is_some() && reads[1].result.is_ok());
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
        let (files, problems) = src.list();
        assert_eq!(files, [PathBuf::from("big.md")], "the FIFO is not a file");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].message.contains("not valid UTF-8"),
            "{problems:?}"
        );
        assert_eq!(problems[0].path, "caf\u{fffd}.md");
        let big = src.load(Path::new("big.md"));
        assert!(big.result.unwrap_err().message.contains("max_post_bytes"));
        // Handed the FIFO directly (as a watcher event would), the read does not block.
        let pipe = src.load(Path::new("pipe.md"));
        assert!(pipe.result.is_err());
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
        let (files, _) = src.list();
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
        assert!(matches!(loaded.reads[0].result, Ok(Some(_))));
        let problem = loaded.reads[1].result.as_ref().unwrap_err();
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

//! `herald build`: writes a snapshot to a folder for static hosting, atomically.
//!
//! Everything is written into a fresh sibling folder first; only when every file is written
//! and synced does that folder take the place of the target, in one `rename` (an exchange on
//! Linux, so the target never stops existing). An interrupted or failed build leaves the
//! previous output whole.
//!
//! The output is ready for a plain static server (`deploy/nginx/herald.conf`):
//! - every file `herald serve` would send compressed has `file.gz` and `file.br` siblings
//!   holding exactly the bytes `serve` sends for that coding (for `gzip_static` and
//!   `brotli_static`);
//! - every file's modification time is its resource's `Last-Modified`, which comes from
//!   the content (the newest item's date), never from the clock or the content files'
//!   times. A static server's `Last-Modified` then equals `serve`'s, and its ETag (nginx
//!   makes it from mtime and size) is the same on every replica built from the same content;
//! - `.herald/nginx-moves.conf` turns `redirects:` and `retired_feeds:` into nginx rules (see
//!   [`nginx_moves`]); nginx never serves it (the shipped conf answers `/.herald/` with 404).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::layout;
use crate::snapshot::{Encoding, Snapshot};

/// Where, under the output folder, the nginx rules for `redirects:` and `retired_feeds:` go.
/// A dot folder: not a served path (`herald serve` never serves a dot file either).
pub const NGINX_MOVES_FILE: &str = ".herald/nginx-moves.conf";

mod nginx;
pub use nginx::nginx_moves;

#[derive(Debug, Error)]
pub enum OutputError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("refusing to write {0:?}: not a plain relative path")]
    UnsafePath(String),
    #[error("{0}: exists and is not a folder; refusing to replace it (give --out a folder)")]
    NotAFolder(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes the feed list (`/feeds.json`) of `snapshot` to `dir/herald.json`, for a Hugo
/// site's templates (`site.Data.herald`). Replaced atomically (a temp file renamed over it),
/// and only when its bytes changed, so Hugo's own watcher does not rebuild for nothing.
pub fn write_feed_list(snapshot: &Snapshot, dir: &Path) -> Result<bool, OutputError> {
    let Some(list) = snapshot.get(crate::layout::FEED_LIST_PATH) else {
        return Ok(false);
    };
    let bytes = &list.identity.body;
    let target = dir.join("herald.json");
    if fs::read(&target).is_ok_and(|old| old == bytes.as_ref()) {
        return Ok(false);
    }
    fs::create_dir_all(dir).map_err(io(dir))?;
    let staging = dir.join(format!(".herald.json.tmp-{}", std::process::id()));
    let mut file = fs::File::create(&staging).map_err(io(&staging))?;
    file.write_all(bytes).map_err(io(&staging))?;
    file.sync_all().map_err(io(&staging))?;
    fs::rename(&staging, &target).map_err(io(&target))?;
    Ok(true)
}

/// The file a served path is written to (see [`layout::file_for`]).
pub fn file_for(url_path: &str) -> Result<PathBuf, OutputError> {
    layout::file_for(url_path).ok_or_else(|| OutputError::UnsafePath(url_path.to_owned()))
}

/// Writes every resource (and its `.gz` / `.br` variants) under `out`, replacing what was there.
pub fn write(snapshot: &Snapshot, out: &Path) -> Result<usize, OutputError> {
    // Compressed variants may still be in the making in the background: finish them on every core.
    snapshot.finish();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    // Before anything moves: a build never replaces a file that is not an earlier output.
    if fs::symlink_metadata(out).is_ok_and(|m| !m.is_dir()) {
        return Err(OutputError::NotAFolder(out.to_owned()));
    }
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    remove_dead_staging(&parent, &name);
    let staging = parent.join(format!(".{name}.herald-tmp-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    let result = write_tree(snapshot, &staging)
        .and_then(|count| swap_into_place(&staging, out).map(|()| count));
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

/// Removes the staging folders of earlier builds of `name` whose process is gone (killed
/// with SIGKILL, say): they would otherwise pile up beside the output for ever. A folder of
/// a build still running (its pid alive) is left alone.
fn remove_dead_staging(parent: &Path, name: &str) {
    let prefix = format!(".{name}.herald-tmp-");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
        let alive = pid == std::process::id() as i32
            || unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn write_tree(snapshot: &Snapshot, dir: &Path) -> Result<usize, OutputError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    for (url_path, resource) in &snapshot.resources {
        let rel = file_for(url_path)?;
        let file = dir.join(&rel);
        if let Some(folder) = file.parent() {
            fs::create_dir_all(folder).map_err(io(folder))?;
        }
        // No Last-Modified (a site without posts): the epoch, so the time is still the
        // content's and not the build's.
        let mtime = resource.last_modified.unwrap_or(std::time::UNIX_EPOCH);
        write_file(&file, &resource.identity.body, mtime)?;
        written.push(file.clone());
        // `snapshot.finish()` made every coding: a coding is here exactly when `serve`
        // offers it (compression that does not pay is never offered, nor written).
        for (encoding, ext) in [(Encoding::Gzip, "gz"), (Encoding::Brotli, "br")] {
            if let Some(variant) = resource.representation(encoding) {
                let mut name = file.clone().into_os_string();
                name.push(format!(".{ext}"));
                write_file(Path::new(&name), &variant.body, mtime)?;
                written.push(PathBuf::from(name));
            }
        }
    }
    let moves = dir.join(NGINX_MOVES_FILE);
    if let Some(folder) = moves.parent() {
        fs::create_dir_all(folder).map_err(io(folder))?;
    }
    write_file(
        &moves,
        nginx_moves(&snapshot.moves).as_bytes(),
        std::time::UNIX_EPOCH,
    )?;
    written.push(moves);
    sync_all(&written)?;
    Ok(written.len())
}

/// Writes `bytes` to a new file at `path` whose modification time is `mtime`.
fn write_file(path: &Path, bytes: &[u8], mtime: std::time::SystemTime) -> Result<(), OutputError> {
    let mut f = fs::File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.set_modified(mtime).map_err(io(path))
}

/// Syncs every written file before the output is swapped into place. One `fsync` after
/// each write made the disk's latency the build's: 558 files took 1.5 s of waiting on a
/// 1,000-post site (strace -T). Syncing after everything is written, from several threads,
/// lets the kernel write back and commit them together.
fn sync_all(files: &[PathBuf]) -> Result<(), OutputError> {
    const SYNC_THREADS: usize = 16;
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..SYNC_THREADS.min(files.len()))
            .map(|_| {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = files.get(i) else {
                        return Ok(());
                    };
                    fs::File::open(path)
                        .and_then(|f| f.sync_all())
                        .map_err(io(path))?;
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("sync thread panicked"))
    })
}

/// Puts `staging` at `out`. The old output, if any, ends up in `staging` and is removed.
fn swap_into_place(staging: &Path, out: &Path) -> Result<(), OutputError> {
    if fs::symlink_metadata(out).is_err() {
        return fs::rename(staging, out).map_err(io(out));
    }
    if exchange(staging, out).is_ok() {
        return fs::remove_dir_all(staging).map_err(io(staging));
    }
    // No atomic exchange here (not Linux, or a filesystem without it): two renames.
    let old = staging.with_extension("old");
    fs::rename(out, &old).map_err(io(out))?;
    fs::rename(staging, out).map_err(io(out))?;
    fs::remove_dir_all(&old).map_err(io(&old))
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both are valid NUL-terminated paths; renameat2 only reads them.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_named_as_the_output_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        fs::write(&out, "precious").unwrap();
        let err = write(&Snapshot::default(), &out).unwrap_err();
        assert!(matches!(err, OutputError::NotAFolder(_)), "{err}");
        assert_eq!(fs::read_to_string(&out).unwrap(), "precious");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "nothing moved aside or staged");
    }

    #[test]
    fn staging_left_by_a_killed_build_is_removed_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        // A pid that cannot be running: above the kernel's pid_max limit (2^22).
        let dead = dir.path().join(".public.herald-tmp-99999999");
        fs::create_dir_all(dead.join("categories")).unwrap();
        let alive = dir.path().join(format!(".public.herald-tmp-{}", 1));
        fs::create_dir_all(&alive).unwrap();
        write(&Snapshot::default(), &out).unwrap();
        assert!(!dead.exists(), "the dead build's staging is gone");
        assert!(alive.exists(), "a live process's staging is left alone");
        assert!(out.is_dir());
    }

    /// A snapshot as `serve` publishes it: a feed large enough for late compression, a
    /// tiny resource compression does not pay for, one without `Last-Modified`.
    fn served() -> Snapshot {
        let cc = bytes::Bytes::from_static(b"public, max-age=300");
        let lm = chrono::DateTime::parse_from_rfc3339("2024-05-01T12:00:00+02:00").unwrap();
        let mut s = Snapshot::default();
        let feed = crate::snapshot::Resource::with_late_compression(
            "application/rss+xml; charset=utf-8",
            bytes::Bytes::from(
                (0..4000)
                    .map(|i| format!("<item>{i}</item>"))
                    .collect::<String>(),
            ),
            Some(lm),
            &cc,
        );
        s.resources
            .insert("/categories/a/rss.xml".into(), std::sync::Arc::new(feed));
        let tiny =
            crate::snapshot::Resource::new("text/html; charset=utf-8", "x".into(), Some(lm), &cc);
        s.resources.insert("/".into(), std::sync::Arc::new(tiny));
        let undated = crate::snapshot::Resource::new(
            "application/json; charset=utf-8",
            "[]".into(),
            None,
            &cc,
        );
        s.resources
            .insert("/feeds.json".into(), std::sync::Arc::new(undated));
        s
    }

    #[test]
    fn compressed_siblings_hold_the_bytes_serve_sends_and_every_file_has_the_content_time() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let snapshot = served();
        write(&snapshot, &out).unwrap();
        let feed = snapshot.get("/categories/a/rss.xml").unwrap();
        let lm = feed.last_modified.unwrap();
        assert_eq!(httpdate::fmt_http_date(lm), "Wed, 01 May 2024 10:00:00 GMT");
        let file = out.join("categories/a/rss.xml");
        for (path, encoding) in [
            (file.clone(), Encoding::Identity),
            (file.with_extension("xml.gz"), Encoding::Gzip),
            (file.with_extension("xml.br"), Encoding::Brotli),
        ] {
            let served = feed
                .representation(encoding)
                .expect("finished by the build");
            assert_eq!(fs::read(&path).unwrap(), served.body, "{path:?}");
            let mtime = fs::metadata(&path).unwrap().modified().unwrap();
            assert_eq!(mtime, lm, "{path:?}: mtime is Last-Modified");
        }
        // Compression that does not pay is neither offered by serve nor written.
        let tiny = snapshot.get("/").unwrap();
        assert!(tiny.representation(Encoding::Gzip).is_none());
        assert!(out.join("index.html").exists());
        assert!(!out.join("index.html.gz").exists());
        assert!(!out.join("index.html.br").exists());
        // No Last-Modified: the epoch, never the build's clock.
        let undated = fs::metadata(out.join("feeds.json"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(undated, std::time::UNIX_EPOCH);
        // A second build of the same snapshot: the same bytes and times, file for file.
        let again = dir.path().join("again");
        write(&snapshot, &again).unwrap();
        for entry in walkdir::WalkDir::new(&out).sort_by_file_name() {
            let entry = entry.unwrap();
            if !entry.file_type().is_file() {
                continue;
            }
            let twin = again.join(entry.path().strip_prefix(&out).unwrap());
            assert_eq!(fs::read(entry.path()).unwrap(), fs::read(&twin).unwrap());
            assert_eq!(
                entry.metadata().unwrap().modified().unwrap(),
                fs::metadata(&twin).unwrap().modified().unwrap()
            );
        }
    }

    #[test]
    fn url_paths_map_to_files_and_nothing_escapes() {
        assert_eq!(file_for("/").unwrap(), PathBuf::from("index.html"));
        assert_eq!(
            file_for("/categories/rust/rss.xml").unwrap(),
            PathBuf::from("categories/rust/rss.xml")
        );
        for bad in ["/../etc/passwd", "/a/../../b", "/a\\..\\b"] {
            assert!(file_for(bad).is_err(), "{bad}");
        }
    }
}

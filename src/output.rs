//! `herald build`: writes a snapshot to a folder for static hosting, atomically.
//!
//! Everything is written into a fresh sibling folder first; only when every file is written
//! and synced does that folder take the place of the target, in one `rename` (an exchange on
//! Linux, so the target never stops existing). An interrupted or failed build leaves the
//! previous output whole.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::layout;
use crate::snapshot::Snapshot;

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
        write_file(&file, &resource.identity.body)?;
        written.push(file.clone());
        let (gzip, brotli) = (resource.gzip.as_deref(), resource.brotli.as_deref());
        for (variant, ext) in [(gzip, "gz"), (brotli, "br")] {
            if let Some(variant) = variant {
                let mut name = file.clone().into_os_string();
                name.push(format!(".{ext}"));
                write_file(Path::new(&name), &variant.body)?;
                written.push(PathBuf::from(name));
            }
        }
    }
    sync_all(&written)?;
    Ok(written.len())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let mut f = fs::File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))
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

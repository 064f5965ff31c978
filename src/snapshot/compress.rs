//! The background compressor: makes the gzip and brotli codings of freshly published
//! resources off the edit → served path, at lower CPU priority than serving.

use std::sync::{Arc, Weak};

use super::Resource;

/// Two threads that make the compressed representations of freshly published resources,
/// so an edit is served as soon as its identity bytes exist: one makes gzip right away (a
/// few milliseconds per feed) and hands each resource on as soon as its gzip is done to
/// one that makes brotli at low priority, so the two run side by side and the first
/// resources of a publish (the site-wide feeds come first) get brotli without waiting for
/// gzip of the whole batch. Until a coding's bytes exist, requests for it get another coding; once they
/// exist they never change.
///
/// The queues hold weak references: a resource superseded by a newer publish before its
/// turn is freed at once (its bodies are not kept alive by the queue) and skipped, so a
/// burst of rebuilds costs the compressor nothing for the versions nobody serves.
pub struct Compressor {
    tx: std::sync::mpsc::Sender<Vec<Weak<Resource>>>,
}

impl Compressor {
    pub fn start() -> Compressor {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<Weak<Resource>>>();
        let (to_brotli, brotli_rx) = std::sync::mpsc::channel::<Weak<Resource>>();
        let gzip = std::thread::Builder::new()
            .name("herald-gzip".into())
            .spawn(move || {
                lower_priority(GZIP_NICE);
                while let Ok(batch) = rx.recv() {
                    // Checked just before each: a burst of rebuilds supersedes most of them.
                    for resource in batch.iter().filter_map(Weak::upgrade) {
                        resource.make(super::Encoding::Gzip);
                        let _ = to_brotli.send(Arc::downgrade(&resource));
                    }
                }
            });
        let brotli = std::thread::Builder::new()
            .name("herald-brotli".into())
            .spawn(move || {
                lower_priority(BROTLI_NICE);
                while let Ok(resource) = brotli_rx.recv() {
                    if let Some(resource) = resource.upgrade() {
                        resource.make(super::Encoding::Brotli);
                    }
                }
            });
        if let Some(err) = gzip.err().or(brotli.err()) {
            // Without the threads, the codings are made on first dereference (herald build)
            // or never offered (serve): the identity bytes are still served.
            tracing::warn!(error = %err, "cannot start the background compressor");
        }
        Compressor { tx }
    }

    pub fn queue(&self, resources: &[Arc<Resource>]) {
        let _ = self.tx.send(resources.iter().map(Arc::downgrade).collect());
    }
}

/// Nice values of the compressing threads: the lowest priority there is, so that they use
/// only CPU that serving and rebuilding leave idle (a burst of edits, heavy traffic). A
/// coding a reader asks for before they get to it is made for that request at normal
/// priority instead (see [`super::Late`]), so nobody waits on these threads. gzip, which
/// most readers ask for, is made first.
const GZIP_NICE: i32 = 19;
const BROTLI_NICE: i32 = 19;

/// Lowers the calling thread's CPU priority to `nice` (Linux; elsewhere nothing).
pub(crate) fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscall; on Linux, `who = 0` with PRIO_PROCESS is the calling thread.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } != 0 {
        // Once per process: the sandbox (a seccomp filter, say) refused it for every thread.
        static SAID: std::sync::Once = std::sync::Once::new();
        let err = std::io::Error::last_os_error();
        SAID.call_once(|| {
            tracing::warn!("cannot lower the compressing threads' priority ({err}); compression then competes with serving for the CPU");
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

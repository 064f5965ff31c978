//! The engine: the loop that owns the served [`Site`] and keeps it current. It turns
//! watcher hints, the clock (scheduled and expiring posts) and periodic rescans into
//! changes of the site, coalescing bursts of events into one rebuild ([`batch`]), and
//! survives the content directory vanishing.
//!
//! Being the only owner, it is where a reload (SIGHUP) swaps in a site built from the
//! re-read config ([`reload`]), where every rebuild is reported (metrics, systemd
//! `STATUS=`), and where the systemd watchdog is fed: a loop wedged in a rebuild stops the
//! pings and systemd restarts the service.

pub mod batch;
pub mod reload;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use tokio::time::sleep;

use crate::config::{Settings, WatchMode, WatchSection};
use crate::metrics::{Metrics, OWNER_HEARTBEAT};
use crate::site::{Applied, Site};
use crate::source::watch::{self, Events, Watcher};
use crate::systemd;
use batch::{collect_burst, Batch};

/// What the loop reports to, and hears from, the rest of the process.
pub struct Hooks {
    pub metrics: Arc<Metrics>,
    /// Reload requests (SIGHUP), coalesced by the sender: re-read the config file.
    pub reload: tokio::sync::mpsc::Receiver<()>,
    /// How often to send `WATCHDOG=1`; `None` when systemd armed no watchdog.
    pub watchdog: Option<Duration>,
}

/// Longest sleep between checks of the clock, so a clock jump cannot strand a due post.
const MAX_SLEEP: Duration = Duration::from_secs(3600);
/// How often a missing content directory is looked for.
const ROOT_RETRY: Duration = Duration::from_millis(500);
/// How often a watch that could not be set up is tried again.
const WATCH_RETRY: Duration = Duration::from_secs(30);

/// Runs until `shutdown` resolves. `config` is what `site` was built from: a reload
/// compares the re-read file with it.
pub async fn run(
    mut site: Site,
    mut config: Settings,
    mut hooks: Hooks,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let metrics = hooks.metrics.clone();
    let mut settings = config.watch.clone();
    // The identity is taken before the watch starts: if the directory is swapped in between,
    // the next event sees a different identity and watches again (the reverse order would
    // miss the swap and keep watching a directory that is no longer the content).
    let mut watched_root = site.source.identity();
    let mut watcher = watch_and_catch_up(&mut site, &settings, &metrics);
    let mut next_rescan = next_rescan_after(&settings, watcher.is_some());
    let mut next_ping = tokio::time::Instant::now();
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        if watcher
            .as_ref()
            .is_some_and(|(w, _)| w.root() != site.source.root)
        {
            // A rescan followed the content path to another tree: watch that one, and compare
            // once more, as changes made there before the new watch raised no event.
            watched_root = site.source.identity();
            watcher = start_watch(&site, &settings);
            rebuild(
                &mut site,
                Batch::rescan("content directory was replaced"),
                &metrics,
            );
            continue;
        }
        let due = site
            .next_timed_change()
            .map_or(MAX_SLEEP, |d| d.min(MAX_SLEEP))
            + Duration::from_millis(5);
        let rescan_in = next_rescan.map_or(MAX_SLEEP, |t| {
            t.saturating_duration_since(tokio::time::Instant::now())
        });
        let root_missing = !site.source.is_present();
        let retry_every = if root_missing {
            Some(ROOT_RETRY)
        } else if watcher.is_none() && settings.mode == WatchMode::Notify {
            Some(WATCH_RETRY)
        } else {
            None
        };
        // A deadline kept across turns of the loop: the heartbeat must not restart it.
        match retry_every {
            Some(every) => {
                retry_at.get_or_insert_with(|| tokio::time::Instant::now() + every);
            }
            None => retry_at = None,
        }
        let events = async {
            match watcher.as_mut() {
                Some((_, rx)) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        metrics.owner_beat();
        tokio::select! {
            _ = &mut shutdown => return,
            // Wakes an idle loop so that `/healthz` can tell idle from wedged.
            _ = sleep(OWNER_HEARTBEAT) => {}
            _ = tokio::time::sleep_until(next_ping), if hooks.watchdog.is_some() => {
                systemd::watchdog();
                next_ping = tokio::time::Instant::now() + hooks.watchdog.unwrap_or(MAX_SLEEP);
            }
            Some(()) = hooks.reload.recv() => {
                systemd::reloading();
                let started = Instant::now();
                match reload::reload(&config, site.handles()) {
                    Ok((new_config, new_site)) => {
                        metrics.reload(true);
                        site = new_site;
                        config = new_config;
                        settings = config.watch.clone();
                        watched_root = site.source.identity();
                        watcher = watch_and_catch_up(&mut site, &settings, &metrics);
                        next_rescan = next_rescan_after(&settings, watcher.is_some());
                        tracing::info!(config = %config.config_path.as_deref().unwrap_or(std::path::Path::new("-")).display(), "configuration reloaded");
                        let status = report(&site, &metrics, started.elapsed());
                        systemd::ready(&status);
                    }
                    Err(error) => {
                        metrics.reload(false);
                        tracing::error!("{error}");
                        systemd::ready(&format!("{}; last reload rejected: {error}", status_line(&metrics)));
                    }
                }
            }
            change = events => {
                let Some(change) = change else {
                    // The watcher stopped: poll until a new watch can be set up.
                    watcher = None;
                    next_rescan = next_rescan_after(&settings, false);
                    continue;
                };
                let mut batch = Batch::default();
                batch.add(change);
                if let Some((_, rx)) = watcher.as_mut() {
                    collect_burst(rx, &mut batch, settings.debounce).await;
                }
                if let Some(reason) = follow_root(&mut site, &settings, &mut watched_root, &mut watcher) {
                    batch.rescan = Some(reason.into());
                }
                rebuild(&mut site, batch, &metrics);
            }
            _ = sleep(due) => {
                let started = Instant::now();
                let (stats, _) = site.publish();
                if stats.rendered > 0 {
                    tracing::info!(rendered = stats.rendered, feeds = stats.feeds, elapsed_us = started.elapsed().as_micros() as u64, "scheduled or expiring posts changed the feeds");
                    systemd::status(&report(&site, &metrics, started.elapsed()));
                }
            }
            _ = sleep(rescan_in), if next_rescan.is_some() => {
                let polling = is_polling(&settings, watcher.is_some());
                next_rescan = next_rescan_after(&settings, watcher.is_some());
                let mut reason = if polling { "poll" } else { "periodic rescan" };
                let mut routine = polling;
                if let Some(replaced) = follow_root(&mut site, &settings, &mut watched_root, &mut watcher) {
                    (reason, routine) = (replaced, false);
                }
                rebuild(&mut site, Batch::timed_rescan(reason, routine), &metrics);
            }
            _ = tokio::time::sleep_until(retry_at.unwrap_or_else(tokio::time::Instant::now)), if retry_at.is_some() => {
                retry_at = None;
                if site.source.is_present() {
                    // The directory is back, or the watch can be retried: watch, then compare.
                    watched_root = site.source.identity();
                    if let Err(error) = site.source.resolve() {
                        tracing::debug!(%error, "content directory vanished again");
                        continue;
                    }
                    watcher = start_watch(&site, &settings);
                    next_rescan = next_rescan_after(&settings, watcher.is_some());
                    if root_missing || watcher.is_some() {
                        let reason = if root_missing { "content directory is back" } else { "watching again" };
                        rebuild(&mut site, Batch::rescan(reason), &metrics);
                    }
                }
            }
        }
    }
}

/// Records a rebuild that just finished (metrics) and returns the line for `systemctl status`.
pub fn report(site: &Site, metrics: &Metrics, elapsed: Duration) -> String {
    metrics.content_reads(site.take_read_errors(), site.unreadable_count());
    metrics.rebuild(
        elapsed,
        site.index.len(),
        site.index.feed_count(),
        site.problem_count(),
    );
    status_line(metrics)
}

/// What is served, for `systemctl status`: "12 posts, 9 feeds, 0 content problems; last
/// rebuild 2024-05-01T12:00:00Z (3 ms)".
pub fn status_line(metrics: &Metrics) -> String {
    let Some(health) = metrics.health() else {
        return "loading the content".into();
    };
    let when: chrono::DateTime<Utc> = health.last_rebuild.into();
    let unreadable = match health.unreadable {
        0 => String::new(),
        n => format!(" ({n} paths unreadable, served from their last good versions)"),
    };
    format!(
        "{} posts, {} feeds, {} content problems{unreadable}; last rebuild {} ({} ms)",
        health.posts,
        health.feeds,
        health.problems,
        when.to_rfc3339_opts(SecondsFormat::Secs, true),
        health.last_rebuild_duration.as_millis()
    )
}

/// Applies a batch to the site and publishes the result, logging what it did.
fn rebuild(site: &mut Site, batch: Batch, metrics: &Metrics) {
    let started = Instant::now();
    if !site.source.is_present() {
        // Never turn a missing directory into "every post was deleted".
        return;
    }
    // A poll's routine rescan frees little unless it found much.
    let rescan_not_routine = batch.rescan.is_some() && !batch.routine;
    let applied: Applied = match &batch.rescan {
        Some(reason) => {
            if batch.routine {
                tracing::debug!(reason = %reason, "rescanning the content directory");
            } else {
                tracing::info!(reason = %reason, "rescanning the content directory");
            }
            metrics.rescan();
            site.rescan()
        }
        None => site.apply_paths(&batch.paths),
    };
    let (stats, served) = site.publish();
    if rescan_not_routine || applied.read + applied.removed >= BIG_BATCH {
        give_back_freed_memory();
    }
    if applied != Applied::default() || stats.rendered > 0 {
        tracing::info!(
            files_read = applied.read,
            files_removed = applied.removed,
            problems = applied.failed,
            feeds_rendered = stats.rendered,
            feeds = stats.feeds,
            posts = site.index.len(),
            served_after_us = served.duration_since(started).as_micros() as u64,
            elapsed_us = started.elapsed().as_micros() as u64,
            "rebuilt"
        );
    }
    systemd::status(&report(site, metrics, started.elapsed()));
}

/// A rebuild that read or removed this many files freed enough memory to hand it back.
const BIG_BATCH: usize = 1000;

/// After a rescan (the start's catch-up among them) or a big batch: hands the memory it
/// freed back to the system, and has glibc merge the many small chunks it freed now, in
/// the owner's time, rather than inside the next allocation big enough to need them merged.
/// At 100,000 posts that took the first edit after the start from 56 to 13 ms, and gives
/// back a few MiB.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only reorganizes the allocator's free lists; no pointer is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Whether changes are found by comparing the tree with the disk, on a timer: in `watch:
/// poll` mode, and as the fallback when kernel events cannot be had.
fn is_polling(settings: &WatchSection, watching: bool) -> bool {
    match settings.mode {
        WatchMode::Poll => true,
        WatchMode::Notify => !watching,
        WatchMode::Off => false,
    }
}

/// When the next full comparison with the disk is due: every `poll_interval` while
/// polling, else every `rescan_interval` (if set).
fn next_rescan_after(settings: &WatchSection, watching: bool) -> Option<tokio::time::Instant> {
    let every = if is_polling(settings, watching) {
        Some(settings.poll_interval)
    } else {
        settings.rescan_interval
    };
    every.map(|d| tokio::time::Instant::now() + d)
}

/// Notices that the content directory's path now leads to another directory (a symlink
/// swapped, a folder moved into place): re-resolves it, watches the new tree (the old
/// watch follows the old one) and returns the reason to rescan, so the new tree is read in
/// one rescan and published once, not file by file. Gone: stops watching and returns
/// `None`, the loop retries until it is back.
fn follow_root(
    site: &mut Site,
    settings: &WatchSection,
    watched: &mut Option<(u64, u64)>,
    watcher: &mut Option<(Watcher, Events)>,
) -> Option<&'static str> {
    let now = site.source.identity();
    if now.is_none() {
        tracing::warn!(dir = %site.source.configured.display(), "content directory is gone; still serving the last feeds until it returns");
        *watcher = None;
        return None;
    }
    if now == *watched {
        return None;
    }
    if let Err(error) = site.source.resolve() {
        tracing::warn!(%error, "content directory was replaced but cannot be opened; still serving the last feeds");
        *watcher = None;
        return None;
    }
    *watcher = start_watch(site, settings);
    *watched = now;
    Some("content directory was replaced")
}

/// Starts watching a freshly loaded site, then compares it with the disk once: changes
/// made between the read and the watch's start raised no event.
fn watch_and_catch_up(
    site: &mut Site,
    settings: &WatchSection,
    metrics: &Metrics,
) -> Option<(Watcher, Events)> {
    let watcher = start_watch(site, settings);
    if watcher.is_some() {
        let reason = "catching up with changes made while loading";
        rebuild(site, Batch::rescan(reason), metrics);
    } else {
        // The load (and, after a reload, the old site) freed much; a rescan would say so.
        give_back_freed_memory();
    }
    watcher
}

fn start_watch(site: &Site, settings: &WatchSection) -> Option<(Watcher, Events)> {
    let root = &site.source.root;
    if settings.mode != WatchMode::Notify {
        return None;
    }
    match watch::watch(root, &site.source.links()) {
        Ok(watcher) => Some(watcher),
        Err(err) => {
            // Typically the inotify watch limit. Polling sees every change too, only later.
            tracing::warn!(error = %err, dir = %root.display(), every_ms = settings.poll_interval.as_millis() as u64, "cannot watch the content directory with kernel events; polling it instead, and trying again every 30 s (raise fs.inotify.max_user_watches to avoid this)");
            None
        }
    }
}

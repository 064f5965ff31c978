//! Counters and gauges about the running server, for `/metrics` (OpenMetrics text, which
//! Prometheus scrapes) and `/healthz`. Nothing here is part of a snapshot: observing the
//! server never changes a feed's bytes or ETag.
//!
//! Cost per request: two atomic additions. Every (route, status) counter is created up
//! front and kept in a fixed table, so the request path never takes the metric family's
//! lock, hashes labels or allocates; a 304 stays as cheap as it was.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `herald_http_requests_total` | counter | `route` (feed, listing, health, metrics, other, websub), `status` |
//! | `herald_http_response_body_bytes_total` | counter | `route` |
//! | `herald_rebuilds_total` | counter | |
//! | `herald_rebuild_duration_seconds` | histogram | |
//! | `herald_posts`, `herald_feeds`, `herald_content_problems` | gauge | |
//! | `herald_rescans_total` | counter | full rescans of the content dir (watcher overflow or error, periodic, directory replaced) |
//! | `herald_content_read_errors_total` | counter | folders that could not be listed and files that could not be read (EMFILE, EACCES, EIO…), each time it happened |
//! | `herald_content_unreadable_paths` | gauge | paths served from their last good versions because they cannot be read now |
//! | `herald_config_reloads_total` | counter | `result` (applied, rejected) |
//! | `herald_last_rebuild_timestamp_seconds` | gauge | |
//! | `herald_purges_total` | counter | `outcome` (ok, failed, dropped): changed paths told to the caches in `purge:` |
//! | `herald_websub_subscriptions` | gauge | active subscriptions to the built-in hub |
//! | `herald_websub_deliveries_total` | counter | `outcome`: delivered, failed (to be retried), dropped (410, or failing too long), refused (a callback address the guard refused) |
//! | `herald_websub_delivery_latency_seconds` | histogram | change heard → callback answered 2xx |
//! | `herald_websub_pings_total` | counter | `outcome` (sent, failed): pings to external hubs |

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// What kind of resource a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// An RSS, Atom or JSON feed.
    Feed,
    /// The index page, the OPML list, `/feeds.json`.
    Listing,
    /// The health endpoint.
    Health,
    /// The metrics endpoint.
    Metrics,
    /// Unknown paths, and methods other than GET/HEAD.
    Other,
    /// The built-in WebSub hub (`/websub`).
    WebSub,
}

const ROUTES: [(Route, &str); 6] = [
    (Route::Feed, "feed"),
    (Route::Listing, "listing"),
    (Route::Health, "health"),
    (Route::Metrics, "metrics"),
    (Route::Other, "other"),
    (Route::WebSub, "websub"),
];

/// Outcomes of a WebSub delivery, each with a counter from the start.
const DELIVERY_OUTCOMES: [&str; 4] = ["delivered", "failed", "dropped", "refused"];

/// Status codes with a counter of their own; anything else is counted as `other`.
const STATUSES: [&str; 7] = ["200", "304", "404", "405", "503", "500", "other"];

fn status_slot(status: u16) -> usize {
    match status {
        200 => 0,
        304 => 1,
        404 => 2,
        405 => 3,
        503 => 4,
        500 => 5,
        _ => 6,
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

/// What the last rebuild left being served, for `/healthz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    pub posts: u64,
    pub feeds: u64,
    pub problems: u64,
    /// Paths served from their last good versions because they cannot be read now.
    pub unreadable: u64,
    /// Wall-clock time the last rebuild finished.
    pub last_rebuild: SystemTime,
    pub last_rebuild_duration: Duration,
    /// Serving the snapshot the last run stored while the content loads (a warm start):
    /// the counts are that run's.
    pub loading: bool,
}

/// The server's metrics. Shared (`Arc`) between the HTTP server and the owner loop.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: [[Counter; STATUSES.len()]; ROUTES.len()],
    bytes: [Counter; ROUTES.len()],
    rebuilds: Counter,
    rebuild_duration: Histogram,
    posts: Gauge,
    feeds: Gauge,
    problems: Gauge,
    rescans: Counter,
    read_errors: Counter,
    unreadable: Gauge,
    reloads: Family<ReloadLabels, Counter>,
    purges: Family<OutcomeLabels, Counter>,
    last_rebuild_seconds: Gauge,
    websub_subscriptions: Gauge,
    websub_deliveries: Family<OutcomeLabels, Counter>,
    websub_latency: Histogram,
    websub_pings: Family<OutcomeLabels, Counter>,
    /// Milliseconds since the Unix epoch of the last rebuild; 0 until the first one.
    last_rebuild_ms: AtomicU64,
    last_rebuild_micros: AtomicU64,
    /// When this value was made: the owner's heartbeats are measured from it.
    epoch: std::time::Instant,
    /// Milliseconds after `epoch` of the owner's last turn of its loop.
    owner_beat_ms: std::sync::atomic::AtomicI64,
    /// 1 from a warm start until the content is loaded.
    loading: Gauge,
}

/// The owner turns its loop at least this often when idle (see [`Metrics::owner_alive`]).
pub const OWNER_HEARTBEAT: Duration = Duration::from_secs(5);
/// An owner silent for this long is stalled: `/healthz` says so with a 503 (systemd's
/// watchdog, `WatchdogSec=30`, restarts it in the same time).
pub const OWNER_STALLED: Duration = Duration::from_secs(30);

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("herald");
        let requests_family = Family::<RequestLabels, Counter>::default();
        let requests = ROUTES.map(|(_, route)| {
            STATUSES
                .map(|status| requests_family.get_or_create_owned(&RequestLabels { route, status }))
        });
        registry.register(
            "http_requests",
            "HTTP requests answered, by route class and status",
            requests_family,
        );
        let bytes_family = Family::<RouteLabels, Counter>::default();
        let bytes =
            ROUTES.map(|(_, route)| bytes_family.get_or_create_owned(&RouteLabels { route }));
        registry.register(
            "http_response_body_bytes",
            "Response body bytes sent (as encoded on the wire, headers not included), by route class",
            bytes_family,
        );
        let rebuilds = Counter::default();
        registry.register(
            "rebuilds",
            "Rebuilds: a change to the content, scheduled posts coming due, a rescan or a reload",
            rebuilds.clone(),
        );
        // 1 ms … ~16 s.
        let rebuild_duration = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register(
            "rebuild_duration_seconds",
            "Time to apply a change and publish the next snapshot",
            rebuild_duration.clone(),
        );
        let posts = Gauge::default();
        registry.register("posts", "Posts in the index", posts.clone());
        let feeds = Gauge::default();
        registry.register(
            "feeds",
            "Feeds served (each in RSS, Atom and JSON Feed)",
            feeds.clone(),
        );
        let problems = Gauge::default();
        registry.register(
            "content_problems",
            "Content files that cannot be used (see `herald check`)",
            problems.clone(),
        );
        let rescans = Counter::default();
        registry.register(
            "rescans",
            "Full rescans of the content directory (watcher overflow or error, periodic, directory replaced)",
            rescans.clone(),
        );
        let read_errors = Counter::default();
        registry.register(
            "content_read_errors",
            "Folders that could not be listed and files that could not be read (EMFILE, EACCES, EIO…); their last good versions stay served",
            read_errors.clone(),
        );
        let unreadable = Gauge::default();
        registry.register(
            "content_unreadable_paths",
            "Paths under the content directory that cannot be read now, served from their last good versions",
            unreadable.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        for result in ["applied", "rejected"] {
            reloads.get_or_create_owned(&ReloadLabels { result });
        }
        registry.register(
            "config_reloads",
            "Configuration reloads (SIGHUP), by result",
            reloads.clone(),
        );
        let purges = Family::<OutcomeLabels, Counter>::default();
        for outcome in ["ok", "failed", "dropped"] {
            purges.get_or_create_owned(&OutcomeLabels { outcome });
        }
        registry.register(
            "purges",
            "Changed paths told to the caches in purge: (failed ones are retried; dropped ones gave up)",
            purges.clone(),
        );
        let last_rebuild_seconds = Gauge::default();
        registry.register(
            "last_rebuild_timestamp_seconds",
            "Unix time the last rebuild finished",
            last_rebuild_seconds.clone(),
        );
        let websub_subscriptions = Gauge::default();
        registry.register(
            "websub_subscriptions",
            "Active subscriptions to the built-in WebSub hub",
            websub_subscriptions.clone(),
        );
        let websub_deliveries = Family::<OutcomeLabels, Counter>::default();
        for outcome in DELIVERY_OUTCOMES {
            websub_deliveries.get_or_create_owned(&OutcomeLabels { outcome });
        }
        registry.register(
            "websub_deliveries",
            "WebSub deliveries to subscribers' callbacks, by outcome",
            websub_deliveries.clone(),
        );
        // 1 ms … ~16 s.
        let websub_latency = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register(
            "websub_delivery_latency_seconds",
            "Time from a change being heard to a subscriber's callback answering 2xx",
            websub_latency.clone(),
        );
        let websub_pings = Family::<OutcomeLabels, Counter>::default();
        for outcome in ["sent", "failed"] {
            websub_pings.get_or_create_owned(&OutcomeLabels { outcome });
        }
        registry.register(
            "websub_pings",
            "Publish pings to external WebSub hubs, by outcome",
            websub_pings.clone(),
        );
        let loading = Gauge::default();
        registry.register(
            "content_loading",
            "1 while the snapshot the last run stored is served and the content is still being loaded (a warm start)",
            loading.clone(),
        );
        Metrics {
            loading,
            registry,
            websub_subscriptions,
            websub_deliveries,
            websub_latency,
            websub_pings,
            requests,
            bytes,
            rebuilds,
            rebuild_duration,
            posts,
            feeds,
            problems,
            rescans,
            read_errors,
            unreadable,
            reloads,
            purges,
            last_rebuild_seconds,
            last_rebuild_ms: AtomicU64::new(0),
            last_rebuild_micros: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
            owner_beat_ms: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// The owner is turning its loop: called on every turn and after every rebuild.
    pub fn owner_beat(&self) {
        let ms = self.epoch.elapsed().as_millis() as i64;
        self.owner_beat_ms.store(ms, Ordering::Relaxed);
    }

    /// Pretends the owner last turned its loop `ago` (tests of what a stall looks like).
    #[cfg(test)]
    pub fn owner_beat_ago(&self, ago: Duration) {
        let ms = self.epoch.elapsed().as_millis() as i64 - ago.as_millis() as i64;
        self.owner_beat_ms.store(ms, Ordering::Relaxed);
    }

    /// How long since the owner last turned its loop; zero while a warm start's content
    /// loads (the owner starts after the load).
    pub fn owner_silence(&self) -> Duration {
        if self.loading.get() != 0 {
            return Duration::ZERO;
        }
        let silent =
            self.epoch.elapsed().as_millis() as i64 - self.owner_beat_ms.load(Ordering::Relaxed);
        Duration::from_millis(silent.max(0) as u64)
    }

    /// Counts one answered request. Two relaxed atomic additions, no allocation.
    pub fn request(&self, route: Route, status: u16, body_bytes: u64) {
        let r = route as usize;
        self.requests[r][status_slot(status)].inc();
        if body_bytes > 0 {
            self.bytes[r].inc_by(body_bytes);
        }
    }

    /// A warm start: the snapshot the last run stored is served (`elapsed` to read it),
    /// with that run's counts, until the first [`Metrics::rebuild`].
    pub fn warm_start(&self, elapsed: Duration, posts: u64, feeds: u64, problems: u64) {
        self.loading.set(1);
        self.record(elapsed, posts as i64, feeds as i64, problems as i64);
    }

    /// Records a finished rebuild and what it left being served.
    pub fn rebuild(&self, elapsed: Duration, posts: usize, feeds: usize, problems: usize) {
        self.owner_beat();
        self.loading.set(0);
        self.rebuilds.inc();
        self.rebuild_duration.observe(elapsed.as_secs_f64());
        self.record(elapsed, posts as i64, feeds as i64, problems as i64);
    }

    /// What is being served, for `/healthz` and the gauges.
    fn record(&self, elapsed: Duration, posts: i64, feeds: i64, problems: i64) {
        let now = SystemTime::now();
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        self.posts.set(posts);
        self.feeds.set(feeds);
        self.problems.set(problems);
        self.last_rebuild_seconds.set(since_epoch.as_secs() as i64);
        self.last_rebuild_micros
            .store(elapsed.as_micros() as u64, Ordering::Relaxed);
        // Written last: a reader that sees it also sees the values above.
        self.last_rebuild_ms
            .store((since_epoch.as_millis() as u64).max(1), Ordering::Release);
    }

    /// Counts a full rescan of the content directory.
    pub fn rescan(&self) {
        self.rescans.inc();
    }

    /// Counts read errors met since the last call, and how many paths are unreadable now.
    pub fn content_reads(&self, new_errors: u64, unreadable: usize) {
        self.read_errors.inc_by(new_errors);
        self.unreadable.set(unreadable as i64);
    }

    /// Counts a configuration reload.
    pub fn reload(&self, applied: bool) {
        let result = if applied { "applied" } else { "rejected" };
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
    }

    /// Counts paths purged and paths whose purge failed (to be retried).
    pub fn purged(&self, ok: usize, failed: usize) {
        for (outcome, n) in [("ok", ok), ("failed", failed)] {
            self.purges
                .get_or_create(&OutcomeLabels { outcome })
                .inc_by(n as u64);
        }
    }

    /// Counts paths given up on after retrying for long enough.
    pub fn purges_dropped(&self, n: usize) {
        self.purges
            .get_or_create(&OutcomeLabels { outcome: "dropped" })
            .inc_by(n as u64);
    }

    /// How many subscriptions the built-in hub holds.
    pub fn websub_subscriptions(&self, n: usize) {
        self.websub_subscriptions.set(n as i64);
    }

    /// Counts a delivery (or a refused callback) by outcome; `latency` for a delivered one.
    pub fn websub_delivery(&self, outcome: &'static str, latency: Option<Duration>) {
        self.websub_deliveries
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        if let Some(latency) = latency {
            self.websub_latency.observe(latency.as_secs_f64());
        }
    }

    /// Counts a ping to an external hub (`sent` or `failed`).
    pub fn websub_ping(&self, outcome: &'static str) {
        self.websub_pings
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// What is being served, or `None` before the first snapshot is published.
    pub fn health(&self) -> Option<Health> {
        let ms = self.last_rebuild_ms.load(Ordering::Acquire);
        if ms == 0 {
            return None;
        }
        let count = |g: &Gauge| g.get().max(0) as u64;
        Some(Health {
            posts: count(&self.posts),
            feeds: count(&self.feeds),
            problems: count(&self.problems),
            unreadable: count(&self.unreadable),
            last_rebuild: UNIX_EPOCH + Duration::from_millis(ms),
            last_rebuild_duration: Duration::from_micros(
                self.last_rebuild_micros.load(Ordering::Relaxed),
            ),
            loading: self.loading.get() != 0,
        })
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let m = Metrics::new();
        m.request(Route::Feed, 200, 1000);
        m.request(Route::Feed, 304, 0);
        m.request(Route::Other, 418, 5);
        let text = m.encode();
        assert!(
            text.contains("herald_http_requests_total{route=\"feed\",status=\"200\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("herald_http_requests_total{route=\"feed\",status=\"304\"} 1\n"));
        assert!(text.contains("herald_http_requests_total{route=\"other\",status=\"other\"} 1\n"));
        assert!(text.contains("herald_http_response_body_bytes_total{route=\"feed\"} 1000\n"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn the_route_table_is_in_enum_order() {
        for (i, (route, _)) in ROUTES.iter().enumerate() {
            assert_eq!(*route as usize, i);
        }
    }

    #[test]
    fn health_is_none_until_the_first_rebuild() {
        let m = Metrics::new();
        assert_eq!(m.health(), None);
        m.rebuild(Duration::from_millis(12), 7, 3, 1);
        let h = m.health().unwrap();
        assert_eq!((h.posts, h.feeds, h.problems), (7, 3, 1));
        assert_eq!(h.last_rebuild_duration, Duration::from_millis(12));
        let text = m.encode();
        assert!(text.contains("herald_rebuilds_total 1\n"), "{text}");
        assert!(text.contains("herald_posts 7\n"), "{text}");
        assert!(
            text.contains("herald_rebuild_duration_seconds_count 1\n"),
            "{text}"
        );
    }
}

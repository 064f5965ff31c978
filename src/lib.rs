//! Herald: a feed publisher daemon.
//!
//! Data flows one way, one module a step:
//!
//! ```text
//! site (config + content) ──source──▶ posts ──index──▶ feeds ──snapshot──▶ http
//!  (hugo, config; walk files)  (content: parse one file)  (feed: render)  (compressed, hashed, immutable)
//! ```
//!
//! - [`hugo`]: a Hugo site's own configuration, read and merged as Hugo does (never its content).
//! - [`config`]: the config file, its defaults and validation, merged over a Hugo site's settings.
//! - [`post`]: the parsed post every later step shares.
//! - [`content`]: `parse(path, bytes) -> Post`, pure: front matter, dates, Markdown, sanitizing.
//! - [`diagnostic`]: a problem or warning about one file (path, line, severity) and its printer.
//! - [`source`]: the only code that touches the content dir: walking, reading, watching.
//! - [`ids`]: which item id each post gets, so that it survives moves and renames.
//! - [`index`]: every current post; which feeds exist and which posts each holds.
//! - [`layout`]: the URL path of every feed, list and page, and its file in a build.
//! - [`feed`]: render one feed as RSS 2.0, Atom 1.0 or JSON Feed 1.1; the OPML list; the index page.
//! - [`snapshot`]: the immutable set of served resources, compressed and hashed once.
//! - [`publish`]: from an index to a snapshot, re-rendering only the feeds that changed.
//! - [`site`]: the served site's state (index, what each file looked like, publisher,
//!   snapshot handle); applies a set of changed paths or a rescan, then publishes.
//! - [`engine`]: the owner loop, off the HTTP runtime: watcher hints, the clock, rescans and
//!   reloads (SIGHUP) become rebuilds of the [`site`], coalesced and bounded.
//! - [`announce`]: which served paths each publish changed, for those who push them outward
//!   (WebSub, cache purges), merged while they are busy and never waited for.
//! - [`purge`]: tells the caches and CDNs in front (`purge:`) which paths changed.
//! - [`websub`]: push (WebSub): the built-in hub (subscribe, verify, deliver, persist) and
//!   pings to external hubs, fed by [`announce`], guarded against private callbacks.
//! - [`state`]: what survives a restart (validators, feeds and item ids ever published), in redb;
//!   beside it, the snapshot last served.
//! - [`persist`]: the served snapshot across restarts: stored after each publish, off the
//!   owner; served at the next start while the content loads (a warm start).
//! - [`output`]: `herald build`'s atomic write of a snapshot to a folder, with `.gz`/`.br` beside
//!   each compressed file, content-dated mtimes and nginx rules for the moves.
//! - [`http`]: routing, conditional GET, encoding choice, connection limits, graceful shutdown,
//!   and the health and metrics endpoints beside the feeds.
//! - [`metrics`]: request, rebuild and content counters for `/metrics` and `/healthz`.
//! - [`clock`]: what "now" is for scheduled posts; injectable for tests (`HERALD_NOW`).
//! - [`systemd`]: `sd_notify` (ready, status, reloading, stopping, watchdog) and socket activation.
//! - [`logging`]: `tracing` to stderr as text or JSON, journald-aware.

pub mod announce;
pub mod clock;
pub mod config;
pub mod content;
pub mod diagnostic;
pub mod engine;
pub mod feed;
pub mod http;
pub mod hugo;
pub mod ids;
pub mod index;
pub mod layout;
pub mod logging;
pub mod metrics;
pub mod output;
pub mod persist;
pub mod post;
pub mod publish;
pub mod purge;
pub mod site;
pub mod snapshot;
pub mod source;
pub mod state;
pub mod systemd;
pub mod websub;

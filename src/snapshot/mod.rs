//! The immutable set of served resources. A snapshot is built beside the one being served
//! and swapped in whole, so a request sees one consistent state from start to end.
//!
//! Each resource is compressed and hashed once, when it is built: a request only picks
//! bytes and headers that already exist.

use std::io::Write;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

mod compress;
pub mod encode;
pub(crate) use compress::lower_priority;
pub use compress::Compressor;

/// The served state: swapped whole by the owner, read by every request.
pub type SharedSnapshot = Arc<arc_swap::ArcSwap<Snapshot>>;
use chrono::{DateTime, FixedOffset};

/// Content codings Herald precomputes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// The token used in `Accept-Encoding` / `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Brotli => "br",
        }
    }
}

/// The bytes of one encoding of a resource, with the strong ETag of exactly those bytes.
#[derive(Debug, Clone)]
pub struct Representation {
    pub body: Bytes,
    /// Quoted strong entity tag, e.g. `"3f2a…-gz"` (ASCII, a valid header value).
    pub etag: Bytes,
}

/// One URL's content in every encoding, plus the validators and headers a response needs.
#[derive(Debug)]
///
/// Header texts are plain bytes, checked to be valid header values when built: HTTP types
/// belong to [`crate::http`], which turns them into headers.
pub struct Resource {
    pub content_type: &'static str,
    pub identity: Representation,
    /// Present only when compression pays; its bytes may still be in the making (see [`Late`]).
    pub gzip: Option<Late>,
    /// Present only when compression pays; its bytes may still be in the making (see [`Late`]).
    pub brotli: Option<Late>,
    /// Newest change in the content behind this resource, whole seconds.
    pub last_modified: Option<SystemTime>,
    /// `last_modified` formatted as an HTTP date.
    pub last_modified_header: Option<Bytes>,
    pub cache_control: Bytes,
    /// More response headers for this path (WebSub's `Link`, caches' `Surrogate-Key`…):
    /// lowercase names, values checked with [`is_header_text`]. Sent on 200 and 304 alike.
    pub headers: Vec<(&'static str, Bytes)>,
}

/// A compressed coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Gzip,
    Brotli,
}

impl Coding {
    fn compress(self, bytes: &[u8]) -> Representation {
        let (z, suffix) = match self {
            Coding::Gzip => (compress_gzip(bytes), "-gz"),
            Coding::Brotli => (compress_brotli(bytes), "-br"),
        };
        let mut z = z.expect("compressing into memory cannot fail");
        // Kept as long as it is served: without the spare capacity the output was sized with.
        z.shrink_to_fit();
        Representation {
            etag: etag_for(&z, suffix),
            body: Bytes::from(z),
        }
    }
}

/// A compressed representation that may be made after the resource is first served.
///
/// On an edit, rendering the changed feeds is cheap; compressing them is not (gzip costs
/// about twice the rendering, brotli ten times): the publisher serves the identity bytes at
/// once, and background threads make gzip, then brotli, with CPU nothing else wants.
///
/// Requests never wait: [`Resource::representation`] offers a coding only once its bytes
/// exist ([`Late::get`]). The first request for a coding still to be made gets another
/// coding and has this one made at normal priority ([`Resource::request`], once per
/// version however many ask), so while the CPU is busy only the codings readers ask for
/// are made, and soon. The bytes never change once set, so a served body and its ETag
/// always belong together, and a coding never disappears once offered. Dereferencing (`herald build`, tests) makes the bytes on
/// the calling thread if nobody has yet, or waits for the thread making them.
pub struct Late {
    source: Bytes,
    coding: Coding,
    cell: OnceLock<Representation>,
    /// Set once a request has asked for this coding to be made (see [`Resource::request`]):
    /// later requests do not ask again.
    asked: std::sync::atomic::AtomicBool,
}

impl Late {
    fn pending(source: Bytes, coding: Coding) -> Late {
        Late {
            source,
            coding,
            cell: OnceLock::new(),
            asked: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Compresses now; `None` when that would not make the body smaller.
    fn now(source: &Bytes, coding: Coding) -> Option<Late> {
        let made = coding.compress(source);
        (made.body.len() < source.len()).then(|| Late {
            source: Bytes::new(),
            coding,
            cell: OnceLock::from(made),
            asked: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A representation made earlier (read back from the stored snapshot).
    fn ready(coding: Coding, made: Representation) -> Late {
        Late {
            source: Bytes::new(),
            coding,
            cell: OnceLock::from(made),
            asked: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The representation if it has been made; never blocks.
    pub fn get(&self) -> Option<&Representation> {
        self.cell.get()
    }

    /// The representation, made now on this thread if nobody has made it yet.
    pub fn force(&self) -> &Representation {
        self.cell.get_or_init(|| self.coding.compress(&self.source))
    }

    /// Whether this is the first request to ask for the bytes while they are still to be
    /// made (only that one has them made).
    fn first_to_ask(&self) -> bool {
        self.cell.get().is_none() && !self.asked.swap(true, std::sync::atomic::Ordering::AcqRel)
    }

    /// Makes the bytes unless they exist, holding no lock anyone else waits on.
    fn make_unshared(&self) {
        if self.cell.get().is_none() {
            let _ = self.cell.set(self.coding.compress(&self.source));
        }
    }
}

impl Deref for Late {
    type Target = Representation;
    fn deref(&self) -> &Representation {
        self.force()
    }
}

impl std::fmt::Debug for Late {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.get() {
            Some(r) => r.fmt(f),
            None => write!(f, "Late({:?}, pending)", self.coding),
        }
    }
}

/// Bodies up to this size are compressed at once even when the rest is left for later:
/// it costs next to nothing, and tells exactly whether compression pays. Larger bodies
/// (feeds) always shrink in practice; if one does not, its coding is still correct, just
/// not smaller.
const COMPRESS_NOW_BELOW: usize = 8 * 1024;

/// Compression levels, chosen by measurement on this project's feeds (130-150 KB of RSS,
/// Atom and JSON; `tests/bench/run`, 2-core Xeon, zlib-rs and the brotli crate):
///
/// | coding | level | ms per MB | size / identity |
/// |---|---|---|---|
/// | gzip | 2 | 8.5 | 0.306 |
/// | gzip | **3** | 11 | 0.291 |
/// | gzip | 6 | 21 | 0.283 |
/// | gzip | 9 | 49 | 0.280 |
/// | brotli | 4 | 34 | 0.286 |
/// | brotli | **5** | 34-51 | 0.270 |
/// | brotli | 7 | 55-58 | 0.263 |
/// | brotli | 9 | 161 | 0.262 |
///
/// gzip is made right after each edit (up to 15 feed files), so it gets the level that
/// costs half of 6 for 3% more bytes. Brotli is made at low priority after it, and
/// `herald build` pays for both in full, so brotli gets the cheapest level that beats gzip.
/// The same level everywhere keeps `herald build` and `herald serve` byte-identical.
const GZIP_LEVEL: u32 = 3;
const BROTLI_QUALITY: i32 = 5;
/// Largest brotli window (4 MiB); smaller bodies get a window just big enough for them.
const BROTLI_MAX_WINDOW: u32 = 22;
const MIN_BROTLI_WINDOW: u32 = 17;

impl Resource {
    /// Builds a resource: compresses `body` with gzip and brotli and hashes every variant.
    pub fn new(
        content_type: &'static str,
        body: Bytes,
        last_modified: Option<DateTime<FixedOffset>>,
        cache_control: &Bytes,
    ) -> Resource {
        let gzip = Late::now(&body, Coding::Gzip);
        let brotli = Late::now(&body, Coding::Brotli);
        Resource::assemble(
            content_type,
            body,
            gzip,
            brotli,
            last_modified,
            cache_control,
        )
    }

    /// Like [`Resource::new`], but for a body above a few KiB only the identity bytes are
    /// made now: gzip and brotli are made by [`Resource::finish`] (the publisher's
    /// background threads) or on first dereference.
    pub fn with_late_compression(
        content_type: &'static str,
        body: Bytes,
        last_modified: Option<DateTime<FixedOffset>>,
        cache_control: &Bytes,
    ) -> Resource {
        if body.len() < COMPRESS_NOW_BELOW {
            return Resource::new(content_type, body, last_modified, cache_control);
        }
        let gzip = Some(Late::pending(body.clone(), Coding::Gzip));
        let brotli = Some(Late::pending(body.clone(), Coding::Brotli));
        Resource::assemble(
            content_type,
            body,
            gzip,
            brotli,
            last_modified,
            cache_control,
        )
    }

    /// Makes the gzip representation if it is still pending.
    pub fn finish_gzip(&self) {
        if let Some(late) = &self.gzip {
            late.force();
        }
    }

    /// Makes every representation that is still pending (gzip first).
    pub fn finish(&self) {
        self.finish_gzip();
        if let Some(late) = &self.brotli {
            late.force();
        }
    }

    /// Whether some representation is still to be made.
    pub fn is_pending(&self) -> bool {
        [&self.gzip, &self.brotli]
            .into_iter()
            .flatten()
            .any(|late| late.get().is_none())
    }

    fn assemble(
        content_type: &'static str,
        body: Bytes,
        gzip: Option<Late>,
        brotli: Option<Late>,
        last_modified: Option<DateTime<FixedOffset>>,
        cache_control: &Bytes,
    ) -> Resource {
        let identity = Representation {
            etag: etag_for(&body, ""),
            body,
        };
        Resource {
            content_type,
            identity,
            gzip,
            brotli,
            last_modified: None,
            last_modified_header: None,
            cache_control: cache_control.clone(),
            headers: Vec::new(),
        }
        .with_last_modified(last_modified.map(|t| t.timestamp()))
    }

    /// This resource with `Last-Modified` set to `secs` (Unix seconds; `None`: no header):
    /// the publisher decides it from what was served before (see [`crate::state`]).
    pub fn with_last_modified(mut self, secs: Option<i64>) -> Resource {
        // HTTP dates cannot express instants before 1970; clamp rather than wrap.
        self.last_modified = secs.map(|s| UNIX_EPOCH + Duration::from_secs(s.max(0) as u64));
        self.last_modified_header = self
            .last_modified
            .map(|t| Bytes::from(httpdate::fmt_http_date(t)));
        self
    }

    /// This resource with one more response header. `name` must be a lowercase header
    /// name; a `value` that is not valid header text is left out (and logged): a header
    /// is never worth a broken response.
    pub fn with_header(mut self, name: &'static str, value: impl Into<Bytes>) -> Resource {
        debug_assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "{name} is a lowercase header name"
        );
        let value = value.into();
        match std::str::from_utf8(&value) {
            Ok(text) if is_header_text(text) => self.headers.push((name, value)),
            _ => tracing::warn!(
                header = name,
                "left out a header whose value is not valid header text"
            ),
        }
        self
    }

    /// `Last-Modified` as Unix seconds.
    pub fn last_modified_secs(&self) -> Option<i64> {
        self.last_modified
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
    }

    /// Whether `other` would be served exactly as this: the same bytes (so the same
    /// compressed codings, which are a function of them), validators and headers. A
    /// publish keeps the resource it served before when its new rendering is the same.
    pub fn same_as(&self, other: &Resource) -> bool {
        self.identity.etag == other.identity.etag
            && self.identity.body == other.identity.body
            && self.content_type == other.content_type
            && self.last_modified == other.last_modified
            && self.cache_control == other.cache_control
            && self.headers == other.headers
            && self.gzip.is_some() == other.gzip.is_some()
            && self.brotli.is_some() == other.brotli.is_some()
    }

    /// Whether this resource has `encoding` at all: identity always; a compressed coding
    /// when compression pays, whether or not its bytes are made yet.
    pub fn offers(&self, encoding: Encoding) -> bool {
        match encoding {
            Encoding::Identity => true,
            Encoding::Gzip => self.gzip.is_some(),
            Encoding::Brotli => self.brotli.is_some(),
        }
    }

    /// A reader asked for `encoding`, which is still to be made: returns whether this is the
    /// first such request (the caller then has it made with [`Resource::make`], at normal
    /// priority, instead of waiting for the background threads).
    pub fn request(&self, encoding: Encoding) -> bool {
        self.late(encoding).is_some_and(Late::first_to_ask)
    }

    /// Makes the representation for `encoding` unless it exists, on this thread (it blocks
    /// for the compression: call it off the async runtime). Holds no lock a request or the
    /// background threads wait on; whoever finishes first sets the bytes (the same bytes).
    pub fn make(&self, encoding: Encoding) {
        if let Some(late) = self.late(encoding) {
            late.make_unshared();
        }
    }

    fn late(&self, encoding: Encoding) -> Option<&Late> {
        match encoding {
            Encoding::Identity => None,
            Encoding::Gzip => self.gzip.as_ref(),
            Encoding::Brotli => self.brotli.as_ref(),
        }
    }

    /// The representation for `encoding`, if Herald has one ready. Never blocks.
    pub fn representation(&self, encoding: Encoding) -> Option<&Representation> {
        match encoding {
            Encoding::Identity => Some(&self.identity),
            Encoding::Gzip => self.gzip.as_ref().and_then(Late::get),
            Encoding::Brotli => self.brotli.as_ref().and_then(Late::get),
        }
    }
}

/// Strong ETag: a 128-bit hash of the exact bytes, plus a suffix naming the coding so two
/// codings can never share a tag even if their bytes did.
fn etag_for(bytes: &[u8], suffix: &str) -> Bytes {
    let hash = xxhash_rust::xxh3::xxh3_128(bytes);
    Bytes::from(format!("\"{hash:032x}{suffix}\""))
}

/// Whether `text` can be sent as a header value as it is: visible ASCII, spaces and tabs.
pub fn is_header_text(text: &str) -> bool {
    text.bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

fn compress_gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    // The gzip header carries no mtime or file name here, so the output is deterministic.
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::new(GZIP_LEVEL),
    );
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

fn compress_brotli(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() / 3);
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        // A window just big enough for the whole body: the output depends only on the
        // bytes, and the encoder allocates (and the kernel zeroes) far less than the 4 MiB
        // default. Never below 2^17: at a 2^16 window and quality 5-9 the encoder switches
        // to its "forgetful chain" hasher, whose tables cost tens of MB of page faults per
        // call (measured: 223 ms/MB and 1.5 s of system time for a 1,000-post site, vs 73).
        lgwin: (usize::BITS - bytes.len().max(1).leading_zeros())
            .clamp(MIN_BROTLI_WINDOW, BROTLI_MAX_WINDOW) as i32,
        size_hint: bytes.len(),
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).ok()?;
    Some(out)
}

/// Everything served at one moment: URL path → resource. Never changes once built.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub resources: imbl::OrdMap<String, Arc<Resource>>,
    /// Paths that moved or were retired (from the config; the same in every snapshot).
    pub moves: Arc<Moves>,
    /// The output settings it was made with ([`crate::config::Settings::output_fingerprint`];
    /// 0: none): a stored snapshot is served at start only under the same settings.
    pub fingerprint: u128,
}

/// The operator's `redirects:` (old path → new path) and `retired_feeds:` (paths answered
/// `410 Gone`). A key ending in `/` covers everything under that folder, so one entry moves
/// or retires a feed in all its formats.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Moves {
    pub redirects: std::collections::BTreeMap<String, String>,
    pub retired: std::collections::BTreeSet<String>,
}

/// Where a path that is not served went.
#[derive(Debug, PartialEq, Eq)]
pub enum Moved {
    /// Retired for good: `410 Gone`.
    Gone,
    /// Moved: `301` to this path.
    To(String),
}

impl Moves {
    /// What became of `path`: a retired entry wins over a redirect; the longest matching
    /// entry wins among several.
    pub fn lookup(&self, path: &str) -> Option<Moved> {
        let covers =
            |entry: &str| path == entry || (entry.ends_with('/') && path.starts_with(entry));
        if self.retired.iter().any(|e| covers(e)) {
            return Some(Moved::Gone);
        }
        self.redirects
            .iter()
            .filter(|(from, _)| covers(from))
            .max_by_key(|(from, _)| from.len())
            .map(|(from, to)| {
                let rest = &path[from.len()..];
                Moved::To(if to.ends_with('/') {
                    format!("{to}{rest}")
                } else {
                    to.clone()
                })
            })
    }

    /// Whether the feed whose folder is `dir` (`categories/old/`) is retired.
    pub fn retires_feed(&self, dir: &str) -> bool {
        matches!(self.lookup(&format!("/{dir}rss.xml")), Some(Moved::Gone))
    }
}

impl Snapshot {
    /// The resource at a request path (`/rss.xml`, `/categories/rust/atom.xml`, `/`).
    pub fn get(&self, path: &str) -> Option<&Arc<Resource>> {
        self.resources.get(path)
    }

    /// Makes every pending representation now, on every core (for `herald build`).
    pub fn finish(&self) {
        let pending: Vec<&Arc<Resource>> =
            self.resources.values().filter(|r| r.is_pending()).collect();
        finish_all(&pending);
    }
}

/// Makes the pending representations of `resources`, on every core (rayon's pool). Taken
/// in reverse (rayon splits the reversed list between its threads), so a background
/// compressor working from the front mostly meets work these threads have not started.
pub fn finish_all(resources: &[&Arc<Resource>]) {
    use rayon::prelude::*;
    resources.par_iter().rev().for_each(|r| r.finish());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc() -> Bytes {
        Bytes::from_static(b"public, max-age=300")
    }

    #[test]
    fn same_bytes_same_etags_and_each_coding_has_its_own() {
        let body = Bytes::from("<rss>".repeat(200));
        let a = Resource::new(
            "application/rss+xml; charset=utf-8",
            body.clone(),
            None,
            &cc(),
        );
        let b = Resource::new("application/rss+xml; charset=utf-8", body, None, &cc());
        assert_eq!(a.identity.etag, b.identity.etag);
        assert_eq!(a.gzip.as_ref().unwrap().body, b.gzip.as_ref().unwrap().body);
        assert_eq!(
            a.brotli.as_ref().unwrap().body,
            b.brotli.as_ref().unwrap().body
        );
        let tags = [
            &a.identity.etag,
            &a.gzip.as_ref().unwrap().etag,
            &a.brotli.as_ref().unwrap().etag,
        ];
        assert_ne!(tags[0], tags[1]);
        assert_ne!(tags[1], tags[2]);
        assert_ne!(tags[0], tags[2]);
    }

    #[test]
    fn compressed_variants_decode_to_the_identity_bytes() {
        use std::io::Read;
        let body = Bytes::from("hello feed ".repeat(500));
        let r = Resource::new("text/html; charset=utf-8", body.clone(), None, &cc());
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&r.gzip.as_ref().unwrap().body[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        let mut out = Vec::new();
        brotli::Decompressor::new(&r.brotli.as_ref().unwrap().body[..], 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }

    #[test]
    fn tiny_bodies_are_not_served_compressed_when_that_would_grow_them() {
        let r = Resource::new(
            "text/html; charset=utf-8",
            Bytes::from_static(b"x"),
            None,
            &cc(),
        );
        assert!(r.gzip.is_none());
    }
}

#[cfg(test)]
mod moves_tests {
    use super::*;

    #[test]
    fn folders_move_and_retire_every_format_and_exact_paths_only_themselves() {
        let moves = Moves {
            redirects: [
                (
                    "/categories/old/".to_string(),
                    "/categories/new/".to_string(),
                ),
                ("/old.xml".to_string(), "/rss.xml".to_string()),
            ]
            .into(),
            retired: ["/categories/gone/".to_string()].into(),
        };
        assert_eq!(
            moves.lookup("/categories/old/atom.xml"),
            Some(Moved::To("/categories/new/atom.xml".into()))
        );
        assert_eq!(moves.lookup("/old.xml"), Some(Moved::To("/rss.xml".into())));
        assert_eq!(moves.lookup("/old.xml/x"), None);
        assert_eq!(
            moves.lookup("/categories/gone/feed.json"),
            Some(Moved::Gone)
        );
        assert_eq!(moves.lookup("/categories/older/rss.xml"), None);
        assert!(moves.retires_feed("categories/gone/"));
        assert!(!moves.retires_feed("categories/old/"));
    }
}

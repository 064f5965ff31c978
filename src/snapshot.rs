//! The immutable set of served resources. A snapshot is built beside the one being served
//! and swapped in whole, so a request sees one consistent state from start to end.
//!
//! Each resource is compressed and hashed once, when it is built: a request only picks
//! bytes and headers that already exist.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use chrono::{DateTime, FixedOffset};
use hyper::header::HeaderValue;

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
    /// Quoted strong entity tag, e.g. `"3f2a…-gz"`.
    pub etag: HeaderValue,
}

/// One URL's content in every encoding, plus the validators and headers a response needs.
#[derive(Debug)]
pub struct Resource {
    pub content_type: HeaderValue,
    pub identity: Representation,
    /// Present only when compression makes the body smaller.
    pub gzip: Option<Representation>,
    pub brotli: Option<Representation>,
    /// Newest change in the content behind this resource, whole seconds.
    pub last_modified: Option<SystemTime>,
    /// `last_modified` formatted as an HTTP date.
    pub last_modified_header: Option<HeaderValue>,
    pub cache_control: HeaderValue,
}

/// Brotli quality for precompression. 11 is far too slow to run on every rebuild;
/// 9 gives nearly the same size for feed-like text at a fraction of the time.
const BROTLI_QUALITY: u32 = 9;
const BROTLI_WINDOW: u32 = 22;

impl Resource {
    /// Builds a resource: compresses `body` with gzip and brotli and hashes every variant.
    pub fn new(
        content_type: &'static str,
        body: Bytes,
        last_modified: Option<DateTime<FixedOffset>>,
        cache_control: &HeaderValue,
    ) -> Resource {
        let identity = Representation {
            etag: etag_for(&body, ""),
            body,
        };
        let gzip = compress_gzip(&identity.body)
            .filter(|z| z.len() < identity.body.len())
            .map(|z| Representation {
                etag: etag_for(&z, "-gz"),
                body: Bytes::from(z),
            });
        let brotli = compress_brotli(&identity.body)
            .filter(|z| z.len() < identity.body.len())
            .map(|z| Representation {
                etag: etag_for(&z, "-br"),
                body: Bytes::from(z),
            });
        let last_modified = last_modified.map(|t| {
            let secs = t.timestamp();
            // HTTP dates cannot express instants before 1970; clamp rather than wrap.
            UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
        });
        let last_modified_header = last_modified.map(|t| {
            HeaderValue::from_str(&httpdate::fmt_http_date(t)).expect("HTTP dates are ASCII")
        });
        Resource {
            content_type: HeaderValue::from_static(content_type),
            identity,
            gzip,
            brotli,
            last_modified,
            last_modified_header,
            cache_control: cache_control.clone(),
        }
    }

    /// The representation for `encoding`, if Herald has one.
    pub fn representation(&self, encoding: Encoding) -> Option<&Representation> {
        match encoding {
            Encoding::Identity => Some(&self.identity),
            Encoding::Gzip => self.gzip.as_ref(),
            Encoding::Brotli => self.brotli.as_ref(),
        }
    }
}

/// Strong ETag: a 128-bit hash of the exact bytes, plus a suffix naming the coding so two
/// codings can never share a tag even if their bytes did.
fn etag_for(bytes: &[u8], suffix: &str) -> HeaderValue {
    let hash = xxhash_rust::xxh3::xxh3_128(bytes);
    HeaderValue::from_str(&format!("\"{hash:032x}{suffix}\"")).expect("hex is a valid header value")
}

fn compress_gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    // The gzip header carries no mtime or file name here, so the output is deterministic.
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::best(),
    );
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

fn compress_brotli(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() / 3);
    {
        let mut writer =
            brotli::CompressorWriter::new(&mut out, 64 * 1024, BROTLI_QUALITY, BROTLI_WINDOW);
        writer.write_all(bytes).ok()?;
        writer.flush().ok()?;
    }
    Some(out)
}

/// Everything served at one moment: URL path → resource. Never changes once built.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub resources: BTreeMap<String, Arc<Resource>>,
}

impl Snapshot {
    /// The resource at a request path (`/rss.xml`, `/categories/rust/atom.xml`, `/`).
    pub fn get(&self, path: &str) -> Option<&Arc<Resource>> {
        self.resources.get(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc() -> HeaderValue {
        HeaderValue::from_static("public, max-age=300")
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

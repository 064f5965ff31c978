//! One [`Resource`] as bytes and back, for the snapshot a run stores for the next one's
//! start ([`crate::persist`]): every coding's bytes, the validators and the headers.
//!
//! Length-prefixed fields (little-endian `u32` lengths) after a version tag. Reading checks
//! everything it can: each ETag is recomputed from its bytes (a flipped bit is caught, and
//! a served ETag is always the hash of what is served), names must be ones Herald serves,
//! and nothing may be left over. Any doubt is an error: the caller starts cold instead.

use bytes::Bytes;
use thiserror::Error;

use super::{etag_for, Coding, Late, Representation, Resource};

/// The first bytes of every encoded resource; a change of layout changes them.
const TAG: &[u8; 4] = b"HRS1";

/// Content types Herald serves (a decoded one must be one of them: the field is `&'static`).
const CONTENT_TYPES: &[&str] = &[
    "application/rss+xml; charset=utf-8",
    "application/atom+xml; charset=utf-8",
    "application/feed+json; charset=utf-8",
    "application/json; charset=utf-8",
    "text/x-opml; charset=utf-8",
    "text/html; charset=utf-8",
];

/// Extra header names Herald sends (see [`Resource::with_header`]).
const HEADER_NAMES: &[&str] = &["link", "surrogate-key", "cache-tag"];

/// Why stored bytes are not a resource.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("not a stored resource of this version")]
    Tag,
    #[error("cut short")]
    Truncated,
    #[error("{0} bytes left over")]
    Trailing(usize),
    #[error("unknown content type or header name {0:?}")]
    Unknown(String),
    #[error("a {0} ETag does not match its bytes")]
    Checksum(&'static str),
    #[error("a header value is not valid header text")]
    Header,
}

/// The bytes of `resource`, every coding included: one still pending is made now, on the
/// calling thread, as the background compressor makes it (holding nothing a request waits
/// on; whichever finishes first sets the bytes, which are the same).
pub fn encode(resource: &Resource) -> Vec<u8> {
    let size = resource.identity.body.len()
        + [&resource.gzip, &resource.brotli]
            .into_iter()
            .flatten()
            .map(|late| made(late).body.len())
            .sum::<usize>();
    let mut out = Vec::with_capacity(size + 512);
    out.extend_from_slice(TAG);
    put(&mut out, resource.content_type.as_bytes());
    match resource.last_modified_secs() {
        Some(secs) => {
            out.push(1);
            out.extend_from_slice(&secs.to_le_bytes());
        }
        None => out.push(0),
    }
    put(&mut out, &resource.cache_control);
    out.extend_from_slice(&(resource.headers.len() as u32).to_le_bytes());
    for (name, value) in &resource.headers {
        put(&mut out, name.as_bytes());
        put(&mut out, value);
    }
    put_representation(&mut out, &resource.identity);
    for late in [&resource.gzip, &resource.brotli] {
        match late {
            Some(late) => {
                out.push(1);
                put_representation(&mut out, made(late));
            }
            None => out.push(0),
        }
    }
    out
}

/// The resource `bytes` holds, as [`encode`] wrote it.
pub fn decode(bytes: &[u8]) -> Result<Resource, DecodeError> {
    let mut r = Reader { rest: bytes };
    if r.take(TAG.len())? != TAG {
        return Err(DecodeError::Tag);
    }
    let content_type = intern(CONTENT_TYPES, r.field()?)?;
    let last_modified = match r.byte()? {
        0 => None,
        _ => Some(i64::from_le_bytes(
            r.take(8)?.try_into().expect("eight bytes"),
        )),
    };
    let cache_control = header_value(r.field()?)?;
    let count = r.u32()? as usize;
    let mut headers = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let name = intern(HEADER_NAMES, r.field()?)?;
        headers.push((name, header_value(r.field()?)?));
    }
    let identity = r.representation("", "identity")?;
    let mut late = |coding: Coding, suffix: &str, what: &'static str| match r.byte()? {
        0 => Ok(None),
        _ => Ok(Some(Late::ready(coding, r.representation(suffix, what)?))),
    };
    let gzip = late(Coding::Gzip, "-gz", "gzip")?;
    let brotli = late(Coding::Brotli, "-br", "brotli")?;
    if !r.rest.is_empty() {
        return Err(DecodeError::Trailing(r.rest.len()));
    }
    Ok(Resource {
        content_type,
        identity,
        gzip,
        brotli,
        last_modified: None,
        last_modified_header: None,
        cache_control,
        headers,
    }
    .with_last_modified(last_modified))
}

fn made(late: &Late) -> &Representation {
    late.make_unshared();
    late.get().expect("made just now")
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u32).to_le_bytes());
    out.extend_from_slice(field);
}

fn put_representation(out: &mut Vec<u8>, rep: &Representation) {
    put(out, &rep.body);
    put(out, &rep.etag);
}

fn intern(known: &[&'static str], field: &[u8]) -> Result<&'static str, DecodeError> {
    known
        .iter()
        .find(|k| k.as_bytes() == field)
        .copied()
        .ok_or_else(|| DecodeError::Unknown(String::from_utf8_lossy(field).into_owned()))
}

fn header_value(field: &[u8]) -> Result<Bytes, DecodeError> {
    match std::str::from_utf8(field) {
        Ok(text) if super::is_header_text(text) => Ok(Bytes::copy_from_slice(field)),
        _ => Err(DecodeError::Header),
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("four bytes"),
        ))
    }

    fn field(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    /// Body and ETag; the ETag must be the hash of the body, as [`etag_for`] makes it.
    fn representation(
        &mut self,
        suffix: &str,
        what: &'static str,
    ) -> Result<Representation, DecodeError> {
        let body = self.field()?;
        let etag = self.field()?;
        let expected = etag_for(body, suffix);
        if etag != &expected[..] {
            return Err(DecodeError::Checksum(what));
        }
        Ok(Representation {
            body: Bytes::copy_from_slice(body),
            etag: expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed() -> Resource {
        let lm = chrono::DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").unwrap();
        Resource::with_late_compression(
            "application/rss+xml; charset=utf-8",
            Bytes::from("<item>x</item>".repeat(2000)),
            Some(lm),
            &Bytes::from_static(b"public, max-age=300"),
        )
        .with_header("surrogate-key", "all feed-x")
        .with_header("link", "<https://hub.example/>; rel=\"hub\"")
    }

    #[test]
    fn every_coding_validator_and_header_survives_and_pending_codings_are_made() {
        let original = feed();
        assert!(original.is_pending());
        let bytes = encode(&original);
        let back = decode(&bytes).unwrap();
        assert!(back.same_as(&original));
        assert!(!back.is_pending(), "read back with every coding made");
        for coding in [
            crate::snapshot::Encoding::Gzip,
            crate::snapshot::Encoding::Brotli,
        ] {
            let (a, b) = (
                original.representation(coding).unwrap(),
                back.representation(coding).unwrap(),
            );
            assert_eq!(a.body, b.body);
            assert_eq!(a.etag, b.etag);
        }
        assert_eq!(back.last_modified_header, original.last_modified_header);
        // A tiny body, for which compression does not pay, has no codings either way.
        let tiny = Resource::new(
            "text/html; charset=utf-8",
            Bytes::from_static(b"x"),
            None,
            &Bytes::new(),
        );
        let back = decode(&encode(&tiny)).unwrap();
        assert!(back.gzip.is_none() && back.last_modified.is_none());
        assert!(back.same_as(&tiny));
    }

    #[test]
    fn damaged_bytes_are_refused_never_misread() {
        let bytes = encode(&feed());
        for cut in [0, 3, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        let middle = flipped.len() / 3;
        flipped[middle] ^= 0x40;
        assert!(decode(&flipped).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer).err(), Some(DecodeError::Trailing(1)));
        let mut other = bytes;
        other[3] = b'9';
        assert_eq!(decode(&other).err(), Some(DecodeError::Tag));
    }
}

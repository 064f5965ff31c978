//! Conditional-request and content-negotiation headers: any bytes, in one or several
//! fields, never panic. The parsers are private to `herald::http`, so the very same source
//! files are compiled into this target.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::header::{HeaderMap, HeaderValue, ACCEPT_ENCODING, IF_MODIFIED_SINCE, IF_NONE_MATCH};
use libfuzzer_sys::fuzz_target;

#[path = "../../../src/http/conditional.rs"]
#[allow(dead_code)]
mod conditional;
#[path = "../../../src/http/negotiate.rs"]
#[allow(dead_code)]
mod negotiate;
mod snapshot {
    pub use herald::snapshot::Encoding;
}

fuzz_target!(|data: &[u8]| {
    // Fields separated by NUL; the first byte picks the header and what is available.
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let fields: Vec<&[u8]> = rest.split(|&b| b == 0).collect();
    let etag: &[u8] = if sel & 1 == 0 { b"\"abc123\"" } else { b"" };
    for field in &fields {
        let _ = conditional::if_none_match_matches(field, etag);
    }
    let _ = negotiate::choose(fields.iter().copied(), |e| match e {
        snapshot::Encoding::Brotli => sel & 2 == 0,
        snapshot::Encoding::Gzip => sel & 4 == 0,
        snapshot::Encoding::Identity => true,
    });
    let mut headers = HeaderMap::new();
    let name =
        [IF_NONE_MATCH, IF_MODIFIED_SINCE, ACCEPT_ENCODING][usize::from(sel >> 3) % 3].clone();
    for field in &fields {
        if let Ok(v) = HeaderValue::from_bytes(field) {
            headers.append(name.clone(), v);
        }
    }
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let last = if sel & 64 == 0 {
        Some(now - Duration::from_secs(3600))
    } else {
        None
    };
    let _ = conditional::is_not_modified(&headers, etag, last, now);
    let _ = conditional::is_not_modified(&headers, etag, Some(SystemTime::UNIX_EPOCH), now);
});

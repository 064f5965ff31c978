//! Conditional GET preconditions (RFC 9110 §13.1.2, §13.1.3, §13.2.2), as pure functions.
//!
//! Herald only serves GET and HEAD, so the only outcome besides "send the representation"
//! is 304 Not Modified. Semantics:
//! - `If-None-Match` (every field, comma-separated lists) is evaluated against the ETag of
//!   the representation selected for this request (the negotiated encoding's own tag),
//!   using the *weak* comparison: `W/"x"` matches `"x"`. `*` matches any current
//!   representation. Malformed elements (unquoted garbage, unterminated quotes) never
//!   match; they make nothing panic and do not hide valid tags earlier in the list.
//! - `If-Modified-Since` is evaluated only when no `If-None-Match` field is present. It
//!   needs exactly one field holding a valid HTTP-date (IMF-fixdate, RFC 850 or asctime),
//!   a resource with a Last-Modified, and a date not later than the server's clock (a
//!   future date is invalid per §13.1.3 and ignored). Not modified when
//!   `last_modified <= date` (both in whole seconds).

use std::time::SystemTime;

use hyper::header::{HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH};

/// True when the request's preconditions say the client's copy is current (answer 304).
///
/// `etag` is the quoted entity tag of the selected representation; `now` is only used to
/// reject `If-Modified-Since` dates from the future.
pub fn is_not_modified(
    headers: &HeaderMap,
    etag: &[u8],
    last_modified: Option<SystemTime>,
    now: SystemTime,
) -> bool {
    let mut if_none_match = headers.get_all(IF_NONE_MATCH).iter().peekable();
    if if_none_match.peek().is_some() {
        return if_none_match.any(|field| if_none_match_matches(field.as_bytes(), etag));
    }
    let Some(last_modified) = last_modified else {
        return false;
    };
    let mut since = headers.get_all(IF_MODIFIED_SINCE).iter();
    let (Some(field), None) = (since.next(), since.next()) else {
        return false; // absent, or more than one field: invalid, ignore
    };
    match field
        .to_str()
        .ok()
        .and_then(|s| httpdate::parse_http_date(s.trim()).ok())
    {
        Some(date) if date <= now => last_modified <= date,
        _ => false,
    }
}

/// Weak comparison of one `If-None-Match` field value against `etag`.
pub fn if_none_match_matches(field: &[u8], etag: &[u8]) -> bool {
    let ours = opaque(etag);
    let mut rest = field;
    loop {
        rest = skip_separators(rest);
        if rest.is_empty() {
            return false;
        }
        if rest[0] == b'*' && skip_ws(&rest[1..]).first().is_none_or(|&b| b == b',') {
            return true;
        }
        let candidate = rest.strip_prefix(b"W/").unwrap_or(rest);
        if candidate.first() == Some(&b'"') {
            match candidate[1..].iter().position(|&b| b == b'"') {
                Some(close) => {
                    let tag = &candidate[..close + 2];
                    if !ours.is_empty() && tag == ours {
                        return true;
                    }
                    rest = &candidate[close + 2..];
                    // Anything glued to the closing quote up to the next comma is garbage.
                    rest = skip_to_comma(rest);
                }
                None => return false, // unterminated quote: nothing after it can be parsed
            }
        } else {
            rest = skip_to_comma(rest); // malformed element: never matches
        }
    }
}

/// The quoted opaque-tag of an entity tag (drops a `W/` prefix); empty if malformed.
fn opaque(etag: &[u8]) -> &[u8] {
    let tag = etag.strip_prefix(b"W/").unwrap_or(etag);
    if tag.len() >= 2 && tag[0] == b'"' && tag[tag.len() - 1] == b'"' {
        tag
    } else {
        &[]
    }
}

fn skip_ws(bytes: &[u8]) -> &[u8] {
    let n = bytes
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    &bytes[n..]
}

fn skip_separators(bytes: &[u8]) -> &[u8] {
    let n = bytes
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t' || b == b',')
        .count();
    &bytes[n..]
}

fn skip_to_comma(bytes: &[u8]) -> &[u8] {
    let n = bytes.iter().position(|&b| b == b',').unwrap_or(bytes.len());
    &bytes[n..]
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use hyper::header::HeaderValue;

    use super::*;

    const TAG: &[u8] = b"\"abc123\"";

    fn inm(value: &str) -> bool {
        if_none_match_matches(value.as_bytes(), TAG)
    }

    #[test]
    fn if_none_match_exact_list_weak_and_star() {
        assert!(inm("\"abc123\""));
        assert!(inm("W/\"abc123\""));
        assert!(inm("\"x\", \"abc123\""));
        assert!(inm("\"x\",W/\"abc123\" , \"y\""));
        assert!(inm("*"));
        assert!(inm("  *  "));
        assert!(!inm("\"abc\""));
        assert!(!inm("\"abc123-gz\""));
        assert!(!inm("\"ABC123\""));
        assert!(!inm(""));
    }

    #[test]
    fn if_none_match_malformed_never_matches_or_panics() {
        assert!(!inm("abc123"));
        assert!(!inm("garbage"));
        assert!(!inm("\"abc123"));
        assert!(!inm("W/abc123"));
        assert!(!inm("w/\"abc123\"")); // W/ is case-sensitive
        assert!(!inm("\""));
        assert!(!inm("W/"));
        assert!(!inm("**"));
        assert!(!inm("\"\""));
        assert!(!inm(",,,"));
        // A garbage element doesn't hide a valid tag later in the list.
        assert!(inm("garbage, \"abc123\""));
        assert!(inm("\"x\"junk, \"abc123\""));
        // Commas inside quoted tags are part of the tag.
        assert!(!inm("\"abc,123\""));
        assert!(if_none_match_matches(b"\"a,b\"", b"\"a,b\""));
        // Our own tag malformed: nothing matches except `*`.
        assert!(!if_none_match_matches(b"abc", b"abc"));
        assert!(if_none_match_matches(b"*", b"abc"));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    // 1994-11-06T08:49:37Z
    const T: u64 = 784111777;
    const NOW: u64 = 1_700_000_000;

    fn check(pairs: &[(&'static str, &str)], last_modified: Option<u64>) -> bool {
        is_not_modified(&headers(pairs), TAG, last_modified.map(at), at(NOW))
    }

    #[test]
    fn no_preconditions_means_modified() {
        assert!(!check(&[], Some(T)));
        assert!(!check(&[], None));
    }

    #[test]
    fn if_modified_since_all_date_formats() {
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert!(check(&[("if-modified-since", date)], Some(T)), "{date}");
            assert!(check(&[("if-modified-since", date)], Some(T - 1)), "{date}");
            assert!(
                !check(&[("if-modified-since", date)], Some(T + 1)),
                "{date}"
            );
        }
    }

    #[test]
    fn if_modified_since_invalid_future_missing_or_repeated_is_ignored() {
        assert!(!check(&[("if-modified-since", "yesterday")], Some(T)));
        assert!(!check(&[("if-modified-since", "")], Some(T)));
        assert!(!check(
            &[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")],
            None
        ));
        let future = httpdate::fmt_http_date(at(NOW + 3600));
        assert!(!check(&[("if-modified-since", &future)], Some(T)));
        let now = httpdate::fmt_http_date(at(NOW));
        assert!(check(&[("if-modified-since", &now)], Some(T)));
        assert!(!check(
            &[
                ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"),
                ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")
            ],
            Some(T)
        ));
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        let ims = ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT");
        assert!(!check(&[("if-none-match", "\"other\""), ims], Some(T)));
        assert!(check(
            &[("if-none-match", "\"abc123\""), ims],
            Some(T + 100)
        ));
        assert!(!check(&[("if-none-match", "garbage"), ims], Some(T)));
    }

    #[test]
    fn if_none_match_across_several_fields() {
        assert!(check(
            &[
                ("if-none-match", "\"x\""),
                ("if-none-match", "W/\"abc123\"")
            ],
            None
        ));
        assert!(!check(
            &[("if-none-match", "\"x\""), ("if-none-match", "\"y\"")],
            None
        ));
    }
}

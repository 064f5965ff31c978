//! Builds the response for one request against one snapshot: method handling, routing,
//! encoding choice, conditional GET and headers. Pure apart from the clock passed in.
//!
//! Semantics:
//! - Methods: GET and HEAD. Anything else → `405 Method Not Allowed` with
//!   `Allow: GET, HEAD`, for every path (the whole server is read-only, so the method is
//!   checked before the path).
//! - Routing: the URI path without query string, looked up exactly in the snapshot.
//!   Unknown → `404 Not Found`, a short `text/plain` body and
//!   `Cache-Control: public, max-age=60` (short enough that a feed appearing on the next
//!   rebuild is picked up quickly, long enough to absorb a misconfigured poller).
//! - 200: `Content-Type`, `ETag` of the chosen representation, `Last-Modified` (if
//!   known), `Cache-Control`, `Vary: Accept-Encoding`, `Content-Encoding` unless identity,
//!   `Content-Length`.
//! - 304 (see [`super::conditional`]): `ETag`, `Last-Modified`, `Cache-Control`, `Vary`;
//!   no body, no `Content-Length`, and the body bytes are never touched.
//! - HEAD: exactly the GET headers, including the `Content-Length` of the body GET would
//!   send, with an empty body.
//!
//! The body is a cheap reference-counted clone of the snapshot's precomputed bytes.

use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT_ENCODING, ALLOW, CACHE_CONTROL, CONTENT_ENCODING,
    CONTENT_LENGTH, CONTENT_TYPE, ETAG, LAST_MODIFIED, LOCATION, RETRY_AFTER, VARY,
};
use hyper::{Method, Request, Response, StatusCode};

use super::{conditional, negotiate};
use crate::metrics::Route;
use crate::snapshot::{Encoding, Moved, Resource, Snapshot};

/// The response body type: always fully in memory.
pub type Body = Full<Bytes>;

const ALLOW_VALUE: HeaderValue = HeaderValue::from_static("GET, HEAD");
const VARY_VALUE: HeaderValue = HeaderValue::from_static("Accept-Encoding");
const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const ERROR_CACHE_CONTROL: HeaderValue = HeaderValue::from_static("public, max-age=60");
const GZIP: HeaderValue = HeaderValue::from_static("gzip");
const BR: HeaderValue = HeaderValue::from_static("br");

/// Answers `req` from `snapshot`. `now` is only used to reject future `If-Modified-Since`.
#[cfg(test)]
pub fn respond<B>(req: &Request<B>, snapshot: &Snapshot, now: SystemTime) -> Response<Body> {
    respond_classified(req, snapshot, now).0
}

/// Answers `req` from `snapshot`, and says what kind of resource it was for (for the
/// metrics). `now` is only used to reject future `If-Modified-Since`.
pub fn respond_classified<B>(
    req: &Request<B>,
    snapshot: &Snapshot,
    now: SystemTime,
) -> (Response<Body>, Route) {
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => return (method_not_allowed(), Route::Other),
    };
    match snapshot.get(req.uri().path()) {
        Some(resource) => (
            serve_resource(req.headers(), resource, head, now),
            route_of(resource),
        ),
        None => match snapshot.moves.lookup(req.uri().path()) {
            Some(Moved::Gone) => (gone(head), Route::Other),
            Some(Moved::To(to)) => (moved(&to, head), Route::Other),
            None => (not_found(head), Route::Other),
        },
    }
}

/// Feeds are told apart from the listings (index page, OPML, `/feeds.json`) by their media
/// type: a prefix comparison on bytes already in the snapshot.
fn route_of(resource: &Resource) -> Route {
    const FEED_TYPES: [&[u8]; 3] = [
        b"application/rss+xml",
        b"application/atom+xml",
        b"application/feed+json",
    ];
    let content_type = resource.content_type.as_bytes();
    if FEED_TYPES.iter().any(|t| content_type.starts_with(t)) {
        Route::Feed
    } else {
        Route::Listing
    }
}

fn serve_resource(
    headers: &HeaderMap,
    resource: &Resource,
    head: bool,
    now: SystemTime,
) -> Response<Body> {
    let encoding = negotiate::choose(
        headers
            .get_all(ACCEPT_ENCODING)
            .iter()
            .map(HeaderValue::as_bytes),
        |e| resource.representation(e).is_some(),
    );
    let (encoding, representation) = match resource.representation(encoding) {
        Some(representation) => (encoding, representation),
        None => (Encoding::Identity, &resource.identity),
    };

    let mut response = Response::new(Body::default());
    // Room for every header at once: growing the map as they come reallocated it twice.
    *response.headers_mut() = HeaderMap::with_capacity(12 + resource.headers.len());
    let h = response.headers_mut();
    h.insert(ETAG, header(&representation.etag));
    if let Some(last_modified) = &resource.last_modified_header {
        h.insert(LAST_MODIFIED, header(last_modified));
    }
    h.insert(CACHE_CONTROL, header(&resource.cache_control));
    h.insert(VARY, VARY_VALUE);
    for (name, value) in &resource.headers {
        h.append(HeaderName::from_static(name), checked_header(value));
    }

    if conditional::is_not_modified(headers, &representation.etag, resource.last_modified, now) {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return response;
    }

    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(resource.content_type),
    );
    match encoding {
        Encoding::Identity => {}
        Encoding::Gzip => {
            h.insert(CONTENT_ENCODING, GZIP);
        }
        Encoding::Brotli => {
            h.insert(CONTENT_ENCODING, BR);
        }
    }
    h.insert(CONTENT_LENGTH, HeaderValue::from(representation.body.len()));
    if !head {
        *response.body_mut() = Full::new(representation.body.clone());
    }
    response
}

/// A header from text the snapshot checked when it was built (a refcount, no copy).
fn header(text: &Bytes) -> HeaderValue {
    HeaderValue::from_maybe_shared(text.clone()).unwrap_or(HeaderValue::from_static(""))
}

/// A header from [`Resource::headers`], whose texts the snapshot checked with
/// [`crate::snapshot::is_header_text`] (visible ASCII, spaces, tabs) when it was built: not
/// checked again byte by byte on every request (a feed's `Surrogate-Key` and `Cache-Tag`
/// run to kilobytes, and checking them was the largest cost of a request outside the kernel).
fn checked_header(text: &Bytes) -> HeaderValue {
    debug_assert!(std::str::from_utf8(text).is_ok_and(crate::snapshot::is_header_text));
    // SAFETY: visible ASCII, spaces and tabs are all valid header value bytes.
    unsafe { HeaderValue::from_maybe_shared_unchecked(text.clone()) }
}

/// A feed retired on purpose: subscribers' readers drop it instead of retrying forever.
fn gone(head: bool) -> Response<Body> {
    simple(StatusCode::GONE, "gone: this feed was retired\n", head)
}

/// A feed that moved: readers follow it (and most update the subscription).
fn moved(to: &str, head: bool) -> Response<Body> {
    let mut response = simple(StatusCode::MOVED_PERMANENTLY, "moved permanently\n", head);
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

fn not_found(head: bool) -> Response<Body> {
    simple(StatusCode::NOT_FOUND, "not found\n", head)
}

/// The answer on a reserve connection (every permit taken) to anything but the health and
/// metrics endpoints: come back in a second. Never cached.
pub fn busy() -> Response<Body> {
    let mut response = simple(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy: too many connections, try again shortly\n",
        false,
    );
    let h = response.headers_mut();
    h.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn method_not_allowed() -> Response<Body> {
    // Never a HEAD request (HEAD is allowed), so the body is always sent.
    let mut response = simple(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed\n",
        false,
    );
    response.headers_mut().insert(ALLOW, ALLOW_VALUE);
    response
}

fn simple(status: StatusCode, text: &'static str, head: bool) -> Response<Body> {
    let mut response = Response::new(if head {
        Body::default()
    } else {
        Full::new(Bytes::from_static(text.as_bytes()))
    });
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, TEXT_PLAIN);
    h.insert(CACHE_CONTROL, ERROR_CACHE_CONTROL);
    h.insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::DateTime;

    use super::*;

    fn snapshot() -> Snapshot {
        let cc = Bytes::from_static(b"public, max-age=300");
        let lm = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").unwrap();
        let mut s = Snapshot::default();
        let feed = Resource::new(
            "application/rss+xml; charset=utf-8",
            Bytes::from("<item/>".repeat(300)),
            Some(lm),
            &cc,
        );
        s.resources.insert("/rss.xml".into(), Arc::new(feed));
        s.resources.insert(
            "/tiny".into(),
            Arc::new(Resource::new(
                "text/plain",
                Bytes::from_static(b"x"),
                None,
                &cc,
            )),
        );
        s
    }

    fn req(method: Method, uri: &str, headers: &[(&'static str, &str)]) -> Request<()> {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn query_string_is_ignored_for_routing() {
        let r = respond(
            &req(Method::GET, "/rss.xml?x=1", &[]),
            &snapshot(),
            SystemTime::now(),
        );
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn absolute_form_uri_routes_by_path() {
        let r = respond(
            &req(Method::GET, "http://example.org/rss.xml", &[]),
            &snapshot(),
            SystemTime::now(),
        );
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn requests_are_classified_for_the_metrics() {
        let now = SystemTime::now();
        let class =
            |m: Method, uri: &str| respond_classified(&req(m, uri, &[]), &snapshot(), now).1;
        assert_eq!(class(Method::GET, "/rss.xml"), Route::Feed);
        assert_eq!(class(Method::HEAD, "/tiny"), Route::Listing);
        assert_eq!(class(Method::GET, "/nope"), Route::Other);
        assert_eq!(class(Method::POST, "/rss.xml"), Route::Other);
    }

    #[test]
    fn options_is_not_allowed() {
        let r = respond(
            &req(Method::OPTIONS, "*", &[]),
            &snapshot(),
            SystemTime::now(),
        );
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[ALLOW], "GET, HEAD");
    }

    #[test]
    fn not_modified_has_validators_and_no_entity_headers() {
        let s = snapshot();
        let etag = s
            .get("/rss.xml")
            .unwrap()
            .gzip
            .as_ref()
            .unwrap()
            .etag
            .clone();
        let r = respond(
            &req(
                Method::GET,
                "/rss.xml",
                &[
                    ("accept-encoding", "gzip"),
                    ("if-none-match", std::str::from_utf8(&etag).unwrap()),
                ],
            ),
            &s,
            SystemTime::now(),
        );
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(r.headers()[ETAG].as_bytes(), &etag[..]);
        assert!(r.headers().get(CONTENT_LENGTH).is_none());
        assert!(r.headers().get(CONTENT_ENCODING).is_none());
        assert!(r.headers().contains_key(LAST_MODIFIED));
    }

    #[test]
    fn tiny_resource_is_identity_even_when_br_requested() {
        let r = respond(
            &req(Method::GET, "/tiny", &[("accept-encoding", "br, gzip")]),
            &snapshot(),
            SystemTime::now(),
        );
        assert!(r.headers().get(CONTENT_ENCODING).is_none());
        assert_eq!(r.headers()[CONTENT_LENGTH], "1");
    }
}

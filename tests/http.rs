//! Integration tests for `herald::http::serve`: the real server on 127.0.0.1:0, spoken to
//! with hyper's client connection and, for malformed or slow clients, raw TCP. Every
//! await is bounded by a timeout so a hang fails the test instead of stalling the run.

use std::future::Future;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use chrono::DateTime;
use herald::http::{serve, serve_with, HttpSettings, Ops, SharedSnapshot, OPS_RESERVE};
use herald::metrics::Metrics;
use herald::snapshot::{Representation, Resource, Snapshot};
use http_body_util::{BodyExt, Empty};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The snapshot keeps header texts as bytes; tests compare them with header strings.
trait Text {
    fn text(&self) -> Result<&str, std::str::Utf8Error>;
}

impl Text for Bytes {
    fn text(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(self)
    }
}

const STEP: Duration = Duration::from_secs(5);
const LAST_MODIFIED: &str = "Wed, 01 May 2024 12:00:00 GMT";
const CACHE_CONTROL: &str = "public, max-age=300";

async fn bounded<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(STEP, f).await {
        Ok(out) => out,
        Err(_) => panic!("timed out: {what}"),
    }
}

fn feed_body(version: &str) -> Bytes {
    let mut s =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>");
    s.push_str(&format!("<title>Herald {version}</title>"));
    let mut i = 0;
    while s.len() < 10_000 {
        s.push_str(&format!(
            "<item><title>Post number {i}</title><link>https://example.org/posts/{i}</link><guid>urn:post:{i}</guid></item>\n"
        ));
        i += 1;
    }
    s.push_str("</channel></rss>\n");
    Bytes::from(s)
}

fn make_snapshot(version: &str) -> Snapshot {
    let cc = Bytes::from_static(CACHE_CONTROL.as_bytes());
    let lm = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").unwrap();
    let mut s = Snapshot::default();
    let rss = Resource::new(
        "application/rss+xml; charset=utf-8",
        feed_body(version),
        Some(lm),
        &cc,
    );
    s.resources.insert("/rss.xml".into(), Arc::new(rss));
    s.resources.insert(
        "/tiny".into(),
        Arc::new(Resource::new(
            "text/plain; charset=utf-8",
            Bytes::from_static(b"x"),
            None,
            &cc,
        )),
    );
    let html = Bytes::from(format!(
        "<!doctype html><title>Herald {version}</title><p>{}</p>",
        "feeds ".repeat(100)
    ));
    s.resources.insert(
        "/".into(),
        Arc::new(Resource::new(
            "text/html; charset=utf-8",
            html,
            Some(lm),
            &cc,
        )),
    );
    s
}

fn settings() -> HttpSettings {
    HttpSettings {
        max_connections: 16,
        header_read_timeout: Duration::from_secs(5),
        keep_alive_timeout: Duration::from_secs(5),
        shutdown_grace: Duration::from_secs(2),
    }
}

struct Server {
    addr: SocketAddr,
    snapshot: SharedSnapshot,
    shutdown: Option<oneshot::Sender<()>>,
    handle: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(settings: HttpSettings) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let snapshot: SharedSnapshot = Arc::new(ArcSwap::from_pointee(make_snapshot("v1")));
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(serve(listener, snapshot.clone(), settings, async move {
            let _ = rx.await;
        }));
        Server {
            addr,
            snapshot,
            shutdown: Some(tx),
            handle,
        }
    }

    async fn stop(mut self) {
        let _ = self.shutdown.take().unwrap().send(());
        bounded("serve to return", &mut self.handle)
            .await
            .unwrap()
            .unwrap();
    }

    fn resource(&self, path: &str) -> Arc<Resource> {
        self.snapshot.load().get(path).unwrap().clone()
    }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// One request on a fresh connection through hyper's client.
async fn send(addr: SocketAddr, method: Method, path: &str, headers: &[(&str, &str)]) -> Resp {
    let stream = bounded("connect", TcpStream::connect(addr)).await.unwrap();
    let (mut sender, conn) = bounded(
        "handshake",
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = bounded(
        "response",
        sender.send_request(builder.body(Empty::<Bytes>::new()).unwrap()),
    )
    .await
    .unwrap();
    let (parts, body) = response.into_parts();
    let body = bounded("body", body.collect()).await.unwrap().to_bytes();
    Resp {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Resp {
    send(addr, Method::GET, path, headers).await
}

/// Reads from a raw stream until EOF (or error), bounded by `limit`. Returns the bytes and
/// whether the peer closed the connection within the limit.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (out, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads a raw response to a HEAD request (it ends with the blank line).
async fn read_head_response(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while !out.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = bounded("raw response", stream.read(&mut buf))
            .await
            .unwrap();
        assert!(
            n > 0,
            "connection closed before the response: {:?}",
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(out).unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn get_returns_the_resource_with_all_headers() {
    let server = Server::start(settings()).await;
    let r = get(server.addr, "/rss.xml", &[]).await;
    let resource = server.resource("/rss.xml");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, resource.identity.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/rss+xml; charset=utf-8")
    );
    assert_eq!(
        r.header("etag"),
        Some(resource.identity.etag.text().unwrap())
    );
    assert_eq!(r.header("last-modified"), Some(LAST_MODIFIED));
    assert_eq!(r.header("cache-control"), Some(CACHE_CONTROL));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(
        r.header("content-length"),
        Some(resource.identity.body.len().to_string().as_str())
    );
    assert_eq!(r.header("content-encoding"), None);
    assert!(r.headers.contains_key("date"));

    let root = get(server.addr, "/", &[]).await;
    assert_eq!(root.status, StatusCode::OK);
    assert_eq!(
        root.header("content-type"),
        Some("text/html; charset=utf-8")
    );

    // The query string does not take part in routing.
    let q = get(server.addr, "/rss.xml?utm_source=reader", &[]).await;
    assert_eq!(q.status, StatusCode::OK);
    assert_eq!(q.body, resource.identity.body);
    server.stop().await;
}

#[tokio::test]
async fn head_has_the_get_headers_and_no_body() {
    let server = Server::start(settings()).await;
    for accept in ["", "gzip", "br"] {
        let g = get(server.addr, "/rss.xml", &[("accept-encoding", accept)]).await;
        let h = send(
            server.addr,
            Method::HEAD,
            "/rss.xml",
            &[("accept-encoding", accept)],
        )
        .await;
        assert_eq!(h.status, StatusCode::OK);
        assert!(h.body.is_empty());
        let mut gh = g.headers.clone();
        let mut hh = h.headers.clone();
        gh.remove("date");
        hh.remove("date");
        assert_eq!(gh, hh, "accept-encoding: {accept}");
        assert_eq!(
            h.header("content-length"),
            Some(g.body.len().to_string().as_str())
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn unknown_path_is_404() {
    let server = Server::start(settings()).await;
    for path in ["/nope", "/rss.xml/", "/RSS.XML", "/index.html"] {
        let r = get(server.addr, path, &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert!(!r.body.is_empty());
    }
    let h = send(server.addr, Method::HEAD, "/nope", &[]).await;
    assert_eq!(h.status, StatusCode::NOT_FOUND);
    assert!(h.body.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let server = Server::start(settings()).await;
    for method in [
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
    ] {
        for path in ["/rss.xml", "/nope"] {
            let r = send(server.addr, method.clone(), path, &[]).await;
            assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_eq!(r.header("allow"), Some("GET, HEAD"));
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn if_none_match_variants() {
    let server = Server::start(settings()).await;
    let etag = server
        .resource("/rss.xml")
        .identity
        .etag
        .text()
        .unwrap()
        .to_owned();
    let weak = format!("W/{etag}");
    let list = format!("\"nope\", {etag}, \"other\"");
    let weak_list = format!("\"nope\",{weak}");
    let unquoted = etag.trim_matches('"').to_owned();
    let cases: &[(&str, StatusCode)] = &[
        (&etag, StatusCode::NOT_MODIFIED),
        (&list, StatusCode::NOT_MODIFIED),
        (&weak, StatusCode::NOT_MODIFIED),
        (&weak_list, StatusCode::NOT_MODIFIED),
        ("*", StatusCode::NOT_MODIFIED),
        ("\"nope\"", StatusCode::OK),
        ("\"nope\", W/\"other\"", StatusCode::OK),
        (&unquoted, StatusCode::OK),
        ("garbage ,, \"", StatusCode::OK),
        ("", StatusCode::OK),
    ];
    for (value, expected) in cases {
        let r = get(server.addr, "/rss.xml", &[("if-none-match", value)]).await;
        assert_eq!(r.status, *expected, "If-None-Match: {value}");
        let h = send(
            server.addr,
            Method::HEAD,
            "/rss.xml",
            &[("if-none-match", value)],
        )
        .await;
        assert_eq!(h.status, *expected, "HEAD If-None-Match: {value}");
    }
    server.stop().await;
}

#[tokio::test]
async fn not_modified_carries_validators_and_no_body() {
    let server = Server::start(settings()).await;
    let resource = server.resource("/rss.xml");
    let etag = resource.identity.etag.text().unwrap();
    let r = get(server.addr, "/rss.xml", &[("if-none-match", etag)]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(r.header("etag"), Some(etag));
    assert_eq!(r.header("last-modified"), Some(LAST_MODIFIED));
    assert_eq!(r.header("cache-control"), Some(CACHE_CONTROL));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("content-encoding"), None);
    assert!(r.body.is_empty());

    // On the wire too: the headers end the message, keep-alive works for the next request.
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    let req = format!("GET /rss.xml HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\nHEAD /tiny HTTP/1.1\r\nHost: x\r\n\r\n");
    raw.write_all(req.as_bytes()).await.unwrap();
    let first = read_head_response(&mut raw).await;
    assert!(first.starts_with("HTTP/1.1 304"), "{first}");
    if !first.contains("HTTP/1.1 200") {
        let second = read_head_response(&mut raw).await;
        assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_resource_s_own_headers_are_sent_on_200_and_304_and_a_bad_one_is_left_out() {
    let server = Server::start(settings()).await;
    let mut snapshot = make_snapshot("v1");
    let cc = Bytes::from_static(CACHE_CONTROL.as_bytes());
    let feed = Resource::new("application/atom+xml", feed_body("h"), None, &cc)
        .with_header("link", "<http://127.0.0.1/hub>; rel=\"hub\"")
        .with_header("link", "<http://127.0.0.1/atom.xml>; rel=\"self\"")
        .with_header("surrogate-key", "bad\nvalue");
    snapshot.resources.insert("/h.xml".into(), Arc::new(feed));
    server.snapshot.store(Arc::new(snapshot));
    let r = get(server.addr, "/h.xml", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let links: Vec<&str> = r
        .headers
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        links,
        [
            "<http://127.0.0.1/hub>; rel=\"hub\"",
            "<http://127.0.0.1/atom.xml>; rel=\"self\""
        ]
    );
    assert_eq!(r.header("surrogate-key"), None);
    let etag = r.header("etag").unwrap().to_owned();
    let r = get(server.addr, "/h.xml", &[("if-none-match", &etag)]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers.get_all("link").iter().count(), 2);
    server.stop().await;
}

#[tokio::test]
async fn if_modified_since() {
    let server = Server::start(settings()).await;
    let cases: &[(&str, StatusCode)] = &[
        (LAST_MODIFIED, StatusCode::NOT_MODIFIED),
        (
            "Wednesday, 01-May-24 12:00:00 GMT",
            StatusCode::NOT_MODIFIED,
        ),
        ("Wed May  1 12:00:00 2024", StatusCode::NOT_MODIFIED),
        ("Thu, 02 May 2024 08:00:00 GMT", StatusCode::NOT_MODIFIED),
        ("Wed, 01 May 2024 11:59:59 GMT", StatusCode::OK),
        ("Mon, 01 Jan 2018 00:00:00 GMT", StatusCode::OK),
        ("not a date", StatusCode::OK),
        ("2024-05-02T00:00:00Z", StatusCode::OK),
        // Later than the server's clock: invalid, ignored.
        ("Fri, 01 Jan 2100 00:00:00 GMT", StatusCode::OK),
    ];
    for (date, expected) in cases {
        let r = get(server.addr, "/rss.xml", &[("if-modified-since", date)]).await;
        assert_eq!(r.status, *expected, "If-Modified-Since: {date}");
        if *expected == StatusCode::NOT_MODIFIED {
            assert!(r.body.is_empty());
            assert_eq!(r.header("last-modified"), Some(LAST_MODIFIED));
        } else {
            assert!(!r.body.is_empty());
        }
    }
    // Ignored when If-None-Match is present, whether it matches or not.
    let r = get(
        server.addr,
        "/rss.xml",
        &[
            ("if-none-match", "\"nope\""),
            ("if-modified-since", LAST_MODIFIED),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let etag = server
        .resource("/rss.xml")
        .identity
        .etag
        .text()
        .unwrap()
        .to_owned();
    let r = get(
        server.addr,
        "/rss.xml",
        &[
            ("if-none-match", &etag),
            ("if-modified-since", "Mon, 01 Jan 2018 00:00:00 GMT"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    // A resource without Last-Modified never matches If-Modified-Since.
    let r = get(
        server.addr,
        "/tiny",
        &[("if-modified-since", "Thu, 01 Jan 2099 00:00:00 GMT")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn encoding_negotiation() {
    let server = Server::start(settings()).await;
    let resource = server.resource("/rss.xml");
    let gzip = resource.gzip.as_ref().unwrap();
    let br = resource.brotli.as_ref().unwrap();
    let cases: &[(&str, Option<&str>)] = &[
        ("gzip", Some("gzip")),
        ("x-gzip", Some("gzip")),
        ("gzip, br", Some("br")),
        ("gzip, deflate, br, zstd", Some("br")),
        ("br;q=0.5, gzip;q=0.8", Some("gzip")),
        ("gzip;q=0", None),
        ("gzip;q=0, br;q=0", None),
        ("identity", None),
        ("deflate", None),
        ("*", Some("br")),
        ("*;q=0.5, br;q=0", Some("gzip")),
        ("identity;q=0", None),
        ("GZIP", Some("gzip")),
        ("", None),
    ];
    for (accept, expected) in cases {
        let r = get(server.addr, "/rss.xml", &[("accept-encoding", accept)]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.header("content-encoding"),
            *expected,
            "Accept-Encoding: {accept}"
        );
        assert_eq!(r.header("vary"), Some("Accept-Encoding"));
        let (tag, body) = match *expected {
            Some("gzip") => (&gzip.etag, &gzip.body),
            Some("br") => (&br.etag, &br.body),
            _ => (&resource.identity.etag, &resource.identity.body),
        };
        assert_eq!(
            r.header("etag"),
            Some(tag.text().unwrap()),
            "Accept-Encoding: {accept}"
        );
        assert_eq!(&r.body, body);
        assert_eq!(
            r.header("content-length"),
            Some(body.len().to_string().as_str())
        );
    }
    // Compressed bodies decode to the identity bytes.
    let g = get(server.addr, "/rss.xml", &[("accept-encoding", "gzip")]).await;
    assert_eq!(gunzip(&g.body), resource.identity.body);
    let b = get(server.addr, "/rss.xml", &[("accept-encoding", "br")]).await;
    assert_eq!(unbrotli(&b.body), resource.identity.body);
    server.stop().await;
}

#[tokio::test]
async fn each_encoding_has_its_own_etag_for_conditional_get() {
    let server = Server::start(settings()).await;
    let resource = server.resource("/rss.xml");
    let gzip_tag = resource
        .gzip
        .as_ref()
        .unwrap()
        .etag
        .text()
        .unwrap()
        .to_owned();
    let identity_tag = resource.identity.etag.text().unwrap().to_owned();
    assert_ne!(gzip_tag, identity_tag);

    let r = get(
        server.addr,
        "/rss.xml",
        &[("accept-encoding", "gzip"), ("if-none-match", &gzip_tag)],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(r.header("etag"), Some(gzip_tag.as_str()));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    // Same tag, but the negotiated representation is identity or br: not a match.
    let r = get(server.addr, "/rss.xml", &[("if-none-match", &gzip_tag)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("etag"), Some(identity_tag.as_str()));
    let r = get(
        server.addr,
        "/rss.xml",
        &[
            ("accept-encoding", "gzip, br"),
            ("if-none-match", &gzip_tag),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-encoding"), Some("br"));
    // A reader that cached both variants lists both tags.
    let both = format!("{identity_tag}, {gzip_tag}");
    let r = get(
        server.addr,
        "/rss.xml",
        &[("accept-encoding", "gzip"), ("if-none-match", &both)],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    server.stop().await;
}

#[tokio::test]
async fn tiny_resource_without_compressed_variants_is_identity() {
    let server = Server::start(settings()).await;
    let tiny = server.resource("/tiny");
    assert!(tiny.gzip.is_none() && tiny.brotli.is_none());
    for accept in ["gzip", "br", "gzip, br", "identity;q=0, gzip"] {
        let r = get(server.addr, "/tiny", &[("accept-encoding", accept)]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-encoding"), None, "{accept}");
        assert_eq!(r.body, Bytes::from_static(b"x"));
        assert_eq!(r.header("content-length"), Some("1"));
        assert_eq!(r.header("etag"), Some(tiny.identity.etag.text().unwrap()));
        assert_eq!(r.header("last-modified"), None);
    }
    server.stop().await;
}

#[tokio::test]
async fn snapshot_swap_is_visible_to_the_next_request() {
    let server = Server::start(settings()).await;
    let before = get(server.addr, "/rss.xml", &[]).await;
    server.snapshot.store(Arc::new(make_snapshot("v2")));
    let after = get(server.addr, "/rss.xml", &[]).await;
    assert_ne!(before.body, after.body);
    assert_ne!(before.header("etag"), after.header("etag"));
    assert_eq!(after.body, feed_body("v2"));
    // The old validator no longer matches.
    let r = get(
        server.addr,
        "/rss.xml",
        &[("if-none-match", before.header("etag").unwrap())],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // A removed resource becomes 404.
    let mut smaller = make_snapshot("v3");
    smaller.resources.remove("/tiny");
    server.snapshot.store(Arc::new(smaller));
    assert_eq!(
        get(server.addr, "/tiny", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

#[tokio::test]
async fn partial_request_line_is_closed_after_header_read_timeout() {
    let server = Server::start(HttpSettings {
        header_read_timeout: Duration::from_millis(300),
        ..settings()
    })
    .await;
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    raw.write_all(b"GET /rss.xml HT").await.unwrap();
    let started = Instant::now();
    let (bytes, closed) = read_until_closed(&mut raw, Duration::from_secs(3)).await;
    assert!(closed, "connection still open after 3 s");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed too early: {:?}",
        started.elapsed()
    );
    // hyper may or may not write a 408 before closing; it must never be a 200.
    assert!(!String::from_utf8_lossy(&bytes).contains(" 200 "));

    // A connection that sends nothing at all is closed the same way.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(3)).await;
    assert!(closed, "silent connection still open after 3 s");
    server.stop().await;
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed_after_keep_alive_timeout() {
    let server = Server::start(HttpSettings {
        keep_alive_timeout: Duration::from_millis(300),
        ..settings()
    })
    .await;
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    raw.write_all(b"HEAD /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let head = read_head_response(&mut raw).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let started = Instant::now();
    let (rest, closed) = read_until_closed(&mut raw, Duration::from_secs(3)).await;
    assert!(closed, "idle connection still open after 3 s");
    assert!(rest.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "closed too early: {:?}",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed_after_header_read_timeout() {
    // hyper re-arms its header-read timer when a connection turns idle.
    let server = Server::start(HttpSettings {
        header_read_timeout: Duration::from_millis(300),
        ..settings()
    })
    .await;
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    raw.write_all(b"HEAD /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let head = read_head_response(&mut raw).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (_, closed) = read_until_closed(&mut raw, Duration::from_secs(3)).await;
    assert!(closed, "idle connection still open after 3 s");
    server.stop().await;
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let server = Server::start(settings()).await;
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    let big = "a".repeat(20 * 1024);
    let request = format!("GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    // The server may stop reading before everything is written; ignore write errors.
    let (mut read_half, mut write_half) = raw.split();
    let write = async {
        let _ = write_half.write_all(request.as_bytes()).await;
    };
    let read = async {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match read_half.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        out
    };
    let ((), out) = bounded("431 response", async { tokio::join!(write, read) }).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 431"), "got: {text:?}");

    // A long request line is refused too (4xx), not hung on.
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    let request = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "p".repeat(20 * 1024));
    let (mut read_half, mut write_half) = raw.split();
    let write = async {
        let _ = write_half.write_all(request.as_bytes()).await;
    };
    let read = async {
        let mut out = Vec::new();
        let _ = read_half.read_to_end(&mut out).await;
        out
    };
    let ((), out) = bounded("long request line response", async {
        tokio::join!(write, read)
    })
    .await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 4"), "got: {text:?}");

    // The server is still healthy.
    assert_eq!(get(server.addr, "/tiny", &[]).await.status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn max_connections_holds_excess_connections_until_a_permit_frees() {
    let server = Server::start(HttpSettings {
        max_connections: 1,
        ..settings()
    })
    .await;
    // First connection: served, then held open (keep-alive).
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first
        .write_all(b"HEAD /tiny HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let head = read_head_response(&mut first).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // The reserve for monitoring fills up with connections that send nothing (yet).
    let mut reserve = Vec::new();
    for _ in 0..OPS_RESERVE {
        reserve.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // One more: the kernel completes the handshake, but nobody serves it.
    let mut waiting = TcpStream::connect(server.addr).await.unwrap();
    waiting
        .write_all(b"HEAD /tiny HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "a connection was served while every permit and the whole reserve were taken"
    );

    // First connection closes → the waiting one gets its permit and is served in full.
    drop(first);
    let head = read_head_response(&mut waiting).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    drop(reserve);
    server.stop().await;
}

#[tokio::test]
async fn a_full_server_still_answers_health_and_sheds_other_requests_with_503() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let snapshot: SharedSnapshot = Arc::new(ArcSwap::from_pointee(make_snapshot("v1")));
    let ops = Ops {
        metrics: Arc::new(Metrics::new()),
        health_path: Some("/healthz".into()),
        metrics_path: Some("/metrics".into()),
        websub: None,
    };
    ops.metrics.rebuild(Duration::from_millis(1), 3, 1, 0);
    let (tx, rx) = oneshot::channel::<()>();
    let settings = HttpSettings {
        max_connections: 1,
        ..settings()
    };
    let handle = tokio::spawn(serve_with(listener, snapshot, settings, ops, async move {
        let _ = rx.await;
    }));
    // The only permit is held by a keep-alive connection.
    let mut held = TcpStream::connect(addr).await.unwrap();
    held.write_all(b"HEAD /tiny HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(read_head_response(&mut held)
        .await
        .starts_with("HTTP/1.1 200"));

    let health = bounded("health on a full server", get(addr, "/healthz", &[])).await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(std::str::from_utf8(&health.body)
        .unwrap()
        .contains("\"status\":\"ok\""));
    let metrics = bounded("metrics on a full server", get(addr, "/metrics", &[])).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let feed = bounded("a feed on a full server", get(addr, "/rss.xml", &[])).await;
    assert_eq!(feed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(feed.header("retry-after"), Some("1"));
    assert_eq!(feed.header("cache-control"), Some("no-store"));

    // With the permit free again, feeds are served as usual.
    drop(held);
    let feed = bounded("a feed once a permit is free", async {
        loop {
            let r = get(addr, "/rss.xml", &[]).await;
            if r.status == StatusCode::OK {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(feed.status, StatusCode::OK);
    let _ = tx.send(());
    bounded("serve to return", handle).await.unwrap().unwrap();
}

#[tokio::test]
async fn graceful_shutdown_returns_and_stops_accepting() {
    let server = Server::start(settings()).await;
    let addr = server.addr;
    assert_eq!(get(addr, "/tiny", &[]).await.status, StatusCode::OK);
    // An idle keep-alive connection does not hold shutdown up.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"HEAD /tiny HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_head_response(&mut idle).await;
    let started = Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "shutdown took {:?}",
        started.elapsed()
    );
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(2)).await;
    assert!(closed);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

#[tokio::test]
async fn shutdown_grace_bounds_a_stuck_connection() {
    let server = Server::start(HttpSettings {
        shutdown_grace: Duration::from_millis(300),
        header_read_timeout: Duration::from_secs(30),
        keep_alive_timeout: Duration::from_secs(30),
        ..settings()
    })
    .await;
    // A client that never finishes its request headers.
    let mut stuck = TcpStream::connect(server.addr).await.unwrap();
    stuck
        .write_all(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        started.elapsed()
    );
    let (_, closed) = read_until_closed(&mut stuck, Duration::from_secs(2)).await;
    assert!(closed);
}

/// Adds `/big`: 32 MiB, far more than loopback socket buffers hold, so a client that does
/// not read leaves the server stuck mid-write. Built by hand to skip compressing it.
fn add_big_resource(server: &Server) {
    let mut snapshot = make_snapshot("v1");
    let big = Resource {
        content_type: "application/octet-stream",
        identity: Representation {
            body: Bytes::from(vec![b'a'; 32 << 20]),
            etag: Bytes::from_static(b"\"big\""),
        },
        gzip: None,
        brotli: None,
        last_modified: None,
        last_modified_header: None,
        cache_control: Bytes::from_static(CACHE_CONTROL.as_bytes()),
        headers: Vec::new(),
    };
    snapshot.resources.insert("/big".into(), Arc::new(big));
    server.snapshot.store(Arc::new(snapshot));
}

#[tokio::test]
async fn a_client_that_stops_reading_releases_its_permit_after_keep_alive_timeout() {
    let server = Server::start(HttpSettings {
        max_connections: 1,
        keep_alive_timeout: Duration::from_millis(300),
        ..settings()
    })
    .await;
    add_big_resource(&server);
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The only permit is held by the stalled write until the watchdog closes it: meanwhile
    // a new connection lands on the monitoring reserve and is turned away with 503.
    let started = Instant::now();
    let mut first = true;
    loop {
        let mut next = TcpStream::connect(server.addr).await.unwrap();
        next.write_all(b"HEAD /tiny HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let head = read_head_response(&mut next).await;
        if first {
            assert!(head.starts_with("HTTP/1.1 503"), "{head}");
            first = false;
        } else if head.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            started.elapsed() < STEP,
            "the stalled client kept its permit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(stalled);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_grace_bounds_a_stalled_response() {
    let server = Server::start(HttpSettings {
        shutdown_grace: Duration::from_millis(300),
        keep_alive_timeout: Duration::from_secs(30),
        ..settings()
    })
    .await;
    add_big_resource(&server);
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.stop().await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "did not wait for the in-flight response: {took:?}"
    );
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
}

#[tokio::test]
async fn a_coding_not_yet_compressed_is_made_soon_after_a_request_asks_for_it() {
    // A fresh publish: identity bytes only, gzip and brotli still to be made, and no
    // background compressor running (as when it is starved of CPU).
    let server = Server::start(settings()).await;
    let cc = Bytes::from_static(CACHE_CONTROL.as_bytes());
    let fresh = Resource::with_late_compression(
        "application/rss+xml; charset=utf-8",
        feed_body("v2"),
        None,
        &cc,
    );
    assert!(fresh.is_pending());
    let mut snapshot = make_snapshot("v1");
    snapshot
        .resources
        .insert("/rss.xml".into(), Arc::new(fresh));
    server.snapshot.store(Arc::new(snapshot));

    // The first reader is not kept waiting: the new content, in a coding that exists.
    let first = get(server.addr, "/rss.xml", &[("accept-encoding", "gzip")]).await;
    assert_eq!(first.status, StatusCode::OK);
    if first.header("content-encoding").is_none() {
        assert_eq!(first.body, feed_body("v2"));
    }
    // Its asking has gzip made, and then brotli for one who asks for that.
    for (ask, coding) in [("gzip", "gzip"), ("br, gzip", "br")] {
        let deadline = Instant::now() + STEP;
        let got = loop {
            let r = get(server.addr, "/rss.xml", &[("accept-encoding", ask)]).await;
            if r.header("content-encoding") == Some(coding) {
                break r;
            }
            assert!(Instant::now() < deadline, "{coding} was never made");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let decoded = if coding == "gzip" {
            gunzip(&got.body)
        } else {
            unbrotli(&got.body)
        };
        assert_eq!(decoded, feed_body("v2"));
        let resource = server.resource("/rss.xml");
        let made = if coding == "gzip" {
            &resource.gzip
        } else {
            &resource.brotli
        };
        assert_eq!(
            got.header("etag").unwrap(),
            made.as_ref().unwrap().etag.text().unwrap()
        );
    }
    // Identity stays identity.
    let plain = get(server.addr, "/rss.xml", &[]).await;
    assert!(plain.header("content-encoding").is_none());
    assert_eq!(plain.body, feed_body("v2"));
    server.stop().await;
}

//! WebSub through the real `herald serve`: the tests play the subscribers (and a fake
//! external hub) with a small recording HTTP server on 127.0.0.1. No address outside
//! 127.0.0.0/8 is ever used: the refusal of disallowed callbacks is tested with loopback
//! callbacks and `allow_private_callbacks` left off (loopback is refused by default).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use support::recorder::{Recorder, Seen};
use support::{eventually, Server, Site};

const DEADLINE: Duration = Duration::from_secs(20);
const TOPIC: &str = "https://feeds.example.org/rss.xml";
const PUSH: &str =
    "websub:\n  builtin_hub: true\n  allow_private_callbacks: true\n  min_lease_secs: 1\n";

/// A subscriber: echoes verification challenges and answers 200 to deliveries.
fn subscriber() -> Recorder {
    Recorder::new(|req, _| match req.query().get("hub.challenge") {
        Some(challenge) if req.method == "GET" => (200, challenge.clone()),
        _ => (200, String::new()),
    })
}

/// Every `Link` header of `GET path`, joined with ", " (support's parser keeps only one).
fn links(server: &Server, path: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&server.addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw);
    let head = raw.split("\r\n\r\n").next().unwrap();
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case("link"))
        .map(|(_, v)| v.trim())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `POST /websub` with a form body.
fn hub_request(server: &Server, fields: &[(&str, &str)]) -> (u16, String) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut stream = TcpStream::connect_timeout(&server.addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /websub HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        server.addr,
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let text = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, text)
}

fn subscribe(server: &Server, callback: &str, extra: &[(&str, &str)]) -> (u16, String) {
    let mut fields = vec![
        ("hub.mode", "subscribe"),
        ("hub.topic", TOPIC),
        ("hub.callback", callback),
    ];
    fields.extend_from_slice(extra);
    hub_request(server, &fields)
}

fn subscriptions(server: &Server) -> f64 {
    support::metric(
        &server.get("/metrics", &[]).text(),
        "herald_websub_subscriptions",
    )
}

fn wait_subscriptions(server: &Server, n: f64) {
    eventually(DEADLINE, || (subscriptions(server) == n).then_some(()));
}

fn post(title: &str) -> String {
    format!("---\ntitle: {title:?}\ndate: 2024-01-01\ncategories: [One]\n---\nBody of {title}.\n")
}

fn site(extra: &str) -> Site {
    let site = Site::new(extra);
    site.write("post/a.md", &post("Alpha"));
    site
}

fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[test]
fn subscribe_verify_then_an_edit_is_delivered_signed_with_the_links() {
    let site = site(PUSH);
    let server = site.serve();
    let sub = subscriber();

    // Discovery: headers and documents.
    let r = server.get("/rss.xml", &[]);
    let links = links(&server, "/rss.xml");
    assert!(
        links.contains("<https://feeds.example.org/websub>; rel=\"hub\""),
        "{links}"
    );
    assert!(
        links.contains(&format!("<{TOPIC}>; rel=\"self\"")),
        "{links}"
    );
    assert!(
        r.text()
            .contains("href=\"https://feeds.example.org/websub\" rel=\"hub\"")
            || r.text()
                .contains("rel=\"hub\" href=\"https://feeds.example.org/websub\"")
    );
    assert!(server.get("/atom.xml", &[]).text().contains("rel=\"hub\""));
    let json: serde_json::Value =
        serde_json::from_slice(&server.get("/feed.json", &[]).body).unwrap();
    assert_eq!(json["hubs"][0]["type"], "WebSub");
    assert_eq!(json["hubs"][0]["url"], "https://feeds.example.org/websub");
    let list: serde_json::Value =
        serde_json::from_slice(&server.get("/feeds.json", &[]).body).unwrap();
    assert_eq!(list["push"]["websub"], true);
    assert!(server.get("/", &[]).text().contains("Push: on"));
    assert!(server
        .get("/categories/one/", &[])
        .text()
        .contains("Push: on"));
    assert!(server.get("/websub", &[]).text().contains("WebSub hub"));

    let (status, _) = subscribe(
        &server,
        &sub.url("/cb"),
        &[("hub.secret", "s3cret"), ("hub.lease_seconds", "7200")],
    );
    assert_eq!(status, 202);
    let verify = eventually(DEADLINE, || sub.gets_to("/cb").pop());
    let q = verify.query();
    assert_eq!(q["hub.mode"], "subscribe");
    assert_eq!(q["hub.topic"], TOPIC);
    assert_eq!(q["hub.lease_seconds"], "7200");
    assert!(q["hub.challenge"].len() >= 32);
    wait_subscriptions(&server, 1.0);

    site.write("post/a.md", &post("Alpha, edited"));
    let delivery = eventually(DEADLINE, || sub.posts_to("/cb").pop());
    let now = server.get("/rss.xml", &[]);
    assert!(now.text().contains("Alpha, edited"));
    assert_eq!(delivery.body, now.body, "the full new representation");
    assert_eq!(
        delivery.headers["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    let links = &delivery.headers["link"];
    assert!(
        links.contains("rel=\"hub\"") && links.contains(&format!("<{TOPIC}>; rel=\"self\"")),
        "{links}"
    );
    assert_eq!(
        delivery.headers["x-hub-signature"],
        signature("s3cret", &delivery.body)
    );
    // Only the subscribed topic: one delivery for this edit.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sub.posts_to("/cb").len(), 1);
    eventually(DEADLINE, || {
        let metrics = server.get("/metrics", &[]).text();
        (metrics.contains("herald_websub_deliveries_total{outcome=\"delivered\"} 1")
            && metrics.contains("herald_websub_delivery_latency_seconds_count 1"))
        .then_some(())
    });
}

#[test]
fn unsubscribe_is_verified_and_ends_deliveries() {
    let site = site(PUSH);
    let server = site.serve();
    let sub = subscriber();
    assert_eq!(subscribe(&server, &sub.url("/gone"), &[]).0, 202);
    assert_eq!(subscribe(&server, &sub.url("/control"), &[]).0, 202);
    wait_subscriptions(&server, 2.0);
    let (status, _) = hub_request(
        &server,
        &[
            ("hub.mode", "unsubscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", &sub.url("/gone")),
        ],
    );
    assert_eq!(status, 202);
    wait_subscriptions(&server, 1.0);
    let asked = sub.gets_to("/gone");
    assert_eq!(asked.last().unwrap().query()["hub.mode"], "unsubscribe");
    site.write("post/a.md", &post("Alpha, edited"));
    eventually(DEADLINE, || sub.posts_to("/control").pop());
    std::thread::sleep(Duration::from_millis(300));
    assert!(sub.posts_to("/gone").is_empty());
}

#[test]
fn a_callback_that_fails_verification_gets_nothing() {
    let site = site(PUSH);
    let server = site.serve();
    let sub = Recorder::new(
        |req, _| match (req.path(), req.query().get("hub.challenge")) {
            ("/wrong", Some(_)) => (200, "not the challenge".into()),
            ("/404", Some(_)) => (404, String::new()),
            (_, Some(c)) => (200, c.clone()),
            _ => (200, String::new()),
        },
    );
    for path in ["/wrong", "/404", "/control"] {
        assert_eq!(subscribe(&server, &sub.url(path), &[]).0, 202);
    }
    wait_subscriptions(&server, 1.0);
    eventually(DEADLINE, || {
        (sub.gets_to("/wrong").len() == 1 && sub.gets_to("/404").len() == 1).then_some(())
    });
    site.write("post/a.md", &post("Alpha, edited"));
    eventually(DEADLINE, || sub.posts_to("/control").pop());
    std::thread::sleep(Duration::from_millis(300));
    assert!(sub.posts_to("/wrong").is_empty());
    assert!(sub.posts_to("/404").is_empty());
    assert_eq!(subscriptions(&server), 1.0);
}

#[test]
fn a_failing_callback_is_retried_within_five_seconds() {
    let site = site(PUSH);
    let server = site.serve();
    let sub = Recorder::new(|req, n| match req.query().get("hub.challenge") {
        Some(c) => (200, c.clone()),
        None if n == 0 => (500, "down".into()),
        None => (204, String::new()),
    });
    assert_eq!(subscribe(&server, &sub.url("/flaky"), &[]).0, 202);
    wait_subscriptions(&server, 1.0);
    site.write("post/a.md", &post("Alpha, edited"));
    let posts = eventually(DEADLINE, || {
        let p = sub.posts_to("/flaky");
        (p.len() >= 2).then_some(p)
    });
    let gap = posts[1].at - posts[0].at;
    assert!(gap < Duration::from_secs(5), "first retry after {gap:?}");
    assert_eq!(posts[0].body, posts[1].body);
    eventually(DEADLINE, || {
        let metrics = server.get("/metrics", &[]).text();
        (metrics.contains("herald_websub_deliveries_total{outcome=\"failed\"} 1")
            && metrics.contains("herald_websub_deliveries_total{outcome=\"delivered\"} 1"))
        .then_some(())
    });
}

/// `herald serve` for `site` with the clock starting at `now` (RFC 3339).
fn serve_at(site: &Site, now: &str) -> Server {
    let mut cmd = Command::new(support::BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(site.config())
        .env("HERALD_NOW", now)
        .env("RUST_LOG", support::test_log_filter());
    support::start(cmd)
}

#[test]
fn subscriptions_survive_a_restart_and_end_at_their_lease() {
    let site = site(PUSH);
    let sub = subscriber();
    let server = serve_at(&site, "2030-01-01T00:00:00Z");
    assert_eq!(
        subscribe(&server, &sub.url("/short"), &[("hub.lease_seconds", "1")]).0,
        202
    );
    assert_eq!(
        subscribe(&server, &sub.url("/day"), &[("hub.lease_seconds", "86400")]).0,
        202
    );
    assert_eq!(
        subscribe(
            &server,
            &sub.url("/week"),
            &[("hub.lease_seconds", "604800")]
        )
        .0,
        202
    );
    wait_subscriptions(&server, 3.0);
    assert_eq!(sub.gets_to("/short")[0].query()["hub.lease_seconds"], "1");
    // The one-second lease ends while the server runs.
    std::thread::sleep(Duration::from_millis(1500));
    site.write("post/a.md", &post("Alpha, edited"));
    eventually(DEADLINE, || sub.posts_to("/day").pop());
    eventually(DEADLINE, || sub.posts_to("/week").pop());
    std::thread::sleep(Duration::from_millis(300));
    assert!(sub.posts_to("/short").is_empty(), "its lease had ended");

    // A restart keeps the others (state_dir is kept); two days later by the clock, only
    // the week-long lease is left, and it gets the next edit.
    drop(server);
    let again = serve_at(&site, "2030-01-03T00:00:00Z");
    assert_eq!(subscriptions(&again), 1.0);
    site.write("post/a.md", &post("Alpha, edited again"));
    let delivered = eventually(DEADLINE, || {
        sub.posts_to("/week")
            .into_iter()
            .find(|s| String::from_utf8_lossy(&s.body).contains("edited again"))
    });
    assert!(!delivered.body.is_empty());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        sub.posts_to("/day").len(),
        1,
        "its lease ended while Herald was down"
    );
}

#[test]
fn a_hundred_subscribers_all_get_the_edit() {
    let site = site(PUSH);
    let server = site.serve();
    let sub = subscriber();
    for i in 0..100 {
        assert_eq!(
            subscribe(&server, &sub.url(&format!("/cb/{i}")), &[]).0,
            202
        );
    }
    wait_subscriptions(&server, 100.0);
    site.write("post/a.md", &post("Alpha, edited"));
    eventually(DEADLINE, || {
        (0..100)
            .all(|i| !sub.posts_to(&format!("/cb/{i}")).is_empty())
            .then_some(())
    });
}

#[test]
fn disallowed_callbacks_bad_requests_and_unknown_topics_are_refused_without_a_request() {
    // allow_private_callbacks is off: the loopback recorder stands for every refused address.
    let site = site("websub:\n  builtin_hub: true\n");
    let server = site.serve();
    let sub = subscriber();
    let port = sub.addr.port();
    for callback in [
        sub.url("/cb"),
        format!("http://localhost:{port}/cb"),
        format!("http://[::1]:{port}/cb"),
        format!("http://2130706433:{port}/cb"),
    ] {
        let (status, reason) = subscribe(&server, &callback, &[]);
        assert_eq!(status, 403, "{callback}: {reason}");
        assert!(reason.contains("does not call"), "{reason}");
    }
    let (status, reason) = subscribe(&server, &format!("ftp://127.0.0.1:{port}/cb"), &[]);
    assert_eq!(status, 400, "{reason}");
    let (status, reason) = hub_request(
        &server,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", "https://feeds.example.org/nope.xml"),
            ("hub.callback", &sub.url("/cb")),
        ],
    );
    assert_eq!(status, 404, "{reason}");
    let (status, _) = hub_request(&server, &[("hub.mode", "subscribe"), ("hub.topic", TOPIC)]);
    assert_eq!(status, 400);
    let long = "x".repeat(200);
    let (status, _) = subscribe(&server, &sub.url("/cb"), &[("hub.secret", &long)]);
    assert_eq!(status, 400);
    std::thread::sleep(Duration::from_millis(500));
    assert!(sub.seen().is_empty(), "no request at all: {:?}", sub.seen());
    assert_eq!(subscriptions(&server), 0.0);
    let metrics = server.get("/metrics", &[]).text();
    assert!(
        metrics.contains("herald_websub_deliveries_total{outcome=\"refused\"} 4"),
        "{metrics}"
    );
}

#[test]
fn a_single_host_may_subscribe_a_hundred_times_in_a_burst_and_then_is_rate_limited() {
    let site =
        site("websub:\n  builtin_hub: true\n  rate_limit_burst: 100\n  rate_limit_per_minute: 1\n");
    let server = site.serve();
    // Refused callbacks still count against the rate limit, and make no request.
    for _ in 0..100 {
        let (status, _) = subscribe(&server, "http://127.0.0.1:9/cb", &[]);
        assert_eq!(status, 403);
    }
    let (status, _) = subscribe(&server, "http://127.0.0.1:9/cb", &[]);
    assert_eq!(status, 429);
}

#[test]
fn external_hubs_are_pinged_on_every_change() {
    let hub = Recorder::new(|_, _| (204, String::new()));
    let batch = Recorder::new(|_, n| {
        if n == 0 {
            (503, String::new())
        } else {
            (204, String::new())
        }
    });
    let site = site(&format!(
        "websub:\n  hubs:\n    - {}\n    - url: {}\n      batch: true\n",
        hub.url("/hub"),
        batch.url("/batch")
    ));
    let server = site.serve();
    let links = links(&server, "/atom.xml");
    assert!(
        links.contains(&format!("<{}>; rel=\"hub\"", hub.url("/hub"))),
        "{links}"
    );
    assert!(
        links.contains(&format!("<{}>; rel=\"hub\"", batch.url("/batch"))),
        "{links}"
    );
    // The first publish pings every feed (nothing was remembered); wait for the edit's.
    std::thread::sleep(Duration::from_millis(300));
    let edited_at = Instant::now();
    site.write("post/a.md", &post("Alpha, edited"));
    let topics = |pings: &[Seen]| -> Vec<String> {
        pings
            .iter()
            .flat_map(|p| {
                form_urlencoded::parse(&p.body)
                    .into_owned()
                    .filter(|(k, _)| k == "hub.url")
                    .map(|(_, v)| v)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let pings = eventually(DEADLINE, || {
        let p: Vec<Seen> = hub
            .posts_to("/hub")
            .into_iter()
            .filter(|s| s.at > edited_at)
            .collect();
        topics(&p).contains(&TOPIC.to_owned()).then_some(p)
    });
    let ping = pings.last().unwrap();
    let form: Vec<(String, String)> = form_urlencoded::parse(&ping.body).into_owned().collect();
    assert!(
        form.contains(&("hub.mode".into(), "publish".into())),
        "{form:?}"
    );
    assert_eq!(
        form.iter().filter(|(k, _)| k == "hub.url").count(),
        1,
        "one topic per ping to a hub without batch"
    );
    // The batching hub failed once, was retried, and got several topics in one request.
    let batched = eventually(DEADLINE, || {
        let p = batch.posts_to("/batch");
        p.iter()
            .skip(1)
            .find(|s| topics(std::slice::from_ref(s)).contains(&TOPIC.to_owned()))
            .cloned()
    });
    let urls = topics(std::slice::from_ref(&batched));
    assert!(urls.len() > 1, "{urls:?}");
    assert!(
        urls.contains(&"https://feeds.example.org/categories/one/atom.xml".to_owned()),
        "{urls:?}"
    );
    let _ = server.get("/rss.xml", &[]);
}

#[test]
fn subscriptions_per_topic_and_per_callback_host_are_limited() {
    let site = site(&format!(
        "{PUSH}  max_subscriptions_per_topic: 2\n  max_subscriptions_per_callback_host: 3\n"
    ));
    let server = site.serve();
    let sub = subscriber();
    for i in 0..2 {
        assert_eq!(
            subscribe(&server, &sub.url(&format!("/cb/{i}")), &[]).0,
            202
        );
    }
    wait_subscriptions(&server, 2.0);
    let (status, reason) = subscribe(&server, &sub.url("/cb/2"), &[]);
    assert_eq!(status, 403, "{reason}");
    assert!(reason.contains("topic"), "{reason}");
    // Renewing an existing subscription is not a new one.
    assert_eq!(subscribe(&server, &sub.url("/cb/0"), &[]).0, 202);
    let other = |path: &str, cb: &str| {
        hub_request(
            &server,
            &[
                ("hub.mode", "subscribe"),
                ("hub.topic", &format!("https://feeds.example.org{path}")),
                ("hub.callback", cb),
            ],
        )
    };
    assert_eq!(other("/atom.xml", &sub.url("/cb/a")).0, 202);
    wait_subscriptions(&server, 3.0);
    let (status, reason) = other("/feed.json", &sub.url("/cb/b"));
    assert_eq!(status, 403, "{reason}");
    assert!(reason.contains("host"), "{reason}");
}

#[test]
fn the_address_policy_is_applied_at_every_connection_not_only_at_subscribe_time() {
    // Subscribed by name while private callbacks were allowed; then the policy tightens (as
    // if the name now resolved to an internal address): the delivery is refused where the
    // connection is made, and nothing reaches the callback.
    let site = site(PUSH);
    let sub = subscriber();
    let by_name = format!("http://localhost:{}/cb", sub.addr.port());
    let literal = sub.url("/literal");
    let server = site.serve();
    assert_eq!(subscribe(&server, &by_name, &[]).0, 202);
    assert_eq!(subscribe(&server, &literal, &[]).0, 202);
    wait_subscriptions(&server, 2.0);
    drop(server);
    let config = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(
        site.config(),
        config.replace(
            "allow_private_callbacks: true",
            "allow_private_callbacks: false",
        ),
    )
    .unwrap();
    let server = site.serve();
    assert_eq!(subscriptions(&server), 2.0, "kept across the restart");
    site.write("post/a.md", &post("Alpha, edited"));
    eventually(DEADLINE, || {
        let metrics = server.get("/metrics", &[]).text();
        (metrics.contains("herald_websub_deliveries_total{outcome=\"refused\"} 2")).then_some(())
    });
    assert!(sub.posts_to("/cb").is_empty() && sub.posts_to("/literal").is_empty());
}

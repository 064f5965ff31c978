//! The operational endpoints, answered beside the snapshot rather than from it, so they
//! never appear in the feeds, the index page or the OPML list, and never change a feed's
//! bytes or ETag.
//!
//! - health (`/healthz` by default): `200` with
//!   `{"status":"ok","posts":…,"feeds":…,"problems":…,"unreadable":…,"last_rebuild":"<RFC 3339>","last_rebuild_ms":…}`
//!   once the first snapshot is published; `503` with `{"status":"starting"}` before.
//!   `problems` counts content files that cannot be used: the site is still serving, so
//!   they do not make it unhealthy. `unreadable` counts paths that cannot be read now
//!   (EMFILE, EACCES, EIO…); while there are any, a `note` says that their last good
//!   versions are served. That is still `200`: the site is serving. `503` with
//!   `{"status":"stalled",…}` when the owner loop has not turned for [`OWNER_STALLED`] (a
//!   rebuild wedged): still serving, but stale. On a warm start, until the content is
//!   loaded, `200` with `"loading":true` and a `note`: the last run's feeds are served, and
//!   the counts are that run's.
//! - metrics (`/metrics` by default): every [`Metrics`] value in the OpenMetrics text
//!   format, which Prometheus scrapes.
//!
//! Both answer GET and HEAD (other methods get the same 405 as every path) with `Cache-Control: no-store`: they describe
//! this moment, so no cache may keep them.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use http_body_util::Full;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use super::respond::Body;
use crate::metrics::{Metrics, Route, OWNER_STALLED};

const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const OPENMETRICS: HeaderValue =
    HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8");

/// Where the operational endpoints are, and the metrics they read.
#[derive(Debug, Clone)]
pub struct Ops {
    pub metrics: Arc<Metrics>,
    /// `None`: no health endpoint.
    pub health_path: Option<String>,
    /// `None`: no metrics endpoint.
    pub metrics_path: Option<String>,
    /// The built-in WebSub hub, answering `/websub`; `None` when it is off.
    pub websub: Option<Arc<crate::websub::Hub>>,
}

impl Ops {
    /// Metrics are still counted, but no endpoint exposes them.
    pub fn disabled() -> Ops {
        Ops {
            metrics: Arc::new(Metrics::new()),
            health_path: None,
            metrics_path: None,
            websub: None,
        }
    }

    /// The hub, if `req` is for it.
    pub fn websub_for<B>(&self, req: &Request<B>) -> Option<&Arc<crate::websub::Hub>> {
        self.websub
            .as_ref()
            .filter(|_| req.uri().path() == crate::websub::HUB_PATH)
    }

    /// The response if `req` is for an operational endpoint, with its route class.
    pub fn respond<B>(&self, req: &Request<B>) -> Option<(Response<Body>, Route)> {
        let path = req.uri().path();
        let route = if self.health_path.as_deref() == Some(path) {
            Route::Health
        } else if self.metrics_path.as_deref() == Some(path) {
            Route::Metrics
        } else {
            return None;
        };
        let head = match *req.method() {
            Method::GET => false,
            Method::HEAD => true,
            _ => return None, // the snapshot's 405 applies to every path alike
        };
        let (status, content_type, body) = match route {
            Route::Health => match self.metrics.health() {
                Some(_) if self.metrics.owner_silence() >= OWNER_STALLED => {
                    let silent = self.metrics.owner_silence().as_secs();
                    let body = serde_json::json!({
                        "status": "stalled",
                        "reason": format!("the rebuild loop has not run for {silent} s; the last feeds are still served"),
                    });
                    (StatusCode::SERVICE_UNAVAILABLE, JSON, format!("{body}\n"))
                }
                Some(h) => {
                    let when: DateTime<Utc> = h.last_rebuild.into();
                    let mut body = serde_json::json!({
                        "status": "ok",
                        "posts": h.posts,
                        "feeds": h.feeds,
                        "problems": h.problems,
                        "unreadable": h.unreadable,
                        "last_rebuild": when.to_rfc3339_opts(SecondsFormat::Millis, true),
                        "last_rebuild_ms": h.last_rebuild_duration.as_secs_f64() * 1000.0,
                    });
                    if h.loading {
                        body["loading"] = true.into();
                        body["note"] = "serving the feeds the last run stored; the content is still being loaded".into();
                    }
                    if h.unreadable > 0 {
                        body["note"] = format!(
                            "{} paths unreadable; their last good versions are served",
                            h.unreadable
                        )
                        .into();
                    }
                    (StatusCode::OK, JSON, format!("{body}\n"))
                }
                None => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    JSON,
                    "{\"status\":\"starting\"}\n".to_owned(),
                ),
            },
            _ => (StatusCode::OK, OPENMETRICS, self.metrics.encode()),
        };
        let len = body.len();
        let mut response = Response::new(if head {
            Body::default()
        } else {
            Full::new(Bytes::from(body))
        });
        *response.status_mut() = status;
        let h = response.headers_mut();
        h.insert(CONTENT_TYPE, content_type);
        h.insert(CACHE_CONTROL, NO_STORE);
        h.insert(CONTENT_LENGTH, HeaderValue::from(len));
        Some((response, route))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ops() -> Ops {
        Ops {
            metrics: Arc::new(Metrics::new()),
            health_path: Some("/healthz".into()),
            metrics_path: Some("/metrics".into()),
            websub: None,
        }
    }

    fn get(path: &str) -> Request<()> {
        Request::get(path).body(()).unwrap()
    }

    #[test]
    fn health_is_503_until_the_first_rebuild_then_200_with_counts() {
        let ops = ops();
        let (r, route) = ops.respond(&get("/healthz")).unwrap();
        assert_eq!(
            (r.status(), route),
            (StatusCode::SERVICE_UNAVAILABLE, Route::Health)
        );
        ops.metrics.rebuild(Duration::from_millis(3), 4, 2, 1);
        let (r, _) = ops.respond(&get("/healthz")).unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    }

    #[tokio::test]
    async fn unreadable_paths_are_noted_and_health_stays_200() {
        use http_body_util::BodyExt as _;
        let ops = ops();
        ops.metrics.content_reads(5, 3);
        ops.metrics.rebuild(Duration::from_millis(3), 4, 2, 3);
        let (r, _) = ops.respond(&get("/healthz")).unwrap();
        assert_eq!(r.status(), StatusCode::OK, "the site is serving");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["unreadable"], 3);
        assert_eq!(
            json["note"],
            "3 paths unreadable; their last good versions are served"
        );
        let text = ops.metrics.encode();
        assert!(
            text.contains("herald_content_read_errors_total 5\n"),
            "{text}"
        );
        assert!(
            text.contains("herald_content_unreadable_paths 3\n"),
            "{text}"
        );
    }

    #[test]
    fn health_is_503_while_the_owner_loop_is_stalled_and_200_once_it_turns_again() {
        let ops = ops();
        ops.metrics.rebuild(Duration::from_millis(3), 4, 2, 1);
        ops.metrics.owner_beat_ago(Duration::ZERO);
        assert_eq!(
            ops.respond(&get("/healthz")).unwrap().0.status(),
            StatusCode::OK
        );
        ops.metrics
            .owner_beat_ago(OWNER_STALLED + Duration::from_secs(1));
        let (r, _) = ops.respond(&get("/healthz")).unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        ops.metrics.owner_beat();
        assert_eq!(
            ops.respond(&get("/healthz")).unwrap().0.status(),
            StatusCode::OK
        );
    }

    #[test]
    fn other_paths_and_disabled_endpoints_are_not_answered() {
        assert!(ops().respond(&get("/rss.xml")).is_none());
        assert!(ops().respond(&get("/healthz/")).is_none());
        assert!(Ops::disabled().respond(&get("/healthz")).is_none());
        assert!(Ops::disabled().respond(&get("/metrics")).is_none());
    }

    #[test]
    fn head_has_the_length_of_get_and_no_body() {
        let ops = ops();
        let head = Request::head("/metrics").body(()).unwrap();
        let (r, route) = ops.respond(&head).unwrap();
        assert_eq!(route, Route::Metrics);
        assert_ne!(r.headers()[CONTENT_LENGTH], "0");
    }
}

//! Serves the current snapshot over HTTP/1.1: routing, conditional GET (RFC 9110),
//! encoding choice, connection limits, timeouts and graceful shutdown.
//!
//! This module holds the contract and the accept loop; each concern has its own file:
//! - [`respond`]: one request + one snapshot → one response (methods, routing, headers).
//! - [`conditional`]: `If-None-Match` / `If-Modified-Since` evaluation.
//! - [`negotiate`]: `Accept-Encoding` → which precomputed encoding to send.
//! - [`coding`]: a coding asked for before the background compressor made it is made soon.
//! - [`idle`]: closing connections on which no bytes move for `keep_alive_timeout`.
//! - [`ops`]: the health and metrics endpoints, answered beside the snapshot.
//!
//! Every answered request is counted in [`crate::metrics`] (route class, status, body bytes).
//!
//! Connection handling:
//! - At most `max_connections` connections are served at once: a semaphore permit is
//!   acquired *before* `accept`, so excess connections wait in the kernel backlog, and the
//!   permit lives as long as the connection task.
//! - When every permit is taken (a slowloris crowd, a traffic spike), up to
//!   [`OPS_RESERVE`] more connections are accepted on reserve permits, with a short header
//!   timeout and no keep-alive: they get the health and metrics endpoints, and `503` with
//!   `Retry-After` for anything else, so monitoring still sees the server when it is full.
//! - Accept errors (EMFILE, ENFILE, ENOBUFS, …) are logged and retried after a short
//!   pause; they never end `serve`.
//! - hyper's HTTP/1 server with a timer (without one its timeouts do nothing), a
//!   `header_read_timeout` (in hyper 1.12 also re-armed when a keep-alive connection goes
//!   idle, so idle connections are closed after it), request line + headers bounded by a
//!   16 KiB read buffer (hyper answers 431 beyond that), keep-alive on.
//! - `keep_alive_timeout` closes any connection on which no bytes were read or written for
//!   that long: idle keep-alive connections (effective idle limit is therefore
//!   `min(header_read_timeout, keep_alive_timeout)`) and clients that stop reading.
//! - Each request loads the snapshot exactly once, so it sees one consistent state.
//! - Shutdown: stop accepting (the listener is dropped, new connections are refused), ask
//!   every connection to finish its in-flight request and close, wait at most
//!   `shutdown_grace`, then abort whatever is left. `serve` returns only after that.

mod coding;
pub mod conditional;
mod idle;
pub mod negotiate;
mod ops;
mod respond;

pub use ops::Ops;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

pub use crate::snapshot::SharedSnapshot;

/// Limits and timeouts for the server.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub shutdown_grace: Duration,
}

/// Upper bound on the connection read buffer, i.e. on request line + headers.
const MAX_BUF_SIZE: usize = 16 * 1024;

/// Connections accepted beyond `max_connections` for the health and metrics endpoints only.
pub const OPS_RESERVE: usize = 16;

/// Header timeout of a reserve connection: a monitor sends its request at once.
const RESERVE_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// Pause after an accept error before trying again (EMFILE would otherwise spin).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Binds the listening socket, with a backlog that follows `max_connections`: connections
/// beyond the permits wait in it rather than being refused (the kernel caps it at
/// `net.core.somaxconn`).
pub fn bind(addr: std::net::SocketAddr, max_connections: usize) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // A restarted server must not wait for the old one's connections in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let backlog = (max_connections + OPS_RESERVE).clamp(128, 65_535) as u32;
    socket.listen(backlog)
}

/// Accepts connections on `listener` until `shutdown` completes, then lets in-flight
/// requests finish for at most `shutdown_grace`. No health or metrics endpoint.
pub async fn serve(
    listener: TcpListener,
    snapshot: SharedSnapshot,
    settings: HttpSettings,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(listener, snapshot, settings, Ops::disabled(), shutdown).await
}

/// [`serve`], counting requests in `ops.metrics` and answering its endpoints.
pub async fn serve_with(
    listener: TcpListener,
    snapshot: SharedSnapshot,
    settings: HttpSettings,
    ops: Ops,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let ops = Arc::new(ops);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(MAX_BUF_SIZE)
        .keep_alive(true);
    // A semaphore cannot hold more than `MAX_PERMITS`; 0 would block forever.
    let permits = Arc::new(Semaphore::new(
        settings.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let reserve = Arc::new(Semaphore::new(OPS_RESERVE));
    let mut reserve_builder = http1::Builder::new();
    reserve_builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout.min(RESERVE_HEADER_TIMEOUT))
        .max_buf_size(MAX_BUF_SIZE)
        .keep_alive(false);
    let graceful = GracefulShutdown::new();
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        let full = permits.available_permits() == 0;
        let (permit, reserved) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => (permit, false),
            permit = reserve.clone().acquire_owned(), if full => (permit, true),
        };
        let permit = permit.expect("the semaphores are never closed");
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        // Reap finished connection tasks so the set does not grow without bound.
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                drop(permit);
                if is_per_connection_error(&error) {
                    debug!(%error, "accept: connection failed before it was accepted");
                    continue;
                }
                warn!(%error, "accept failed; retrying shortly");
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let activity = idle::Activity::new();
        let io = TokioIo::new(idle::Tracked::new(stream, activity.clone()));
        let snapshot = snapshot.clone();
        let ops = ops.clone();
        let service = service_fn(move |req: Request<Incoming>| {
            // Answered here, before the future, unless the hub must read a body: the
            // future then owns only the response, and a request clones none of the
            // connection's shared handles (two contended reference counts fewer).
            let answer = ops.respond(&req);
            let hub = match answer {
                None if !reserved => ops.websub_for(&req).cloned(),
                _ => None,
            };
            // `Ok`: the response; `Err`: the hub's, still to come.
            let ready = match hub {
                Some(hub) => Err((hub, ops.clone())),
                None => match answer {
                    Some((response, route)) => {
                        count(&ops, route, &response);
                        Ok(response)
                    }
                    None if reserved => {
                        let response = respond::busy();
                        count(&ops, crate::metrics::Route::Other, &response);
                        Ok(response)
                    }
                    None => {
                        // One load per request: the whole response comes from this one snapshot.
                        let current = snapshot.load();
                        coding::request_missing(&req, &current);
                        Ok(answer_from(&req, &current, &ops, peer))
                    }
                },
            };
            async move {
                let response = match ready {
                    Ok(response) => response,
                    // The hub reads a (bounded) body: the only route that awaits.
                    Err((hub, ops)) => {
                        debug!(%peer, method = %req.method(), "websub request");
                        let response = hub.handle(req, peer.ip()).await;
                        count(&ops, crate::metrics::Route::WebSub, &response);
                        response
                    }
                };
                Ok::<_, Infallible>(response)
            }
        });
        let builder = if reserved { &reserve_builder } else { &builder };
        let conn = graceful.watch(builder.serve_connection(io, service));
        let keep_alive_timeout = settings.keep_alive_timeout;
        tasks.spawn(async move {
            tokio::select! {
                result = conn => {
                    if let Err(error) = result {
                        debug!(%peer, %error, "connection ended with an error");
                    }
                }
                () = activity.expired(keep_alive_timeout) => {
                    debug!(%peer, "closing connection: nothing read or written for keep_alive_timeout");
                }
            }
            drop(permit);
        });
    }

    // Stop accepting: from here on new connections are refused by the kernel.
    drop(listener);
    info!(connections = graceful.count(), "shutting down HTTP server");
    if tokio::time::timeout(settings.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        warn!(grace = ?settings.shutdown_grace, "connections still open after the shutdown grace period; closing them");
    }
    tasks.shutdown().await;
    Ok(())
}

/// The snapshot's response to `req`, counted and logged.
fn answer_from<B>(
    req: &Request<B>,
    current: &crate::snapshot::Snapshot,
    ops: &Ops,
    peer: std::net::SocketAddr,
) -> hyper::Response<respond::Body> {
    let (response, route) = respond::respond_classified(req, current, SystemTime::now());
    debug!(%peer, method = %req.method(), uri = %req.uri(), status = response.status().as_u16(), "request");
    count(ops, route, &response);
    response
}

/// Counts one answered request in the metrics.
fn count(ops: &Ops, route: crate::metrics::Route, response: &hyper::Response<respond::Body>) {
    let body_bytes = response.body().size_hint().exact().unwrap_or(0);
    ops.metrics
        .request(route, response.status().as_u16(), body_bytes);
}

/// Errors that concern only the one connection being accepted, not the listener.
fn is_per_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

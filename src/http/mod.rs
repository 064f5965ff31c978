//! Serves the current snapshot over HTTP/1.1: routing, conditional GET (RFC 9110),
//! encoding choice, connection limits, timeouts and graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;

use crate::snapshot::Snapshot;

/// The served state: swapped whole by the publisher, read by every request.
pub type SharedSnapshot = Arc<ArcSwap<Snapshot>>;

/// Limits and timeouts for the server.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub shutdown_grace: Duration,
}

/// Accepts connections on `listener` until `shutdown` completes, then lets in-flight
/// requests finish for at most `shutdown_grace`.
pub async fn serve(listener: TcpListener, snapshot: SharedSnapshot, settings: HttpSettings, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let _ = (listener, snapshot, settings, shutdown);
    unimplemented!("http::serve")
}

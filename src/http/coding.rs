//! Compression on demand. The background compressor only uses CPU nothing else wants, so a
//! fresh version's gzip or brotli may not exist yet when a reader asks for it: that reader
//! gets a coding that exists (never waits), and the first such request has the one it
//! asked for made at once, at normal priority on the blocking pool, for the next requests.

use hyper::header::ACCEPT_ENCODING;
use hyper::Request;

use super::negotiate;
use crate::snapshot::Snapshot;

/// If `req` asks for a coding of its resource that is still to be made, and no request
/// has asked for it before, has it made off the HTTP workers. Never waits for it.
pub fn request_missing<B>(req: &Request<B>, snapshot: &Snapshot) {
    let Some(resource) = snapshot.get(req.uri().path()) else {
        return;
    };
    let fields = req
        .headers()
        .get_all(ACCEPT_ENCODING)
        .iter()
        .map(|v| v.as_bytes());
    let wanted = negotiate::choose(fields, |e| resource.offers(e));
    if resource.representation(wanted).is_none() && resource.request(wanted) {
        let resource = resource.clone();
        tokio::task::spawn_blocking(move || resource.make(wanted));
    }
}

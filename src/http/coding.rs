//! Compression on demand: before a response is built, the coding it will be sent in is
//! made if the background compressor has not made it yet. The compressor only uses CPU
//! nothing else wants; a reader asking for gzip or brotli of a fresh version gets it at
//! once (a few milliseconds of compression, once per version), not identity bytes.

use hyper::header::ACCEPT_ENCODING;
use hyper::Request;

use super::negotiate;
use crate::snapshot::Snapshot;

/// Makes the coding `req` would be answered in, if the resource has it and it is still to
/// be made. The compression runs on the blocking pool, never on an HTTP worker thread.
pub async fn make_wanted<B>(req: &Request<B>, snapshot: &Snapshot) {
    let Some(resource) = snapshot.get(req.uri().path()) else {
        return;
    };
    let fields = || {
        req.headers()
            .get_all(ACCEPT_ENCODING)
            .iter()
            .map(|v| v.as_bytes())
    };
    let wanted = negotiate::choose(fields(), |e| resource.offers(e));
    if resource.representation(wanted).is_some() {
        return;
    }
    let resource = resource.clone();
    // A failed task (a panic in the compressor) leaves the coding unmade: the response
    // then goes out in a coding that exists.
    let _ = tokio::task::spawn_blocking(move || resource.make(wanted)).await;
}

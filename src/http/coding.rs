//! Compression on demand: before a response is built, the coding it will be sent in is
//! made if the background compressor has not made it yet. The compressor only uses CPU
//! nothing else wants; a reader asking for gzip or brotli of a fresh version gets it at
//! once (a few milliseconds of compression, once per version), not identity bytes.

use std::sync::Arc;

use hyper::header::ACCEPT_ENCODING;
use hyper::Request;

use super::negotiate;
use crate::snapshot::{Encoding, Resource, Snapshot};

/// The coding `req` would be answered in, when the resource has it and it is still to be
/// made; `None` (the common case) when the response can be made at once.
pub fn to_make<B>(req: &Request<B>, snapshot: &Snapshot) -> Option<Make> {
    let resource = snapshot.get(req.uri().path())?;
    let fields = req
        .headers()
        .get_all(ACCEPT_ENCODING)
        .iter()
        .map(|v| v.as_bytes());
    let wanted = negotiate::choose(fields, |e| resource.offers(e));
    if resource.representation(wanted).is_some() {
        return None;
    }
    Some(Make {
        resource: resource.clone(),
        encoding: wanted,
    })
}

/// A coding to make before answering.
pub struct Make {
    resource: Arc<Resource>,
    encoding: Encoding,
}

impl Make {
    /// Makes it on the blocking pool, never on an HTTP worker thread. A failed task (a
    /// panic in the compressor) leaves the coding unmade: the response then goes out in a
    /// coding that exists.
    pub async fn run(self) {
        let Make { resource, encoding } = self;
        let _ = tokio::task::spawn_blocking(move || resource.make(encoding)).await;
    }
}

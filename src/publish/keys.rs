//! Surrogate keys: the names a cache in front of Herald (Fastly, Varnish `xkey`, a CDN's
//! tag purge) files each response under, so that a purge drops exactly what changed.
//!
//! A feed's response is filed under `herald` (everything Herald serves), `feed:<folder>`
//! (its formats and its page) and `post:<path>` for each post it holds: an edit of one
//! post can be purged by the post's key whatever feeds show it. Keys are paths, so an
//! operator can write them by hand; anything but unreserved URL characters and `/` is
//! percent-encoded, which keeps them free of the spaces and commas that separate keys.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::feed::FeedInfo;
use crate::post::Post;

/// The key on every resource Herald serves.
pub const ALL: &str = "herald";

const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `feed:/categories/rust/` for a feed's served folder (`dir` relative to the base URL).
pub fn feed_key(dir: &str) -> String {
    format!("feed:/{}", utf8_percent_encode(dir, KEEP))
}

/// `post:/posts/hello/`: the path of the post's page.
pub fn post_key(post: &Post) -> String {
    let path = url::Url::parse(&post.permalink)
        .map(|url| url.path().to_owned())
        .unwrap_or_else(|_| post.permalink.clone());
    let decoded = percent_encoding::percent_decode_str(&path).decode_utf8_lossy();
    format!("post:{}", utf8_percent_encode(&decoded, KEEP))
}

/// Every key of a feed holding `items`, in a stable order: all, the feed, its posts.
pub fn for_feed<'a>(info: &FeedInfo, items: impl IntoIterator<Item = &'a Post>) -> Vec<String> {
    let mut keys = vec![ALL.to_owned(), feed_key(&info.dir)];
    keys.extend(items.into_iter().map(post_key));
    keys
}

/// The `Surrogate-Key` (space-separated) and `Cache-Tag` (comma-separated) values.
pub fn headers(keys: &[String]) -> (String, String) {
    (keys.join(" "), keys.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_paths_without_separators() {
        assert_eq!(feed_key(""), "feed:/");
        assert_eq!(
            feed_key("es/categories/c++ tips/"),
            "feed:/es/categories/c%2B%2B%20tips/"
        );
        assert_eq!(
            feed_key("categories/café,bar/"),
            "feed:/categories/caf%C3%A9%2Cbar/"
        );
        let (sk, ct) = headers(&["herald".into(), feed_key("categories/rust/")]);
        assert_eq!(sk, "herald feed:/categories/rust/");
        assert_eq!(ct, "herald,feed:/categories/rust/");
    }
}

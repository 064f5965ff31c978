//! Where everything Herald serves lives: the URL path of each feed, list and page, and the
//! file a served path becomes in `herald build`'s output. The one place to change the URL
//! layout. (Post and term page URLs are the site's, computed by Hugo's rules in
//! [`crate::content`].)

use std::path::{Component, PathBuf};

use crate::feed::Format;
use crate::index::FeedKey;

/// URL path of the OPML list of every feed.
pub const OPML_PATH: &str = "/feeds.opml";
/// URL path of the JSON list of every feed, for site templates.
pub const FEED_LIST_PATH: &str = "/feeds.json";
/// URL path of the human index page.
pub const INDEX_PATH: &str = "/";

/// Folder of a feed under its language's URL prefix: `""` or `categories/rust/`.
pub fn feed_dir(key: &FeedKey) -> String {
    match key {
        FeedKey::Global { .. } => String::new(),
        FeedKey::Term { taxonomy, slug, .. } => format!("{taxonomy}/{slug}/"),
    }
}

/// The served path of a feed's own HTML page: its folder (language prefix included), so
/// `/categories/rust/`, `/es/`. The default language's global feed has none: its folder is
/// `/`, where the index page is.
pub fn page_path(dir: &str) -> Option<String> {
    (!dir.is_empty()).then(|| format!("/{dir}"))
}

/// File name of a format under a feed's folder: `rss.xml`, `atom.xml`, `feed.json`.
pub fn feed_file(format: Format) -> &'static str {
    match format {
        Format::Rss => "rss.xml",
        Format::Atom => "atom.xml",
        Format::Json => "feed.json",
    }
}

/// The served path of one format of a feed whose folder (language prefix included) is `dir`.
pub fn feed_path(dir: &str, format: Format) -> String {
    format!("/{dir}{}", feed_file(format))
}

/// A language's folder under the site's: the part of its base URL beyond the default
/// language's (`es/` for `https://example.org/es/`), empty for the default language.
pub fn language_prefix<'a>(site_base: &str, language_base: &'a str) -> &'a str {
    language_base.strip_prefix(site_base).unwrap_or_default()
}

/// The file, relative to the output folder, that holds the resource served at `url_path`:
/// a path ending in `/` is its folder's `index.html`. `None` for a path that would leave the
/// folder (`..`, backslashes).
pub fn file_for(url_path: &str) -> Option<PathBuf> {
    let rel = url_path.trim_start_matches('/');
    let rel = if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.to_owned()
    };
    let path = PathBuf::from(&rel);
    let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && !rel.contains('\\')).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_live_in_their_term_folder_under_the_language_prefix() {
        let key = FeedKey::term("es", "categories", "rust");
        let dir = format!(
            "{}{}",
            language_prefix("https://e.org/", "https://e.org/es/"),
            feed_dir(&key)
        );
        assert_eq!(
            feed_path(&dir, Format::Atom),
            "/es/categories/rust/atom.xml"
        );
        assert_eq!(feed_path("", Format::Json), "/feed.json");
        assert_eq!(page_path(&dir).as_deref(), Some("/es/categories/rust/"));
        assert_eq!(page_path("es/").as_deref(), Some("/es/"));
        assert_eq!(page_path(""), None, "the index page is there");
        assert_eq!(file_for("/es/").unwrap(), PathBuf::from("es/index.html"));
    }

    #[test]
    fn folders_become_index_files_and_escapes_are_refused() {
        assert_eq!(file_for("/"), Some(PathBuf::from("index.html")));
        assert_eq!(file_for("/a/rss.xml"), Some(PathBuf::from("a/rss.xml")));
        assert_eq!(file_for("/../x"), None);
        assert_eq!(file_for("/a\\b"), None);
    }
}

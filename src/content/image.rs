//! What a featured image reference says beyond its URL: the image type its file name
//! names, and which file of the site it is (a page bundle's resource, or a file of the
//! site's `static/` folder). Pure: the source looks the file up on disk.

use crate::post::{ImageMeta, SiteFile};

/// The image `reference` as written in the post at `source` (content-relative), resolved to
/// the absolute `url`.
pub(crate) fn meta(source: &str, reference: &str, url: &str) -> ImageMeta {
    ImageMeta {
        mime_type: mime_type(url),
        file: site_file(source, reference),
        length: None,
    }
}

/// The `image/…` type the URL's file name names (`.jpg` → `image/jpeg`), if any.
pub(crate) fn mime_type(url: &str) -> Option<&'static str> {
    let path = url::Url::parse(url).ok()?.path().to_owned();
    let name = path.rsplit('/').next().filter(|n| n.contains('.'))?;
    mime_guess::from_path(name)
        .first_raw()
        .filter(|t| t.starts_with("image/"))
}

/// The file a reference names: root-relative references are under `static/`, relative
/// ones are resources of the post's page bundle (`post/x/index.md` + `cover.jpg`). Remote
/// URLs, relative references from a post that is not a bundle (Hugo resolves those against
/// the page's URL, which is no file), and paths that climb out (`..`) name none.
fn site_file(source: &str, reference: &str) -> Option<SiteFile> {
    let r = reference.trim();
    if r.contains("://") || r.starts_with("//") || r.starts_with("data:") {
        return None;
    }
    let r = r.split(['?', '#']).next()?;
    let mut parts = Vec::new();
    for part in r.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return None;
    }
    let rel = parts.join("/");
    if r.starts_with('/') {
        return Some(SiteFile::Static(rel));
    }
    let (dir, file) = source.rsplit_once('/').unwrap_or(("", source));
    if !file.starts_with("index.") {
        return None;
    }
    Some(SiteFile::Content(if dir.is_empty() {
        rel
    } else {
        format!("{dir}/{rel}")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_file_name_and_only_image_types_count() {
        assert_eq!(mime_type("https://e.org/a/b.JPG?x=1"), Some("image/jpeg"));
        assert_eq!(mime_type("https://e.org/a.png"), Some("image/png"));
        assert_eq!(mime_type("https://e.org/a.webp"), Some("image/webp"));
        assert_eq!(mime_type("https://e.org/a.pdf"), None);
        assert_eq!(mime_type("https://e.org/photo"), None);
    }

    #[test]
    fn bundle_resources_and_static_files_are_site_files() {
        assert_eq!(
            site_file("post/x/index.md", "cover.jpg"),
            Some(SiteFile::Content("post/x/cover.jpg".into()))
        );
        assert_eq!(
            site_file("post/x/index.es.md", "./img/c.png?v=2"),
            Some(SiteFile::Content("post/x/img/c.png".into()))
        );
        assert_eq!(
            site_file("post/a.md", "/img/a.png"),
            Some(SiteFile::Static("img/a.png".into()))
        );
        // Relative to a page that is not a bundle, remote, or climbing out: no file.
        assert_eq!(site_file("post/a.md", "a.png"), None);
        assert_eq!(
            site_file("post/x/index.md", "https://cdn.example/a.png"),
            None
        );
        assert_eq!(site_file("post/x/index.md", "//cdn.example/a.png"), None);
        assert_eq!(site_file("post/x/index.md", "../../secret.png"), None);
        assert_eq!(site_file("post/x/index.md", "/img/../../etc/passwd"), None);
    }
}

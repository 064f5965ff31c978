//! Where a post lives on the site, and making every URL a post mentions absolute.
//!
//! Permalinks follow the Hugo-style pattern of the settings (`/:section/:slug/`). Every
//! token value becomes exactly one safe path segment: values that could change the URL's
//! shape (`/`, `\`, `?`, `#`, `%`, `.`/`..`, control characters) are slugified, whitespace
//! becomes `-`, the segment is lower-cased (Hugo's default) and percent-encoded. The result
//! is always checked to lie under `base_url`.

use chrono::{DateTime, Datelike, FixedOffset};
use url::Url;

/// What the source path says about a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceParts {
    /// First folder of the path (empty for files at the content root and root bundles).
    pub section: String,
    /// File stem, or the folder name of a leaf bundle (`x/index.md`).
    pub filename: String,
}

impl SourceParts {
    pub(crate) fn of(source: &str) -> SourceParts {
        let mut parts: Vec<&str> = source.split('/').filter(|p| !p.is_empty()).collect();
        let file = parts.pop().unwrap_or("");
        let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
        let filename = if stem == "index" && !parts.is_empty() {
            parts.pop().unwrap_or(stem)
        } else {
            stem
        };
        SourceParts {
            section: parts.first().copied().unwrap_or("").to_string(),
            filename: filename.to_string(),
        }
    }
}

/// What a permalink pattern can refer to.
pub(crate) struct Tokens<'a> {
    pub parts: &'a SourceParts,
    pub slug: Option<&'a str>,
    pub title: &'a str,
    pub published: DateTime<FixedOffset>,
}

/// One token value as a safe, percent-encoded path segment (possibly empty).
fn segment(raw: &str) -> String {
    let t = raw.trim();
    let shaped = t == "."
        || t == ".."
        || t.chars()
            .any(|c| matches!(c, '/' | '\\' | '?' | '#' | '%') || c.is_control());
    let s = if shaped {
        slug::slugify(t)
    } else {
        t.split_whitespace().collect::<Vec<_>>().join("-")
    };
    let mut out = String::with_capacity(s.len());
    for b in s.to_lowercase().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The post's absolute permalink: front matter `url` when given, else the pattern.
pub(crate) fn permalink(
    base: &Url,
    pattern: &str,
    url_field: Option<&str>,
    t: &Tokens<'_>,
) -> Result<Url, String> {
    if let Some(u) = url_field.map(str::trim).filter(|u| !u.is_empty()) {
        let joined = match Url::parse(u) {
            Ok(abs) => abs,
            Err(_) => base
                .join(&collapse_slashes(u))
                .map_err(|e| format!("`url: {u}` is not a usable path: {e}"))?,
        };
        return under_base(base, joined)
            .ok_or_else(|| format!("`url: {u}` leads outside the site ({base})"));
    }
    let filename = segment(&t.parts.filename);
    let slug = t
        .slug
        .map(segment)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| filename.clone());
    let mut path = String::with_capacity(pattern.len() + 32);
    let mut rest = pattern;
    while let Some(i) = rest.find(':') {
        path.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let value = match &after[..len] {
            "section" => segment(&t.parts.section),
            "slug" | "slugorfilename" | "slugorcontentbasename" => slug.clone(),
            "filename" | "contentbasename" => filename.clone(),
            "year" => format!("{:04}", t.published.year()),
            "month" => format!("{:02}", t.published.month()),
            "day" => format!("{:02}", t.published.day()),
            "title" => Some(segment(&slug::slugify(t.title)))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| slug.clone()),
            _ => {
                path.push(':');
                rest = after;
                continue;
            }
        };
        path.push_str(&value);
        rest = &after[len..];
    }
    path.push_str(rest);
    let path = collapse_slashes(&path);
    let joined = base
        .join(&path)
        .map_err(|e| format!("permalink `{path}` is not a usable path: {e}"))?;
    under_base(base, joined)
        .ok_or_else(|| format!("permalink `{path}` leads outside the site ({base})"))
}

/// Collapses runs of `/` and drops the leading one, so the path joins *under* the base.
fn collapse_slashes(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        if !(c == '/' && (out.is_empty() || out.ends_with('/'))) {
            out.push(c);
        }
    }
    out
}

fn under_base(base: &Url, u: Url) -> Option<Url> {
    u.as_str().starts_with(base.as_str()).then_some(u)
}

/// A reference to a site file (images): root-relative against the site root (`base`),
/// relative against the post's page (`page`, for page bundles), absolute http(s) kept;
/// other schemes → `None`.
pub(crate) fn site_url(base: &Url, page: &Url, reference: &str) -> Option<String> {
    let r = reference.trim();
    let u = match Url::parse(r) {
        Ok(abs) => abs,
        Err(_) if r.starts_with("//") => page.join(r).ok()?,
        Err(_) if r.starts_with('/') => base.join(&collapse_slashes(r)).ok()?,
        Err(_) => page.join(r).ok()?,
    };
    matches!(u.scheme(), "http" | "https").then(|| u.to_string())
}

/// The external article of a link post: absolute http(s), relative ones resolved against
/// the site; anything else (`javascript:`, `mailto:`, `ftp:`) is an error. Empty → `None`.
pub(crate) fn external(base: &Url, link: &str) -> Result<Option<String>, String> {
    let l = link.trim();
    if l.is_empty() {
        return Ok(None);
    }
    let u = match Url::parse(l) {
        Ok(abs) => abs,
        Err(_) if l.starts_with("//") => base
            .join(l)
            .map_err(|e| format!("`link: {l}` is not a URL: {e}"))?,
        Err(_) => base
            .join(&collapse_slashes(l))
            .map_err(|e| format!("`link: {l}` is not a URL: {e}"))?,
    };
    match u.scheme() {
        "http" | "https" => Ok(Some(u.to_string())),
        other => Err(format!(
            "`link: {l}` must be an http(s) URL, not `{other}:`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://example.org/blog/").unwrap()
    }

    fn link(source: &str, pattern: &str, slug: Option<&str>, title: &str) -> String {
        let parts = SourceParts::of(source);
        let published = DateTime::parse_from_rfc3339("2019-03-02T13:35:48+01:00").unwrap();
        let t = Tokens {
            parts: &parts,
            slug,
            title,
            published,
        };
        permalink(&base(), pattern, None, &t)
            .map(String::from)
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn source_parts() {
        assert_eq!(
            SourceParts::of("post/my-post.md"),
            SourceParts {
                section: "post".into(),
                filename: "my-post".into()
            }
        );
        assert_eq!(
            SourceParts::of("post/bundle/index.md"),
            SourceParts {
                section: "post".into(),
                filename: "bundle".into()
            }
        );
        assert_eq!(
            SourceParts::of("about.md"),
            SourceParts {
                section: "".into(),
                filename: "about".into()
            }
        );
        assert_eq!(
            SourceParts::of("about/index.markdown"),
            SourceParts {
                section: "".into(),
                filename: "about".into()
            }
        );
        assert_eq!(
            SourceParts::of("docs/a/b/page.md"),
            SourceParts {
                section: "docs".into(),
                filename: "page".into()
            }
        );
    }

    #[test]
    fn pattern_tokens() {
        assert_eq!(
            link("post/x.md", "/:section/:slug/", None, "T"),
            "https://example.org/blog/post/x/"
        );
        assert_eq!(
            link("post/x.md", "/:section/:slug/", Some("My Post"), "T"),
            "https://example.org/blog/post/my-post/"
        );
        assert_eq!(
            link("about.md", "/:section/:slug/", None, "T"),
            "https://example.org/blog/about/"
        );
        assert_eq!(
            link("post/x.md", "/:year/:month/:day/:filename/", Some("s"), "T"),
            "https://example.org/blog/2019/03/02/x/"
        );
        assert_eq!(
            link("post/x.md", "/:title/", None, "Hello, World!"),
            "https://example.org/blog/hello-world/"
        );
        assert_eq!(
            link("post/b/index.md", "/:section/:slug/", None, "T"),
            "https://example.org/blog/post/b/"
        );
        assert_eq!(
            link("post/x.md", "/:section/:slug.html", None, "T"),
            "https://example.org/blog/post/x.html"
        );
        assert_eq!(
            link("post/x.md", "/p/:unknown/:slug/", None, "T"),
            "https://example.org/blog/p/:unknown/x/"
        );
    }

    #[test]
    fn hostile_slugs_stay_under_the_base() {
        for (slug, want) in [
            ("../../etc", "https://example.org/blog/post/etc/"),
            ("a/b", "https://example.org/blog/post/a-b/"),
            ("?x", "https://example.org/blog/post/x/"),
            ("#frag", "https://example.org/blog/post/frag/"),
            ("..", "https://example.org/blog/post/x/"),
            ("100%", "https://example.org/blog/post/100/"),
            (
                "東京 ✓",
                "https://example.org/blog/post/%E6%9D%B1%E4%BA%AC-%E2%9C%93/",
            ),
            ("  ", "https://example.org/blog/post/x/"),
        ] {
            let got = link("post/x.md", "/:section/:slug/", Some(slug), "T");
            assert_eq!(got, want, "slug {slug:?}");
            assert!(Url::parse(&got).is_ok());
        }
    }

    #[test]
    fn url_field_overrides_and_cannot_escape() {
        let parts = SourceParts::of("post/x.md");
        let published = DateTime::parse_from_rfc3339("2019-03-02T13:35:48Z").unwrap();
        let t = Tokens {
            parts: &parts,
            slug: None,
            title: "T",
            published,
        };
        let b = base();
        assert_eq!(
            permalink(&b, "/:slug/", Some("/custom//path/"), &t)
                .unwrap()
                .as_str(),
            "https://example.org/blog/custom/path/"
        );
        assert!(permalink(&b, "/:slug/", Some("/../../x/"), &t).is_err());
        assert!(permalink(&b, "/:slug/", Some("https://evil.example/"), &t).is_err());
    }

    #[test]
    fn site_urls_and_external_links() {
        let b = base();
        let page = Url::parse("https://example.org/blog/post/x/").unwrap();
        assert_eq!(
            site_url(&b, &page, "/img/a.jpg").unwrap(),
            "https://example.org/blog/img/a.jpg"
        );
        assert_eq!(
            site_url(&b, &page, "cover.jpg").unwrap(),
            "https://example.org/blog/post/x/cover.jpg"
        );
        assert_eq!(
            site_url(&b, &page, "https://cdn.example/a.jpg").unwrap(),
            "https://cdn.example/a.jpg"
        );
        assert_eq!(site_url(&b, &page, "data:image/png;base64,AAAA"), None);
        assert_eq!(site_url(&b, &page, "javascript:alert(1)"), None);
        assert_eq!(
            external(&b, " https://w.org/a ").unwrap().as_deref(),
            Some("https://w.org/a")
        );
        assert_eq!(
            external(&b, "/local/").unwrap().as_deref(),
            Some("https://example.org/blog/local/")
        );
        assert_eq!(external(&b, "").unwrap(), None);
        assert!(external(&b, "javascript:alert(1)")
            .unwrap_err()
            .contains("http(s)"));
        assert!(external(&b, "ftp://x.org/").is_err());
    }
}

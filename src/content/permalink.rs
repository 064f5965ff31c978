//! Where a page lives on the site, and making every URL a post mentions absolute.
//!
//! [`permalink`] reproduces Hugo 0.111's URL for a regular page byte for byte: front
//! matter `url`, else the section's `permalinks` pattern, else the path-based default;
//! `uglyURLs`, `removePathAccents`, `disablePathToLower`, language prefixes and a base
//! URL with a path. Each Hugo step is mirrored in order, because the order shows in the
//! output: tokens are urlized, the expansion is query-unescaped, the whole path is
//! cleaned, then sanitized (Hugo's `UnicodeSanitize` + lower-casing), then escaped as Go's
//! `url.Parse(..).String()` does. Herald deviates only where Hugo's URL would leave the
//! site (`..` surviving sanitizing): the path is cleaned once more, and anything that still
//! does not lie under `base` is an error. [`urlize`] is Hugo's `urlize` for term URLs.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, FixedOffset, Timelike};
use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};
use url::Url;

/// Site-wide permalink rules: Hugo's `permalinks`, `uglyURLs`, `removePathAccents`, `disablePathToLower`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermalinkRules {
    /// Section (first folder under the language's content dir) → pattern, as in Hugo's `permalinks`.
    /// The key "*" applies to every section without its own entry (Herald's own `permalink:` config key).
    /// No entry: Hugo's default, path-based URL.
    pub patterns: BTreeMap<String, String>,
    pub ugly_urls: bool,
    pub remove_path_accents: bool,
    pub disable_path_to_lower: bool,
}

/// What a page's URL can depend on.
pub(crate) struct Page<'a> {
    /// Path relative to the language's content dir, `/`-separated, language suffix already removed:
    /// `post/linux/x.md`, `post/b/index.md`, `about.md`, `post/y.html`.
    pub path: &'a str,
    /// URL prefix of the page's language: "" for the default language (without defaultContentLanguageInSubdir), else "es/".
    pub lang_prefix: &'a str,
    /// Front matter `slug`.
    pub slug: Option<&'a str>,
    /// Front matter title as written (may be empty).
    pub title: &'a str,
    /// The page's `.Date`.
    pub date: DateTime<FixedOffset>,
    /// Front matter `url`.
    pub url: Option<&'a str>,
}

/// The page's absolute permalink, as Hugo 0.111's `.Permalink`.
pub(crate) fn permalink(
    base: &Url,
    rules: &PermalinkRules,
    page: &Page<'_>,
) -> Result<Url, String> {
    let link = match page.url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => url_link(u, page.lang_prefix).map_err(|e| format!("`url: {u}` {e}"))?,
        None => path_link(rules, page)?,
    };
    let joined = format!("{base}{}", link.trim_start_matches('/'));
    let u =
        Url::parse(&joined).map_err(|e| format!("permalink `{link}` is not a usable URL: {e}"))?;
    under_base(base, u).ok_or_else(|| format!("permalink `{link}` leads outside the site ({base})"))
}

/// Hugo's `urlize` of a term or title (for term page URLs): same sanitizing rules as paths.
pub(crate) fn urlize(s: &str, rules: &PermalinkRules) -> String {
    let clean = sanitize(s, rules);
    go_url_escape(&clean).unwrap_or(clean) // Hugo too returns its input when Go cannot parse it
}

/// The file stem, or a leaf bundle's folder name: what `:filename` stands for.
pub(crate) fn file_name(path: &str) -> &str {
    Source::of(path).name
}

/// Front matter `url`: kept as written (no sanitizing, no lower-casing), cleaned, `/`
/// appended unless it names a file (Hugo: ends in `/` or has no `.` at all → `index.html`).
/// Only a relative `url` gets the language prefix.
fn url_link(u: &str, lang_prefix: &str) -> Result<String, String> {
    if Url::parse(u).is_ok() {
        return Err("must be a path on this site (Hugo rejects URLs with a scheme)".into());
    }
    // Hugo cleans a `url` holding `..` before looking at it (dropping a trailing `/`).
    let looked_at = if u.contains("..") {
        clean(u).trim_end_matches('/').to_string()
    } else {
        u.to_string()
    };
    let index = looked_at.ends_with('/') || !looked_at.contains('.');
    let mut link = clean(&looked_at);
    if index && !link.ends_with('/') {
        link.push('/');
    }
    if !u.starts_with('/') {
        link = with_prefix(lang_prefix, &link);
    }
    go_url_escape(&link).map_err(|e| format!("is not a valid URL path ({e}; Hugo fails on it too)"))
}

/// Pattern or default path: expanded, cleaned, sanitized, escaped.
fn path_link(rules: &PermalinkRules, page: &Page<'_>) -> Result<String, String> {
    let src = Source::of(page.path);
    let slug = page
        .slug
        .map(|s| s.trim_matches('-'))
        .filter(|s| !s.is_empty()); // Hugo trims `-`
    let expanded = match pattern_for(rules, src.section) {
        // Hugo query-unescapes the expansion (so `+` becomes a space) and ignores failures,
        // falling back to the default URL.
        Some(p) => query_unescape(&expand(p, &src, slug, page, rules)?).unwrap_or_default(),
        None => String::new(),
    };
    let mut path = if expanded.is_empty() {
        format!("{}/{}", src.dirs.join("/"), slug.unwrap_or(src.name))
    } else {
        expanded
    };
    if rules.ugly_urls {
        let trimmed = clean(&path);
        path = format!("{}.html", trimmed.trim_end_matches('/'));
    } else {
        path = format!("{}/", clean(&path).trim_end_matches('/'));
    }
    // Sanitizing after cleaning is Hugo's order (`.?.` becomes `..`); the second clean is
    // Herald's: no `..` segment may survive into a feed.
    let trailing = path.ends_with('/');
    let mut path = clean(&sanitize(&path, rules));
    if trailing && !path.ends_with('/') {
        path.push('/');
    }
    go_url_escape(&with_prefix(page.lang_prefix, &path))
}

fn with_prefix(lang_prefix: &str, link: &str) -> String {
    match lang_prefix.trim_matches('/') {
        "" => link.to_string(),
        p => format!("/{p}{link}"),
    }
}

/// Hugo lower-cases the `permalinks` keys and matches them against the section as is.
fn pattern_for<'r>(rules: &'r PermalinkRules, section: &str) -> Option<&'r str> {
    rules
        .patterns
        .iter()
        .find(|(k, _)| k.as_str() != "*" && k.to_lowercase() == section)
        .or_else(|| rules.patterns.get_key_value("*"))
        .map(|(_, p)| p.as_str())
}

/// What the source path says about a page.
struct Source<'a> {
    /// Folders holding the page (a leaf bundle's own folder excluded).
    dirs: Vec<&'a str>,
    /// First of `dirs`, or empty at the content root.
    section: &'a str,
    /// File stem, or the folder name of a leaf bundle (`x/index.md`).
    name: &'a str,
}

impl<'a> Source<'a> {
    fn of(path: &'a str) -> Source<'a> {
        let mut dirs: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let file = dirs.pop().unwrap_or("");
        let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
        let name = if stem == "index" {
            dirs.pop().unwrap_or("")
        } else {
            stem
        };
        let section = dirs.first().copied().unwrap_or("");
        Source {
            dirs,
            section,
            name,
        }
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Replaces each `:token` (Go's `:\w+`) of the pattern with its value.
fn expand(
    pattern: &str,
    src: &Source<'_>,
    slug: Option<&str>,
    page: &Page<'_>,
    rules: &PermalinkRules,
) -> Result<String, String> {
    let d = &page.date;
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut rest = pattern;
    while let Some(i) = rest.find(':') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let token = &after[..len];
        let slug_or = |other: &str| urlize(slug.unwrap_or(other), rules);
        let value = match token {
            "" => ":".to_string(),
            "year" => d.year().to_string(), // Go's strconv: not zero-padded
            "month" => format!("{:02}", d.month()),
            "monthname" => MONTHS[d.month0() as usize].to_string(),
            "day" => format!("{:02}", d.day()),
            "weekday" => d.weekday().num_days_from_sunday().to_string(),
            "weekdayname" => WEEKDAYS[d.weekday().num_days_from_sunday() as usize].to_string(),
            "yearday" => d.ordinal().to_string(),
            "section" => src.section.to_string(),
            "sections" => src.dirs.join("/"),
            "title" => urlize(page.title, rules),
            "slug" => slug_or(page.title),
            "slugorfilename" | "slugorcontentbasename" => slug_or(src.name),
            "filename" | "contentbasename" => urlize(src.name, rules),
            _ => go_date(token, d).ok_or_else(|| {
                format!(
                    "permalink pattern `{pattern}`: unknown token `:{token}` (Hugo: ill-formed)"
                )
            })?,
        };
        out.push_str(&value);
        rest = &after[len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A token in Go's date layout form (`:2006`, `:Jan`, `:02`, `_2`, `002`, …), formatted as
/// Go's `time.Format`; `None` when it holds no layout element. Zones (`MST`, `Z07`) and
/// `PM` are left literal.
fn go_date(layout: &str, d: &DateTime<FixedOffset>) -> Option<String> {
    let (mut out, mut found, mut rest) = (String::new(), false, layout);
    let h12 = if d.hour() % 12 == 0 {
        12
    } else {
        d.hour() % 12
    };
    while let Some(c) = rest.chars().next() {
        let next = rest.as_bytes().get(1).copied();
        let (len, value) = if rest.starts_with("January") {
            (7, MONTHS[d.month0() as usize].to_string())
        } else if rest.starts_with("Jan") {
            (3, MONTHS[d.month0() as usize][..3].to_string())
        } else if rest.starts_with("Monday") {
            (
                6,
                WEEKDAYS[d.weekday().num_days_from_sunday() as usize].to_string(),
            )
        } else if rest.starts_with("Mon") {
            (
                3,
                WEEKDAYS[d.weekday().num_days_from_sunday() as usize][..3].to_string(),
            )
        } else if c == '0' && matches!(next, Some(b'1'..=b'6')) {
            let v = match next {
                Some(b'1') => d.month(),
                Some(b'2') => d.day(),
                Some(b'3') => h12,
                Some(b'4') => d.minute(),
                Some(b'5') => d.second(),
                _ => d.year().rem_euclid(100) as u32,
            };
            (2, format!("{v:02}"))
        } else if rest.starts_with("002") {
            (3, format!("{:03}", d.ordinal()))
        } else if rest.starts_with("15") {
            (2, format!("{:02}", d.hour()))
        } else if rest.starts_with("2006") {
            (4, format!("{:04}", d.year()))
        } else if rest.starts_with("__2") {
            (3, format!("{:>3}", d.ordinal()))
        } else if rest.starts_with("_2") && !rest.starts_with("_2006") {
            (2, format!("{:>2}", d.day()))
        } else if let Some(v) = match c {
            '1' => Some(d.month()),
            '2' => Some(d.day()),
            '3' => Some(h12),
            '4' => Some(d.minute()),
            '5' => Some(d.second()),
            _ => None,
        } {
            (1, v.to_string())
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        found = true;
        out.push_str(&value);
        rest = &rest[len..];
    }
    found.then_some(out)
}

/// Hugo's `MakePathSanitized`: accents removed if asked, then `UnicodeSanitize` (letters,
/// digits, marks and `./\_#+~-@` kept, `%XX` kept, a run of whitespace becomes one `-`
/// unless next to a `-`, everything else dropped), then Go's lower-casing.
fn sanitize(s: &str, rules: &PermalinkRules) -> String {
    let s = if rules.remove_path_accents {
        let nfd = icu_normalizer::DecomposingNormalizerBorrowed::new_nfd().normalize(s);
        let gc = icu_properties::CodePointMapData::<GeneralCategory>::new();
        let bare: String = nfd
            .chars()
            .filter(|&c| gc.get(c) != GeneralCategory::NonspacingMark)
            .collect();
        icu_normalizer::ComposingNormalizerBorrowed::new_nfc()
            .normalize(&bare)
            .into_owned()
    } else {
        s.to_string()
    };
    let gc = icu_properties::CodePointMapData::<GeneralCategory>::new();
    let src: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let (mut prepend_hyphen, mut was_hyphen) = (false, false);
    for (i, &c) in src.iter().enumerate() {
        let cat = gc.get(c);
        let allowed = matches!(c, '.' | '/' | '\\' | '_' | '#' | '+' | '~' | '-' | '@')
            || GeneralCategoryGroup::Letter.contains(cat)
            || cat == GeneralCategory::DecimalNumber
            || GeneralCategoryGroup::Mark.contains(cat)
            || (c == '%'
                && i + 2 < src.len()
                && src[i + 1].is_ascii_hexdigit()
                && src[i + 2].is_ascii_hexdigit());
        if allowed {
            was_hyphen = c == '-';
            if prepend_hyphen && !was_hyphen {
                out.push('-');
            }
            prepend_hyphen = false;
            if rules.disable_path_to_lower {
                out.push(c);
            } else {
                // Go lower-cases rune by rune (`İ` → `i`, no final-sigma rule).
                out.push(c.to_lowercase().next().unwrap_or(c));
            }
        } else if !out.is_empty() && !was_hyphen && c.is_whitespace() {
            prepend_hyphen = true;
        }
    }
    out
}

/// Go's `path.Clean` of the path made absolute, keeping a trailing `/`: no empty, `.` or
/// `..` segments, and `..` cannot climb above the root.
fn clean(p: &str) -> String {
    let mut segs: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = format!("/{}", segs.join("/"));
    if p.ends_with('/') && !segs.is_empty() {
        out.push('/');
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Path,
    Fragment,
}

/// Go's `url.shouldEscape` for a path or a fragment.
fn should_escape(b: u8, part: Part) -> bool {
    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
        return false;
    }
    match b {
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => {
            part == Part::Path && b == b'?'
        }
        b'!' | b'(' | b')' | b'*' => part == Part::Path,
        _ => true,
    }
}

/// Go's `validEncoded`: the text may be kept as written.
fn valid_encoded(s: &str, part: Part) -> bool {
    s.bytes()
        .all(|b| b"!$&'()*+,;=:@[]%".contains(&b) || !should_escape(b, part))
}

fn escape(raw: &[u8], part: Part) -> String {
    let mut out = String::with_capacity(raw.len());
    for &b in raw {
        if should_escape(b, part) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

fn unescape(s: &str, plus_is_space: bool) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let v = hex
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        // Three characters, not bytes: the escape may be cut inside one.
                        let shown: String = s[i..].chars().take(3).collect();
                        format!("invalid URL escape `{shown}`")
                    })?;
                out.push(v);
                i += 3;
                continue;
            }
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

/// Go's `url.QueryUnescape`.
fn query_unescape(s: &str) -> Option<String> {
    unescape(s, true)
        .ok()
        .and_then(|v| String::from_utf8(v).ok())
}

/// Go's `url.Parse(link).String()` for a site-relative link (Hugo's `URLEscape`): the path
/// is kept as written when validly encoded, else re-escaped; the query is kept raw; the
/// fragment is treated like the path.
fn go_url_escape(link: &str) -> Result<String, String> {
    if link.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("invalid control character in URL".into());
    }
    let (rest, frag) = match link.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (link, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mut out = if valid_encoded(path, Part::Path) {
        unescape(path, false)?;
        path.to_string()
    } else {
        escape(&unescape(path, false)?, Part::Path)
    };
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = frag {
        let raw = unescape(f, false)?;
        if !raw.is_empty() {
            out.push('#');
            if valid_encoded(f, Part::Fragment) {
                out.push_str(f);
            } else {
                out.push_str(&escape(&raw, Part::Fragment));
            }
        }
    }
    Ok(out)
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
mod tests;

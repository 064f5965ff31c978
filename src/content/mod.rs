//! Turns one content file into a [`Post`]: split front matter, map fields, parse dates,
//! expand shortcodes, render and sanitize Markdown. Pure: never touches the filesystem.
//!
//! This file owns the entry points and the mapping from front-matter keys to [`Post`]
//! fields. The steps live beside it: [`frontmatter`] (split and decode), [`dates`],
//! [`fields`] (terms, authors, draft, image, aliases), [`image`] (the featured image's type
//! and file), [`permalink`] (and absolute URLs),
//! [`shortcodes`], [`markdown`] (render, sanitize) with [`rawhtml`] (the raw-HTML policy),
//! [`summary`] (plain text and automatic summaries), [`text`] (cleaning) and [`bounded`]
//! (limits that keep hostile bodies from making rendering super-linear, and the size cap of
//! an item's content).

mod bounded;
#[cfg(test)]
mod bounded_tests;
mod dates;
mod fields;
mod frontmatter;
mod image;
mod markdown;
mod mojibake;
mod permalink;
mod rawhtml;
mod shortcodes;
mod summary;
#[cfg(test)]
pub(crate) mod tests;
mod text;

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};

pub use bounded::MIN_ITEM_BYTES;
pub use markdown::RenderOptions;
pub use permalink::PermalinkRules;
pub use shortcodes::ShortcodeRule;

use crate::post::{Body, IdFrom, KeptBody, Post, Taxonomies};
use frontmatter::{Map, Value};

/// What `parse` needs to know about the site.
#[derive(Debug, Clone)]
pub struct ContentSettings {
    /// Absolute, ends with `/`.
    pub base_url: url::Url,
    /// Zone for dates written without an offset.
    pub timezone: chrono_tz::Tz,
    /// Where each page lives: the site's `permalinks`, `uglyURLs` and path rules.
    pub permalinks: PermalinkRules,
    /// Taxonomies (lower case) to collect from front matter, besides `categories` and `tags`.
    pub taxonomies: Vec<String>,
    /// Repair UTF-8-read-as-Windows-1252 mojibake (`â€”` → `—`). Found either way, and
    /// reported as a warning.
    pub repair_mojibake: bool,
    /// Raw HTML policy and Markdown extensions (the site's `markup.goldmark`).
    pub render: RenderOptions,
    /// Words in an automatic summary (Hugo's `summaryLength`).
    pub summary_length: usize,
    /// Bytes of HTML an item's content carries at most; a longer post's item is cut, with a
    /// link to its page (herald.yaml `max_item_bytes`).
    pub max_item_bytes: usize,
    /// The site's `params`, for the `param` shortcode.
    pub site_params: serde_json::Value,
    /// What to do with the site's own shortcodes (herald.yaml `shortcodes:`).
    pub shortcodes: BTreeMap<String, ShortcodeRule>,
    /// The site's languages, default first: where each one's content lives and its URL prefix.
    pub languages: Vec<ContentLanguage>,
    /// Which front-matter keys give a post's dates (Hugo's `frontmatter` config).
    pub dates: DateRules,
    /// A file without front matter (or with an empty one) is a page without a date, as in a
    /// Hugo site, rather than a broken post (Herald's own content folders).
    pub pages_need_no_front_matter: bool,
    /// Hugo's `buildDrafts` and `buildExpired`: publish drafts / expired posts anyway.
    pub build_drafts: bool,
    pub build_expired: bool,
}

/// One language of the site, as the parser needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentLanguage {
    /// Language code (`en`, `es`): also the file-name suffix of translations (`index.es.md`).
    pub code: String,
    /// URL prefix under the base URL: `""` or `es/`.
    pub url_prefix: String,
    /// Folder of this language's content relative to the content root, `/`-terminated, or
    /// `""` when it shares the root (translations by file name).
    pub content_dir: String,
}

impl ContentLanguage {
    /// The only language of a site that has one.
    pub fn single(code: &str) -> Vec<ContentLanguage> {
        vec![ContentLanguage {
            code: code.to_string(),
            url_prefix: String::new(),
            content_dir: String::new(),
        }]
    }
}

/// Front-matter keys (lower case) that give each date, first present wins, as in Hugo's
/// `frontmatter` config (Hugo 0.111's defaults read no file name). `:filename` takes a date from a file name such as
/// `2019-03-12-my-post.md`; `:git` and `:filemodtime` are skipped (they would make the output
/// depend on the checkout, not the content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateRules {
    pub date: Vec<String>,
    pub publish_date: Vec<String>,
    pub lastmod: Vec<String>,
    pub expiry_date: Vec<String>,
}

impl Default for DateRules {
    /// Hugo 0.111's defaults.
    fn default() -> Self {
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect();
        DateRules {
            date: keys(&[
                "date",
                "publishdate",
                "pubdate",
                "published",
                "lastmod",
                "modified",
            ]),
            publish_date: keys(&["publishdate", "pubdate", "published", "date"]),
            lastmod: keys(&[
                ":git",
                "lastmod",
                "modified",
                "date",
                "publishdate",
                "pubdate",
                "published",
            ]),
            expiry_date: keys(&["expirydate", "unpublishdate"]),
        }
    }
}

impl ContentSettings {
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        ContentSettings {
            base_url: s.feeds.base_url.clone(),
            timezone: s.content.timezone,
            permalinks: s.content.permalinks.clone(),
            taxonomies: s.content.taxonomies.clone(),
            repair_mojibake: s.content.repair_mojibake,
            languages: s
                .feeds
                .languages
                .iter()
                .map(|l| l.content.clone())
                .collect(),
            dates: s.content.dates.clone(),
            build_drafts: s.content.build_drafts,
            build_expired: s.content.build_expired,
            pages_need_no_front_matter: s.hugo_site.is_some(),
            render: RenderOptions {
                unsafe_html: s.content.markup.unsafe_html,
                typographer: s.content.markup.typographer,
                linkify: false,
            },
            summary_length: s.content.markup.summary_length,
            max_item_bytes: s.content.max_item_bytes,
            site_params: s.content.markup.site_params.clone(),
            shortcodes: s.content.markup.shortcodes.clone(),
        }
    }
}

/// The path of a taxonomy term's page on a Hugo site, under its language's home:
/// `categories/r%C3%A9colte/` (`categories/formats.html` with `uglyURLs`).
pub fn term_page_path(taxonomy: &str, term: &str, rules: &PermalinkRules) -> String {
    let slug = permalink::urlize(term, rules);
    if rules.ugly_urls {
        format!("{taxonomy}/{slug}.html")
    } else {
        format!("{taxonomy}/{slug}/")
    }
}

pub use crate::diagnostic::{Diagnostic, Severity};

/// Longest title kept, in characters; longer ones are cut at a word boundary with `…`.
pub const MAX_TITLE_CHARS: usize = 300;
/// Longest summary kept, in characters (ten times a 70-word automatic summary); longer ones
/// are cut at a word boundary with `…`. Hugo keeps a paragraph without a full stop whole, and
/// a post of one 4 MiB line would otherwise carry all of it as the summary of every item.
pub const MAX_SUMMARY_CHARS: usize = 5_000;
/// Terms kept per taxonomy per post: each term makes a feed, so a runaway list (a script
/// that pasted a whole tag cloud) would make hundreds. The rest are dropped with a warning.
pub const MAX_TERMS_PER_TAXONOMY: usize = 50;

/// A file parsed: the post, `None` for a page that is not a post (no date: a documentation
/// page; or a file outside every language's content), or why it cannot be used; plus
/// warnings (problems that do not keep the post out: mojibake, dropped terms). Warnings use
/// the same `path:line: message` shape.
#[derive(Debug)]
pub struct Parsed {
    pub result: Result<Option<Post>, Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

/// Parses the file at `source` (relative to the content dir, `/`-separated) from its raw
/// bytes. A page that is not a post is an error here (for callers that expect a post).
pub fn parse(source: &str, bytes: &[u8], settings: &ContentSettings) -> Result<Post, Diagnostic> {
    parse_with_warnings(source, bytes, settings)
        .result?
        .ok_or_else(|| Diagnostic {
            severity: crate::diagnostic::Severity::Error,
            path: source.to_string(),
            line: None,
            message: "not a post: it has no date (add a `date:`), or lies outside every \
                      language's content folder"
                .into(),
        })
}

/// Like [`parse`], keeping the warnings.
pub fn parse_with_warnings(source: &str, bytes: &[u8], settings: &ContentSettings) -> Parsed {
    parse_in(source, bytes, settings, &Cascade::default())
}

/// Like [`parse_with_warnings`], for a page below section pages whose `cascade` passes it
/// values (the page's own front matter wins).
pub fn parse_in(
    source: &str,
    bytes: &[u8],
    settings: &ContentSettings,
    inherited: &Cascade,
) -> Parsed {
    // Unit tests prove that a parser panic stays inside its file.
    #[cfg(test)]
    if bytes.starts_with(tests::PANIC_IN_PARSE) {
        panic!("a parser bug, simulated");
    }
    let mut warnings = Vec::new();
    let result = parse_inner(source, bytes, settings, inherited, &mut warnings);
    // Everything collected on the side is a warning: it never keeps the post out.
    let warnings = warnings.into_iter().map(Diagnostic::into_warning).collect();
    Parsed { result, warnings }
}

/// Front-matter values a section page (`_index.md`) passes down to every page below it
/// with `cascade:`, as Hugo 0.111 does: a map (or a list of maps without `_target`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cascade(Map);

impl Cascade {
    /// The `cascade` of a section page's bytes; empty when it has none or cannot be read
    /// (a broken section page is no reason to lose its posts).
    pub fn of_section_page(bytes: &[u8]) -> Cascade {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Cascade::default();
        };
        let text = text.replace("\r\n", "\n");
        let Ok(split) = frontmatter::split(&text) else {
            return Cascade::default();
        };
        let Ok(fm) = frontmatter::decode(&split) else {
            return Cascade::default();
        };
        let mut out = Map::new();
        let maps: Vec<&Map> = match fm.get("cascade") {
            Some(Value::Map(m)) => vec![m],
            Some(Value::List(items)) => items
                .iter()
                .filter_map(|i| match i {
                    Value::Map(m) if !m.contains_key("_target") => Some(m),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for m in maps {
            for (k, v) in m {
                // Hugo 0.111 cascades build options only as `_build`.
                if k != "build" {
                    out.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        Cascade(out)
    }

    /// `self` below `parent`: the nearer section's values win.
    pub fn under(&self, parent: &Cascade) -> Cascade {
        let mut out = parent.0.clone();
        out.extend(self.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        Cascade(out)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn parse_inner(
    source: &str,
    bytes: &[u8],
    settings: &ContentSettings,
    inherited: &Cascade,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Option<Post>, Diagnostic> {
    let Some(place) = locate(source, &settings.languages) else {
        return Ok(None);
    };
    let err = |line: Option<usize>, message: String| Diagnostic {
        severity: crate::diagnostic::Severity::Error,
        path: source.to_string(),
        line,
        message,
    };
    let text = decode_utf8(bytes).map_err(|line| {
        err(
            Some(line),
            format!(
                "not valid UTF-8 (first bad byte at line {line}): the file is probably \
                 Windows-1252/Latin-1 or UTF-16; save it as UTF-8"
            ),
        )
    })?;
    let text = mojibake(text, settings.repair_mojibake, |line, message| {
        warnings.push(err(Some(line), message))
    });
    let text = text::strip_controls_owned(text);
    if settings.pages_need_no_front_matter && frontmatter::is_absent_or_empty(&text) {
        // Hugo publishes such a file as a page without a date: not a post, not a problem.
        return Ok(None);
    }
    let split = frontmatter::split(&text).map_err(|(l, m)| err(l, m))?;
    let mut fm = frontmatter::decode(&split).map_err(|(l, m)| err(l, m))?;
    for (k, v) in &inherited.0 {
        fm.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let at = |key: &str, message: String| err(frontmatter::key_line(&split, key), message);

    // Dates, by the site's rules (Hugo's `frontmatter` config).
    let by_file_name = [
        &settings.dates.date,
        &settings.dates.publish_date,
        &settings.dates.lastmod,
        &settings.dates.expiry_date,
    ]
    .iter()
    .any(|keys| keys.iter().any(|k| k == ":filename"));
    let named = by_file_name
        .then(|| dates::from_file_name(&place.path))
        .flatten();
    let date = |keys: &[String]| -> Result<Option<DateTime<FixedOffset>>, Diagnostic> {
        for key in keys {
            match key.as_str() {
                ":filename" => {
                    if let Some((d, _)) = &named {
                        return Ok(Some(dates::in_site_zone(*d, settings.timezone)));
                    }
                }
                k if k.starts_with(':') => {}
                k => {
                    if let Some((key, v)) = fields::first_of(&fm, k) {
                        return read_date(v, settings.timezone)
                            .map(Some)
                            .map_err(|m| at(key, format!("`{key}`: {m}")));
                    }
                }
            }
        }
        Ok(None)
    };
    let Some(published) = date(&settings.dates.date)? else {
        // Hugo lists an undated page with the year 1: that is a documentation page, not a post.
        return Ok(None);
    };
    let live_from = date(&settings.dates.publish_date)?.unwrap_or(published);
    let lastmod = date(&settings.dates.lastmod)?;
    let expires = if settings.build_expired {
        None
    } else {
        date(&settings.dates.expiry_date)?
    };
    let updated = lastmod.filter(|&l| l > published);

    let draft = fields::draft(&fm).map_err(|m| at("draft", m))?;
    let opted_out = fields::opted_out(&fm).map_err(|(key, m)| at(key, m))?;
    let draft = (draft && !settings.build_drafts) || opted_out;

    // Body and summary: `description`/`summary`, else the text before the divider, else
    // Hugo's automatic summary. The title may come from the summary and the permalink from
    // the title, so shortcodes are expanded against the site's URL first (their plain text
    // does not depend on the page), and again once the permalink is known.
    let is_html = source.ends_with(".html") || source.ends_with(".htm");
    // `ref`/`relref` name another content file. Parsing sees one file, so the target's URL
    // comes from its path under the site's rules (its own `slug`/`url` are not known here).
    let page_dir = place.path.rsplit_once('/').map_or("", |(d, _)| d);
    let resolve_ref = |target: &str| -> Option<String> {
        let target = target.trim().split('#').next()?.trim();
        if target.is_empty() || target.contains("://") {
            return None;
        }
        let path = match target.strip_prefix('/') {
            Some(abs) => abs.to_string(),
            None if page_dir.is_empty() => target.to_string(),
            None => format!("{page_dir}/{target}"),
        };
        let path = if path.rsplit('/').next().is_some_and(|f| f.contains('.')) {
            path
        } else {
            format!("{path}.md")
        };
        let name = permalink::file_name(&path).to_string();
        let page = permalink::Page {
            path: &path,
            lang_prefix: place.url_prefix,
            slug: None,
            title: &name,
            date: published,
            url: None,
        };
        permalink::permalink(&settings.base_url, &settings.permalinks, &page)
            .ok()
            .map(String::from)
    };
    let expand = |page: &url::Url| {
        shortcodes::expand(
            split.body,
            &shortcodes::ShortcodeContext {
                base: &settings.base_url,
                page,
                site_params: &settings.site_params,
                page_params: &fm,
                custom: &settings.shortcodes,
                resolve_ref: &resolve_ref,
            },
        )
    };
    let expanded = expand(&settings.base_url);
    let summary = fields::first(&fm, &["description", "summary"])
        .and_then(|(_, v)| v.scalar_text())
        .map(|s| {
            let s = text::strip_known_tags(&text::drop_script_and_style(&s));
            text::one_line(&text::decode_entities(&s))
        })
        .filter(|s| !s.is_empty())
        .or_else(|| body_summary(&expanded, is_html, settings))
        .map(|s| text::truncate_words(&s, MAX_SUMMARY_CHARS));

    // Title, slug, permalink.
    // Hugo takes the slug from a dated file name (`2019-03-12-my-post.md` → `my-post`).
    let slug = fm.get("slug").and_then(fields::line).or_else(|| {
        named
            .as_ref()
            .map(|(_, s)| s.clone())
            .filter(|s| !s.is_empty())
    });
    let title = fm.get("title").and_then(fields::prose).unwrap_or_else(|| {
        summary
            .as_deref()
            .map(|s| text::truncate_words(s, 80))
            .unwrap_or_else(|| {
                slug.clone()
                    .unwrap_or_else(|| permalink::file_name(&place.path).to_string())
            })
    });
    let title = if title.is_empty() {
        "Untitled".to_string()
    } else {
        text::truncate_words(&title, MAX_TITLE_CHARS)
    };
    let url_field = fm.get("url").and_then(fields::line);
    let raw_title = fm.get("title").and_then(fields::line).unwrap_or_default();
    let page = permalink::Page {
        path: &place.path,
        lang_prefix: place.url_prefix,
        slug: slug.as_deref(),
        title: &raw_title,
        date: published,
        url: url_field.as_deref(),
    };
    let permalink = permalink::permalink(&settings.base_url, &settings.permalinks, &page)
        .map_err(|m| at(if url_field.is_some() { "url" } else { "slug" }, m))?;

    let expanded = if split.body.contains("{{") {
        expand(&permalink)
    } else {
        expanded
    };
    for name in expanded.unknown.iter().take(MAX_SHORTCODE_WARNINGS) {
        warnings.push(err(
            None,
            format!(
                "shortcode `{name}` is not built into Hugo; its inner content is \
                 kept (map it under `shortcodes:` in herald.yaml)"
            ),
        ));
    }
    if let Some(more) = expanded
        .unknown
        .len()
        .checked_sub(MAX_SHORTCODE_WARNINGS)
        .filter(|&n| n > 0)
    {
        warnings.push(err(
            None,
            format!(
                "{more} more shortcodes are not built into Hugo; their inner \
                 content is kept"
            ),
        ));
    }

    let external_url = match fm.get("link").and_then(Value::scalar_text) {
        Some(l) => permalink::external(&settings.base_url, &text::strip_controls(&l))
            .map_err(|m| at("link", m))?,
        None => None,
    };
    if fields::unrendered(&fm) && external_url.is_none() {
        // `_build: {render: never}`: the page has no URL of its own and nothing to link to.
        return Ok(None);
    }
    let image_ref = fields::image(&fm);
    let image = image_ref
        .as_deref()
        .and_then(|i| permalink::site_url(&settings.base_url, &permalink, i));
    let image_meta = match (&image_ref, &image) {
        (Some(reference), Some(url)) => image::meta(source, reference, url),
        _ => Default::default(),
    };
    // Old URLs are site paths (or absolute), like a root-relative image.
    let aliases: Vec<String> = fields::aliases(&fm)
        .iter()
        .filter_map(|a| {
            let a = a.trim();
            let rooted = if a.contains("://") || a.starts_with('/') {
                a.to_string()
            } else {
                format!("/{a}")
            };
            permalink::site_url(&settings.base_url, &settings.base_url, &rooted)
        })
        .collect();
    // The first alias is the URL the post was first published at: what its id was then.
    let (id, id_from) = match fields::first(&fm, &["id", "guid"]).and_then(|(_, v)| fields::line(v))
    {
        Some(id) => (id, IdFrom::FrontMatter),
        None => match aliases.first() {
            Some(first) => (first.clone(), IdFrom::Alias),
            None => (permalink.to_string(), IdFrom::Permalink),
        },
    };

    Ok(Some(Post {
        source: source.to_string(),
        id,
        id_from,
        aliases,
        title,
        lang: place.lang.to_string(),
        permalink: permalink.to_string(),
        external_url,
        published,
        live_from,
        updated,
        expires,
        draft,
        summary,
        taxonomies: taxonomies(&fm, &settings.taxonomies, |name, dropped| {
            warnings.push(at(
                name,
                format!(
                    "`{name}` lists more than {MAX_TERMS_PER_TAXONOMY} terms; \
                     the other {dropped} are left out (each term makes a feed)"
                ),
            ))
        }),
        authors: fields::authors(&fm),
        image,
        image_meta,
        body: Body::new(
            text::strip_controls_owned(expanded.markdown),
            expanded.fragments,
            settings.render,
            permalink.to_string(),
            is_html,
            settings.max_item_bytes,
            render_body,
        ),
    }))
}

/// Where a content file belongs: its language and its path inside that language's content.
#[derive(Debug, PartialEq, Eq)]
struct Place<'a> {
    lang: &'a str,
    url_prefix: &'a str,
    /// Path under the language's content folder, the language suffix removed
    /// (`post/a/index.es.md` → `post/a/index.md`).
    path: String,
}

/// Finds a file's language as Hugo does: the language whose content folder holds it (the
/// most specific one), overridden by a language suffix in the file name (`x.es.md`). A file
/// in no language's folder is not content.
fn locate<'a>(source: &str, languages: &'a [ContentLanguage]) -> Option<Place<'a>> {
    // Among equally specific folders the default language (listed first) wins.
    let mount = languages
        .iter()
        .rev()
        .filter(|l| source.starts_with(&l.content_dir))
        .max_by_key(|l| l.content_dir.len())?;
    let inner = &source[mount.content_dir.len()..];
    let (dir, file) = inner.rsplit_once('/').map_or(("", inner), |(d, f)| (d, f));
    let mut lang = mount;
    let mut name = file.to_string();
    if let Some((stem, ext)) = file.rsplit_once('.') {
        if let Some((base, code)) = stem.rsplit_once('.') {
            if let Some(l) = languages.iter().find(|l| l.code.eq_ignore_ascii_case(code)) {
                lang = l;
                name = format!("{base}.{ext}");
            }
        }
    }
    let path = if dir.is_empty() {
        name
    } else {
        format!("{dir}/{name}")
    };
    Some(Place {
        lang: &lang.code,
        url_prefix: &lang.url_prefix,
        path,
    })
}

/// Markdown → sanitized HTML with every URL absolute (relative ones resolved against
/// `base_url`), raw HTML kept (sanitized).
pub fn render_html(markdown: &str, base_url: &str) -> String {
    markdown::render_html(markdown, base_url)
}

/// A body → sanitized HTML with every URL absolute, cut to its `max_item_bytes`.
pub fn render_body(body: &KeptBody) -> String {
    // Unit tests prove that a renderer panic stays inside its post.
    #[cfg(test)]
    if body.markdown.starts_with(tests::PANIC_IN_RENDER) {
        panic!("a renderer bug, simulated");
    }
    let html = markdown::render_body(
        &body.markdown,
        &body.fragments,
        body.render,
        &body.base_url,
        body.is_html,
    );
    let cut =
        !body.is_html && bounded::markdown_cut(&body.markdown, body.render.typographer).is_some();
    if html.len() <= body.max_item_bytes && !cut {
        return html;
    }
    bounded::cap_item(&html, body.max_item_bytes, &body.base_url, cut).into_owned()
}

/// Finds (and, when asked, repairs) mojibake; reports one warning per line that has some.
fn mojibake(text: String, repair: bool, mut warn: impl FnMut(usize, String)) -> String {
    let scan = mojibake::scan(&text, repair);
    let action = if repair {
        "repaired"
    } else {
        "left as is; set `repair_mojibake: true` to repair it"
    };
    // The first lines are named one by one, with up to three examples each; a file damaged
    // throughout gets one summary line, not one warning per line.
    let named = &scan.lines[..scan.lines.len().min(MAX_MOJIBAKE_WARNINGS)];
    for &line in named {
        let examples: Vec<String> = scan
            .found
            .iter()
            .filter(|f| f.line == line)
            .take(3)
            .map(|f| format!("`{}` → `{}`", f.damaged, f.meant))
            .collect();
        let examples = if examples.is_empty() {
            "damaged characters".to_string()
        } else {
            examples.join(", ")
        };
        warn(
            line,
            format!("mojibake (UTF-8 once read as Windows-1252): {examples}; {action}"),
        );
    }
    if scan.damaged_lines > named.len() {
        let first_unnamed = scan.lines.get(named.len()).copied().unwrap_or(1);
        warn(
            first_unnamed,
            format!(
                "mojibake on {} more lines; {action}",
                scan.damaged_lines - named.len()
            ),
        );
    }
    scan.repaired.unwrap_or(text)
}

/// Unknown shortcodes named one by one in warnings; the rest are counted in one more.
const MAX_SHORTCODE_WARNINGS: usize = 20;

/// Lines with mojibake named one by one in warnings; the rest are counted in one more.
const MAX_MOJIBAKE_WARNINGS: usize = 20;

/// BOM stripped, CRLF (and a lone CR) → LF; `Err(line)` names the line of the first invalid byte.
fn decode_utf8(bytes: &[u8]) -> Result<String, usize> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    })?;
    // Control characters go before YAML sees them: it rejects some even in quoted strings,
    // and real posts carry NUL and U+0013. Removing them keeps every line number. C1
    // controls (U+0080-U+009F) are kept for now: mojibake detection needs them, and the
    // caller strips them after it.
    let text = text::strip_controls_keep_c1(text);
    Ok(if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text
    })
}

/// A date value: strings in any accepted form (TOML datetimes arrive as strings too).
fn read_date(v: &Value, tz: chrono_tz::Tz) -> Result<DateTime<FixedOffset>, String> {
    match v {
        Value::Str(s) => dates::parse_date(s, tz),
        other => Err(format!(
            "must be a date like 2019-03-12 or 2019-03-12T13:35:48Z, not `{}`",
            other
                .scalar_text()
                .unwrap_or_else(|| "a list or mapping".into())
        )),
    }
}

/// The summary a body gives: the plain text before the divider, else Hugo's automatic one.
fn body_summary(
    expanded: &shortcodes::Expanded,
    is_html: bool,
    settings: &ContentSettings,
) -> Option<String> {
    let markdown = text::strip_controls_cow(&expanded.markdown);
    let plain_of = |src: &str| {
        let html = if is_html {
            markdown::substitute(src, &expanded.fragments, true)
        } else {
            markdown::render_unsanitized(src, &expanded.fragments, settings.render, true)
        };
        summary::plain(&html)
    };
    match before_divider(&markdown) {
        Some(head) => {
            Some(text::one_line(&text::decode_entities(&plain_of(head)))).filter(|s| !s.is_empty())
        }
        None => summary::auto_summary(&plain_of(&markdown), settings.summary_length),
    }
}

/// The part of the body before `<!--more-->` / `<!-- more -->`, when there is a divider.
fn before_divider(markdown: &str) -> Option<&str> {
    let mut opens = text::Forward::new(markdown, "<!--");
    let mut closes = text::Forward::new(markdown, "-->");
    let mut search = 0;
    while let Some(start) = opens.at_or_after(search) {
        // No `-->` after this one: none after any later one either.
        let end = closes.at_or_after(start + 4)?;
        if markdown[start + 4..end].trim().eq_ignore_ascii_case("more") {
            return Some(&markdown[..start]);
        }
        search = start + 4;
    }
    None
}

/// `categories`, `tags` and the configured taxonomies; only non-empty lists are kept, each
/// cut to [`MAX_TERMS_PER_TAXONOMY`] terms (`dropped(name, count)` hears about the rest).
fn taxonomies(fm: &Map, configured: &[String], mut dropped: impl FnMut(&str, usize)) -> Taxonomies {
    let mut names: Vec<String> = vec!["categories".into(), "tags".into()];
    names.extend(configured.iter().map(|t| t.to_lowercase()));
    let mut out = BTreeMap::new();
    for name in names {
        if out.contains_key(&name) {
            continue;
        }
        if let Some(v) = fm.get(&name) {
            let mut terms = fields::terms(v);
            if terms.len() > MAX_TERMS_PER_TAXONOMY {
                dropped(&name, terms.len() - MAX_TERMS_PER_TAXONOMY);
                terms.truncate(MAX_TERMS_PER_TAXONOMY);
            }
            if !terms.is_empty() {
                out.insert(name, terms);
            }
        }
    }
    Taxonomies::from(out)
}

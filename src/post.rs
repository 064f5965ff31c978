//! The data model every later step shares: one published post, as parsed from one file.
//!
//! A `Post` is immutable once built. Its HTML body is rendered lazily, the first time a
//! feed needs it, because Markdown rendering and sanitizing cost far more than parsing front
//! matter and most posts of a large site never land in any feed (feeds hold the newest N).
//! For the same reason the site keeps a body only while some feed holds the post: the
//! others are replaced by a copy without one ([`Post::without_body`]), and read again
//! from their file when they enter a feed (see [`crate::site`]).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, FixedOffset};

/// One post: everything a feed item needs, already validated and made absolute.
#[derive(Debug)]
pub struct Post {
    /// Path of the source file relative to the content dir, `/`-separated. The index key.
    pub source: String,
    /// Stable item id: front matter `id`/`guid`, else the first of `aliases`, else the
    /// permalink; the site then keeps the id it published for this path or an alias (see
    /// [`crate::ids`]). Never changes once published.
    pub id: String,
    /// Where `id` came from: an id the front matter sets is never replaced.
    pub id_from: IdFrom,
    /// The post's old URLs (front matter `aliases:`, Hugo's key), absolute, in order.
    pub aliases: Vec<String>,
    /// Plain-text title (control characters removed, never empty).
    pub title: String,
    /// Language code of the post (`en`, `es`): which language's feeds it goes into.
    pub lang: String,
    /// Absolute URL of the post's page on our site.
    pub permalink: String,
    /// For link posts: the absolute URL of the external article the post points at.
    pub external_url: Option<String>,
    /// The post's date as the site shows it (Hugo's `.Date`: by default `date`, else
    /// `publishDate`, else `lastmod`): the item's publication date and its place in a feed.
    pub published: DateTime<FixedOffset>,
    /// When the post goes live (Hugo's `.PublishDate`: `publishDate`, else the date).
    pub live_from: DateTime<FixedOffset>,
    /// Last modification (`lastmod`), when it is given and later than `published`.
    pub updated: Option<DateTime<FixedOffset>>,
    /// The moment the post leaves every feed (`expiryDate`).
    pub expires: Option<DateTime<FixedOffset>>,
    /// `draft: true`: never published.
    pub draft: bool,
    /// Plain-text summary: `description`/`summary`, else the text before `<!--more-->`,
    /// else Hugo's automatic summary (`summary_length` words, to the end of a sentence).
    pub summary: Option<String>,
    /// Taxonomy name (lower case, e.g. `categories`, `tags`) → terms as written (deduplicated
    /// case-insensitively, first spelling wins, order kept).
    pub taxonomies: Taxonomies,
    /// Author names (`author`/`authors`).
    pub authors: Vec<String>,
    /// Absolute URL of the featured image.
    pub image: Option<String>,
    /// What else is known of the featured image: its type, and its file and size when it
    /// is a file of the site.
    pub image_meta: ImageMeta,
    /// The body, rendered on demand.
    pub body: Body,
}

/// A post's terms by taxonomy, sorted by taxonomy name: what a `BTreeMap` of them would
/// hold, in one allocation per level instead of a map node (about half a kilobyte) per post.
/// Built once per reading of the file and never changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taxonomies(Box<[Taxonomy]>);

/// One taxonomy's name and the post's terms in it.
type Taxonomy = (Box<str>, Box<[String]>);

impl Taxonomies {
    /// The terms of `taxonomy`, when the post has any.
    pub fn get(&self, taxonomy: &str) -> Option<&[String]> {
        let at = self
            .0
            .binary_search_by(|(name, _)| (**name).cmp(taxonomy))
            .ok()?;
        Some(&self.0[at].1)
    }

    pub fn contains_key(&self, taxonomy: &str) -> bool {
        self.get(taxonomy).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each taxonomy with its terms, by taxonomy name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(name, terms)| (&**name, &**terms))
    }
}

impl From<BTreeMap<String, Vec<String>>> for Taxonomies {
    fn from(map: BTreeMap<String, Vec<String>>) -> Taxonomies {
        Taxonomies(
            map.into_iter()
                .map(|(name, terms)| (name.into_boxed_str(), terms.into_boxed_slice()))
                .collect(),
        )
    }
}

/// Where a post's id came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdFrom {
    /// `id:` or `guid:` in the front matter.
    FrontMatter,
    /// The first of `aliases:`: the URL the post was first published at.
    Alias,
    /// The permalink.
    #[default]
    Permalink,
}

/// The featured image beyond its URL. The parser says where its file would be and guesses
/// its type from the name; the source, which alone touches the disk, fills in its size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageMeta {
    /// `image/…` type from the file extension, when the extension names an image type.
    pub mime_type: Option<&'static str>,
    /// The file the image would be served from, when the reference points into the site.
    pub file: Option<SiteFile>,
    /// The file's size in bytes, when the file exists (read with the post: a later change
    /// of the image alone shows when the post is next read).
    pub length: Option<u64>,
}

/// A file of the site, by where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteFile {
    /// Relative to the content directory (a page bundle's resource), `/`-separated.
    Content(String),
    /// Relative to the site's `static/` folder, `/`-separated.
    Static(String),
}

#[cfg(test)]
impl Post {
    /// A live post in English with no summary, terms, authors or image, its id its
    /// permalink: what unit tests start from (`Post { summary: …, ..Post::for_test(…) }`).
    pub(crate) fn for_test(
        source: &str,
        permalink: &str,
        title: &str,
        date: DateTime<FixedOffset>,
        body: Body,
    ) -> Post {
        Post {
            source: source.into(),
            id: permalink.into(),
            id_from: IdFrom::Permalink,
            aliases: Vec::new(),
            title: title.into(),
            lang: "en".into(),
            permalink: permalink.into(),
            external_url: None,
            published: date,
            live_from: date,
            updated: None,
            expires: None,
            draft: false,
            summary: None,
            taxonomies: Taxonomies::default(),
            authors: Vec::new(),
            image: None,
            image_meta: Default::default(),
            body,
        }
    }
}

impl Post {
    /// When this post last changed as far as a reader can tell: `updated`, else `published`.
    pub fn modified(&self) -> DateTime<FixedOffset> {
        self.updated.unwrap_or(self.published)
    }

    /// The link a reader follows: the external article for link posts, else the permalink.
    pub fn url(&self) -> &str {
        self.external_url.as_deref().unwrap_or(&self.permalink)
    }

    /// Terms of one taxonomy (empty when the post has none).
    pub fn terms(&self, taxonomy: &str) -> &[String] {
        self.taxonomies.get(taxonomy).unwrap_or(&[])
    }

    /// Every term of every taxonomy, categories first: what an item lists as its categories.
    /// A term in several taxonomies (a category that is also a tag) is listed once.
    pub fn item_categories(&self) -> Vec<&str> {
        let others = self
            .taxonomies
            .iter()
            .filter(|(name, _)| *name != "categories")
            .flat_map(|(_, terms)| terms);
        let mut seen = std::collections::HashSet::new();
        self.terms("categories")
            .iter()
            .chain(others)
            .map(String::as_str)
            .filter(|t| seen.insert(t.to_lowercase()))
            .collect()
    }

    /// The same post without its body, nor what else only its items show (its links,
    /// summary, authors and featured image) or only assigning its id reads (its aliases):
    /// what the index keeps of a post that is in no feed, enough to place it in its feeds
    /// and to recognise it. Its file is read again before a feed shows it.
    pub fn without_body(&self) -> Post {
        Post {
            source: self.source.clone(),
            id: self.id.clone(),
            id_from: self.id_from,
            aliases: Vec::new(),
            title: self.title.clone(),
            lang: self.lang.clone(),
            permalink: String::new(),
            external_url: None,
            published: self.published,
            live_from: self.live_from,
            updated: self.updated,
            expires: self.expires,
            draft: self.draft,
            summary: None,
            taxonomies: self.taxonomies.clone(),
            authors: Vec::new(),
            image: None,
            image_meta: ImageMeta::default(),
            body: Body::dropped(),
        }
    }

    /// Whether the post is in the feeds at instant `now`: not a draft, already published, not expired.
    pub fn is_live_at(&self, now: DateTime<FixedOffset>) -> bool {
        !self.draft && self.live_from <= now && self.expires.is_none_or(|e| e > now)
    }
}

/// How Markdown is rendered: the site's `markup.goldmark` settings that matter to readers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Keep raw HTML (sanitized). `false`, Hugo's default, drops it.
    pub unsafe_html: bool,
    /// Smart quotes and dashes (`"a"` → “a”, `--` → –).
    pub typographer: bool,
    /// Bare URLs as links. Not supported by pulldown-cmark 0.13: currently ignored.
    pub linkify: bool,
}

/// Turns a body into its HTML: given by the parser that made the body, so that the post
/// (which every later step shares) depends on no other module.
pub type Renderer = fn(&KeptBody) -> String;

/// A post body: its source (Markdown, or HTML for `.html` content files) with Hugo
/// shortcodes expanded, plus what rendering it needs. Rendering happens on first use.
/// One pointer in the post: most posts of a big site hold none ([`Body::dropped`]), and
/// the rest is a few hundred bytes that only a post in a feed needs.
#[derive(Debug)]
pub struct Body(Option<Box<KeptBody>>);

/// A body in memory: what [`Body`] points at.
#[derive(Debug)]
pub struct KeptBody {
    /// Markdown (or HTML when `is_html`) with built-in shortcodes as placeholders.
    pub markdown: String,
    /// The HTML of those shortcodes, by placeholder number; put back before sanitizing.
    pub fragments: Vec<String>,
    /// The raw-HTML policy and Markdown extensions.
    pub render: RenderOptions,
    /// Absolute URL that relative links in the body resolve against (the post's permalink).
    pub base_url: String,
    /// The source is an `.html` content file: sanitized as is, no Markdown pass.
    pub is_html: bool,
    /// Bytes of HTML the rendered content keeps at most (a longer one is cut, with a link
    /// to `base_url`).
    pub max_item_bytes: usize,
    renderer: Renderer,
    html: OnceLock<String>,
    /// This post as an item of each feed format, made once (see [`Body::item`]).
    items: [OnceLock<(u64, Arc<str>)>; 3],
}

impl Body {
    pub fn new(
        markdown: String,
        fragments: Vec<String>,
        render: RenderOptions,
        base_url: String,
        is_html: bool,
        max_item_bytes: usize,
        renderer: Renderer,
    ) -> Self {
        Body(Some(Box::new(KeptBody {
            markdown,
            fragments,
            render,
            base_url,
            is_html,
            max_item_bytes,
            renderer,
            html: OnceLock::new(),
            items: Default::default(),
        })))
    }

    /// A body not kept in memory: that of a post in no feed. It must never be rendered:
    /// the site reads the post again before a feed holds it.
    pub fn dropped() -> Self {
        Body(None)
    }

    /// Whether the body is in memory (see [`Body::dropped`]).
    pub fn is_kept(&self) -> bool {
        self.0.is_some()
    }

    /// The source as read (empty for a body not kept).
    pub fn markdown(&self) -> &str {
        self.0.as_ref().map_or("", |kept| &kept.markdown)
    }

    /// Sanitized HTML with absolute URLs, cut to `max_item_bytes`; empty when the body is
    /// empty. Rendered once.
    /// A panic while rendering (a bug on some input) stays inside this post: its content is
    /// left out of the feeds (the item keeps its title, link and summary) and is logged.
    pub fn html(&self) -> &str {
        let Some(kept) = &self.0 else {
            // The site re-reads a post before a feed shows it: this is a bug, said aloud.
            tracing::error!(
                "a post without its body in memory was rendered (a bug in Herald: please report it)"
            );
            return "";
        };
        kept.html.get_or_init(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (kept.renderer)(kept)))
                .unwrap_or_else(|_| {
                    tracing::error!(
                        page = %kept.base_url,
                        "rendering this post's content panicked (a bug in Herald: please report it); its content is left out of the feeds"
                    );
                    String::new()
                })
        })
    }

    /// A body whose HTML is already known (tests, and callers that cache rendered HTML).
    pub fn with_html(markdown: String, base_url: String, html: String) -> Self {
        Body(Some(Box::new(KeptBody {
            markdown,
            fragments: Vec::new(),
            render: RenderOptions::default(),
            base_url,
            is_html: false,
            max_item_bytes: usize::MAX,
            renderer: |_| String::new(),
            html: OnceLock::from(html),
            items: Default::default(),
        })))
    }

    pub fn is_empty(&self) -> bool {
        self.markdown().trim().is_empty()
    }

    /// The post's serialized item in feed format number `slot`, made by `make` the first
    /// time and kept: a post is rendered once per format, however many feeds hold it and
    /// however often they change. `key` names what else the item depends on (the site's
    /// settings); a different key gets a fresh rendering, uncached.
    pub fn item(&self, slot: usize, key: u64, make: impl FnOnce() -> String) -> Arc<str> {
        let Some(cell) = self.0.as_ref().and_then(|kept| kept.items.get(slot)) else {
            return Arc::from(make());
        };
        if let Some((cached_key, item)) = cell.get() {
            return if *cached_key == key {
                item.clone()
            } else {
                Arc::from(make())
            };
        }
        // Two threads may both make it (each feed format is one task); the first one set wins.
        let item: Arc<str> = Arc::from(make());
        let (cached_key, kept) = cell.get_or_init(|| (key, item.clone()));
        if *cached_key == key {
            kept.clone()
        } else {
            item
        }
    }
}

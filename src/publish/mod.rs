//! From an index to a snapshot: decides each feed's identity and items, renders the feeds
//! whose items changed since the last snapshot (reusing the exact bytes and ETags of the
//! others), and assembles the next immutable [`Snapshot`].

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset};

use crate::config::{Language, Settings, SiteInfo, SitePages};
use crate::feed::{self, FeedInfo, Format};
use crate::index::{FeedKey, Index};
use crate::layout::{self, FEED_LIST_PATH, INDEX_PATH, OPML_PATH};
use crate::post::Post;
use crate::snapshot::{Compressor, Moves, Resource, Snapshot};
use crate::state::{self, Changes, KnownFeed, Remembered, Validator};
use rayon::prelude::*;

/// A feed as last rendered: what it was made from, and the resulting resources.
struct Rendered {
    info: FeedInfo,
    items: Vec<Arc<Post>>,
    resources: Vec<(String, Arc<Resource>)>,
}

/// What one publish did, for the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishStats {
    /// Feeds served.
    pub feeds: usize,
    /// Feeds rendered anew (each in every format).
    pub rendered: usize,
    /// Feeds looked at: those the change could have touched.
    pub examined: usize,
}

/// `Cache-Control` per kind of resource (validated header text).
struct CacheHeaders {
    feeds: Bytes,
    listings: Bytes,
    pages: Bytes,
}

/// Renders feeds and remembers them, so the next publish only redoes what changed.
pub struct Publisher {
    /// The default language's site: what the OPML list, feed list and index page say.
    site: SiteInfo,
    languages: Vec<Language>,
    /// The site's URL rules, for term pages' URLs.
    permalinks: crate::content::PermalinkRules,
    /// Whose pages feeds link to: Herald's (in each feed's folder) or the site's.
    site_pages: SitePages,
    items_per_feed: usize,
    cache_control: CacheHeaders,
    feeds: BTreeMap<FeedKey, Rendered>,
    /// Whether the OPML list, feed list and index page have been rendered.
    listed: bool,
    /// Every served resource: the next snapshot is this map, shared, not copied.
    resources: imbl::OrdMap<String, Arc<Resource>>,
    /// The `now` of the last publish: posts timed between it and the next `now` changed feeds.
    published_at: Option<DateTime<FixedOffset>>,
    /// What was last served at each path (this process, or remembered from the state).
    validators: BTreeMap<String, Validator>,
    /// Every feed ever published: one whose last post goes is still served, empty.
    known: BTreeMap<FeedKey, FeedInfo>,
    /// What changed since [`Publisher::take_changes`], for the state store.
    changes: Changes,
    /// Served paths whose bytes changed or that went, since [`Publisher::take_changed_paths`]:
    /// what push and purge tell the world about.
    changed_paths: Vec<String>,
    /// Paths moved or retired by the operator: retired feeds are not rendered.
    moves: Arc<Moves>,
    /// Makes the compressed variants of what was just published, off the edit → served path.
    background: Option<Compressor>,
    /// What was served before this publisher's first publish (the last run's stored
    /// snapshot, or the running one on a reload): a resource rendered the same is served as
    /// that very one, its compressed codings included, instead of being compressed again.
    seed: imbl::OrdMap<String, Arc<Resource>>,
    /// [`Settings::output_fingerprint`], stamped on every snapshot.
    fingerprint: u128,
}

impl Publisher {
    pub fn new(settings: &Settings) -> Publisher {
        let cache_control = CacheHeaders {
            feeds: Bytes::from(settings.http.cache_control.feeds.clone()),
            listings: Bytes::from(settings.http.cache_control.listings.clone()),
            pages: Bytes::from(settings.http.cache_control.pages.clone()),
        };
        Publisher {
            site: settings.feeds.site.clone(),
            languages: settings.feeds.languages.clone(),
            permalinks: settings.content.permalinks.clone(),
            site_pages: settings.feeds.site_pages,
            items_per_feed: settings.feeds.items_per_feed,
            cache_control,
            feeds: BTreeMap::new(),
            listed: false,
            resources: imbl::OrdMap::new(),
            published_at: None,
            validators: BTreeMap::new(),
            known: BTreeMap::new(),
            changes: Changes::default(),
            changed_paths: Vec::new(),
            moves: Arc::new(settings.feeds.moves.clone()),
            background: None,
            seed: imbl::OrdMap::new(),
            fingerprint: settings.output_fingerprint(),
        }
    }

    /// What is served now, for the first publish to keep what it renders the same
    /// (see `seed`). Before the first publish.
    pub fn seed(&mut self, served: &Snapshot) {
        self.seed = served.resources.clone();
    }

    /// Takes over what an earlier run served: validators stay the same for the same bytes,
    /// and feeds published then are still served. Before the first publish.
    pub fn remember(&mut self, remembered: Remembered) {
        self.validators = remembered.validators;
        self.known = remembered
            .feeds
            .into_values()
            .map(|feed| (feed.key, feed.info))
            .collect();
    }

    /// The posts the feed `key` was last rendered with, newest first (none when it is not
    /// served): the site keeps the bodies of these.
    pub fn items_of(&self, key: &FeedKey) -> &[Arc<Post>] {
        self.feeds.get(key).map_or(&[], |r| &r.items)
    }

    /// How many items a feed holds at most (`items_per_feed`).
    pub fn items_per_feed(&self) -> usize {
        self.items_per_feed
    }

    /// What changed since the last call: for the state store.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// Served paths whose bytes changed (a new ETag) or that stopped being served since the
    /// last call, sorted. A restart that serves the same bytes as the state remembers
    /// changes nothing.
    pub fn take_changed_paths(&mut self) -> Vec<String> {
        let mut paths = std::mem::take(&mut self.changed_paths);
        paths.sort_unstable();
        paths.dedup();
        paths
    }

    /// `resource` as served at `path`, with its `Last-Modified` decided from what was
    /// served there before ([`state::last_modified`]). A resource kept from before (shared)
    /// is returned as it is.
    fn validated(
        &mut self,
        path: &str,
        resource: Arc<Resource>,
        now: DateTime<FixedOffset>,
    ) -> Arc<Resource> {
        let fresh = match Arc::try_unwrap(resource) {
            Ok(fresh) => fresh,
            Err(kept) => return kept,
        };
        let etag = String::from_utf8_lossy(&fresh.identity.etag).into_owned();
        let previous = self.validators.get(path);
        if previous.is_none_or(|p| p.etag != etag) {
            self.changed_paths.push(path.to_owned());
        }
        let last_modified =
            state::last_modified(previous, &etag, fresh.last_modified_secs(), now.timestamp());
        let validator = Validator {
            etag,
            last_modified,
        };
        if previous != Some(&validator) {
            self.changes
                .validators
                .push((path.to_owned(), validator.clone()));
            self.validators.insert(path.to_owned(), validator);
        }
        let fresh = fresh.with_last_modified(last_modified);
        match self.seed.get(path) {
            Some(served) if served.same_as(&fresh) => served.clone(),
            _ => Arc::new(fresh),
        }
    }

    /// Stops serving the feed `key` (all its resources); says whether it was served.
    fn unpublish(&mut self, key: &FeedKey) -> bool {
        let Some(old) = self.feeds.remove(key) else {
            return false;
        };
        for (path, _) in &old.resources {
            self.resources.remove(path);
            self.changed_paths.push(path.clone());
        }
        true
    }

    /// The served folder of a feed: its language's prefix, then its own.
    fn feed_dir(&self, key: &FeedKey) -> String {
        let site = self.site_of(key.lang());
        format!(
            "{}{}",
            layout::language_prefix(&self.site.base_url, &site.base_url),
            layout::feed_dir(key)
        )
    }

    /// What the feeds of language `code` say about the site (the default language's for an
    /// unknown code, which the parser never produces).
    fn site_of(&self, code: &str) -> &SiteInfo {
        self.languages
            .iter()
            .find(|l| l.code() == code)
            .map_or(&self.site, |l| &l.site)
    }

    /// The identity of one feed: titles and absolute URLs.
    pub fn feed_info(&self, index: &Index, key: &FeedKey) -> FeedInfo {
        let site = self.site_of(key.lang());
        let dir = layout::feed_dir(key);
        let url = |file: &str| format!("{}{dir}{file}", site.base_url);
        let (title, description, term, site_page) = match key {
            FeedKey::Global { .. } => {
                let description = if site.description.is_empty() {
                    site.title.clone()
                } else {
                    site.description.clone()
                };
                (site.title.clone(), description, None, site.base_url.clone())
            }
            FeedKey::Term { taxonomy, .. } => {
                let name = index.term_name(key).unwrap_or_default().to_owned();
                let title = format!("{}: {name}", site.title);
                let description = format!("Posts about {name} from {}", site.title);
                // The term's page on the site, where Hugo puts it: what the feed mirrors.
                let page = format!(
                    "{}{}",
                    site.base_url,
                    crate::content::term_page_path(taxonomy, &name, &self.permalinks)
                );
                (title, description, Some(name), page)
            }
        };
        let (taxonomy, slug) = match key {
            FeedKey::Global { .. } => (None, None),
            FeedKey::Term { taxonomy, slug, .. } => (Some(taxonomy.clone()), Some(slug.clone())),
        };
        let dir = self.feed_dir(key);
        let html_url = match self.site_pages {
            // Herald's page in the feed's folder (the index, for the default language's
            // global feed), see `layout::page_path`.
            SitePages::Herald => format!("{}{dir}", self.site.base_url),
            SitePages::Hugo => site_page.clone(),
        };
        FeedInfo {
            title,
            description,
            term,
            taxonomy,
            slug,
            language: key.lang().to_string(),
            html_url,
            id: site_page,
            rss_url: url(layout::feed_file(Format::Rss)),
            atom_url: url(layout::feed_file(Format::Atom)),
            json_url: url(layout::feed_file(Format::Json)),
            dir,
        }
    }

    /// Builds the snapshot for `index` as of `now`, looking only at the feeds whose members
    /// changed since the last publish ([`Index::take_changed`]) or whose posts came due or
    /// expired since then: a feed whose identity and items are the same posts keeps its
    /// resources untouched, and the snapshot is the previous one patched, so the cost follows
    /// the change, not the number of feeds. The first publish (and one after the clock went
    /// back) looks at every feed.
    pub fn publish(
        &mut self,
        index: &mut Index,
        now: DateTime<FixedOffset>,
    ) -> (Snapshot, PublishStats) {
        let mut keys = index.take_changed();
        match self.published_at {
            Some(last) if now >= last => keys.extend(index.feeds_changing(last, now)),
            _ => {
                keys.extend(index.feed_keys());
                keys.extend(self.feeds.keys().cloned());
                keys.extend(self.known.keys().cloned());
            }
        }
        self.published_at = Some(now);
        let examined = keys.len();
        let mut todo: Vec<(FeedKey, FeedInfo, Vec<Arc<Post>>)> = Vec::new();
        // What each re-rendered feed served until now: kept if its new rendering fails.
        let mut previous: BTreeMap<String, Arc<Resource>> = BTreeMap::new();
        let mut listing_changed = !self.listed;
        for key in keys {
            if self.moves.retires_feed(&self.feed_dir(&key)) {
                // Retired by the operator: answered 410, never rendered.
                listing_changed |= self.unpublish(&key);
                continue;
            }
            let items = index.items(&key, now, self.items_per_feed);
            let info = if !items.is_empty() || key.is_global() {
                self.feed_info(index, &key)
            } else if let Some(known) = self.known.get(&key) {
                // Published once: it stays, empty, so that its subscribers keep a valid feed.
                empty_topic(known)
            } else {
                // A term whose posts are all scheduled or expired has no feed yet: its
                // existence alone would announce an unpublished post.
                listing_changed |= self.unpublish(&key);
                continue;
            };
            match self.feeds.get(&key) {
                Some(old) if old.info == info && same_posts(&old.items, &items) => {}
                old => {
                    // The lists show each feed's identity, the index its newest post too.
                    listing_changed |=
                        old.is_none_or(|old| old.info != info || !same_head(&old.items, &items));
                    if let Some(old) = self.feeds.remove(&key) {
                        previous.extend(old.resources);
                    }
                    todo.push((key, info, items));
                }
            }
        }
        let rendered = todo.len();
        let mut fresh: Vec<Arc<Resource>> = Vec::new();
        for (key, mut feed) in self.render_all(todo, &previous) {
            for (path, resource) in std::mem::take(&mut feed.resources) {
                let resource = self.validated(&path, resource, now);
                fresh.push(resource.clone());
                self.resources.insert(path.clone(), resource.clone());
                feed.resources.push((path, resource));
            }
            if !feed.items.is_empty() && !self.known.contains_key(&key) {
                self.known.insert(key.clone(), feed.info.clone());
                self.changes.feeds.push(KnownFeed {
                    key: key.clone(),
                    info: feed.info.clone(),
                });
            }
            self.feeds.insert(key, feed);
        }
        if listing_changed {
            for (path, resource) in self.refresh_listing(index, now) {
                let resource = self.validated(&path, resource, now);
                fresh.push(resource.clone());
                self.resources.insert(path, resource);
            }
        }
        // Only the first publish can meet what was served before it.
        self.seed = imbl::OrdMap::new();
        fresh.retain(|r| r.is_pending());
        if !fresh.is_empty() {
            let background = self.background.get_or_insert_with(Compressor::start);
            background.queue(&fresh);
        }
        let stats = PublishStats {
            feeds: self.feeds.len(),
            rendered,
            examined,
        };
        (
            Snapshot {
                resources: self.resources.clone(),
                moves: self.moves.clone(),
                fingerprint: self.fingerprint,
            },
            stats,
        )
    }

    /// Renders feeds on every core (rayon's pool: an edit spawns no thread). The unit of
    /// work is one format of one feed, or its page, so that the few feeds an edit touches
    /// (the global one and the post's categories) spread evenly.
    fn render_all(
        &self,
        todo: Vec<(FeedKey, FeedInfo, Vec<Arc<Post>>)>,
        previous: &BTreeMap<String, Arc<Resource>>,
    ) -> Vec<(FeedKey, Rendered)> {
        if todo.is_empty() {
            return Vec::new();
        }
        // Each feed's formats, then its page (cheap beside the feeds: titles, dates and
        // summaries, no bodies).
        let per_feed = Format::ALL.len() + 1;
        let tasks: Vec<(usize, usize)> = (0..todo.len())
            .flat_map(|feed| (0..per_feed).map(move |kind| (feed, kind)))
            .collect();
        // A feed's surrogate keys are the same in every format: made once per feed.
        let surrogate: Vec<(String, String)> = todo
            .iter()
            .map(|(_, info, items)| {
                keys::headers(&keys::for_feed(info, items.iter().map(|p| &**p)))
            })
            .collect();
        // In the order of `tasks` (feed, then format, then page), whichever thread made each.
        let done: Vec<Option<(String, Arc<Resource>)>> = tasks
            .par_iter()
            .map(|&(feed, kind)| {
                let (_, info, items) = &todo[feed];
                match Format::ALL.get(kind) {
                    Some(&format) => {
                        Some(self.render_one(format, info, items, &surrogate[feed], previous))
                    }
                    None => self.render_page(info, items),
                }
            })
            .collect();
        let mut done = done.into_iter();
        let mut out: Vec<(FeedKey, Rendered)> = todo
            .into_iter()
            .map(|(key, info, items)| {
                let resources = done.by_ref().take(per_feed).flatten().collect();
                (
                    key,
                    Rendered {
                        info,
                        items,
                        resources,
                    },
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Renders one format of one feed. A panic in a writer stays inside this feed: it keeps
    /// the bytes it served before (or, new, is published without items) and is logged.
    fn render_one(
        &self,
        format: Format,
        info: &FeedInfo,
        items: &[Arc<Post>],
        (surrogate_key, cache_tag): &(String, String),
        previous: &BTreeMap<String, Arc<Resource>>,
    ) -> (String, Arc<Resource>) {
        let path = layout::feed_path(&info.dir, format);
        let site = self.site_of(&info.language);
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            #[cfg(test)]
            tests::panic_if_asked(info);
            feed::render(format, site, info, items)
        }));
        let body = match rendered {
            Ok(body) => body,
            Err(_) => {
                tracing::error!(
                    feed = %path,
                    "rendering this feed panicked (a bug in Herald: please report it); it keeps what it served before"
                );
                if let Some(old) = previous.get(&path) {
                    return (path, old.clone());
                }
                feed::render(format, site, info, &[])
            }
        };
        let mut resource = Resource::with_late_compression(
            format.content_type(),
            Bytes::from(body),
            newest(items),
            &self.cache_control.feeds,
        )
        .with_header("surrogate-key", surrogate_key.clone())
        .with_header("cache-tag", cache_tag.clone());
        // WebSub discovery in the headers too (they never change the ETag).
        if !site.hubs.is_empty() {
            for hub in &site.hubs {
                resource = resource.with_header("link", format!("<{hub}>; rel=\"hub\""));
            }
            resource =
                resource.with_header("link", format!("<{}>; rel=\"self\"", info.url(format)));
        }
        (path, Arc::new(resource))
    }

    /// A feed's own HTML page, in its folder (none for the feed whose folder is the index's).
    fn render_page(&self, info: &FeedInfo, items: &[Arc<Post>]) -> Option<(String, Arc<Resource>)> {
        let path = layout::page_path(&info.dir)?;
        let site = self.site_of(&info.language);
        let body = feed::render_topic_page(site, &self.site, info, items);
        let (surrogate_key, cache_tag) = keys::headers(&keys::for_feed(info, []));
        let resource = Resource::with_late_compression(
            "text/html; charset=utf-8",
            Bytes::from(body),
            newest(items),
            &self.cache_control.pages,
        )
        .with_header("surrogate-key", surrogate_key)
        .with_header("cache-tag", cache_tag);
        Some((path, Arc::new(resource)))
    }

    /// Renders the OPML list, the feed list and the index page: when a feed appeared, went,
    /// changed its identity or its newest item (the only things they show). Costs
    /// O(feeds), but only then.
    fn refresh_listing(
        &mut self,
        index: &Index,
        now: DateTime<FixedOffset>,
    ) -> Vec<(String, Arc<Resource>)> {
        let infos: Vec<FeedInfo> = self.feeds.values().map(|r| r.info.clone()).collect();
        // The newest post anywhere: every post is in its language's global feed.
        let heads: Vec<Arc<Post>> = self
            .languages
            .iter()
            .flat_map(|l| index.items(&FeedKey::global(l.code()), now, 1))
            .collect();
        let modified = newest(&heads);
        let opml = feed::render_opml(&self.site, &infos);
        let listed: Vec<feed::Listed> = self
            .feeds
            .values()
            .map(|r| feed::Listed {
                feed: &r.info,
                newest: r.items.first().map(|p| &**p),
            })
            .collect();
        let languages: Vec<(&str, &SiteInfo)> =
            self.languages.iter().map(|l| (l.code(), &l.site)).collect();
        let page = feed::render_index_page(&self.site, &languages, &listed);
        let list = feed::render_feed_list(&self.site, &infos);
        let resource = |content_type: &'static str, body: String, cache_control: &Bytes| {
            Arc::new(
                Resource::with_late_compression(
                    content_type,
                    Bytes::from(body),
                    modified,
                    cache_control,
                )
                .with_header("surrogate-key", keys::ALL)
                .with_header("cache-tag", keys::ALL),
            )
        };
        let cc = &self.cache_control;
        let resources = vec![
            (
                OPML_PATH.to_string(),
                resource("text/x-opml; charset=utf-8", opml, &cc.listings),
            ),
            (
                FEED_LIST_PATH.to_string(),
                resource("application/json; charset=utf-8", list, &cc.listings),
            ),
            (
                INDEX_PATH.to_string(),
                resource("text/html; charset=utf-8", page, &cc.pages),
            ),
        ];
        self.listed = true;
        resources
    }
}

/// A once-published topic feed that has no posts now: the same feed, saying so.
fn empty_topic(known: &FeedInfo) -> FeedInfo {
    let name = known.term.as_deref().unwrap_or(known.title.as_str());
    FeedInfo {
        description: format!(
            "There are no posts about {name} right now; new ones will appear in this feed."
        ),
        ..known.clone()
    }
}

/// The newest change among `items`, which is what `Last-Modified` and `lastBuildDate` mean.
fn newest(items: &[Arc<Post>]) -> Option<DateTime<FixedOffset>> {
    items.iter().map(|p| p.modified()).max()
}

/// Whether two item lists start with the same post as the index shows it (title, date, link).
fn same_head(a: &[Arc<Post>], b: &[Arc<Post>]) -> bool {
    match (a.first(), b.first()) {
        (None, None) => true,
        (Some(x), Some(y)) => {
            Arc::ptr_eq(x, y)
                || (x.title == y.title && x.published == y.published && x.url() == y.url())
        }
        _ => false,
    }
}

/// Whether two item lists are the very same parsed posts (a re-parsed file is a new `Arc`).
fn same_posts(a: &[Arc<Post>], b: &[Arc<Post>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y))
}

pub mod keys;

#[cfg(test)]
mod tests;

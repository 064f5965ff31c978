//! From an index to a snapshot: decides each feed's identity and items, renders the feeds
//! whose items changed since the last snapshot (reusing the exact bytes and ETags of the
//! others), and assembles the next immutable [`Snapshot`].

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset};
use hyper::header::HeaderValue;

use crate::config::{Language, Settings, SiteInfo};
use crate::feed::{self, FeedInfo, Format};
use crate::index::{FeedKey, Index};
use crate::layout::{self, FEED_LIST_PATH, INDEX_PATH, OPML_PATH};
use crate::post::Post;
use crate::snapshot::{Compressor, Resource, Snapshot};

/// A feed as last rendered: what it was made from, and the resulting resources.
struct Rendered {
    info: FeedInfo,
    items: Vec<Arc<Post>>,
    resources: Vec<(String, Arc<Resource>)>,
}

/// What one publish did, for the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishStats {
    pub feeds: usize,
    pub rendered: usize,
}

/// Renders feeds and remembers them, so the next publish only redoes what changed.
pub struct Publisher {
    /// The default language's site: what the OPML list, feed list and index page say.
    site: SiteInfo,
    languages: Vec<Language>,
    /// The site's URL rules, for term pages' URLs.
    permalinks: crate::content::PermalinkRules,
    items_per_feed: usize,
    cache_control: HeaderValue,
    feeds: BTreeMap<FeedKey, Rendered>,
    listing: Option<Listing>,
    /// Makes the compressed variants of what was just published, off the edit → served path.
    background: Option<Compressor>,
}

/// The OPML list and index page as last rendered, and what they were made from.
struct Listing {
    infos: Vec<FeedInfo>,
    heads: Vec<Arc<Post>>,
    resources: Vec<(String, Arc<Resource>)>,
}

impl Publisher {
    pub fn new(settings: &Settings) -> Publisher {
        let cache_control = HeaderValue::from_str(&settings.cache_control)
            .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=300"));
        Publisher {
            site: settings.site.clone(),
            languages: settings.languages.clone(),
            permalinks: settings.permalinks.clone(),
            items_per_feed: settings.items_per_feed,
            cache_control,
            feeds: BTreeMap::new(),
            listing: None,
            background: None,
        }
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
        let (title, description, term, html_url) = match key {
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
        // The served path: the language's folder under the site's base, then the feed's.
        let prefix = layout::language_prefix(&self.site.base_url, &site.base_url);
        FeedInfo {
            title,
            description,
            term,
            taxonomy,
            slug,
            language: key.lang().to_string(),
            html_url,
            rss_url: url(layout::feed_file(Format::Rss)),
            atom_url: url(layout::feed_file(Format::Atom)),
            json_url: url(layout::feed_file(Format::Json)),
            dir: format!("{prefix}{dir}"),
        }
    }

    /// Builds the snapshot for `index` as of `now`. Feeds whose identity and items are the
    /// same posts as last time keep their previous resources untouched.
    pub fn publish(
        &mut self,
        index: &Index,
        now: DateTime<FixedOffset>,
    ) -> (Snapshot, PublishStats) {
        let keys = index.feed_keys();
        let mut next: BTreeMap<FeedKey, Option<Rendered>> = BTreeMap::new();
        let mut todo: Vec<(FeedKey, FeedInfo, Vec<Arc<Post>>)> = Vec::new();
        // What each re-rendered feed served until now: kept if its new rendering fails.
        let mut previous: BTreeMap<String, Arc<Resource>> = BTreeMap::new();
        for key in keys {
            let info = self.feed_info(index, &key);
            let items = index.items(&key, now, self.items_per_feed);
            if items.is_empty() && !key.is_global() {
                // A term whose posts are all scheduled or expired has no feed yet: its
                // existence alone would announce an unpublished post.
                continue;
            }
            match self.feeds.remove(&key) {
                Some(old) if old.info == info && same_posts(&old.items, &items) => {
                    next.insert(key, Some(old));
                }
                old => {
                    if let Some(old) = old {
                        previous.extend(old.resources);
                    }
                    next.insert(key.clone(), None);
                    todo.push((key, info, items));
                }
            }
        }
        let stats = PublishStats {
            feeds: next.len(),
            rendered: todo.len(),
        };
        let mut fresh: Vec<Arc<Resource>> = Vec::new();
        for (key, rendered) in self.render_all(todo, &previous) {
            fresh.extend(rendered.resources.iter().map(|(_, r)| r.clone()));
            next.insert(key, Some(rendered));
        }
        self.feeds = next
            .into_iter()
            .map(|(k, v)| (k, v.expect("every feed was kept or rendered")))
            .collect();
        if self.refresh_listing() {
            let listing = self.listing.iter().flat_map(|l| &l.resources);
            fresh.extend(listing.map(|(_, r)| r.clone()));
        }
        fresh.retain(|r| r.is_pending());
        if !fresh.is_empty() {
            // Global feed first: it is the most requested.
            let background = self.background.get_or_insert_with(Compressor::start);
            background.queue(&fresh);
        }

        let mut resources = BTreeMap::new();
        let listing = self.listing.iter().flat_map(|l| &l.resources);
        for (path, resource) in self
            .feeds
            .values()
            .flat_map(|r| &r.resources)
            .chain(listing)
        {
            resources.insert(path.clone(), resource.clone());
        }
        (Snapshot { resources }, stats)
    }

    /// Renders feeds on every core: Markdown, sanitizing and compression dominate the cost.
    /// The unit of work is one format of one feed, so that the few feeds an edit touches
    /// (the global one and the post's categories, three formats each) spread evenly.
    fn render_all(
        &self,
        todo: Vec<(FeedKey, FeedInfo, Vec<Arc<Post>>)>,
        previous: &BTreeMap<String, Arc<Resource>>,
    ) -> Vec<(FeedKey, Rendered)> {
        if todo.is_empty() {
            return Vec::new();
        }
        let tasks: Vec<(usize, usize)> = (0..todo.len())
            .flat_map(|feed| (0..Format::ALL.len()).map(move |format| (feed, format)))
            .collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(tasks.len());
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut done: Vec<(usize, usize, (String, Arc<Resource>))> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(&(feed, format)) = tasks.get(i) else {
                                break;
                            };
                            let (_, info, items) = &todo[feed];
                            let resource =
                                self.render_one(Format::ALL[format], info, items, previous);
                            done.push((feed, format, resource));
                        }
                        done
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("render thread panicked"))
                .collect()
        });
        done.sort_by_key(|&(feed, format, _)| (feed, format));
        let mut done = done.into_iter().peekable();
        let mut out: Vec<(FeedKey, Rendered)> = todo
            .into_iter()
            .enumerate()
            .map(|(feed, (key, info, items))| {
                let mut resources = Vec::with_capacity(Format::ALL.len());
                while let Some((_, _, resource)) = done.next_if(|d| d.0 == feed) {
                    resources.push(resource);
                }
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
        previous: &BTreeMap<String, Arc<Resource>>,
    ) -> (String, Arc<Resource>) {
        let path = layout::feed_path(&info.dir, format);
        let site = self.site_of(&info.language);
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
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
        (
            path,
            Arc::new(Resource::with_late_compression(
                format.content_type(),
                Bytes::from(body),
                newest(items),
                &self.cache_control,
            )),
        )
    }

    /// Re-renders the OPML list and the index page when the set of feeds or their dates
    /// changed; says whether it did.
    fn refresh_listing(&mut self) -> bool {
        let infos: Vec<FeedInfo> = self.feeds.values().map(|r| r.info.clone()).collect();
        // The first item of every feed: together they hold the newest change anywhere.
        let heads: Vec<Arc<Post>> = self
            .feeds
            .values()
            .filter_map(|r| r.items.first().cloned())
            .collect();
        if let Some(listing) = &self.listing {
            if listing.infos == infos && same_posts(&listing.heads, &heads) {
                return false;
            }
        }
        let modified = newest(&heads);
        let opml = feed::render_opml(&self.site, &infos);
        let page = feed::render_index_page(&self.site, &infos);
        let list = feed::render_feed_list(&self.site, &infos);
        let resources = vec![
            (
                OPML_PATH.to_string(),
                Arc::new(Resource::with_late_compression(
                    "text/x-opml; charset=utf-8",
                    Bytes::from(opml),
                    modified,
                    &self.cache_control,
                )),
            ),
            (
                FEED_LIST_PATH.to_string(),
                Arc::new(Resource::with_late_compression(
                    "application/json; charset=utf-8",
                    Bytes::from(list),
                    modified,
                    &self.cache_control,
                )),
            ),
            (
                INDEX_PATH.to_string(),
                Arc::new(Resource::with_late_compression(
                    "text/html; charset=utf-8",
                    Bytes::from(page),
                    modified,
                    &self.cache_control,
                )),
            ),
        ];
        self.listing = Some(Listing {
            infos,
            heads,
            resources,
        });
        true
    }
}

/// The newest change among `items`, which is what `Last-Modified` and `lastBuildDate` mean.
fn newest(items: &[Arc<Post>]) -> Option<DateTime<FixedOffset>> {
    items.iter().map(|p| p.modified()).max()
}

/// Whether two item lists are the very same parsed posts (a re-parsed file is a new `Arc`).
fn same_posts(a: &[Arc<Post>], b: &[Arc<Post>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y))
}

//! Item ids that survive renames. A post's id (RSS `guid`, Atom `id`, JSON `id`) is what
//! readers tell posts apart by: a new one shows the post twice. The parser gives each post
//! its natural id (front matter `id:`, else its first `aliases:` entry, else its
//! permalink); this module keeps, across edits and restarts (through [`crate::state`]),
//! every id ever published with the post's content path, permalinks, aliases and title,
//! and gives a post that moved or changed its slug the id it was published under:
//!
//! 1. an id the front matter sets is never replaced;
//! 2. else the id published for the post's content path (a slug or section change);
//! 3. else the id published under one of its aliases or its current permalink (a moved
//!    file that says where it was);
//! 4. else its natural id.
//!
//! When none of that keeps an already-published post's id (a file moved with neither an
//! alias nor an `id:`, or an `id:` that changed), it says so as a warning naming the file
//! and how to keep the old id. Everything is ordered maps: no clock, no hash order.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Diagnostic, Severity};
use crate::post::{IdFrom, Post};

/// One id ever published, and the post that had it last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownItem {
    /// Content path of the post, `/`-separated.
    pub source: String,
    /// Its title: how a moved post that lost its id is recognised, for the warning.
    pub title: String,
    /// Permalinks it was published at, the first one first (at most [`MAX_PERMALINKS`]).
    pub permalinks: Vec<String>,
    /// Its `aliases:`, absolute.
    pub aliases: Vec<String>,
}

/// Permalinks kept per item: the first and the latest ones, enough for any real history.
const MAX_PERMALINKS: usize = 8;

/// Published items with the same title (or file name) looked at for one new post.
const MAX_CANDIDATES: usize = 16;

/// What changed since [`Ids::take_changes`], for the state store.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IdChanges {
    /// Id → item, written over the old record.
    pub items: Vec<(String, KnownItem)>,
    /// Content path → the id published for it; `None` removes the path (its post moved).
    pub paths: Vec<(String, Option<String>)>,
}

/// Every id ever published and how to find it again.
#[derive(Debug, Default)]
pub struct Ids {
    items: BTreeMap<String, KnownItem>,
    /// Content path → id.
    paths: BTreeMap<String, String>,
    /// Every URL an item was known by (its id when that is one, its permalinks and aliases)
    /// → its id.
    urls: BTreeMap<String, String>,
    /// Title → ids, and file name (`a` for `post/a.md` and `post/a/index.md`) → ids: the
    /// items a post that lost its id may be.
    by_title: BTreeMap<String, BTreeSet<String>>,
    by_name: BTreeMap<String, BTreeSet<String>>,
    /// Posts (by content path) given an id never published before, since the last
    /// [`Ids::take_fresh`].
    fresh: BTreeSet<String>,
    changes: IdChanges,
}

impl Ids {
    /// Takes over what an earlier run published.
    pub fn new(items: BTreeMap<String, KnownItem>, paths: BTreeMap<String, String>) -> Ids {
        let mut ids = Ids {
            paths,
            ..Ids::default()
        };
        // An id that is itself a URL wins over another item's permalink or alias.
        for id in items.keys() {
            if id.contains("://") {
                ids.urls.insert(id.clone(), id.clone());
            }
        }
        for (id, item) in &items {
            ids.index(id, item);
        }
        ids.items = items;
        ids
    }

    fn index(&mut self, id: &str, item: &KnownItem) {
        for url in item.permalinks.iter().chain(&item.aliases) {
            self.urls
                .entry(url.clone())
                .or_insert_with(|| id.to_owned());
        }
        self.by_title
            .entry(item.title.clone())
            .or_default()
            .insert(id.to_owned());
        self.by_name
            .entry(file_name(&item.source).to_owned())
            .or_default()
            .insert(id.to_owned());
    }

    /// How many ids were ever published.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Gives `post` the id it was published under (see the module's rules) and remembers
    /// it, unless the post is a draft (never published). A warning when the front matter's
    /// `id:` replaces the id the post was published under.
    pub fn assign(&mut self, post: &mut Post) -> Option<Diagnostic> {
        let by_path = self.paths.get(&post.source).cloned();
        let mut warning = None;
        if post.id_from == IdFrom::FrontMatter {
            if let Some(old) = by_path.filter(|old| *old != post.id) {
                warning = Some(Diagnostic {
                    severity: Severity::Warning,
                    path: post.source.clone(),
                    line: None,
                    message: format!(
                        "its `id:` changes the id it was published under ({old} → {}): readers will show it again as a new post; to keep the old one, set `id: {old}`",
                        post.id
                    ),
                });
            }
        } else if let Some(old) = by_path {
            post.id = old;
        } else if let Some(old) = post
            .aliases
            .iter()
            .chain(std::iter::once(&post.permalink))
            .find_map(|url| self.urls.get(url))
        {
            post.id = old.clone();
        } else if !self.items.contains_key(&post.id) && !post.draft {
            self.fresh.insert(post.source.clone());
        }
        if !post.draft {
            self.record(post);
        }
        warning
    }

    /// Remembers that `post` is published under its id.
    fn record(&mut self, post: &Post) {
        let before = self.items.get(&post.id);
        let mut item = before.cloned().unwrap_or_else(|| KnownItem {
            source: post.source.clone(),
            title: String::new(),
            permalinks: Vec::new(),
            aliases: Vec::new(),
        });
        let old_source = std::mem::replace(&mut item.source, post.source.clone());
        item.title.clone_from(&post.title);
        if !item.permalinks.contains(&post.permalink) {
            if item.permalinks.len() >= MAX_PERMALINKS {
                // Keep the first (where it was first published) and the latest.
                item.permalinks.remove(1);
            }
            item.permalinks.push(post.permalink.clone());
        }
        item.aliases.clone_from(&post.aliases);
        if before != Some(&item) {
            if let Some(before) = before {
                if before.title != item.title {
                    if let Some(set) = self.by_title.get_mut(&before.title) {
                        set.remove(&post.id);
                    }
                }
            }
            self.index(&post.id, &item);
            self.changes.items.push((post.id.clone(), item.clone()));
            self.items.insert(post.id.clone(), item);
        }
        // The post moved: its old path no longer names it (a new post there is another one).
        if old_source != post.source && self.paths.get(&old_source) == Some(&post.id) {
            self.paths.remove(&old_source);
            self.changes.paths.push((old_source, None));
        }
        if self.paths.get(&post.source) != Some(&post.id) {
            self.paths.insert(post.source.clone(), post.id.clone());
            self.changes
                .paths
                .push((post.source.clone(), Some(post.id.clone())));
        }
    }

    /// The posts given a brand-new id since the last call.
    pub fn take_fresh(&mut self) -> BTreeSet<String> {
        std::mem::take(&mut self.fresh)
    }

    /// The warning for `post`, just given a new id, when it looks like an item published
    /// before whose file is gone (`present` says which content paths hold a post now): the
    /// same title or the same file name.
    pub fn moved_warning(&self, post: &Post, present: impl Fn(&str) -> bool) -> Option<Diagnostic> {
        let none = BTreeSet::new();
        let title = self.by_title.get(&post.title).unwrap_or(&none);
        let name = self.by_name.get(file_name(&post.source)).unwrap_or(&none);
        // A few candidates each: many posts may share a title ("Links"), and this runs for
        // every new post of a load.
        let mut candidates = title
            .iter()
            .take(MAX_CANDIDATES)
            .chain(name.iter().take(MAX_CANDIDATES));
        let (old_id, old) = candidates.find_map(|id| {
            let item = self.items.get(id)?;
            (*id != post.id && item.source != post.source && !present(&item.source))
                .then_some((id, item))
        })?;
        let old_url = old
            .permalinks
            .last()
            .and_then(|p| url::Url::parse(p).ok())
            .map_or_else(|| old_id.clone(), |u| u.path().to_owned());
        Some(Diagnostic {
            severity: Severity::Warning,
            path: post.source.clone(),
            line: None,
            message: format!(
                "this looks like {} moved here, which was published as {old_id}; it gets a new id ({}), so readers will show it again as a new post; to keep its id, add `aliases: [\"{old_url}\"]` (its old URL) or `id: {old_id}` to its front matter",
                old.source, post.id
            ),
        })
    }

    /// What changed since the last call: for the state store.
    pub fn take_changes(&mut self) -> IdChanges {
        std::mem::take(&mut self.changes)
    }
}

/// The name a post is known by in its folder: `a` for `post/a.md`, `post/a/index.md` and
/// `post/a/index.es.md`.
fn file_name(source: &str) -> &str {
    let mut parts = source.rsplit('/');
    let file = parts.next().unwrap_or(source);
    let stem = file.split('.').next().unwrap_or(file);
    if stem == "index" {
        parts.next().unwrap_or(stem)
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::Body;

    const BASE: &str = "https://e.org/";

    fn post(source: &str, slug: &str, title: &str) -> Post {
        let permalink = format!("{BASE}{slug}/");
        let date = chrono::DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z").unwrap();
        Post {
            source: source.into(),
            id: permalink.clone(),
            id_from: IdFrom::Permalink,
            aliases: Vec::new(),
            title: title.into(),
            lang: "en".into(),
            permalink: permalink.clone(),
            external_url: None,
            published: date,
            live_from: date,
            updated: None,
            expires: None,
            draft: false,
            summary: None,
            taxonomies: BTreeMap::new(),
            authors: Vec::new(),
            image: None,
            image_meta: Default::default(),
            body: Body::with_html(String::new(), permalink, String::new()),
        }
    }

    /// `ids` as a restart sees it: only what was written to the state.
    fn restarted(
        ids: &mut Ids,
        before: (BTreeMap<String, KnownItem>, BTreeMap<String, String>),
    ) -> Ids {
        let (mut items, mut paths) = before;
        let changes = ids.take_changes();
        items.extend(changes.items);
        for (path, id) in changes.paths {
            match id {
                Some(id) => paths.insert(path, id),
                None => paths.remove(&path),
            };
        }
        Ids::new(items, paths)
    }

    #[test]
    fn a_slug_change_keeps_the_id_published_for_the_path_across_a_restart() {
        let mut ids = Ids::default();
        let mut a = post("post/a.md", "post/a", "A");
        assert_eq!(ids.assign(&mut a), None);
        let mut ids = restarted(&mut ids, Default::default());
        let mut renamed = post("post/a.md", "post/new-slug", "A");
        ids.assign(&mut renamed);
        assert_eq!(renamed.id, format!("{BASE}post/a/"));
        assert!(ids.take_fresh().is_empty());
    }

    #[test]
    fn a_moved_file_keeps_its_id_through_an_alias_and_its_old_path_is_free_again() {
        let mut ids = Ids::default();
        ids.assign(&mut post("post/a.md", "post/a", "A"));
        let mut moved = post("blog/a.md", "blog/a", "A");
        moved.aliases = vec![format!("{BASE}post/a/")];
        ids.assign(&mut moved);
        assert_eq!(moved.id, format!("{BASE}post/a/"));
        // A new post at the old path is another post.
        let mut other = post("post/a.md", "post/other", "Other");
        ids.assign(&mut other);
        assert_eq!(other.id, format!("{BASE}post/other/"));
    }

    #[test]
    fn a_move_with_neither_alias_nor_id_is_warned_about_naming_the_file_and_the_fix() {
        let mut ids = Ids::default();
        ids.assign(&mut post("post/a.md", "post/a", "A"));
        let mut ids = restarted(&mut ids, Default::default());
        let mut moved = post("blog/a.md", "blog/a", "A retitled");
        ids.assign(&mut moved);
        assert_eq!(
            moved.id,
            format!("{BASE}blog/a/"),
            "nothing says it is the same post"
        );
        assert_eq!(ids.take_fresh(), BTreeSet::from(["blog/a.md".to_string()]));
        let warning = ids.moved_warning(&moved, |s| s == "blog/a.md").unwrap();
        assert_eq!(warning.path, "blog/a.md");
        assert_eq!(warning.severity, Severity::Warning);
        assert!(
            warning.message.contains("aliases: [\"/post/a/\"]"),
            "{}",
            warning.message
        );
        assert!(warning.message.contains(&format!("id: {BASE}post/a/")));
        // While the old file is still there, it is another post: no warning.
        assert_eq!(ids.moved_warning(&moved, |_| true), None);
    }

    #[test]
    fn an_id_from_the_front_matter_wins_and_changing_it_is_warned_about() {
        let mut ids = Ids::default();
        ids.assign(&mut post("post/a.md", "post/a", "A"));
        let mut explicit = post("post/a.md", "post/a", "A");
        explicit.id = "urn:x:1".into();
        explicit.id_from = IdFrom::FrontMatter;
        let warning = ids.assign(&mut explicit).unwrap();
        assert_eq!(explicit.id, "urn:x:1");
        assert!(
            warning.message.contains(&format!("`id: {BASE}post/a/`")),
            "{}",
            warning.message
        );
        // Now published under it: no more warning.
        assert_eq!(ids.assign(&mut explicit), None);
    }

    #[test]
    fn drafts_are_not_remembered() {
        let mut ids = Ids::default();
        let mut draft = post("post/a.md", "post/a", "A");
        draft.draft = true;
        ids.assign(&mut draft);
        assert!(ids.is_empty());
        assert_eq!(ids.take_changes(), IdChanges::default());
    }

    #[test]
    fn file_names_of_pages_and_bundles() {
        assert_eq!(file_name("post/a.md"), "a");
        assert_eq!(file_name("post/a/index.es.md"), "a");
        assert_eq!(file_name("a.html"), "a");
    }
}

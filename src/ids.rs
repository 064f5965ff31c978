//! Item ids that survive renames. A post's id (RSS `guid`, Atom `id`, JSON `id`) is what
//! readers tell posts apart by: a new one shows the post twice. The parser gives each post
//! its natural id (front matter `id:`, else its first `aliases:` entry, else its
//! permalink); this module keeps, across edits and restarts (through [`crate::state`]),
//! every id ever published with the post's content path, permalinks, aliases and title,
//! and gives a post that moved or changed its slug the id it was published under:
//!
//! 1. an id the front matter sets is never replaced;
//! 2. else the id published under one of its aliases (a moved file that says where it
//!    was, even one already published at its new place: the alias is the author's word);
//! 3. else the id published for the post's content path (a slug or section change);
//! 4. else the id published under its current permalink;
//! 5. else its natural id.
//!
//! When none of that keeps an already-published post's id (a file moved with neither an
//! alias nor an `id:`, or an `id:` that changed), it says so as a warning naming the file
//! and how to keep the old id. Everything is ordered maps: no clock, no hash order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Diagnostic, Severity};
use crate::post::{IdFrom, Post};

/// One id ever published, and the post that had it last. Its strings are shared with the
/// maps of [`Ids`] that name them (its path with `paths`, a permalink that is the id with
/// the id, its other URLs with `urls`): an item costs pointers, not copies, and so does
/// handing it to the state. Stored as JSON of [`ItemRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ItemRecord", into = "ItemRecord")]
pub struct KnownItem {
    /// Content path of the post, `/`-separated.
    pub source: Arc<str>,
    /// Its title: how a moved post that lost its id is recognised, for the warning.
    pub title: Arc<str>,
    /// Permalinks it was published at, the first one first (at most [`MAX_PERMALINKS`]).
    pub permalinks: Box<[Arc<str>]>,
    /// Its `aliases:`, absolute.
    pub aliases: Box<[Arc<str>]>,
}

/// A [`KnownItem`] as the state stores it (its JSON): made for one item at a time, when it
/// is written or read.
#[derive(Serialize, Deserialize)]
struct ItemRecord {
    source: String,
    title: String,
    permalinks: Vec<String>,
    aliases: Vec<String>,
}

impl From<ItemRecord> for KnownItem {
    fn from(record: ItemRecord) -> KnownItem {
        KnownItem {
            source: record.source.into(),
            title: record.title.into(),
            permalinks: record.permalinks.into_iter().map(Arc::from).collect(),
            aliases: record.aliases.into_iter().map(Arc::from).collect(),
        }
    }
}

impl From<KnownItem> for ItemRecord {
    fn from(item: KnownItem) -> ItemRecord {
        ItemRecord {
            source: item.source.to_string(),
            title: item.title.to_string(),
            permalinks: item.permalinks.iter().map(|p| p.to_string()).collect(),
            aliases: item.aliases.iter().map(|a| a.to_string()).collect(),
        }
    }
}

/// Permalinks kept per item: the first and the latest ones, enough for any real history.
const MAX_PERMALINKS: usize = 8;

/// An id or a content path handed to the state: the string the ids hold, shared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SharedStr(Arc<str>);

impl SharedStr {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SharedStr {
    fn from(s: &str) -> SharedStr {
        SharedStr(Arc::from(s))
    }
}

/// What changed since [`Ids::take_changes`], for the state store.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IdChanges {
    /// Id → item, written over the old record.
    pub items: Vec<(SharedStr, KnownItem)>,
    /// Content path → the id published for it; `None` removes the path (its post moved).
    pub paths: Vec<(SharedStr, Option<SharedStr>)>,
}

/// Every id ever published and how to find it again. Each id, path and URL is one shared
/// string, however many maps name it: a site of 100,000 posts keeps 100,000 of each.
#[derive(Debug, Default)]
pub struct Ids {
    items: BTreeMap<Arc<str>, KnownItem>,
    /// Content path → id.
    paths: BTreeMap<Arc<str>, Arc<str>>,
    /// Every URL an item was known by (its permalinks and aliases, but not its id, which
    /// `items` finds) → its id.
    urls: BTreeMap<Arc<str>, Arc<str>>,
    /// Ids whose post has not been read since the start, or whose file went: what a post
    /// that lost its id may have been. Deleted posts stay here, so it grows with deletions
    /// only.
    orphans: BTreeSet<Arc<str>>,
    /// Posts (by content path) given an id never published before, since the last
    /// [`Ids::take_fresh`].
    fresh: BTreeSet<Arc<str>>,
    /// Ids whose item changed since the last [`Ids::take_changes`]: the records are made
    /// when they are taken, so a first start of a big site keeps no second copy of each.
    changed_items: BTreeSet<Arc<str>>,
    /// Content paths whose id changed (`None`: the path no longer names one), likewise.
    changed_paths: BTreeMap<Arc<str>, Option<Arc<str>>>,
    /// Whether [`Ids::take_changes`] has a taker (a state that is written): without one,
    /// nothing is noted.
    keep_changes: bool,
}

impl Ids {
    /// Takes over what an earlier run published. Every item is an orphan until its post is
    /// read again. `keep_changes`: whether what changes is to be written to a state.
    pub fn new(
        items: BTreeMap<String, KnownItem>,
        paths: BTreeMap<String, String>,
        keep_changes: bool,
    ) -> Ids {
        let mut ids = Ids {
            keep_changes,
            ..Ids::default()
        };
        for (id, item) in items {
            let id: Arc<str> = Arc::from(id);
            let known = KnownItem {
                permalinks: item.permalinks.iter().map(|p| ids.url(&id, p)).collect(),
                aliases: item.aliases.iter().map(|a| ids.url(&id, a)).collect(),
                ..item
            };
            ids.index_urls(&id, &known);
            ids.items.insert(id, known);
        }
        for (path, id) in paths {
            let Some((id, item)) = ids.items.get_key_value(id.as_str()) else {
                continue;
            };
            let path = if *item.source == *path {
                item.source.clone()
            } else {
                Arc::from(path)
            };
            ids.paths.insert(path, id.clone());
        }
        ids.orphans = ids.items.keys().cloned().collect();
        ids
    }

    /// The shared string for `url`, a URL of the item `id`: the id itself, or the one
    /// `urls` already holds, else a new one.
    fn url(&self, id: &Arc<str>, url: &str) -> Arc<str> {
        if **id == *url {
            return id.clone();
        }
        match self.urls.get_key_value(url) {
            Some((shared, _)) => shared.clone(),
            None => Arc::from(url),
        }
    }

    fn index_urls(&mut self, id: &Arc<str>, item: &KnownItem) {
        // A URL that is an id is found in `items` (and wins there): the usual permalink id
        // costs no entry here.
        for url in item.permalinks.iter().chain(item.aliases.iter()) {
            if **id != **url && !self.urls.contains_key(url) {
                self.urls.insert(url.clone(), id.clone());
            }
        }
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
        let by_path = self.paths.get(post.source.as_str()).cloned();
        let mut warning = None;
        let mut fresh = false;
        if post.id_from == IdFrom::FrontMatter {
            // Back to an id readers know (as a warning advised) is no change to warn about.
            let known = self.items.contains_key(post.id.as_str());
            if let Some(old) = by_path.filter(|old| **old != post.id && !known) {
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
        } else if let Some(old) = self.find(&post.aliases) {
            // An alias says where the post was, even after it was published here under
            // another id (the fix a warning advised): it wins over the path.
            post.id = old.to_string();
        } else if let Some(old) = by_path {
            post.id = old.to_string();
        } else if let Some(old) = self.find(std::slice::from_ref(&post.permalink)) {
            post.id = old.to_string();
        } else if !self.items.contains_key(post.id.as_str()) && !post.draft {
            fresh = true;
        }
        if !post.draft {
            self.record(post);
        }
        if fresh {
            // Recorded: the path is the one `paths` holds.
            let source = self.path(&post.source, None);
            self.fresh.insert(source);
        }
        warning
    }

    /// The id of the item first of `urls` was a URL of. An id that is itself the URL wins
    /// over another item's permalink or alias.
    fn find(&self, urls: &[String]) -> Option<Arc<str>> {
        urls.iter().find_map(|url| {
            self.items
                .get_key_value(url.as_str())
                .map(|(id, _)| id)
                .or_else(|| self.urls.get(url.as_str()))
                .cloned()
        })
    }

    /// The shared string for the content path `source`: the one `paths` (or the item
    /// `before`) already holds, else a new one.
    fn path(&self, source: &str, before: Option<&KnownItem>) -> Arc<str> {
        if let Some((shared, _)) = self.paths.get_key_value(source) {
            return shared.clone();
        }
        match before {
            Some(item) if *item.source == *source => item.source.clone(),
            _ => Arc::from(source),
        }
    }

    /// Remembers that `post` is published under its id.
    fn record(&mut self, post: &Post) {
        let (id, before) = match self.items.get_key_value(post.id.as_str()) {
            Some((id, item)) => (id.clone(), Some(item)),
            None => (Arc::from(post.id.as_str()), None),
        };
        self.orphans.remove(&id);
        let source = self.path(&post.source, before);
        let permalinks: Box<[Arc<str>]> = match before {
            Some(b) if b.permalinks.iter().any(|p| **p == *post.permalink) => b.permalinks.clone(),
            _ => {
                let mut permalinks = before.map_or_else(Vec::new, |b| b.permalinks.to_vec());
                if permalinks.len() >= MAX_PERMALINKS {
                    // Keep the first (where it was first published) and the latest.
                    permalinks.remove(1);
                }
                permalinks.push(self.url(&id, &post.permalink));
                permalinks.into()
            }
        };
        let aliases: Box<[Arc<str>]> = match before {
            Some(b)
                if b.aliases
                    .iter()
                    .map(|a| &**a)
                    .eq(post.aliases.iter().map(|a| a.as_str())) =>
            {
                b.aliases.clone()
            }
            _ => post.aliases.iter().map(|a| self.url(&id, a)).collect(),
        };
        let title: Arc<str> = match before {
            Some(b) if *b.title == *post.title => b.title.clone(),
            _ => post.title.as_str().into(),
        };
        let old_source = before.map(|b| b.source.clone());
        let item = KnownItem {
            source: source.clone(),
            title,
            permalinks,
            aliases,
        };
        if before != Some(&item) {
            self.index_urls(&id, &item);
            if self.keep_changes {
                self.changed_items.insert(id.clone());
            }
            self.items.insert(id.clone(), item);
        }
        // The post moved: its old path no longer names it (a new post there is another one).
        if let Some(old_source) = old_source.filter(|old| **old != *post.source) {
            if self.paths.get(&old_source) == Some(&id) {
                self.paths.remove(&old_source);
                if self.keep_changes {
                    self.changed_paths.insert(old_source, None);
                }
            }
        }
        if self.paths.get(&source) != Some(&id) {
            self.paths.insert(source.clone(), id.clone());
            if self.keep_changes {
                self.changed_paths.insert(source, Some(id));
            }
        }
    }

    /// The post at `source` is gone: its id is an orphan, one a new post may have been.
    pub fn vacate(&mut self, source: &str) {
        if let Some(id) = self.paths.get(source) {
            self.orphans.insert(id.clone());
        }
    }

    /// The posts given a brand-new id since the last call.
    pub fn take_fresh(&mut self) -> BTreeSet<Arc<str>> {
        std::mem::take(&mut self.fresh)
    }

    /// A warning for each of `posts` (just given new ids) that looks like a published item
    /// whose file is gone (`present` says which content paths hold a post now): the same
    /// title or the same file name. The orphans are looked at once for all of them.
    pub fn moved_warnings(
        &self,
        posts: &[&Post],
        present: impl Fn(&str) -> bool,
    ) -> Vec<Diagnostic> {
        if posts.is_empty() || self.orphans.is_empty() {
            return Vec::new();
        }
        let mut by_title: BTreeMap<&str, &Arc<str>> = BTreeMap::new();
        let mut by_name: BTreeMap<&str, &Arc<str>> = BTreeMap::new();
        for id in &self.orphans {
            let Some(item) = self.items.get(id) else {
                continue;
            };
            if present(&item.source) {
                continue;
            }
            by_title.entry(&item.title).or_insert(id);
            by_name.entry(file_name(&item.source)).or_insert(id);
        }
        posts
            .iter()
            .filter_map(|post| {
                let old_id = by_title
                    .get(post.title.as_str())
                    .or_else(|| by_name.get(file_name(&post.source)))
                    .copied()
                    .filter(|id| &***id != post.id.as_str())?;
                let old = self.items.get(old_id)?;
                let old_url = old
                    .permalinks
                    .last()
                    .and_then(|p| url::Url::parse(p).ok())
                    .map_or_else(|| old_id.to_string(), |u| u.path().to_owned());
                Some(Diagnostic {
                    severity: Severity::Warning,
                    path: post.source.clone(),
                    line: None,
                    message: format!(
                        "this looks like {} moved here, which was published as {old_id}; it gets a new id ({}), so readers will show it again as a new post; to keep its id, add `aliases: [\"{old_url}\"]` (its old URL) or `id: {old_id}` to its front matter",
                        old.source, post.id
                    ),
                })
            })
            .collect()
    }

    /// What changed since the last call, for the state store: shared strings, copied only
    /// one item at a time as each is written.
    pub fn take_changes(&mut self) -> IdChanges {
        let items = std::mem::take(&mut self.changed_items)
            .into_iter()
            .filter_map(|id| {
                let item = self.items.get(&id)?.clone();
                Some((SharedStr(id), item))
            })
            .collect();
        let paths = std::mem::take(&mut self.changed_paths)
            .into_iter()
            .map(|(path, id)| (SharedStr(path), id.map(SharedStr)))
            .collect();
        IdChanges { items, paths }
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
        Post::for_test(
            source,
            &permalink,
            title,
            date,
            Body::with_html(String::new(), permalink.clone(), String::new()),
        )
    }

    /// `ids` as a restart sees it: only what was written to the state.
    fn restarted(
        ids: &mut Ids,
        before: (BTreeMap<String, KnownItem>, BTreeMap<String, String>),
    ) -> Ids {
        let (mut items, mut paths) = before;
        let changes = ids.take_changes();
        items.extend(
            changes
                .items
                .into_iter()
                .map(|(id, item)| (id.as_str().to_owned(), item)),
        );
        for (path, id) in changes.paths {
            match id {
                Some(id) => paths.insert(path.as_str().to_owned(), id.as_str().to_owned()),
                None => paths.remove(path.as_str()),
            };
        }
        Ids::new(items, paths, true)
    }

    #[test]
    fn a_slug_change_keeps_the_id_published_for_the_path_across_a_restart() {
        let mut ids = Ids::new(Default::default(), Default::default(), true);
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
        let mut ids = Ids::new(Default::default(), Default::default(), true);
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
        let mut ids = Ids::new(Default::default(), Default::default(), true);
        ids.assign(&mut post("post/a.md", "post/a", "A"));
        let mut ids = restarted(&mut ids, Default::default());
        let mut moved = post("blog/a.md", "blog/a", "A retitled");
        ids.assign(&mut moved);
        assert_eq!(
            moved.id,
            format!("{BASE}blog/a/"),
            "nothing says it is the same post"
        );
        assert_eq!(ids.take_fresh(), BTreeSet::from([Arc::from("blog/a.md")]));
        let warnings = ids.moved_warnings(&[&moved], |s| s == "blog/a.md");
        let warning = &warnings[0];
        assert_eq!(warning.path, "blog/a.md");
        assert_eq!(warning.severity, Severity::Warning);
        assert!(
            warning.message.contains("aliases: [\"/post/a/\"]"),
            "{}",
            warning.message
        );
        assert!(warning.message.contains(&format!("id: {BASE}post/a/")));
        // While the old file is still there, it is another post: no warning.
        assert!(ids.moved_warnings(&[&moved], |_| true).is_empty());
    }

    #[test]
    fn an_id_from_the_front_matter_wins_and_changing_it_is_warned_about() {
        let mut ids = Ids::new(Default::default(), Default::default(), true);
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
        // Back to the first id (what the warning advised): no warning either.
        explicit.id = format!("{BASE}post/a/");
        assert_eq!(ids.assign(&mut explicit), None);
        assert_eq!(explicit.id, format!("{BASE}post/a/"));
    }

    #[test]
    fn the_changes_are_the_last_record_of_each_id_and_path() {
        let mut ids = Ids::new(Default::default(), Default::default(), true);
        ids.assign(&mut post("post/a.md", "post/a", "A"));
        let mut moved = post("blog/a.md", "blog/a", "A, moved");
        moved.aliases = vec![format!("{BASE}post/a/")];
        ids.assign(&mut moved);
        let id = format!("{BASE}post/a/");
        assert_eq!(
            ids.take_changes(),
            IdChanges {
                items: vec![(
                    id.as_str().into(),
                    KnownItem {
                        source: "blog/a.md".into(),
                        title: "A, moved".into(),
                        permalinks: [id.as_str().into(), format!("{BASE}blog/a/").into()].into(),
                        aliases: [id.as_str().into()].into(),
                    }
                )],
                paths: vec![
                    ("blog/a.md".into(), Some(id.as_str().into())),
                    ("post/a.md".into(), None)
                ],
            }
        );
        // Read again unchanged: nothing to write.
        ids.assign(&mut moved);
        assert_eq!(ids.take_changes(), IdChanges::default());
    }

    #[test]
    fn an_item_is_stored_as_the_same_json_as_before_its_strings_were_shared() {
        let item = KnownItem {
            source: "post/a.md".into(),
            title: "A \"quoted\" title".into(),
            permalinks: [Arc::from("https://e.org/a/"), Arc::from("https://e.org/b/")].into(),
            aliases: Box::new([]),
        };
        let json = serde_json::to_string(&item).unwrap();
        assert_eq!(
            json,
            r#"{"source":"post/a.md","title":"A \"quoted\" title","permalinks":["https://e.org/a/","https://e.org/b/"],"aliases":[]}"#
        );
        assert_eq!(serde_json::from_str::<KnownItem>(&json).unwrap(), item);
    }

    #[test]
    fn drafts_are_not_remembered() {
        let mut ids = Ids::new(Default::default(), Default::default(), true);
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

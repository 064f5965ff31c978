//! Every current post, by source path, and which feeds each belongs to.
//!
//! The index keeps one ordered set per feed (newest first, ties broken by id then path), so
//! adding or removing a post costs O(log n) per feed it is in, and listing a feed's newest
//! items costs O(items) whatever the size of the site. It knows nothing of rendering or HTTP.

use std::borrow::Borrow;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};

use crate::post::Post;

/// Which feed: one language's site-wide feed, or one term of one taxonomy in one language.
/// Languages are codes (`en`, `es`); a single-language site has one.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum FeedKey {
    Global {
        lang: String,
    },
    Term {
        lang: String,
        taxonomy: String,
        slug: String,
    },
}

impl FeedKey {
    pub fn global(lang: &str) -> FeedKey {
        FeedKey::Global { lang: lang.into() }
    }

    pub fn term(lang: &str, taxonomy: &str, slug: &str) -> FeedKey {
        FeedKey::Term {
            lang: lang.into(),
            taxonomy: taxonomy.into(),
            slug: slug.into(),
        }
    }

    pub fn lang(&self) -> &str {
        match self {
            FeedKey::Global { lang } | FeedKey::Term { lang, .. } => lang,
        }
    }

    pub fn is_global(&self) -> bool {
        matches!(self, FeedKey::Global { .. })
    }
}

/// Equality and order of a set entry by its `key()`: what the sets below sort by, with no
/// copy of the key stored beside the post.
macro_rules! ordered_by_key {
    ($entry:ty) => {
        impl PartialEq for $entry {
            fn eq(&self, other: &Self) -> bool {
                self.key() == other.key()
            }
        }

        impl Eq for $entry {}

        impl PartialOrd for $entry {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $entry {
            fn cmp(&self, other: &Self) -> Ordering {
                self.key().cmp(&other.key())
            }
        }
    };
}

/// A post as a member of a feed, ordered as items are: newest first, then by id, then by
/// path, so that equal dates never depend on the order files were read in. It compares the
/// post's own fields: a feed costs one pointer per member, not copies of its id and path.
#[derive(Debug, Clone)]
struct Member(Arc<Post>);

impl Member {
    fn key(&self) -> (Reverse<DateTime<FixedOffset>>, &str, &str) {
        (Reverse(self.0.published), &self.0.id, &self.0.source)
    }
}

ordered_by_key!(Member);

/// A post in the set of all posts, ordered and found by its source path: the set costs one
/// pointer per post, not a copy of its path as a map key.
#[derive(Debug, Clone)]
struct BySource(Arc<Post>);

impl Borrow<str> for BySource {
    fn borrow(&self) -> &str {
        &self.0.source
    }
}

impl PartialEq for BySource {
    fn eq(&self, other: &Self) -> bool {
        self.0.source == other.0.source
    }
}

impl Eq for BySource {}

impl PartialOrd for BySource {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BySource {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.source.cmp(&other.0.source)
    }
}

/// A non-draft post's claim on its id, ordered by id then path: the claims on one id are
/// neighbours, the first of them (by path) owns the id. One pointer per post, no copies
/// of its id and path.
#[derive(Debug, Clone)]
struct Claim(Arc<Post>);

impl Claim {
    fn key(&self) -> (&str, &str) {
        (&self.0.id, &self.0.source)
    }
}

ordered_by_key!(Claim);

/// An instant at which a non-draft post comes due or expires, ordered by instant then path.
/// `post` is `None` only in a search bound: it sorts before every post of its instant.
#[derive(Debug, Clone)]
struct Timed {
    at: DateTime<FixedOffset>,
    post: Option<Arc<Post>>,
}

impl Timed {
    /// The bound a range of instants from `at` on starts at.
    fn from(at: DateTime<FixedOffset>) -> Timed {
        Timed { at, post: None }
    }

    fn key(&self) -> (DateTime<FixedOffset>, Option<&str>) {
        (self.at, self.post.as_ref().map(|p| p.source.as_str()))
    }
}

ordered_by_key!(Timed);

/// One feed's members plus the spellings its term was written with (to choose a display name).
/// Members are held by value, so listing a feed's items needs no lookup by path.
#[derive(Debug, Default)]
struct Members {
    order: BTreeSet<Member>,
    spellings: BTreeMap<String, usize>,
}

/// A post that the index keeps out of every feed because another post already uses its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateId {
    pub source: String,
    pub id: String,
    pub kept: String,
}

/// All posts of the site and the feeds they make.
#[derive(Debug, Default)]
pub struct Index {
    /// Every post, by source path.
    posts: BTreeSet<BySource>,
    feeds: BTreeMap<FeedKey, Members>,
    /// Which non-draft posts claim each id; the first (by path) owns it.
    claims: BTreeSet<Claim>,
    /// How many claims there are beyond the first of each id (the posts left out as
    /// duplicates). While there are none, every post owns its id and listing items needs no
    /// lookup by id.
    duplicates: usize,
    /// Instants at which a non-draft post comes due or expires, with its source, in order:
    /// the next timed change is found without visiting every post.
    timed: BTreeSet<Timed>,
    taxonomies: Vec<String>,
    /// Language codes whose global feed exists even while it has no post, default first.
    languages: Vec<String>,
    /// Feeds whose members (or whose members' id ownership) changed since the last
    /// [`Index::take_changed`]: all a publish needs to look at besides the clock.
    changed: BTreeSet<FeedKey>,
}

impl Index {
    /// An empty index that makes feeds for the given taxonomies (lower-case names), for a
    /// site in one language.
    pub fn new(taxonomies: &[String]) -> Index {
        Index::with_languages(taxonomies, &["en".to_string()])
    }

    /// An empty index for a site in these languages (default first): each has its own feeds.
    pub fn with_languages(taxonomies: &[String], languages: &[String]) -> Index {
        Index {
            taxonomies: taxonomies.to_vec(),
            languages: languages.to_vec(),
            ..Index::default()
        }
    }

    pub fn len(&self) -> usize {
        self.posts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.posts.is_empty()
    }

    pub fn get(&self, source: &str) -> Option<&Arc<Post>> {
        self.posts.get(source).map(|p| &p.0)
    }

    pub fn sources(&self) -> impl Iterator<Item = &String> {
        self.posts.iter().map(|p| &p.0.source)
    }

    /// Adds or replaces the post at `post.source`; returns the previous version.
    pub fn insert(&mut self, post: Arc<Post>) -> Option<Arc<Post>> {
        let old = self.remove(&post.source.clone());
        self.mark_feeds_of(&post);
        if !post.draft {
            let key = Member(post.clone());
            self.feeds
                .entry(FeedKey::global(&post.lang))
                .or_default()
                .order
                .insert(key.clone());
            for (feed, spelling) in self.memberships(&post) {
                let members = self.feeds.entry(feed).or_default();
                members.order.insert(key.clone());
                *members.spellings.entry(spelling).or_default() += 1;
            }
        }
        if !post.draft {
            let inserted = self.claims.insert(Claim(post.clone()));
            let shared = self.claimants(&post).nth(1).is_some();
            if inserted && shared {
                self.duplicates += 1;
            }
            if shared {
                // Which claimant owns the id may have changed: their feeds list other items.
                self.mark_claimants(&post);
            }
            for at in timed_instants(&post) {
                self.timed.insert(Timed {
                    at,
                    post: Some(post.clone()),
                });
            }
        }
        self.posts.insert(BySource(post));
        old
    }

    /// Removes the post read from `source`; returns it.
    pub fn remove(&mut self, source: &str) -> Option<Arc<Post>> {
        let post = self.posts.take(source)?.0;
        self.mark_feeds_of(&post);
        if self.claims.remove(&Claim(post.clone())) && self.claimants(&post).next().is_some() {
            self.duplicates -= 1;
            // Which claimant owns the id may have changed: their feeds list other items.
            self.mark_claimants(&post);
        }
        if !post.draft {
            for at in timed_instants(&post) {
                self.timed.remove(&Timed {
                    at,
                    post: Some(post.clone()),
                });
            }
            let key = Member(post.clone());
            let mut feeds = vec![(FeedKey::global(&post.lang), None)];
            feeds.extend(
                self.memberships(&post)
                    .into_iter()
                    .map(|(f, s)| (f, Some(s))),
            );
            for (feed, spelling) in feeds {
                let Some(members) = self.feeds.get_mut(&feed) else {
                    continue;
                };
                members.order.remove(&key);
                if let Some(spelling) = spelling {
                    if let Some(count) = members.spellings.get_mut(&spelling) {
                        *count -= 1;
                        if *count == 0 {
                            members.spellings.remove(&spelling);
                        }
                    }
                }
                if members.order.is_empty()
                    && !self.languages.iter().any(|l| feed == FeedKey::global(l))
                {
                    self.feeds.remove(&feed);
                }
            }
        }
        Some(post)
    }

    /// Puts `post` in the place of the version of it the index holds, in every feed, without
    /// marking any feed changed: for a copy that differs only in what is kept in memory (its
    /// body, see [`Post::without_body`]), never for a new reading of the file. Returns
    /// whether the index held that post.
    pub fn replace_quietly(&mut self, post: Arc<Post>) -> bool {
        // Every set holding the post gets the new version: an old one left anywhere would
        // keep its body in memory.
        if !self.posts.contains(post.source.as_str()) {
            return false;
        }
        self.posts.replace(BySource(post.clone()));
        if !post.draft {
            // Equal by id and path, and by instant and path: they take the old one's place.
            let claim = Claim(post.clone());
            if self.claims.contains(&claim) {
                self.claims.replace(claim);
            }
            for at in timed_instants(&post) {
                let timed = Timed {
                    at,
                    post: Some(post.clone()),
                };
                if self.timed.contains(&timed) {
                    self.timed.replace(timed);
                }
            }
            for feed in self.feeds_of(&post) {
                if let Some(members) = self.feeds.get_mut(&feed) {
                    // Equal by date, id and path: it takes the place of the old version.
                    if members.order.contains(&Member(post.clone())) {
                        members.order.replace(Member(post.clone()));
                    }
                }
            }
        }
        true
    }

    /// Every feed a non-draft `post` is a member of: its language's global feed and its
    /// term feeds (whether or not it is among their newest items).
    pub fn feeds_of(&self, post: &Post) -> Vec<FeedKey> {
        if post.draft {
            return Vec::new();
        }
        let mut out = vec![FeedKey::global(&post.lang)];
        out.extend(self.memberships(post).into_iter().map(|(k, _)| k));
        out
    }

    /// Notes that every feed `post` is (or was) in must be looked at again.
    fn mark_feeds_of(&mut self, post: &Post) {
        if post.draft {
            return;
        }
        self.changed.insert(FeedKey::global(&post.lang));
        for (feed, _) in self.memberships(post) {
            self.changed.insert(feed);
        }
    }

    /// The posts claiming `post`'s id (whether or not `post` itself does), by path.
    fn claimants<'a>(&'a self, post: &'a Arc<Post>) -> impl Iterator<Item = &'a Arc<Post>> + 'a {
        let probe = Claim(post.clone());
        // Those before `post` by path, found backwards: almost always none.
        let before: Vec<&Arc<Post>> = self
            .claims
            .range((Bound::Unbounded, Bound::Excluded(&probe)))
            .rev()
            .take_while(|c| c.0.id == post.id)
            .map(|c| &c.0)
            .collect();
        let from = self
            .claims
            .range((Bound::Included(&probe), Bound::Unbounded))
            .take_while(move |c| c.0.id == post.id)
            .map(|c| &c.0);
        before.into_iter().rev().chain(from)
    }

    /// Marks the feeds of every post claiming `post`'s id.
    fn mark_claimants(&mut self, post: &Arc<Post>) {
        let claimants: Vec<Arc<Post>> = self.claimants(post).cloned().collect();
        for post in claimants {
            self.mark_feeds_of(&post);
        }
    }

    /// The feeds whose members changed since the last [`Index::take_changed`], kept.
    pub fn changed(&self) -> &BTreeSet<FeedKey> {
        &self.changed
    }

    /// The feeds whose members changed since the last call (see [`Index::feeds_changing`]
    /// for those the clock changes), and forgets them.
    pub fn take_changed(&mut self) -> BTreeSet<FeedKey> {
        std::mem::take(&mut self.changed)
    }

    /// The feeds of every post that comes due or expires in `(after, until]`: the feeds
    /// whose live items the passing of that time changed.
    pub fn feeds_changing(
        &self,
        after: DateTime<FixedOffset>,
        until: DateTime<FixedOffset>,
    ) -> BTreeSet<FeedKey> {
        let mut out = BTreeSet::new();
        if until <= after {
            return out;
        }
        for timed in self.timed.range(Timed::from(after)..) {
            if timed.at > until {
                break;
            }
            if timed.at == after {
                continue;
            }
            if let Some(post) = &timed.post {
                out.insert(FeedKey::global(&post.lang));
                out.extend(self.memberships(post).into_iter().map(|(k, _)| k));
            }
        }
        out
    }

    /// How many feeds [`Index::feed_keys`] would list, without listing them.
    pub fn feed_count(&self) -> usize {
        let missing_globals = self
            .languages
            .iter()
            .filter(|l| !self.feeds.contains_key(&FeedKey::global(l)))
            .count();
        self.feeds.len() + missing_globals
    }

    /// The term feeds a post is in, with the spelling it used for each.
    fn memberships(&self, post: &Post) -> Vec<(FeedKey, String)> {
        let mut out = Vec::new();
        for taxonomy in &self.taxonomies {
            for term in post.terms(taxonomy) {
                let key = FeedKey::term(&post.lang, taxonomy, &term_slug(term));
                if !out.iter().any(|(k, _)| *k == key) {
                    out.push((key, term.clone()));
                }
            }
        }
        out
    }

    /// Every feed that exists now, in a stable order: each configured language's global
    /// feed (always, default language first), then the other languages' and the term feeds by
    /// language, taxonomy and slug. A term feed exists while any non-draft post has the term.
    pub fn feed_keys(&self) -> Vec<FeedKey> {
        let globals: Vec<FeedKey> = self.languages.iter().map(|l| FeedKey::global(l)).collect();
        let rest = self.feeds.keys().filter(|k| !globals.contains(k)).cloned();
        globals.iter().cloned().chain(rest).collect()
    }

    /// The display name of a term feed: the spelling most posts use, ties to the smallest.
    pub fn term_name(&self, key: &FeedKey) -> Option<&str> {
        let members = self.feeds.get(key)?;
        members
            .spellings
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(name, _)| name.as_str())
    }

    /// The newest `limit` posts of a feed that are live at `now`, newest first. Posts whose id
    /// another post already owns are left out (see [`Index::duplicate_ids`]).
    pub fn items(&self, key: &FeedKey, now: DateTime<FixedOffset>, limit: usize) -> Vec<Arc<Post>> {
        let Some(members) = self.feeds.get(key) else {
            return Vec::new();
        };
        members
            .order
            .iter()
            .map(|m| &m.0)
            .filter(|p| p.is_live_at(now) && self.owns_id(p))
            .take(limit)
            .cloned()
            .collect()
    }

    fn owns_id(&self, post: &Arc<Post>) -> bool {
        if self.duplicates == 0 {
            return true;
        }
        self.claimants(post)
            .next()
            .is_none_or(|first| first.source == post.source)
    }

    /// How many posts [`Index::duplicate_ids`] would list, without visiting every id.
    pub fn duplicate_count(&self) -> usize {
        self.duplicates
    }

    /// Posts kept out of the feeds because an earlier path already uses the same id.
    pub fn duplicate_ids(&self) -> Vec<DuplicateId> {
        let mut out = Vec::new();
        let mut kept: Option<&Post> = None;
        for Claim(post) in &self.claims {
            match kept {
                Some(first) if first.id == post.id => out.push(DuplicateId {
                    source: post.source.clone(),
                    id: post.id.clone(),
                    kept: first.source.clone(),
                }),
                _ => kept = Some(post),
            }
        }
        out
    }

    /// The next instant after `now` at which the set of live posts changes on its own
    /// (a future post comes due, or a post expires).
    pub fn next_change_after(&self, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        self.timed
            .range(Timed::from(now)..)
            .map(|timed| timed.at)
            .find(|at| *at > now)
    }
}

/// The instants at which a post enters (`live_from`) or leaves (`expires`) the feeds.
fn timed_instants(post: &Post) -> impl Iterator<Item = DateTime<FixedOffset>> {
    [Some(post.live_from), post.expires].into_iter().flatten()
}

/// A term's URL slug: safe as one path segment, never empty, and distinct for names that
/// differ in more than case, spacing or accents. `Wearables` and `wearables` share a feed;
/// `C++` and `C#` do not: names with characters the slug drops get a hash of the name.
pub fn term_slug(term: &str) -> String {
    let folded = term
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let base = slug::slugify(&folded);
    let plain = folded
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == '_');
    if plain && !base.is_empty() {
        return base;
    }
    let hash = xxhash_rust::xxh3::xxh3_64(folded.as_bytes());
    let hash = format!("{:08x}", hash >> 32);
    if base.is_empty() {
        format!("t-{hash}")
    } else {
        format!("{base}-{hash}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::Body;

    fn post(source: &str, date: &str, cats: &[&str]) -> Arc<Post> {
        let mut taxonomies = BTreeMap::new();
        if !cats.is_empty() {
            taxonomies.insert(
                "categories".to_string(),
                cats.iter().map(|c| c.to_string()).collect(),
            );
        }
        Arc::new(Post {
            taxonomies: taxonomies.into(),
            ..Post::for_test(
                source,
                &format!("https://e.org/{source}"),
                source,
                DateTime::parse_from_rfc3339(date).unwrap(),
                Body::with_html(String::new(), String::new(), String::new()),
            )
        })
    }

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap()
    }

    fn titles(posts: &[Arc<Post>]) -> Vec<&str> {
        posts.iter().map(|p| p.title.as_str()).collect()
    }

    #[test]
    fn feeds_are_newest_first_with_a_stable_tie_break_whatever_the_insert_order() {
        let posts = [
            post("b.md", "2020-01-01T00:00:00Z", &["Rust"]),
            post("a.md", "2020-01-01T00:00:00Z", &["rust"]),
            post("c.md", "2021-01-01T00:00:00Z", &[]),
        ];
        let mut forward = Index::new(&["categories".into()]);
        let mut backward = Index::new(&["categories".into()]);
        posts.iter().for_each(|p| drop(forward.insert(p.clone())));
        posts
            .iter()
            .rev()
            .for_each(|p| drop(backward.insert(p.clone())));
        for index in [&forward, &backward] {
            assert_eq!(
                titles(&index.items(&FeedKey::global("en"), now(), 10)),
                ["c.md", "a.md", "b.md"]
            );
            let rust = FeedKey::term("en", "categories", "rust");
            assert_eq!(titles(&index.items(&rust, now(), 10)), ["a.md", "b.md"]);
            assert_eq!(index.feed_keys(), vec![FeedKey::global("en"), rust]);
        }
    }

    #[test]
    fn removing_the_last_post_of_a_term_removes_its_feed() {
        let mut index = Index::new(&["categories".into()]);
        index.insert(post("a.md", "2020-01-01T00:00:00Z", &["Go"]));
        assert_eq!(index.feed_keys().len(), 2);
        index.insert(post("a.md", "2020-01-01T00:00:00Z", &["Zig"]));
        let slugs: Vec<String> = index
            .feed_keys()
            .iter()
            .map(crate::layout::feed_dir)
            .collect();
        assert_eq!(slugs, ["", "categories/zig/"]);
        index.remove("a.md");
        assert_eq!(index.feed_keys(), vec![FeedKey::global("en")]);
        assert!(index.items(&FeedKey::global("en"), now(), 10).is_empty());
    }

    #[test]
    fn limit_future_and_expired_posts() {
        let mut index = Index::new(&[]);
        for i in 0..5 {
            index.insert(post(
                &format!("{i}.md"),
                &format!("{}-06-01T00:00:00Z", 2022 + i),
                &[],
            ));
        }
        let mut expired = post("x.md", "2025-07-01T00:00:00Z", &[]);
        Arc::get_mut(&mut expired).unwrap().expires =
            Some(DateTime::parse_from_rfc3339("2025-12-01T00:00:00Z").unwrap());
        index.insert(expired);
        // 2026-06-01 is in the future at `now`; x.md has expired.
        assert_eq!(
            titles(&index.items(&FeedKey::global("en"), now(), 2)),
            ["3.md", "2.md"]
        );
        assert_eq!(
            index.next_change_after(now()),
            Some(DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap())
        );
    }

    #[test]
    fn a_duplicate_id_is_published_once_and_reported() {
        let mut index = Index::new(&[]);
        let a = post("a.md", "2020-01-01T00:00:00Z", &[]);
        let mut b = post("b.md", "2021-01-01T00:00:00Z", &[]);
        Arc::get_mut(&mut b).unwrap().id = a.id.clone();
        index.insert(b);
        index.insert(a.clone());
        assert_eq!(
            titles(&index.items(&FeedKey::global("en"), now(), 10)),
            ["a.md"]
        );
        assert_eq!(
            index.duplicate_ids(),
            vec![DuplicateId {
                source: "b.md".into(),
                id: a.id.clone(),
                kept: "a.md".into()
            }]
        );
        assert_eq!(index.duplicate_count(), 1);
        let mut c = post("c.md", "2022-01-01T00:00:00Z", &[]);
        Arc::get_mut(&mut c).unwrap().id = a.id.clone();
        index.insert(c);
        assert_eq!(index.duplicate_count(), 2);
        assert_eq!(index.duplicate_ids().len(), 2);
        index.remove("a.md");
        assert_eq!(
            titles(&index.items(&FeedKey::global("en"), now(), 10)),
            ["b.md"]
        );
        assert_eq!(index.duplicate_count(), 1);
        index.remove("c.md");
        assert_eq!(index.duplicate_count(), 0);
        assert!(index.duplicate_ids().is_empty());
    }

    #[test]
    fn a_quiet_replacement_leaves_no_reference_to_the_old_version() {
        let mut index = Index::new(&["categories".into()]);
        let mut old = post("a.md", "2020-01-01T00:00:00Z", &["Go"]);
        Arc::get_mut(&mut old).unwrap().expires =
            Some(DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap());
        index.insert(old.clone());
        index.take_changed();
        let copy = Arc::new(old.without_body());
        assert!(index.replace_quietly(copy.clone()));
        // Held by the posts, the claims, two instants and two feeds before: by none now.
        assert_eq!(Arc::strong_count(&old), 1);
        assert!(Arc::ptr_eq(index.get("a.md").unwrap(), &copy));
        assert!(index.take_changed().is_empty());
        assert!(!index.replace_quietly(post("b.md", "2020-01-01T00:00:00Z", &[])));
        assert!(index.get("b.md").is_none());
    }

    #[test]
    fn term_slugs_merge_case_and_keep_punctuated_names_apart() {
        assert_eq!(term_slug("Medical  Devices"), "medical-devices");
        assert_eq!(term_slug("medical devices"), term_slug("Medical Devices"));
        assert_eq!(term_slug("Données personnelles"), "donnees-personnelles");
        assert_ne!(term_slug("C++"), term_slug("C#"));
        assert!(term_slug("C++").starts_with("c-"));
        for hostile in ["../..", "/", "...", "a/b", "?", ""] {
            let s = term_slug(hostile);
            assert!(
                !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{hostile:?} -> {s:?}"
            );
        }
    }
}

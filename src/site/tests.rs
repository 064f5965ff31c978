//! Unit tests of [`super`].

use super::*;

fn post(title: &str) -> String {
    format!("---\ntitle: {title:?}\ndate: 2020-01-01\n---\nBody of {title}.\n")
}

/// A site read from `dir/content`, with a config written beside it.
fn site_in(dir: &Path, extra_config: &str) -> Site {
    std::fs::create_dir_all(dir.join("content")).unwrap();
    let config = dir.join("herald.yaml");
    std::fs::write(
        &config,
        format!("content_dir: content\nbase_url: https://example.org/\ntitle: T\ndescription: D\nauthor: A\n{extra_config}"),
    )
    .unwrap();
    let settings = crate::config::load_with(Some(&config), None).unwrap();
    Site::load(&settings).unwrap()
}

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join("content").join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn title(site: &Site, key: &str) -> Option<String> {
    site.index.get(key).map(|p| p.title.clone())
}

#[test]
fn a_folder_that_becomes_a_leaf_bundle_and_stops_being_one_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "post/b/notes.md", &post("Notes"));
    write(dir.path(), "post/other.md", &post("Other"));
    let mut site = site_in(dir.path(), "");
    assert_eq!(title(&site, "post/b/notes.md").as_deref(), Some("Notes"));
    // An index.md makes the folder a bundle: notes.md is now its resource, not a page.
    let index = write(dir.path(), "post/b/index.md", &post("Bundle"));
    site.apply_paths(&BTreeSet::from([index.clone()]));
    assert_eq!(title(&site, "post/b/index.md").as_deref(), Some("Bundle"));
    assert_eq!(title(&site, "post/b/notes.md"), None);
    // An edit of a file beside it is still a resource's edit (the answer is remembered).
    let notes = write(dir.path(), "post/b/notes.md", &post("Notes edited"));
    site.apply_paths(&BTreeSet::from([notes]));
    assert_eq!(title(&site, "post/b/notes.md"), None);
    // Without the index, the folder's files are pages again.
    std::fs::remove_file(&index).unwrap();
    site.apply_paths(&BTreeSet::from([index]));
    assert_eq!(title(&site, "post/b/index.md"), None);
    assert_eq!(
        title(&site, "post/b/notes.md").as_deref(),
        Some("Notes edited")
    );
    assert_eq!(title(&site, "post/other.md").as_deref(), Some("Other"));
}

#[test]
fn under_is_exact_at_the_prefix_boundaries() {
    let map: BTreeMap<String, ()> = [
        "mass",
        "mass.md",
        "mass/a.md",
        "mass/b/c.md",
        "mass0.md",
        "massive/x.md",
        "mas.md",
    ]
    .into_iter()
    .map(|k| (k.to_string(), ()))
    .collect();
    assert_eq!(under(&map, "mass"), ["mass", "mass/a.md", "mass/b/c.md"]);
    assert_eq!(under(&map, "mass/b"), ["mass/b/c.md"]);
    assert_eq!(under(&map, "mass.md"), ["mass.md"]);
    assert!(under(&map, "nothing").is_empty());
    assert_eq!(under(&map, "").len(), map.len());
}

#[test]
fn a_folder_of_thousands_of_posts_deleted_at_once_takes_exactly_its_posts() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = BTreeSet::new();
    for i in 0..3000 {
        paths.insert(write(
            dir.path(),
            &format!("mass/{:02}/p{i:04}.md", i % 30),
            &post(&format!("Mass {i}")),
        ));
    }
    // Neighbours of the folder's name in key order: they must stay.
    for keep in ["keep.md", "mass.md", "mass0.md", "massive/x.md"] {
        write(dir.path(), keep, &post(keep));
    }
    let mut site = site_in(dir.path(), "");
    assert_eq!(site.index.len(), 3004);
    let mass = dir.path().join("content/mass");
    std::fs::remove_dir_all(&mass).unwrap();
    // What the watcher reports: every file, every folder, and the folder itself.
    for i in 0..30 {
        paths.insert(mass.join(format!("{i:02}")));
    }
    paths.insert(mass);
    let applied = site.apply_paths(&paths);
    assert_eq!(applied.removed, 3000);
    let left: Vec<&String> = site.index.sources().collect();
    assert_eq!(left, ["keep.md", "mass.md", "mass0.md", "massive/x.md"]);
    assert_eq!(site.stamps.len(), 4);
    assert_eq!(site.problem_count(), 0);
}

#[test]
fn a_file_that_cannot_be_opened_keeps_its_last_good_version_until_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "post/a.md", &post("Alpha"));
    write(dir.path(), "post/b.md", &post("Beta"));
    let mut site = site_in(dir.path(), "");
    site.source
        .hooks
        .open_errors
        .lock()
        .unwrap()
        .insert("post/a.md".into(), libc::EMFILE);
    std::fs::write(&a, post("Alpha edited")).unwrap();
    let applied = site.apply_paths(&BTreeSet::from([a.clone()]));
    assert_eq!((applied.removed, applied.failed), (0, 1));
    assert_eq!(title(&site, "post/a.md").as_deref(), Some("Alpha"));
    let problems = site.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "post/a.md");
    let emfile = std::io::Error::from_raw_os_error(libc::EMFILE).to_string();
    assert!(problems[0].message.contains(&emfile), "{problems:?}");
    assert_eq!(site.unreadable_count(), 1);
    assert_eq!(site.take_read_errors(), 1);
    // A rescan while it still fails changes nothing; the file did not change since, but
    // is read again as soon as it can be.
    site.rescan();
    assert_eq!(title(&site, "post/a.md").as_deref(), Some("Alpha"));
    assert_eq!(title(&site, "post/b.md").as_deref(), Some("Beta"));
    site.source.hooks.open_errors.lock().unwrap().clear();
    site.rescan();
    assert_eq!(title(&site, "post/a.md").as_deref(), Some("Alpha edited"));
    assert_eq!((site.unreadable_count(), site.problem_count()), (0, 0));
}

#[test]
fn a_file_written_while_it_is_read_keeps_its_last_good_version() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.md", &post("Alpha"));
    let mut site = site_in(dir.path(), "");
    std::fs::write(&a, post("Alpha, half written")).unwrap();
    // The writer's next write lands between Herald's read and its second look.
    *site.source.hooks.after_read.lock().unwrap() = Some(Box::new(|_, path| {
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        std::io::Write::write_all(&mut f, b"and the rest of the body.\n").unwrap();
    }));
    let applied = site.apply_paths(&BTreeSet::from([a.clone()]));
    assert_eq!(applied, Applied::default());
    assert_eq!(title(&site, "a.md").as_deref(), Some("Alpha"));
    assert_eq!(site.problem_count(), 0, "being written is not a problem");
    // The writer's last event: the file is settled and read.
    *site.source.hooks.after_read.lock().unwrap() = None;
    site.apply_paths(&BTreeSet::from([a]));
    assert_eq!(title(&site, "a.md").as_deref(), Some("Alpha, half written"));
    let body = site.index.get("a.md").unwrap().body.html().to_string();
    assert!(body.contains("and the rest of the body."), "{body}");
}

#[test]
fn a_file_grown_over_the_limit_is_refused_whole_and_keeps_its_last_good_version() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.md", &post("Alpha"));
    let mut site = site_in(dir.path(), "max_post_bytes: 1000\n");
    let big = format!("{}{}", post("Alpha, too long"), "x".repeat(2000));
    std::fs::write(&a, &big).unwrap();
    let applied = site.apply_paths(&BTreeSet::from([a.clone()]));
    assert_eq!(applied.failed, 1);
    assert_eq!(
        title(&site, "a.md").as_deref(),
        Some("Alpha"),
        "not truncated"
    );
    assert!(site.problems()[0].message.contains("max_post_bytes"));
    // Growing past the limit while being read is the same: refused, nothing kept of it.
    std::fs::write(&a, post("Alpha again")).unwrap();
    *site.source.hooks.after_read.lock().unwrap() = Some(Box::new(|_, path| {
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        std::io::Write::write_all(&mut f, &[b'x'; 2000]).unwrap();
    }));
    site.apply_paths(&BTreeSet::from([a]));
    assert_eq!(title(&site, "a.md").as_deref(), Some("Alpha"));
}

#[test]
fn a_reload_without_a_state_directory_tells_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "post/a.md", &post("Alpha"));
    drop(site_in(dir.path(), ""));
    let settings = crate::config::load_with(Some(&dir.path().join("herald.yaml")), None).unwrap();
    // What `serve` uses without a state directory.
    let handles = Handles::new(Clock::from_env(), Arc::new(State::in_process()));
    let site = Site::load_into(&settings, handles).unwrap();
    let listener = site.handles().announcer.listen();
    // The same content again: the in-memory state keeps the validators, so nothing is news.
    let (_, site) = crate::engine::reload::reload(&settings, site.handles()).unwrap();
    assert!(
        listener.take().is_none(),
        "an unchanged reload pushes nothing"
    );
    write(dir.path(), "post/a.md", &post("Alpha, edited"));
    let (_, _site) = crate::engine::reload::reload(&settings, site.handles()).unwrap();
    let change = listener.take().expect("the edit is told");
    assert!(change.paths.contains("/rss.xml"), "{:?}", change.paths);
}

#[test]
fn a_rename_while_serving_keeps_the_id_with_an_alias_and_is_warned_about_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "post/a.md", &post("Alpha"));
    write(dir.path(), "post/b.md", &post("Beta"));
    let mut site = site_in(dir.path(), "");
    let alpha_id = site.index.get("post/a.md").unwrap().id.clone();
    // Moved with neither alias nor id (a rename event: the old path goes, the new comes).
    std::fs::remove_file(&old).unwrap();
    let new = write(dir.path(), "notes/a.md", &post("Alpha"));
    site.apply_paths(&BTreeSet::from([old, new.clone()]));
    assert_ne!(site.index.get("notes/a.md").unwrap().id, alpha_id);
    let warnings = site.warnings();
    let warning = warnings.iter().find(|w| w.path == "notes/a.md").unwrap();
    assert!(
        warning.message.contains("aliases: [\"/post/a/\"]"),
        "{}",
        warning.message
    );
    // The fix the warning advises, though the new id was published meanwhile: the alias
    // brings the first id back.
    let fixed = write(
        dir.path(),
        "notes/a.md",
        "---\ntitle: Alpha\ndate: 2020-01-01\naliases: [/post/a/]\n---\nx\n",
    );
    site.apply_paths(&BTreeSet::from([fixed]));
    assert_eq!(site.index.get("notes/a.md").unwrap().id, alpha_id);
    // Moved again, saying where it was first: still its first id.
    let again = write(
        dir.path(),
        "blog/a.md",
        "---\ntitle: Alpha\ndate: 2020-01-01\naliases: [/post/a/]\n---\nx\n",
    );
    std::fs::remove_file(&new).unwrap();
    site.apply_paths(&BTreeSet::from([new, again]));
    assert_eq!(site.index.get("blog/a.md").unwrap().id, alpha_id);
    assert!(site.warnings().is_empty(), "{:?}", site.warnings());
}

/// A post of day `day` of 2020 in category `cat`, whose body names it.
fn dated(title: &str, day: u32, cat: &str) -> String {
    format!("---\ntitle: {title:?}\ndate: 2020-01-{day:02}\ncategories: [{cat}]\n---\nThe body of {title}.\n")
}

fn served(site: &Site, path: &str) -> String {
    let snapshot = site.snapshot();
    String::from_utf8(snapshot.get(path).unwrap().identity.body.to_vec()).unwrap()
}

/// Posts 1..=n, one a day, all in category `c`, with 2 items per feed: posts n and n-1 are
/// in the feeds, the others in none.
fn full_feeds(dir: &Path, n: u32) -> Site {
    for day in 1..=n {
        write(
            dir,
            &format!("post/p{day:02}.md"),
            &dated(&format!("P{day}"), day, "c"),
        );
    }
    let mut site = site_in(dir, "items_per_feed: 2\n");
    site.publish();
    site
}

#[test]
fn a_post_outside_every_feed_holds_no_body_and_one_in_a_feed_does() {
    let dir = tempfile::tempdir().unwrap();
    let site = full_feeds(dir.path(), 5);
    for day in 1..=3 {
        let post = site.index.get(&format!("post/p{day:02}.md")).unwrap();
        assert!(post.body.markdown().is_empty(), "p{day} is in no feed");
        assert_eq!(post.summary, None);
        // What the index and the ids need is all there.
        assert_eq!(post.title, format!("P{day}"));
        assert_eq!(post.terms("categories"), ["c"]);
    }
    for day in 4..=5 {
        let post = site.index.get(&format!("post/p{day:02}.md")).unwrap();
        assert!(post
            .body
            .markdown()
            .contains(&format!("The body of P{day}.")));
    }
    assert_eq!(
        site.rereads(),
        0,
        "a load reads each file once: the newest keep the bodies they were read with"
    );
}

#[test]
fn deleting_the_newest_post_of_a_full_feed_brings_the_next_one_in_with_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let mut site = full_feeds(dir.path(), 5);
    assert!(site
        .index
        .get("post/p03.md")
        .unwrap()
        .body
        .markdown()
        .is_empty());
    assert!(!served(&site, "/rss.xml").contains("The body of P3."));
    let newest = dir.path().join("content/post/p05.md");
    std::fs::remove_file(&newest).unwrap();
    site.apply_paths(&BTreeSet::from([newest]));
    site.publish();
    for path in [
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/categories/c/rss.xml",
    ] {
        let feed = served(&site, path);
        assert!(feed.contains("The body of P3."), "{path}: {feed}");
        assert!(feed.contains("The body of P4."), "{path}: {feed}");
        assert!(!feed.contains("P5"), "{path}: {feed}");
    }
    // The same bytes as a site that never had p05.
    let fresh = tempfile::tempdir().unwrap();
    let again = full_feeds(fresh.path(), 4);
    for path in [
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/categories/c/atom.xml",
    ] {
        assert_eq!(
            served(&site, path).replace(fresh.path().to_str().unwrap(), ""),
            served(&again, path).replace(fresh.path().to_str().unwrap(), ""),
            "{path}"
        );
    }
}

#[test]
fn only_posts_entering_a_feed_are_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut site = full_feeds(dir.path(), 30);
    let start = site.rereads();
    // Edits of posts in no feed, and of one in the feeds: nothing to read again.
    for day in [1, 7, 12, 30] {
        let path = write(
            dir.path(),
            &format!("post/p{day:02}.md"),
            &dated(&format!("P{day} edited"), day, "c"),
        );
        site.apply_paths(&BTreeSet::from([path]));
        site.publish();
    }
    assert_eq!(site.rereads(), start);
    // An edited old post keeps no body once published (it is in no feed).
    assert!(site
        .index
        .get("post/p07.md")
        .unwrap()
        .body
        .markdown()
        .is_empty());
    // Deleting the newest brings one post into two feeds (global and `c`): one read.
    let newest = dir.path().join("content/post/p30.md");
    std::fs::remove_file(&newest).unwrap();
    site.apply_paths(&BTreeSet::from([newest]));
    site.publish();
    assert_eq!(site.rereads(), start + 1);
    // Deleting ten at once brings at most the two new newest in.
    let mut gone = BTreeSet::new();
    for day in 19..=29 {
        let path = dir.path().join(format!("content/post/p{day:02}.md"));
        std::fs::remove_file(&path).unwrap();
        gone.insert(path);
    }
    site.apply_paths(&gone);
    site.publish();
    assert_eq!(site.rereads(), start + 3);
    assert!(served(&site, "/rss.xml").contains("The body of P18."));
}

#[test]
fn a_post_entering_a_feed_that_cannot_be_read_again_is_left_out_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut site = full_feeds(dir.path(), 5);
    site.source
        .hooks
        .open_errors
        .lock()
        .unwrap()
        .insert("post/p03.md".into(), libc::EACCES);
    let newest = dir.path().join("content/post/p05.md");
    std::fs::remove_file(&newest).unwrap();
    site.apply_paths(&BTreeSet::from([newest]));
    site.publish();
    // Never an item without its content: the next one (P2) takes its place.
    let rss = served(&site, "/rss.xml");
    assert!(!rss.contains("P3"), "{rss}");
    assert!(rss.contains("The body of P2."), "{rss}");
    let problems = site.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "post/p03.md");
    assert!(
        problems[0].message.contains("left out of the feeds"),
        "{problems:?}"
    );
    // Readable again: its next chance (a rescan) brings it back, with its content.
    site.source.hooks.open_errors.lock().unwrap().clear();
    site.rescan();
    site.publish();
    assert!(served(&site, "/rss.xml").contains("The body of P3."));
    assert_eq!(site.problem_count(), 0);
}

/// Saves `rel` the way vim does by default on Linux: probe file `4913` created and removed,
/// the post renamed to its backup `rel~`, the new text written to `rel`, the backup removed.
/// Returns every path the kernel reports for it.
fn vim_save(dir: &Path, rel: &str, text: &str) -> BTreeSet<PathBuf> {
    let content = dir.join("content");
    let post = content.join(rel);
    let folder = post.parent().unwrap().to_owned();
    let probe = folder.join("4913");
    let backup = content.join(format!("{rel}~"));
    std::fs::write(&probe, "").unwrap();
    std::fs::remove_file(&probe).unwrap();
    std::fs::rename(&post, &backup).unwrap();
    std::fs::write(&post, text).unwrap();
    std::fs::remove_file(&backup).unwrap();
    BTreeSet::from([probe, backup, post])
}

#[test]
fn a_vim_style_save_reads_one_file_and_looks_at_no_other_known_path_or_folder_whatever_the_size() {
    let mut costs = Vec::new();
    for n in [20, 2_000] {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..n {
            write(
                dir.path(),
                &format!("post/p{i:05}.md"),
                &post(&format!("Post {i}")),
            );
        }
        let mut site = site_in(dir.path(), "");
        assert_eq!(site.index.len(), n);
        let (examined, rereads) = (site.keys_examined(), site.rereads());
        let listed = site.source.bundle_lookups();
        let paths = vim_save(dir.path(), "post/p00007.md", &post("Post 7, edited"));
        let applied = site.apply_paths(&paths);
        site.publish();
        assert_eq!(
            title(&site, "post/p00007.md").as_deref(),
            Some("Post 7, edited")
        );
        assert_eq!(site.index.len(), n, "the save removed nothing");
        assert_eq!((applied.read, applied.removed, applied.failed), (1, 0, 0));
        costs.push((
            site.keys_examined() - examined,
            site.rereads() - rereads,
            site.source.bundle_lookups() - listed,
        ));
    }
    assert_eq!(
        costs,
        [(0, 0, 0), (0, 0, 0)],
        "(known paths looked at, files re-read, folders listed) per save"
    );
}

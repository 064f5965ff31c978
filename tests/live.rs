//! `herald serve` keeps its feeds current as the content directory changes: every way an
//! author, an editor or a sync tool changes files shows up in the next poll, and nothing
//! else changes. Each test waits on what a reader would see, with a deadline, never a sleep.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::{eventually, metric, set_open_files_limit, Connection, Server, Site};

const DEADLINE: Duration = Duration::from_secs(15);

fn post(title: &str, date: &str, categories: &[&str]) -> String {
    format!(
        "---\ntitle: {title:?}\ndate: {date}\ncategories: {categories:?}\n---\nBody of {title}.\n"
    )
}

/// Titles in a JSON feed, in order; none while the feed does not exist.
fn titles(server: &Server, path: &str) -> Vec<String> {
    let response = server.get(path, &[]);
    if response.status == 404 {
        return Vec::new();
    }
    assert_eq!(response.status, 200, "{path}");
    let feed: serde_json::Value = serde_json::from_slice(&response.body).expect("valid JSON");
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect()
}

fn wait_for_titles(server: &Server, path: &str, want: &[&str]) {
    eventually(DEADLINE, || (titles(server, path) == want).then_some(()));
}

fn live_site() -> Site {
    let site = Site::new("items_per_feed: 5000\nrescan_interval_secs: 0\n");
    site.write("post/a.md", &post("Alpha", "2020-01-01", &["One"]));
    site.write("post/b.md", &post("Beta", "2020-01-02", &["Two"]));
    site
}

#[test]
fn edits_creations_deletions_and_renames_are_served() {
    let site = live_site();
    let server = site.serve();
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha"]);

    site.write("post/a.md", &post("Alpha edited", "2020-01-01", &["One"]));
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha edited"]);

    site.write("post/c.md", &post("Gamma", "2020-01-03", &["One"]));
    wait_for_titles(&server, "/feed.json", &["Gamma", "Beta", "Alpha edited"]);
    wait_for_titles(
        &server,
        "/categories/one/feed.json",
        &["Gamma", "Alpha edited"],
    );

    std::fs::remove_file(site.content().join("post/b.md")).unwrap();
    wait_for_titles(&server, "/feed.json", &["Gamma", "Alpha edited"]);
    // Its category was published: it stays, empty (subscribers keep a valid feed).
    eventually(DEADLINE, || {
        let r = server.get("/categories/two/feed.json", &[]);
        (r.status == 200 && titles(&server, "/categories/two/feed.json").is_empty()).then_some(())
    });

    std::fs::rename(
        site.content().join("post/c.md"),
        site.content().join("post/gamma.md"),
    )
    .unwrap();
    eventually(DEADLINE, || {
        let feed: serde_json::Value =
            serde_json::from_slice(&server.get("/feed.json", &[]).body).unwrap();
        let urls: Vec<&str> = feed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["url"].as_str().unwrap())
            .collect();
        (urls
            == [
                "https://feeds.example.org/post/gamma/",
                "https://feeds.example.org/post/a/",
            ])
        .then_some(())
    });

    // Moved to another folder: same post, new section.
    std::fs::create_dir_all(site.content().join("notes")).unwrap();
    std::fs::rename(
        site.content().join("post/gamma.md"),
        site.content().join("notes/gamma.md"),
    )
    .unwrap();
    eventually(DEADLINE, || {
        server
            .get("/feed.json", &[])
            .text()
            .contains("https://feeds.example.org/notes/gamma/")
            .then_some(())
    });
    wait_for_titles(&server, "/feed.json", &["Gamma", "Alpha edited"]);
}

#[test]
fn editor_save_strategies_are_seen() {
    let site = live_site();
    let server = site.serve();
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha"]);

    // Write a temporary file, then rename it over the post (vim, most IDEs).
    site.write(
        "post/.a.md.swp-tmp",
        &post("Alpha via rename", "2020-01-01", &["One"]),
    );
    std::fs::rename(
        site.content().join("post/.a.md.swp-tmp"),
        site.content().join("post/a.md"),
    )
    .unwrap();
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha via rename"]);

    // Delete, then re-create (some sync tools).
    std::fs::remove_file(site.content().join("post/b.md")).unwrap();
    site.write("post/b.md", &post("Beta recreated", "2020-01-02", &["Two"]));
    wait_for_titles(
        &server,
        "/feed.json",
        &["Beta recreated", "Alpha via rename"],
    );

    // Backup copy first, then the real write (emacs): the backup is not a post.
    site.write("post/b.md~", &post("Backup", "2020-01-09", &["Two"]));
    site.write("post/b.md", &post("Beta saved", "2020-01-02", &["Two"]));
    wait_for_titles(&server, "/feed.json", &["Beta saved", "Alpha via rename"]);
}

#[test]
fn a_new_folder_written_right_after_mkdir_is_picked_up_whole() {
    let site = live_site();
    let server = site.serve();
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha"]);
    let deep = site.content().join("new/deeper/still");
    std::fs::create_dir_all(&deep).unwrap();
    for i in 0..20 {
        std::fs::write(
            deep.join(format!("p{i:02}.md")),
            post(
                &format!("New {i:02}"),
                &format!("2021-01-{:02}", i + 1),
                &[],
            ),
        )
        .unwrap();
    }
    eventually(DEADLINE, || {
        (titles(&server, "/feed.json").len() == 22).then_some(())
    });

    // The whole folder removed at once: every post under it goes.
    std::fs::remove_dir_all(site.content().join("new")).unwrap();
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha"]);
}

#[test]
fn a_bulk_change_of_two_thousand_files_lands_completely() {
    let site = live_site();
    let server = site.serve();
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha"]);
    for i in 0..2000 {
        site.write(
            &format!("bulk/{:02}/p{i:04}.md", i % 20),
            &post(&format!("Bulk {i:04}"), "2022-02-02", &["Bulk"]),
        );
    }
    eventually(DEADLINE, || {
        (titles(&server, "/categories/bulk/feed.json").len() == 2000).then_some(())
    });
    assert_eq!(titles(&server, "/feed.json").len(), 2002);

    // And all of them gone at once (a `git checkout` of an older tree).
    std::fs::remove_dir_all(site.content().join("bulk")).unwrap();
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha"]);
    let bulk = server.get("/categories/bulk/feed.json", &[]);
    assert_eq!(bulk.status, 200, "a published feed never vanishes");
    assert!(titles(&server, "/categories/bulk/feed.json").is_empty());
}

#[test]
fn poll_mode_sees_changes_where_kernel_events_are_missing() {
    // `watch: poll` is also what Herald falls back to when inotify watches run out.
    let site = Site::new("watch: poll\npoll_interval_ms: 100\nrescan_interval_secs: 0\n");
    site.write("post/a.md", &post("Alpha", "2020-01-01", &["One"]));
    let server = site.serve();
    wait_for_titles(&server, "/feed.json", &["Alpha"]);
    site.write("post/a.md", &post("Alpha polled", "2020-01-01", &["One"]));
    site.write("post/b.md", &post("Beta polled", "2020-01-02", &["One"]));
    wait_for_titles(&server, "/feed.json", &["Beta polled", "Alpha polled"]);
    std::fs::remove_file(site.content().join("post/a.md")).unwrap();
    wait_for_titles(&server, "/feed.json", &["Beta polled"]);
}

#[test]
fn a_content_dir_replaced_by_a_symlink_to_another_tree_is_followed() {
    let site = live_site();
    let server = site.serve();
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha"]);
    // A deploy that builds the next tree beside the live one and swaps a symlink in.
    let next = site.dir.path().join("content-next");
    std::fs::create_dir_all(next.join("post")).unwrap();
    std::fs::write(
        next.join("post/c.md"),
        post("Gamma", "2020-01-03", &["One"]),
    )
    .unwrap();
    std::fs::remove_dir_all(site.content()).unwrap();
    std::os::unix::fs::symlink(&next, site.content()).unwrap();
    wait_for_titles(&server, "/feed.json", &["Gamma"]);
    std::fs::write(
        next.join("post/d.md"),
        post("Delta", "2020-01-04", &["One"]),
    )
    .unwrap();
    wait_for_titles(&server, "/feed.json", &["Delta", "Gamma"]);
}

#[test]
fn a_broken_edit_keeps_the_last_good_version_until_it_is_fixed() {
    let site = live_site();
    let server = site.serve();
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha"]);
    site.write(
        "post/a.md",
        "---\ntitle: \"Alpha half typed\ndate: 2020-01-01\n",
    );
    // Give the broken version time to be read: a new post written after it is the marker.
    site.write("post/z.md", &post("Marker", "2019-01-01", &[]));
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha", "Marker"]);
    site.write("post/a.md", &post("Alpha fixed", "2020-01-01", &["One"]));
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha fixed", "Marker"]);
}

#[test]
fn an_edit_leaves_unaffected_feeds_byte_identical() {
    let site = live_site();
    let server = site.serve();
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha"]);
    let two = server.get("/categories/two/rss.xml", &[]);
    let two_etag = two.header("etag").unwrap().to_string();
    let global_etag = server
        .get("/rss.xml", &[])
        .header("etag")
        .unwrap()
        .to_string();

    site.write("post/a.md", &post("Alpha edited", "2020-01-01", &["One"]));
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha edited"]);
    assert_ne!(
        server.get("/rss.xml", &[]).header("etag").unwrap(),
        global_etag
    );
    let again = server.get("/categories/two/rss.xml", &[("If-None-Match", &two_etag)]);
    assert_eq!(
        again.status, 304,
        "a feed the edit did not touch keeps its ETag"
    );
}

#[test]
fn a_scheduled_post_appears_on_time_without_any_file_change() {
    let site = live_site();
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    site.write("post/soon.md", &post("Soon", &soon, &["Later"]));
    let server = site.serve();
    assert_eq!(titles(&server, "/feed.json"), ["Beta", "Alpha"]);
    assert_eq!(
        server.get("/categories/later/feed.json", &[]).status,
        404,
        "no feed announces a scheduled post"
    );
    wait_for_titles(&server, "/feed.json", &["Soon", "Beta", "Alpha"]);
    wait_for_titles(&server, "/categories/later/feed.json", &["Soon"]);
}

#[test]
fn the_last_feeds_stay_served_while_the_content_dir_is_gone() {
    let site = live_site();
    let server = site.serve();
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha"]);
    let aside = site.dir.path().join("content-aside");
    std::fs::rename(site.content(), &aside).unwrap();
    // Nothing to wait for: the point is that nothing changes. Poll a few times.
    for _ in 0..10 {
        assert_eq!(titles(&server, "/feed.json"), ["Beta", "Alpha"]);
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(
        aside.join("post/a.md"),
        post("Alpha while away", "2020-01-01", &["One"]),
    )
    .unwrap();
    std::fs::rename(&aside, site.content()).unwrap();
    wait_for_titles(&server, "/feed.json", &["Beta", "Alpha while away"]);
    site.write(
        "post/b.md",
        &post("Beta after return", "2020-01-02", &["Two"]),
    );
    wait_for_titles(
        &server,
        "/feed.json",
        &["Beta after return", "Alpha while away"],
    );
}

/// Item titles of an RSS body, in order (the titles used here need no unescaping).
fn rss_titles(body: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(body).unwrap();
    text.split("<item>")
        .skip(1)
        .map(|item| {
            let start = item.find("<title>").expect("an item title") + "<title>".len();
            let end = item[start..].find("</title>").unwrap();
            item[start..start + end].to_string()
        })
        .collect()
}

#[test]
fn reads_failing_with_emfile_unpublish_nothing_and_recover() {
    let site = Site::new(
        "rescan_interval_secs: 1\nheader_read_timeout_secs: 300\nkeep_alive_timeout_secs: 300\n",
    );
    site.write("post/a.md", &post("Alpha, draft", "2020-01-01", &["One"]));
    site.write("post/b.md", &post("Beta", "2020-01-02", &["Two"]));
    site.write("notes/c.md", &post("Gamma", "2020-01-03", &["One"]));
    let server = site.serve();
    // An edit seen proves the owner loop and its watch are up: they open descriptors when
    // they start, which this test is about to take away.
    site.write("post/a.md", &post("Alpha", "2020-01-01", &["One"]));
    wait_for_titles(&server, "/feed.json", &["Gamma", "Beta", "Alpha"]);
    // Opened while files can still be opened: the server needs no new descriptor for it.
    let mut conn = Connection::open(server.addr);
    assert_eq!(conn.get("/healthz").status, 200);
    let pid = server.child.id();
    let limit = set_open_files_limit(pid, 0);
    let rescans = metric(&conn.get("/metrics").text(), "herald_rescans_total");
    // While no file can be opened: an edit (its read fails), an event on a folder (its walk
    // fails), and periodic rescans (the walk of the root fails).
    site.write("post/a.md", &post("Alpha edited", "2020-01-01", &["One"]));
    let folder = site.content().join("post");
    let mode = std::fs::metadata(&folder).unwrap().permissions();
    std::fs::set_permissions(&folder, mode).unwrap();
    eventually(DEADLINE, || {
        let text = conn.get("/metrics").text();
        // The rescan counted at rescans + 1 began after the limit and has finished.
        (metric(&text, "herald_rescans_total") >= rescans + 2.0
            && metric(&text, "herald_content_read_errors_total") >= 2.0)
            .then_some(())
    });
    let feed: serde_json::Value = serde_json::from_slice(&conn.get("/feed.json").body).unwrap();
    let served: Vec<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        served,
        ["Gamma", "Beta", "Alpha"],
        "errors are not deletions"
    );
    assert_eq!(
        rss_titles(&conn.get("/rss.xml").body),
        ["Gamma", "Beta", "Alpha"]
    );
    let health = conn.get("/healthz");
    assert_eq!(health.status, 200, "the site is serving");
    let health: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert!(health["unreadable"].as_u64().unwrap() >= 1, "{health}");
    assert!(
        health["note"]
            .as_str()
            .is_some_and(|n| n.contains("last good versions are served")),
        "{health}"
    );
    let text = conn.get("/metrics").text();
    assert!(
        metric(&text, "herald_content_unreadable_paths") >= 1.0,
        "{text}"
    );

    // A reload (SIGHUP) meanwhile is rejected: the running site keeps every post.
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGHUP) }, 0);
    eventually(DEADLINE, || {
        let text = conn.get("/metrics").text();
        (metric(&text, "herald_config_reloads_total{result=\"rejected\"}") >= 1.0).then_some(())
    });
    assert_eq!(
        rss_titles(&conn.get("/rss.xml").body),
        ["Gamma", "Beta", "Alpha"],
        "a reload that cannot read the site replaces nothing"
    );

    // Descriptors again: the next rescan reads the edit, and nothing is unreadable.
    set_open_files_limit(pid, limit);
    wait_for_titles(&server, "/feed.json", &["Gamma", "Beta", "Alpha edited"]);
    eventually(DEADLINE, || {
        let health: serde_json::Value =
            serde_json::from_slice(&server.get("/healthz", &[]).body).unwrap();
        (health["unreadable"] == 0 && health.get("note").is_none()).then_some(())
    });
}

#[test]
fn a_folder_of_six_thousand_posts_deleted_at_once_goes_while_http_answers() {
    let site = Site::new("items_per_feed: 10\nrescan_interval_secs: 0\n");
    site.write("post/a.md", &post("Alpha", "2020-01-01", &["One"]));
    site.write("post/b.md", &post("Beta", "2020-01-02", &["Two"]));
    for i in 0..6000 {
        site.write(
            &format!("mass/{:02}/p{i:04}.md", i % 60),
            &post(&format!("Mass {i:04}"), "2022-02-02", &["Mass"]),
        );
    }
    let server = site.serve();
    let posts = |server: &Server| {
        let health = server.get("/healthz", &[]);
        assert_eq!(health.status, 200);
        let health: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
        health["posts"].as_u64().unwrap()
    };
    eventually(DEADLINE, || (posts(&server) == 6002).then_some(()));
    std::fs::remove_dir_all(site.content().join("mass")).unwrap();
    // Every request answers, with a whole feed, while the deletion is applied.
    eventually(Duration::from_secs(120), || {
        let feed = titles(&server, "/feed.json");
        assert!(
            feed.len() == 10 || feed == ["Beta", "Alpha"],
            "a whole feed: {feed:?}"
        );
        let rss = server.get("/rss.xml", &[]);
        assert_eq!(rss.status, 200);
        (posts(&server) == 2 && feed == ["Beta", "Alpha"]).then_some(())
    });
    assert_eq!(server.get("/categories/mass/feed.json", &[]).status, 200);
    assert!(titles(&server, "/categories/mass/feed.json").is_empty());
}

/// Swaps a symlinked content dir the way release tools do (`ln -sfn new c.tmp && mv -T
/// c.tmp content`) while polling `/rss.xml` fast, and checks that every body served was
/// entirely the old tree or entirely the new one.
fn swap_the_content_link(extra_config: &str) {
    let site = Site::new(extra_config);
    let (one, two) = (
        site.dir.path().join("release-1"),
        site.dir.path().join("release-2"),
    );
    for (tree, rel, title, date) in [
        (&one, "post/a.md", "Alpha, first draft", "2020-01-01"),
        (&one, "post/b.md", "Beta", "2020-01-02"),
        (&one, "post/c.md", "Gamma", "2020-01-03"),
        (&two, "post/b.md", "Beta", "2020-01-02"),
        (&two, "post/d.md", "Delta", "2020-01-04"),
        (&two, "notes/e.md", "Epsilon", "2020-01-05"),
    ] {
        std::fs::create_dir_all(tree.join(rel).parent().unwrap()).unwrap();
        std::fs::write(tree.join(rel), post(title, date, &["One"])).unwrap();
    }
    std::fs::remove_dir(site.content()).unwrap();
    std::os::unix::fs::symlink(&one, site.content()).unwrap();
    let server = site.serve();
    let old = ["Gamma", "Beta", "Alpha"];
    let new = ["Epsilon", "Delta", "Beta"];
    // An edit seen proves the watch (or the polling) is running before the swap.
    std::fs::write(one.join("post/a.md"), post("Alpha", "2020-01-01", &["One"])).unwrap();
    wait_for_titles(&server, "/feed.json", &old);

    let tmp = site.dir.path().join("content.tmp");
    std::os::unix::fs::symlink(&two, &tmp).unwrap();
    std::fs::rename(&tmp, site.content()).unwrap();
    let mut bodies = BTreeSet::new();
    let mut after = 0;
    let deadline = std::time::Instant::now() + DEADLINE;
    while after < 50 {
        assert!(
            std::time::Instant::now() < deadline,
            "the new tree never came: {bodies:?}"
        );
        let rss = server.get("/rss.xml", &[]);
        assert_eq!(rss.status, 200);
        if rss_titles(&rss.body) == new {
            after += 1;
        }
        bodies.insert(rss.body);
    }
    for body in &bodies {
        let seen = rss_titles(body);
        assert!(
            seen == old || seen == new,
            "a mixed or emptied feed: {seen:?}"
        );
    }
    // The new tree is the one watched (or polled) now.
    std::fs::write(two.join("post/f.md"), post("Zeta", "2020-01-06", &["One"])).unwrap();
    wait_for_titles(&server, "/feed.json", &["Zeta", "Epsilon", "Delta", "Beta"]);
}

#[test]
fn a_symlinked_content_dir_swapped_by_rename_switches_whole_trees() {
    swap_the_content_link("rescan_interval_secs: 0\n");
}

#[test]
fn a_symlinked_content_dir_swapped_by_rename_switches_whole_trees_when_polled() {
    swap_the_content_link("watch: poll\npoll_interval_ms: 50\nrescan_interval_secs: 0\n");
}

//! `--hugo-site`: Herald reads a Hugo site's own configuration and publishes what the site
//! shows — per language, at the site's URLs, with the site's ignore rules, cascades and
//! `.html` posts. (Hugo itself judges the same behaviour on bigger fixtures in
//! `tests/hugo/parity`, which `.ci/run` runs; these tests need no Hugo binary.)

mod support;

use std::path::Path;
use std::process::Command;

use support::BIN;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn post(title: &str, date: &str, extra: &str) -> String {
    format!("---\ntitle: {title}\ndate: {date}\n{extra}---\nBody of {title}.\n")
}

/// Runs `herald <args> --hugo-site <root>` with no config file.
fn herald(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--hugo-site")
        .arg(root)
        .current_dir(root)
        .output()
        .unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn urls(feed: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["url"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn a_bilingual_site_gets_feeds_per_language_at_hugo_urls() {
    let site = tempfile::tempdir().unwrap();
    let root = site.path();
    write(
        root,
        "hugo.toml",
        "baseURL = 'https://site.example.org/'\ntitle = 'Workshop'\ndefaultContentLanguage = 'en'\n\
         [languages.en]\nweight = 1\ntitle = 'Workshop'\n[languages.es]\nweight = 2\ntitle = 'Taller'\n\
         [params]\ndescription = 'Notes from the bench'\n",
    );
    write(
        root,
        "content/post/a/index.md",
        &post("Glue", "2021-03-01", "categories: [Wood]\n"),
    );
    write(
        root,
        "content/post/a/index.es.md",
        &post("Cola", "2021-03-02", "categories: [Madera]\n"),
    );
    write(root, "content/post/b.md", &post("Saws", "2021-04-01", ""));
    write(
        root,
        "content/post/_index.es.md",
        "---\ntitle: Entradas\n---\n",
    );
    write(
        root,
        "content/docs/undated.md",
        "---\ntitle: Manual\n---\nNo date here.\n",
    );
    let out = root.join("out");
    let build = herald(root, &["build", "--out", out.to_str().unwrap()]);
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );

    let en = json(&out.join("feed.json"));
    assert_eq!(en["title"], "Workshop");
    assert_eq!(
        urls(&en),
        [
            "https://site.example.org/post/a/",
            "https://site.example.org/post/b/"
        ]
    );
    let es = json(&out.join("es/feed.json"));
    assert_eq!(es["title"], "Taller");
    assert_eq!(es["language"], "es");
    assert_eq!(es["feed_url"], "https://site.example.org/es/feed.json");
    assert_eq!(urls(&es), ["https://site.example.org/es/post/a/"]);
    let madera = json(&out.join("es/categories/madera/feed.json"));
    assert_eq!(urls(&madera), ["https://site.example.org/es/post/a/"]);
    assert!(out.join("categories/wood/rss.xml").exists());
    assert!(
        !out.join("categories/madera").exists(),
        "no Spanish term in English feeds"
    );

    let list = json(&out.join("feeds.json"));
    let languages: Vec<&str> = list["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["language"].as_str().unwrap())
        .collect();
    assert!(
        languages.contains(&"en") && languages.contains(&"es"),
        "{list}"
    );

    // The undated documentation page is a page, not a post: check passes.
    let check = herald(root, &["check"]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{stdout}");
    assert!(!stdout.contains("undated.md"), "{stdout}");
}

#[test]
fn site_rules_decide_which_files_are_posts() {
    let site = tempfile::tempdir().unwrap();
    let root = site.path();
    write(
        root,
        "config/_default/hugo.toml",
        "baseURL = 'https://dev.example.org/'\ntitle = 'Almanac'\nignoreFiles = ['\\.knit\\.md$']\n\
         [permalinks]\nposts = '/:year/:slug/'\n",
    );
    // The production environment wins, as in a plain `hugo` build.
    write(
        root,
        "config/production/hugo.toml",
        "baseURL = 'https://almanac.example.org/'\n",
    );
    write(
        root,
        "content/posts/hand.html",
        &post("Hand written", "2022-05-01", "slug: by-hand\n"),
    );
    write(
        root,
        "content/posts/k/index.knit.md",
        &post("Leftover", "2022-01-01", ""),
    );
    write(
        root,
        "content/posts/k/index.markdown",
        &post("Knitted", "2022-02-01", ""),
    );
    write(
        root,
        "content/posts/k/notes.md",
        &post("Resource", "2022-02-02", ""),
    );
    write(
        root,
        "content/posts/old/_index.md",
        "---\ntitle: Old\ncascade:\n  _build:\n    render: never\n---\n",
    );
    write(
        root,
        "content/posts/old/gone.md",
        &post("Unrendered", "2020-01-01", ""),
    );
    write(
        root,
        "content/posts/old/bookmark.md",
        &post(
            "Bookmark",
            "2020-02-01",
            "link: https://elsewhere.example.net/a\n",
        ),
    );
    let out = root.join("out");
    let build = herald(root, &["build", "--out", out.to_str().unwrap()]);
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let feed = json(&out.join("feed.json"));
    let titles: Vec<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Hand written", "Knitted", "Bookmark"]);
    assert_eq!(feed["home_page_url"], "https://almanac.example.org/");
    let html = &feed["items"][0]["content_html"];
    assert!(
        html.as_str().unwrap().contains("Body of Hand written"),
        "{html}"
    );
    let bookmark = &feed["items"][2];
    assert_eq!(bookmark["external_url"], "https://elsewhere.example.net/a");
}

//! End-to-end tests of the `herald` binary on the bundled sample site: `check`, `build`
//! and `serve`, as an operator and a feed reader would see them.

mod support;

use support::{request, tree, Site};

fn item_titles_rss(xml: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("item"))
        .map(|item| {
            item.children()
                .find(|c| c.has_tag_name("title"))
                .and_then(|t| t.text())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn check_passes_on_the_sample_site() {
    let out = Site::sample().run(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("0 problems"), "{stdout}");
    // The example post stores an em dash as `â€”`: reported, without failing the check.
    let warning = stdout
        .lines()
        .find(|l| l.contains("warning: "))
        .unwrap_or_else(|| panic!("no mojibake warning: {stdout}"));
    assert!(
        warning.contains("post/healthtechmagazine-connected-medical-devices.md:"),
        "{warning}"
    );
}

#[test]
fn check_names_the_file_and_line_of_a_broken_post_and_fails() {
    let site = Site::sample();
    site.write(
        "post/broken.md",
        "---\ntitle: Broken\ndate: 2020-01-01\ncategories: [unclosed\n---\nBody\n",
    );
    let out = site.run(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("post/broken.md:"))
        .unwrap_or_else(|| panic!("no report for broken.md: {stdout}"));
    let after = &line[line.find("broken.md:").unwrap() + "broken.md:".len()..];
    assert!(
        after.chars().next().unwrap().is_ascii_digit(),
        "a line number follows the path: {line}"
    );
    assert!(stdout.contains("1 problems"), "{stdout}");
}

#[test]
fn a_missing_content_directory_is_named_once_with_its_reason() {
    let site = Site::new("");
    std::fs::remove_dir(site.content()).unwrap();
    let out = site.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let shown = site.content().display().to_string();
    assert!(stderr.contains(&shown), "{stderr}");
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "the OS error once: {stderr}"
    );
}

#[test]
fn build_writes_every_feed_with_compressed_variants_byte_identically() {
    let site = Site::sample();
    let (a, b) = (site.dir.path().join("out-a"), site.dir.path().join("out-b"));
    for out in [&a, &b] {
        let run = site.run(&["build", "--out", out.to_str().unwrap()]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let (ta, tb) = (tree(&a), tree(&b));
    assert_eq!(ta, tb, "two builds of the same content differ");
    for file in [
        "rss.xml",
        "atom.xml",
        "feed.json",
        "feeds.opml",
        "index.html",
        "rss.xml.gz",
        "rss.xml.br",
        "categories/feeds/rss.xml",
        "categories/feeds/atom.xml",
        "categories/feeds/feed.json",
        "categories/feeds/index.html",
        "categories/web/rss.xml",
        "categories/cybersecurity/rss.xml",
        "categories/medical-devices/rss.xml",
    ] {
        assert!(
            ta.contains_key(file),
            "{file} missing from {:?}",
            ta.keys().collect::<Vec<_>>()
        );
    }
    // The gzip file is the identity file, compressed.
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&ta["rss.xml.gz"][..]),
        &mut plain,
    )
    .unwrap();
    assert_eq!(plain, ta["rss.xml"]);
    // Drafts and future posts are nowhere.
    for (name, bytes) in &ta {
        if name.ends_with(".gz") || name.ends_with(".br") {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("unfinished draft"),
            "draft leaked into {name}"
        );
        assert!(
            !text.contains("Scheduled post"),
            "future post leaked into {name}"
        );
    }
}

#[test]
fn build_replaces_the_output_folder_as_a_whole() {
    let site = Site::new("");
    site.write(
        "post/a.md",
        "---\ntitle: A\ndate: 2020-01-01\ncategories: [Alpha]\n---\nA\n",
    );
    site.write(
        "post/b.md",
        "---\ntitle: B\ndate: 2020-01-02\ncategories: [Beta]\n---\nB\n",
    );
    let out = site.dir.path().join("public");
    assert!(site
        .run(&["build", "--out", out.to_str().unwrap()])
        .status
        .success());
    assert!(out.join("categories/beta/rss.xml").exists());
    std::fs::remove_file(site.content().join("post/b.md")).unwrap();
    assert!(site
        .run(&["build", "--out", out.to_str().unwrap()])
        .status
        .success());
    assert!(out.join("categories/alpha/rss.xml").exists());
    assert!(
        !out.join("categories/beta").exists(),
        "a feed whose posts are gone must not linger"
    );
    let leftovers: Vec<_> = std::fs::read_dir(site.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("herald-tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "staging folders left behind: {leftovers:?}"
    );
}

#[test]
fn serve_publishes_the_sample_site_with_conditional_get() {
    let site = Site::sample();
    let server = site.serve();

    let rss = server.get("/rss.xml", &[]);
    assert_eq!(rss.status, 200);
    assert_eq!(
        rss.header("content-type"),
        Some("application/rss+xml; charset=utf-8")
    );
    assert_eq!(rss.header("vary"), Some("Accept-Encoding"));
    // Last-Modified is the newest change among the items (a lastmod), not the start time.
    assert_eq!(
        rss.header("last-modified"),
        Some("Tue, 20 Oct 2026 16:05:00 GMT")
    );
    let titles = item_titles_rss(&rss.text());
    assert_eq!(
        titles,
        [
            "Herald ships per-topic feeds",
            "Error messages an operator can act on",
            "Conditional GET, exactly",
            "Wearables & the front of the security queue",
            "Markdown in feeds",
            "3 Ways to Manage the Cyber Risk Posed by Connected Medical Devices",
        ]
    );
    let text = rss.text();
    assert!(
        text.contains("<link>https://example.com/news/2026/fitness-tracker-disclosure</link>"),
        "link posts link to the article"
    );
    assert!(
        text.contains("https://feeds.example.org/post/herald-ships-feeds/cover.png"),
        "bundle images are absolute"
    );
    assert!(
        text.contains("https://feeds.example.org/img/diagram.png"),
        "root-relative images are absolute"
    );
    assert!(
        !text.contains("onclick=") && !text.contains("alert(1)"),
        "event handlers are sanitized away"
    );
    assert!(!text.contains("notice tip"), "shortcode markup is stripped");
    assert!(
        text.contains("Feed readers that poll"),
        "the shortcode's inner content stays"
    );
    assert!(
        text.contains("shortcodes inside code stay as they are: {{&lt; notice &gt;}}"),
        "code is left alone"
    );

    let etag = rss.header("etag").unwrap().to_string();
    let again = server.get("/rss.xml", &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let since = server.get(
        "/rss.xml",
        &[("If-Modified-Since", "Tue, 20 Oct 2026 16:05:00 GMT")],
    );
    assert_eq!(since.status, 304);

    // gzip is made in the background (identity is served until it exists): on a busy
    // machine that takes a moment, so ask until it is offered, within a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let gz = loop {
        let gz = server.get("/rss.xml", &[("Accept-Encoding", "gzip")]);
        if gz.header("content-encoding").is_some() || std::time::Instant::now() > deadline {
            break gz;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_ne!(
        gz.header("etag"),
        Some(etag.as_str()),
        "each coding has its own ETag"
    );

    let head = request(server.addr, "HEAD", "/rss.xml", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(rss.body.len().to_string().as_str())
    );

    assert_eq!(server.get("/nope.xml", &[]).status, 404);
    let post = request(server.addr, "POST", "/rss.xml", &[("Content-Length", "0")]);
    assert_eq!(post.status, 405);
    assert!(post.header("allow").unwrap().contains("GET"));

    // One feed per category, names merged by slug ("Web" and "web").
    let web = server.get("/categories/web/atom.xml", &[]);
    assert_eq!(web.status, 200);
    assert_eq!(
        web.header("content-type"),
        Some("application/atom+xml; charset=utf-8")
    );
    let doc = roxmltree::Document::parse(&web.text())
        .unwrap()
        .descendants()
        .filter(|n| n.has_tag_name("entry"))
        .count();
    assert_eq!(doc, 3);
    let json = server.get("/categories/cybersecurity/feed.json", &[]);
    assert_eq!(
        json.header("content-type"),
        Some("application/feed+json; charset=utf-8")
    );
    let value: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(value["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        value["feed_url"],
        "https://feeds.example.org/categories/cybersecurity/feed.json"
    );

    let opml = server.get("/feeds.opml", &[]);
    assert_eq!(opml.status, 200);
    assert!(opml
        .text()
        .contains("https://feeds.example.org/categories/medical-devices/rss.xml"));
    let list: serde_json::Value =
        serde_json::from_slice(&server.get("/feeds.json", &[]).body).unwrap();
    let rust = list["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["slug"] == "rust")
        .expect("rust in /feeds.json");
    assert_eq!(rust["taxonomy"], "categories");
    assert_eq!(rust["term"], "Rust");
    assert_eq!(
        rust["atom"],
        "https://feeds.example.org/categories/rust/atom.xml"
    );
    let page = server.get("/", &[]);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains(r#"rel="alternate""#));
    // No feed for a category whose only posts are drafts or scheduled.
    let all = page.text() + &opml.text();
    assert!(!all.contains("Scheduled post") && !all.contains("unfinished draft"));
}

#[test]
fn a_broken_post_is_left_out_and_everything_else_is_served() {
    let site = Site::sample();
    site.write(
        "post/broken.md",
        "---\ntitle: \"Unterminated\ndate: 2020-01-01\n---\nBody\n",
    );
    site.write("post/binary.md", "\u{0}\u{1}\u{2}garbage");
    let server = site.serve();
    let rss = server.get("/rss.xml", &[]);
    assert_eq!(rss.status, 200);
    let titles = item_titles_rss(&rss.text());
    assert_eq!(titles.len(), 6, "{titles:?}");
}

#[test]
fn each_feed_folder_is_a_page_for_people_and_feed_urls_stay_feeds_in_browsers() {
    let server = Site::sample().serve();
    let browser = [(
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    )];
    let page = server.get("/categories/rust/", &browser);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    assert!(html.contains("<h1>Rust</h1>"), "{html}");
    assert!(
        html.contains(">Error messages an operator can act on</a>"),
        "{html}"
    );
    assert!(!html.contains("unfinished draft"), "drafts stay out");
    for file in ["rss.xml", "atom.xml", "feed.json"] {
        let url = format!("https://feeds.example.org/categories/rust/{file}");
        assert!(html.contains(&format!("<code>{url}</code>")), "{html}");
    }
    // The feeds link to it (no Hugo site: Herald's pages are the feeds' homes).
    let rss = server.get("/categories/rust/rss.xml", &browser);
    assert_eq!(
        rss.header("content-type"),
        Some("application/rss+xml; charset=utf-8"),
        "a browser asking for HTML still gets the feed"
    );
    assert!(rss
        .text()
        .contains("<link>https://feeds.example.org/categories/rust/</link>"));
    let global = server.get("/rss.xml", &browser);
    assert_eq!(global.status, 200);
    assert_eq!(
        global.header("content-type"),
        Some("application/rss+xml; charset=utf-8")
    );
    assert!(global.text().starts_with("<?xml"));
    // The index links each topic to its page.
    let index = server.get("/", &[]).text();
    assert!(index.contains("href=\"https://feeds.example.org/categories/rust/\">Rust</a>"));
    assert!(index.contains("Newest:"));
}

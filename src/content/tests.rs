//! Tests of `parse` as a whole: the example post, and the messy inputs of DESIGN.md §7.

use super::*;

/// Input that makes `parse_in` / `render_body` panic in unit tests (never in a build).
pub(crate) const PANIC_IN_PARSE: &[u8] = b"HERALD-TEST-PANIC-IN-PARSE";
pub(crate) const PANIC_IN_RENDER: &str = "HERALD-TEST-PANIC-IN-RENDER";

pub(crate) fn settings() -> ContentSettings {
    ContentSettings {
        base_url: url::Url::parse("https://example.org/").unwrap(),
        timezone: chrono_tz::UTC,
        permalinks: Default::default(),
        taxonomies: vec!["categories".into(), "series".into()],
        repair_mojibake: false,
        languages: ContentLanguage::single("en"),
        dates: Default::default(),
        build_drafts: false,
        build_expired: false,
        pages_need_no_front_matter: false,
        render: crate::content::RenderOptions::default(),
        summary_length: 70,
        max_item_bytes: 256 * 1024,
        site_params: serde_json::Value::Null,
        shortcodes: std::collections::BTreeMap::new(),
    }
}

fn post(src: &str) -> Post {
    parse("post/a-post.md", src.as_bytes(), &settings()).unwrap_or_else(|e| panic!("{e}"))
}

fn error(src: &[u8]) -> Diagnostic {
    match parse("post/a-post.md", src, &settings()) {
        Ok(p) => panic!("parsed: {p:?}"),
        Err(e) => e,
    }
}

const EXAMPLE: &str = r#"---
archetype: bookmark
categories:
- cybersecurity
- medical devices
date: 2019-03-12T13:35:48Z
description: Pacemakers, insulin pumps, wearable devices that track patient activity
  levels and pills containing ingestible sensors that track medication adherence are
  among the innovations that allow physicians to monitor patients remotely, promising
  more cost-effective care and improved outcomes.
dropmark.editURL: http://radhikan.dropmark.com/616548/18197362
featuredImage: /img/content/post/healthtechmagazine-3-ways-to-manage-the-cyber-risk-posed-by-connected-medical-devices.jpg
link: https://healthtechmagazine.net/article/2019/03/3-ways-manage-cyber-risk-posed-connected-medical-devices
linkBrand: healthtechmagazine.net
slug: healthtechmagazine-3-ways-to-manage-the-cyber-risk-posed-by-connected-medical-devices
socialScore: 34
socialScoreSimulated: true
source:
  name: Dropmark
  apiendpoint: https://shah.dropmark.com/616548.json
title: 3 Ways to Manage the Cyber Risk Posed by Connected Medical Devices
---
Pacemakers, insulin pumps, wearable devices that track patient activity levels and pills containing ingestible sensors that track medication adherence are among the innovations that allow physicians to monitor patients remotely, promising more cost-effective care and improved outcomes.

But connected medical devices also raise concerns about patient privacy and cybersecurity. Connected devices gather vast amounts of patient data and create more points for connection, raising the risk of a security breach that can involve not just the data but also control of the device itself.

Companies manufacturing such devices should understand regulatory and litigation risks associated with them and regularly take steps to minimize those risks.

Meanwhile, providers making use of the technology for patient care should also be aware of the dangers and step in where possible to ensure patient privacy and device security. In the wake of a major cyber incident, a healthcare organization may face government investigations, both domestically (by the U.S. Food and Drug Administration and other federal and state regulatory agencies, such as the Federal Trade Commission and state attorneys general) and internationally (by foreign data privacy and consumer safety regulators). Moreover, breaches can draw unwanted media attention, customer demands and litigation â€” all of which require a careful and rapid response. Counsel must be prepared to simultaneously coordinate responses on all fronts.

"#;

#[test]
fn the_example_bookmark_post() {
    let p = parse(
        "post/healthtechmagazine.md",
        EXAMPLE.as_bytes(),
        &settings(),
    )
    .unwrap();
    assert_eq!(
        p.title,
        "3 Ways to Manage the Cyber Risk Posed by Connected Medical Devices"
    );
    assert_eq!(p.published.to_rfc3339(), "2019-03-12T13:35:48+00:00");
    assert_eq!(p.updated, None);
    assert_eq!(
        p.external_url.as_deref(),
        Some("https://healthtechmagazine.net/article/2019/03/3-ways-manage-cyber-risk-posed-connected-medical-devices")
    );
    assert_eq!(p.terms("categories"), ["cybersecurity", "medical devices"]);
    assert_eq!(
        p.image.as_deref(),
        Some("https://example.org/img/content/post/healthtechmagazine-3-ways-to-manage-the-cyber-risk-posed-by-connected-medical-devices.jpg")
    );
    let permalink = "https://example.org/post/healthtechmagazine-3-ways-to-manage-the-cyber-risk-posed-by-connected-medical-devices/";
    assert_eq!(p.permalink, permalink);
    assert_eq!(p.id, permalink);
    assert!(p
        .summary
        .as_deref()
        .unwrap()
        .starts_with("Pacemakers, insulin pumps, wearable devices"));
    assert!(p
        .summary
        .as_deref()
        .unwrap()
        .ends_with("improved outcomes."));
    assert!(!p.draft);
    assert!(p.authors.is_empty());
    assert!(p.body.markdown().starts_with("Pacemakers, insulin pumps"));
    assert!(p.body.html().starts_with("<p>Pacemakers, insulin pumps"));
    assert_eq!(p.url(), p.external_url.as_deref().unwrap());
}

#[test]
fn bom_crlf_and_blank_lines_before_front_matter() {
    let p = post("\u{feff}\r\n\r\n---\r\ntitle: CRLF post\r\ndate: 2020-01-02\r\n---\r\nLine one\r\nLine two\r\n");
    assert_eq!(p.title, "CRLF post");
    assert_eq!(p.body.markdown(), "Line one\nLine two\n");
}

#[test]
fn invalid_utf8_names_the_line() {
    let e = error(b"---\ntitle: x\ndate: 2020-01-01\n---\nfine\nbad \xff byte\n");
    assert_eq!(e.line, Some(6));
    assert_eq!(
        e.to_string(),
        "post/a-post.md:6: not valid UTF-8 (first bad byte at line 6): the file is probably \
         Windows-1252/Latin-1 or UTF-16; save it as UTF-8"
    );
}

#[test]
fn dashes_in_the_body_belong_to_the_body() {
    let p = post("---\ntitle: x\ndate: 2020-01-01\n---\nabove\n\n---\n\nbelow\n");
    assert_eq!(p.body.markdown(), "above\n\n---\n\nbelow\n");
    assert!(p.body.html().contains("<hr>"));
}

#[test]
fn front_matter_errors_have_file_lines() {
    let e = error(b"\n\n---\ntitle: x\ndate: 2020-01-01\nbody without closing\n");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("never closed"), "{e}");
    let e = error(b"\n---\ntitle: ok\ndate: 2020-01-01\ntitle2: [unclosed\n---\n");
    assert!(e.line.unwrap() >= 5, "{e}");
    assert!(e.to_string().starts_with("post/a-post.md:"), "{e}");
    assert!(
        !e.message.contains("Error("),
        "Debug formatting leaked: {e}"
    );
    let e = error(b"Just text, no front matter\n");
    assert_eq!(e.line, Some(1));
    let e = error(b"---\n---\nbody\n");
    assert!(e.message.contains("empty"), "{e}");
}

#[test]
fn toml_and_json_front_matter() {
    let p = post("+++\ntitle = \"Toml\"\ndate = 2019-03-12T13:35:48+01:00\nlastmod = \"2019-04-01\"\ncategories = [\"Rust\"]\n+++\nBody\n");
    assert_eq!(p.title, "Toml");
    assert_eq!(p.published.to_rfc3339(), "2019-03-12T13:35:48+01:00");
    assert_eq!(p.updated.unwrap().to_rfc3339(), "2019-04-01T00:00:00+00:00");
    assert_eq!(p.terms("categories"), ["Rust"]);
    let p = post("+++\ntitle = \"Local\"\ndate = 2019-03-12T13:35:48\n+++\n");
    assert_eq!(p.published.to_rfc3339(), "2019-03-12T13:35:48+00:00");
    let p = post("{\n  \"title\": \"Json\",\n  \"date\": \"2019-03-12\",\n  \"Tags\": [\"a\", \"b\"]\n}\nBody {x}\n");
    assert_eq!(p.title, "Json");
    assert_eq!(p.terms("tags"), ["a", "b"]);
    assert_eq!(p.body.markdown(), "Body {x}\n");
}

#[test]
fn case_insensitive_keys_and_date_fallbacks() {
    let p = post("---\nTitle: T\nPublishDate: 2019-05-01\nLastMod: 2019-06-01T10:00:00Z\nExpiryDate: 2030-01-01\n---\n");
    assert_eq!(p.published.to_rfc3339(), "2019-05-01T00:00:00+00:00");
    assert_eq!(p.updated.unwrap().to_rfc3339(), "2019-06-01T10:00:00+00:00");
    assert_eq!(p.expires.unwrap().to_rfc3339(), "2030-01-01T00:00:00+00:00");
    let only_lastmod = post("---\ntitle: T\nlastmod: 2019-06-01\n---\n");
    assert_eq!(
        only_lastmod.published.to_rfc3339(),
        "2019-06-01T00:00:00+00:00"
    );
    assert_eq!(only_lastmod.updated, None);
    let later_publish = post(
        "---\ntitle: T\ndate: 2019-01-01\npublishDate: 2019-02-01\nlastmod: 2019-01-15\n---\n",
    );
    // Hugo: `.Date` is `date`; `.PublishDate` (when it goes live) is `publishDate`.
    assert_eq!(
        later_publish.published.to_rfc3339(),
        "2019-01-01T00:00:00+00:00"
    );
    assert_eq!(
        later_publish.live_from.to_rfc3339(),
        "2019-02-01T00:00:00+00:00"
    );
    assert_eq!(
        later_publish.updated.unwrap().to_rfc3339(),
        "2019-01-15T00:00:00+00:00"
    );
    let stale = post(
        "---
title: T
date: 2019-02-01
lastmod: 2019-01-15
---
",
    );
    assert_eq!(
        stale.updated, None,
        "lastmod before the date is not an update"
    );
}

#[test]
fn date_forms_in_front_matter() {
    for (line, want) in [
        ("date: 2019-03-12", "2019-03-12T00:00:00+00:00"),
        ("date: '2019-03-12 13:35'", "2019-03-12T13:35:00+00:00"),
        ("date: 2019-03-12 13:35:48", "2019-03-12T13:35:48+00:00"),
        (
            "date: \"2019-03-12T9:30:00+1300\"",
            "2019-03-12T09:30:00+13:00",
        ),
        (
            "date: 2019-03-12T13:35:48.5Z # from WordPress",
            "2019-03-12T13:35:48.500+00:00",
        ),
        ("date: 2019-03-12T13:35:48Z   ", "2019-03-12T13:35:48+00:00"),
    ] {
        let p = post(&format!("---\ntitle: T\n{line}\n---\n"));
        assert_eq!(p.published.to_rfc3339(), want, "{line}");
    }
}

#[test]
fn naive_dates_use_the_site_zone() {
    let mut s = settings();
    s.timezone = chrono_tz::Europe::Paris;
    let p = parse(
        "post/x.md",
        b"---\ntitle: T\ndate: 2019-07-01 10:00\n---\n",
        &s,
    )
    .unwrap();
    assert_eq!(p.published.to_rfc3339(), "2019-07-01T10:00:00+02:00");
}

#[test]
fn bad_and_missing_dates_are_errors_with_lines() {
    let e = error(b"---\ntitle: T\n\ndate: 2019-02-30\n---\n");
    assert_eq!(e.line, Some(4));
    assert!(
        e.message.contains("`date`") && e.message.contains("2019-02-30"),
        "{e}"
    );
    let e = error(b"---\ntitle: T\nlastMod: 2019-03-12 25:00\n---\n");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("`lastmod`"), "{e}");
    let e = error(b"---\ntitle: T\n---\nbody");
    assert!(e.message.contains("no date"), "{e}");
    let e = error(b"---\ntitle: T\ndate: [2019]\n---\n");
    assert!(e.message.contains("`date`"), "{e}");
}

#[test]
fn drafts() {
    assert!(post("---\ntitle: T\ndate: 2020-01-01\ndraft: yes\n---\n").draft);
    assert!(!post("---\ntitle: T\ndate: 2020-01-01\ndraft: 'false'\n---\n").draft);
    assert!(post("---\ntitle: T\ndate: 2020-01-01\n_build:\n  list: never\n---\n").draft);
    let e = error(b"---\ntitle: T\ndate: 2020-01-01\ndraft: perhaps\n---\n");
    assert_eq!(e.line, Some(4));
}

#[test]
fn taxonomies_in_every_form() {
    let p = post(
        "---\ntitle: T\ndate: 2020-01-01\ncategories: rust, go\ntags:\n- Rust\n- rust\n- 2024\n-  big   data \nseries: [One]\nunconfigured: [x]\n---\n",
    );
    assert_eq!(p.terms("categories"), ["rust, go"]);
    assert_eq!(p.terms("tags"), ["Rust", "2024", "big data"]);
    assert_eq!(p.terms("series"), ["One"]);
    assert!(!p.taxonomies.contains_key("unconfigured"));
    let empty = post("---\ntitle: T\ndate: 2020-01-01\ncategories: []\ntags: ~\n---\n");
    assert!(empty.taxonomies.is_empty());
}

#[test]
fn summary_sources() {
    let p = post("---\ntitle: T\ndate: 2020-01-01\nsummary: \"<p>Tom &amp; Jerry\\n  chase</p>\"\n---\nBody\n");
    assert_eq!(p.summary.as_deref(), Some("Tom & Jerry chase"));
    let p = post(
        "---\ntitle: T\ndate: 2020-01-01\n---\nThe *intro* part.\n\n<!--more-->\n\nThe rest.\n",
    );
    assert_eq!(p.summary.as_deref(), Some("The intro part."));
    let p =
        post("---\ntitle: T\ndate: 2020-01-01\n---\nIntro {{< x >}} two.\n<!-- more -->\nRest\n");
    assert_eq!(p.summary.as_deref(), Some("Intro two."));
    // No description and no divider: Hugo 0.111's automatic summary (the whole text
    // here, being under 70 words).
    let p = post("---\ntitle: T\ndate: 2020-01-01\n---\nNo divider here.\n");
    assert_eq!(p.summary.as_deref(), Some("No divider here."));
    let p = post("---\ntitle: T\ndate: 2020-01-01\n---\n");
    assert_eq!(p.summary, None);
}

#[test]
fn automatic_summaries_follow_summary_length_and_block_text() {
    // Hugo 0.111 with summaryLength 5 on this body: .Plain is "Head A b c d e. f g.\n
    // item x item y code here " and .Summary "Head A b c d e." (5 spaces are reached at
    // "d", then on to the full stop).
    let body = "## Head\n\nA b c d e. f g.\n\n- item x\n- item y\n\n```\ncode here\n```\n";
    let src = format!("---\ntitle: T\ndate: 2020-01-01\n---\n{body}");
    let s = ContentSettings {
        summary_length: 5,
        ..settings()
    };
    let p = parse("post/a.md", src.as_bytes(), &s).unwrap();
    assert_eq!(p.summary.as_deref(), Some("Head A b c d e."));
    let p = parse("post/a.md", src.as_bytes(), &settings()).unwrap();
    assert_eq!(
        p.summary.as_deref(),
        Some("Head A b c d e. f g. item x item y code here")
    );
}

#[test]
fn unknown_shortcodes_warn_once_per_name() {
    let src = "---\ntitle: T\ndate: 2020-01-01\n---\n{{< aside >}}a{{< /aside >}} {{< aside >}}b{{< /aside >}} {{< youtube x >}}\n";
    let parsed = parse_with_warnings("post/a.md", src.as_bytes(), &settings());
    assert!(parsed.warnings.iter().all(Diagnostic::is_warning));
    let warnings: Vec<String> = parsed.warnings.iter().map(|w| w.message.clone()).collect();
    assert_eq!(
        warnings,
        ["shortcode `aside` is not built into Hugo; its inner content is kept (map it under `shortcodes:` in herald.yaml)"]
    );
    let mut s = settings();
    s.shortcodes.insert("aside".into(), ShortcodeRule::Drop);
    let parsed = parse_with_warnings("post/a.md", src.as_bytes(), &s);
    assert!(parsed.warnings.is_empty());
    assert_eq!(parsed.result.unwrap().unwrap().body.html(), "<p><a href=\"https://www.youtube.com/watch?v=x\" rel=\"noopener noreferrer\">YouTube video</a></p>\n");
}

#[test]
fn html_content_files_are_sanitized_not_rendered() {
    let src = "---\ntitle: T\ndate: 2020-01-01\n---\n<p>Some *text* {{< figure src=\"/i.png\" >}}</p>\n<script>x()</script><iframe src=\"https://v.example/1\">\n<p>after</p>\n";
    let p = parse("post/page.html", src.as_bytes(), &settings()).unwrap();
    let html = p.body.html();
    // html5ever closes the <p> before a <figure>, as browsers do.
    assert!(
        html.starts_with("<p>Some *text* </p><figure><img src=\"https://example.org/i.png\">"),
        "{html}"
    );
    assert!(
        html.contains(
            "<a href=\"https://v.example/1\" rel=\"noopener noreferrer\">https://v.example/1</a>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<p>after</p>") && !html.contains("x()"),
        "{html}"
    );
    assert_eq!(p.summary.as_deref(), Some("Some *text* after"));
}

#[test]
fn titles_are_plain_text_and_never_empty() {
    let p = post("---\ntitle: \"Get out of my <head>\"\ndate: 2020-01-01\n---\n");
    assert_eq!(p.title, "Get out of my <head>");
    // Entities from WordPress exports are decoded once, so feeds never show `&#038;`.
    let p = post("---\ntitle: Tom &#038; Jerry&#8217;s &amp;amp;\ndate: 2020-01-01\n---\n");
    assert_eq!(p.title, "Tom & Jerry’s &amp;");
    let p = post("---\ntitle: >\n  A folded\n  multi-line title\ndate: 2020-01-01\n---\n");
    assert_eq!(p.title, "A folded multi-line title");
    let p = post("---\ntitle: ''\ndate: 2020-01-01\ndescription: A description that is long enough to need cutting somewhere around the eightieth character mark.\n---\n");
    assert_eq!(
        p.title,
        "A description that is long enough to need cutting somewhere around the…"
    );
    let p = post("---\ndate: 2020-01-01\nslug: my-slug\n---\n");
    assert_eq!(p.title, "my-slug");
    let p = post("---\ndate: 2020-01-01\n---\n");
    assert_eq!(p.title, "a-post");
}

#[test]
fn control_characters_are_removed_everywhere() {
    let p = post("---\ntitle: \"Bad\\x13 \\0title\"\ndate: 2020-01-01\ndescription: \"sum\\x13mary\"\n---\nbo\u{0}dy\u{13} text\u{85}\n");
    assert_eq!(p.title, "Bad title");
    assert_eq!(p.summary.as_deref(), Some("summary"));
    assert_eq!(p.body.markdown(), "body text\n");
    assert!(!p.body.html().chars().any(|c| c.is_control() && c != '\n'));
    // Raw control characters inside quoted YAML would make the YAML parser give up.
    let p =
        post("---\ntitle: \"Raw\u{13} \u{0}one\"\ndate: 2020-01-01\ntags: [\"a\u{13}b\"]\n---\n");
    assert_eq!(p.title, "Raw one");
    assert_eq!(p.terms("tags"), ["ab"]);
}

#[test]
fn empty_strings_count_as_unset() {
    let p = post("---\ntitle: T\ndate: ''\npublishDate: 2020-01-01\ndescription: ''\nsummary: The summary\n---\n");
    assert_eq!(p.published.to_rfc3339(), "2020-01-01T00:00:00+00:00");
    assert_eq!(p.summary.as_deref(), Some("The summary"));
}

#[test]
fn links_ids_authors_and_images() {
    let p = post("---\ntitle: T\ndate: 2020-01-01\nlink: /elsewhere/\nguid: 12345\nauthor: Ann\nauthors: [Bob, Ann]\nimages: [cover.jpg]\n---\n");
    assert_eq!(
        p.external_url.as_deref(),
        Some("https://example.org/elsewhere/")
    );
    assert_eq!(p.id, "12345");
    assert_eq!(p.authors, ["Ann", "Bob"]);
    assert_eq!(
        p.image.as_deref(),
        Some("https://example.org/post/a-post/cover.jpg")
    );
    let e = error(b"---\ntitle: T\ndate: 2020-01-01\nlink: javascript:alert(1)\n---\n");
    assert_eq!(e.line, Some(4));
    let p = post("---\ntitle: T\ndate: 2020-01-01\nlink: ''\nimage: 'javascript:x'\n---\n");
    assert_eq!(p.external_url, None);
    assert_eq!(p.image, None);
}

#[test]
fn leaf_bundles_and_hostile_slugs() {
    let s = settings();
    let p = parse(
        "post/my-bundle/index.md",
        b"---\ntitle: T\ndate: 2020-01-01\nimage: pic.png\n---\n![x](pic.png)\n",
        &s,
    )
    .unwrap();
    assert_eq!(p.permalink, "https://example.org/post/my-bundle/");
    assert_eq!(
        p.image.as_deref(),
        Some("https://example.org/post/my-bundle/pic.png")
    );
    assert!(p
        .body
        .html()
        .contains("src=\"https://example.org/post/my-bundle/pic.png\""));
    for slug in ["../../etc", "a/b", "?x", "'#top'", "..", "'%2e%2e'"] {
        let p = post(&format!(
            "---\ntitle: T\ndate: 2020-01-01\nslug: {slug}\n---\n"
        ));
        // As Hugo: `/` nests, `..` is cleaned away (never above the base), `#` is kept.
        assert!(
            p.permalink.starts_with("https://example.org/"),
            "{slug} → {}",
            p.permalink
        );
        let u = url::Url::parse(&p.permalink).unwrap();
        assert!(!u.path().split('/').any(|s| s == ".."), "{}", p.permalink);
        assert!(!p.permalink.contains('?'), "{}", p.permalink);
    }
    let p = parse(
        "about.md",
        b"---\ntitle: About\ndate: 2020-01-01\nurl: /about-us/\n---\n",
        &s,
    )
    .unwrap();
    assert_eq!(p.permalink, "https://example.org/about-us/");
}

#[test]
fn shortcodes_never_reach_the_feed() {
    let p = post("---\ntitle: T\ndate: 2020-01-01\n---\n{{< figure src=\"a.jpg\" >}}\n{{% note %}}Kept{{% /note %}}\n\n```\n{{< code-stays >}}\n```\n");
    assert_eq!(
        p.body.markdown(),
        "HERALDSHORTCODE0END\nKept\n\n```\n{{< code-stays >}}\n```\n"
    );
    let html = p.body.html();
    assert!(
        html.contains("Kept")
            && html
                .contains("<figure><img src=\"https://example.org/post/a-post/a.jpg\"></figure>"),
        "{html}"
    );
    assert!(
        !html.contains("{{") || !html.contains("figure src"),
        "{html}"
    );
    assert!(html.contains("{{&lt; code-stays &gt;}}"), "{html}");
}

#[test]
fn empty_bodies_are_fine() {
    let p = post("---\ntitle: T\ndate: 2020-01-01\ndescription: Just a bookmark\nlink: https://w.org/\n---\n");
    assert!(p.body.is_empty());
    assert_eq!(p.body.html(), "");
    assert_eq!(p.summary.as_deref(), Some("Just a bookmark"));
}

#[test]
fn parse_error_display() {
    let e = Diagnostic {
        severity: crate::diagnostic::Severity::Error,
        path: "post/x.md".into(),
        line: Some(3),
        message: "boom".into(),
    };
    assert_eq!(e.to_string(), "post/x.md:3: boom");
    let e = Diagnostic {
        severity: crate::diagnostic::Severity::Error,
        path: "post/x.md".into(),
        line: None,
        message: "boom".into(),
    };
    assert_eq!(e.to_string(), "post/x.md: boom");
}

#[test]
fn mojibake_is_a_warning_and_repaired_only_when_asked() {
    let src = "---\ntitle: Don\u{e2}\u{20ac}\u{2122}t\ndate: 2020-01-01\n---\nlitigation \u{e2}\u{20ac}\u{201d} all\n";
    let parsed = parse_with_warnings("post/m.md", src.as_bytes(), &settings());
    let post = parsed.result.unwrap().unwrap();
    assert_eq!(post.title, "Don\u{e2}\u{20ac}\u{2122}t");
    let lines: Vec<_> = parsed.warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, [Some(2), Some(5)]);
    let shown = parsed.warnings[1].to_string();
    assert!(
        shown.starts_with("post/m.md:5: warning: mojibake"),
        "{shown}"
    );
    assert!(shown.contains("repair_mojibake: true"), "{shown}");

    let repair = ContentSettings {
        repair_mojibake: true,
        ..settings()
    };
    let parsed = parse_with_warnings("post/m.md", src.as_bytes(), &repair);
    let post = parsed.result.unwrap().unwrap();
    assert_eq!(post.title, "Don’t");
    assert_eq!(post.body.markdown(), "litigation — all\n");
    assert_eq!(parsed.warnings.len(), 2);
    assert!(parsed.warnings[0].message.ends_with("repaired"));
}

#[test]
fn the_example_post_has_mojibake_on_its_last_line() {
    let parsed = parse_with_warnings("post/x.md", EXAMPLE.as_bytes(), &settings());
    assert!(parsed.result.is_ok());
    assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
    assert!(parsed.warnings[0]
        .message
        .contains("`\u{e2}\u{20ac}\u{201d}` → `—`"));
}

#[test]
fn opt_outs_are_drafts_and_bad_values_are_errors() {
    for fm in ["feed: false", "private: true", "draft: 'on'"] {
        let p = post(&format!("---\ntitle: t\ndate: 2020-01-01\n{fm}\n---\n"));
        assert!(p.draft, "{fm}");
    }
    let e = error(b"---\ntitle: t\ndate: 2020-01-01\nfeed: perhaps\n---\n");
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("`feed: perhaps`"), "{e}");
}

#[test]
fn dates_before_1990_are_refused_with_their_line() {
    let e = error(b"---\ntitle: t\ndate: 1970-01-01\n---\n");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("before 1990"), "{e}");
    assert!(post("---\ntitle: t\ndate: 1990-01-01\n---\n")
        .published
        .to_rfc3339()
        .starts_with("1990"));
}

#[test]
fn huge_titles_are_cut_and_long_term_lists_capped_with_a_warning() {
    let title = "word ".repeat(10_000);
    let cats: Vec<String> = (0..80).map(|i| format!("c{i}")).collect();
    let src = format!(
        "---\ntitle: {title}\ndate: 2020-01-01\ncategories: [{}]\n---\n",
        cats.join(", ")
    );
    let parsed = parse_with_warnings("post/h.md", src.as_bytes(), &settings());
    let p = parsed.result.unwrap().unwrap();
    assert!(p.title.chars().count() <= MAX_TITLE_CHARS + 1);
    assert!(p.title.ends_with('…'));
    assert_eq!(p.terms("categories").len(), MAX_TERMS_PER_TAXONOMY);
    assert_eq!(parsed.warnings.len(), 1);
    assert_eq!(parsed.warnings[0].line, Some(4));
    assert!(parsed.warnings[0].message.contains("30 are left out"));
}

#[test]
fn lone_cr_line_endings_are_lines() {
    let p = post("---\rtitle: Old Mac\rdate: 2020-01-01\r---\rbody\rmore\r");
    assert_eq!(p.title, "Old Mac");
    assert_eq!(p.body.markdown(), "body\nmore\n");
}

#[test]
fn undated_pages_are_not_posts_and_not_problems() {
    let parsed = parse_with_warnings("docs/a.md", b"---\ntitle: Docs\n---\nText\n", &settings());
    assert!(matches!(parsed.result, Ok(None)), "{:?}", parsed.result);
    assert!(parsed.warnings.is_empty());
}

#[test]
fn dates_and_slugs_from_file_names() {
    // A site whose `frontmatter.date` is [":filename", ":default"].
    let mut s = settings();
    s.dates.date.insert(0, ":filename".into());
    let p = parse(
        "post/2021-04-05-spring-notes.md",
        b"---\ntitle: T\n---\n",
        &s,
    )
    .unwrap();
    assert_eq!(p.published.to_rfc3339(), "2021-04-05T00:00:00+00:00");
    assert_eq!(p.permalink, "https://example.org/post/spring-notes/");
    // The file name comes before a `date:` in such rules.
    let p = parse(
        "post/2021-04-05-x/index.md",
        b"---\ntitle: T\ndate: 2022-01-01\n---\n",
        &s,
    )
    .unwrap();
    assert_eq!(p.published.to_rfc3339(), "2021-04-05T00:00:00+00:00");
    // Hugo 0.111's default rules read no file name: the date is the front matter's, and the
    // file name is the slug as it is.
    let p = parse(
        "post/2021-04-05-x.md",
        b"---\ntitle: T\ndate: 2022-01-01\n---\n",
        &settings(),
    )
    .unwrap();
    assert_eq!(p.published.to_rfc3339(), "2022-01-01T00:00:00+00:00");
    assert_eq!(p.permalink, "https://example.org/post/2021-04-05-x/");
}

#[test]
fn translations_by_file_name_and_by_folder() {
    let langs = |dirs: [&str; 2]| {
        vec![
            ContentLanguage {
                code: "en".into(),
                url_prefix: String::new(),
                content_dir: dirs[0].into(),
            },
            ContentLanguage {
                code: "es".into(),
                url_prefix: "es/".into(),
                content_dir: dirs[1].into(),
            },
        ]
    };
    let by_name = langs(["", ""]);
    let at = |s: &str, l: &[ContentLanguage]| locate(s, l).map(|p| (p.lang.to_string(), p.path));
    assert_eq!(
        at("post/a/index.es.md", &by_name),
        Some(("es".into(), "post/a/index.md".into()))
    );
    assert_eq!(
        at("post/b.md", &by_name),
        Some(("en".into(), "post/b.md".into()))
    );
    assert_eq!(
        at("post/c.knit.md", &by_name),
        Some(("en".into(), "post/c.knit.md".into()))
    );
    let by_dir = langs(["en/", "es/"]);
    assert_eq!(
        at("es/post/x.md", &by_dir),
        Some(("es".into(), "post/x.md".into()))
    );
    assert_eq!(
        at("en/post/x.es.md", &by_dir),
        Some(("es".into(), "post/x.md".into()))
    );
    assert_eq!(at("other/x.md", &by_dir), None);
    let p = parse_with_warnings(
        "post/a.es.md",
        b"---\ntitle: Hola\ndate: 2020-01-01\n---\n",
        &ContentSettings {
            languages: by_name,
            ..settings()
        },
    );
    assert_eq!(p.result.unwrap().unwrap().lang, "es");
}

#[test]
fn in_a_hugo_site_a_file_without_front_matter_is_a_page() {
    let hugo = ContentSettings {
        pages_need_no_front_matter: true,
        ..settings()
    };
    for text in [
        "Just Markdown\n",
        "\n---\n---\nbody\n",
        "+++\n\n+++\n",
        "",
        "---\n# Do not remove front matter.\n---\nText\n",
    ] {
        let parsed = parse_with_warnings("docs/x.md", text.as_bytes(), &hugo);
        assert!(
            matches!(parsed.result, Ok(None)),
            "{text:?}: {:?}",
            parsed.result
        );
    }
    // Broken front matter is still a problem, and Herald's own folders still report both.
    let parsed = parse_with_warnings("docs/x.md", b"---\ntitle: [x\n---\n", &hugo);
    assert!(parsed.result.is_err());
    assert!(parse("docs/x.md", b"Just Markdown\n", &settings()).is_err());
}

#[test]
fn a_renderer_panic_leaves_the_post_without_content_not_the_owner_dead() {
    let p = post(&format!(
        "---\ntitle: T\ndate: 2020-01-01\n---\n{PANIC_IN_RENDER}\n"
    ));
    assert_eq!(p.body.html(), "");
    assert_eq!(p.title, "T");
}

#[test]
fn mojibake_on_every_line_gives_a_bounded_number_of_warnings() {
    let body = "caf\u{c3}\u{a9} \n".repeat(5000);
    let src = format!("---\ntitle: T\ndate: 2020-01-01\n---\n{body}");
    let parsed = parse_with_warnings("post/m.md", src.as_bytes(), &settings());
    assert!(parsed.result.is_ok());
    assert_eq!(parsed.warnings.len(), 21, "{:?}", &parsed.warnings[..3]);
    let last = &parsed.warnings[20];
    assert!(last.message.contains(" more lines"), "{last}");
}

//! Property tests: whatever strings land in whatever front-matter field, `parse` returns a
//! post or an error (never panics), and every feed rendered from the post is well-formed
//! XML 1.0 (roxmltree) or valid JSON. Case counts are bounded so the suite stays fast;
//! raise them with `PROPTEST_CASES=10000 cargo test --test properties`.

use std::sync::Arc;

use herald::config::SiteInfo;
use herald::content::{parse, ContentLanguage, ContentSettings};
use herald::feed::{render, render_index_page, render_opml, FeedInfo, Format, Listed};
use herald::post::Post;
use proptest::prelude::*;

use herald::http::{conditional, negotiate};
use herald::snapshot;

fn settings() -> ContentSettings {
    ContentSettings {
        base_url: url::Url::parse("https://example.org/blog/").unwrap(),
        timezone: chrono_tz::Europe::Paris,
        permalinks: Default::default(),
        taxonomies: vec!["categories".into(), "tags".into()],
        repair_mojibake: true,
        languages: ContentLanguage::single("en"),
        dates: Default::default(),
        build_drafts: false,
        build_expired: false,
        pages_need_no_front_matter: false,
        render: herald::content::RenderOptions::default(),
        summary_length: 70,
        max_item_bytes: 256 * 1024,
        site_params: serde_json::Value::Null,
        shortcodes: std::collections::BTreeMap::new(),
    }
}

fn site() -> SiteInfo {
    SiteInfo {
        icon: None,
        logo: None,
        title: "Site".into(),
        description: "d".into(),
        language: "en".into(),
        author: None,
        author_email: None,
        base_url: "https://example.org/blog/".into(),
        hubs: Vec::new(),
    }
}

fn info(term: Option<&str>) -> FeedInfo {
    let dir = if term.is_some() { "categories/x/" } else { "" };
    let base = "https://example.org/blog/";
    FeedInfo {
        title: format!("Site{}", term.map(|t| format!(": {t}")).unwrap_or_default()),
        taxonomy: None,
        slug: None,
        language: "en".into(),
        description: "Posts".into(),
        term: term.map(Into::into),
        html_url: format!("{base}{dir}"),
        id: format!("{base}{dir}"),
        dir: dir.into(),
        rss_url: format!("{base}{dir}rss.xml"),
        atom_url: format!("{base}{dir}atom.xml"),
        json_url: format!("{base}{dir}feed.json"),
    }
}

/// Renders every format for the post (global feed, and a term feed named after its first
/// term) and checks each output with a strict parser.
fn assert_renders_valid(post: Post) {
    let term = post.item_categories().first().map(|s| s.to_string());
    let posts = vec![Arc::new(post)];
    let mut infos = vec![info(None)];
    if let Some(t) = &term {
        infos.push(info(Some(t)));
    }
    for feed in &infos {
        for format in [Format::Rss, Format::Atom] {
            let xml = render(format, &site(), feed, &posts);
            if let Err(e) = roxmltree::Document::parse(&xml) {
                panic!("{format:?} is not well-formed: {e}\n{xml}");
            }
        }
        let json = render(Format::Json, &site(), feed, &posts);
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&json) {
            panic!("JSON Feed is not JSON: {e}\n{json}");
        }
    }
    let opml = render_opml(&site(), &infos);
    roxmltree::Document::parse(&opml).unwrap_or_else(|e| panic!("OPML: {e}\n{opml}"));
    let listed: Vec<Listed> = infos
        .iter()
        .map(|feed| Listed {
            feed,
            newest: posts.first().map(|p| &**p),
        })
        .collect();
    let page = render_index_page(&site(), &[], &listed);
    assert!(page.contains("</html>"));
}

/// How one value is written into YAML: as is, double-quoted, single-quoted, as a list.
fn embed(value: &str, how: u8) -> String {
    match how % 4 {
        0 => value.replace('\n', " "),
        1 => format!("{:?}", value), // Rust's escaping is close to YAML's double quotes
        2 => format!("'{}'", value.replace('\'', "''").replace('\n', " ")),
        _ => format!("[{}, {:?}]", value.replace('\n', " "), value),
    }
}

const FIELDS: &[&str] = &[
    "title",
    "date",
    "description",
    "categories",
    "tags",
    "author",
    "slug",
    "link",
    "id",
    "featuredImage",
    "draft",
    "lastmod",
    "url",
    "summary",
    "expiryDate",
];

/// Text that mixes what breaks feeds: markup, CDATA ends, entities, controls, non-BMP,
/// quotes, YAML indicators, URL schemes.
fn nasty() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "<",
        ">",
        "&",
        "]]>",
        "<![CDATA[",
        "&amp;",
        "&#0;",
        "&#x1F600;",
        "&bogus;",
        "\"",
        "'",
        "\u{0}",
        "\u{13}",
        "\u{1b}",
        "\u{7f}",
        "\u{85}",
        "\u{fffe}",
        "\u{ffff}",
        "\u{feff}",
        "\u{2028}",
        "😀",
        "é",
        "â€”",
        "Ã©",
        "\n",
        "\r\n",
        "\t",
        " ",
        ": ",
        "- ",
        "#",
        "*a",
        "&a",
        "!!str",
        "{",
        "}",
        "[",
        "]",
        "|",
        ">-",
        "%",
        "@",
        "`",
        "javascript:",
        "http://",
        "https://x.org/a b",
        "//x",
        "../",
        "/",
        "\\",
        "C++",
        "C#",
        "<script>",
        "</script>",
        "onerror=",
        "2019-03-12",
        "13:35:48",
        "+01:00",
        "true",
        "~",
        "null",
        "0x1F",
        "1e999",
        "---",
        "+++",
        "{{< x >}}",
        "<!--more-->",
    ]);
    prop::collection::vec(
        prop_oneof![pieces.prop_map(String::from), any::<String>()],
        0..8,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_front_matter_value_parses_or_errs_and_renders_valid_feeds(
        values in prop::collection::vec((nasty(), any::<u8>()), FIELDS.len()),
        body in nasty(),
        keep_date in any::<bool>(),
    ) {
        let mut fm = String::from("---\n");
        for (field, (value, how)) in FIELDS.iter().zip(&values) {
            fm.push_str(&format!("{field}: {}\n", embed(value, *how)));
        }
        if keep_date {
            fm.push_str("publishDate: 2020-01-01\n");
        }
        fm.push_str("---\n");
        fm.push_str(&body);
        if let Ok(post) = parse("post/p.md", fm.as_bytes(), &settings()) {
            assert_renders_valid(post);
        }
    }

    #[test]
    fn one_nasty_field_in_an_otherwise_good_post_renders_valid_feeds(
        field in prop::sample::select(FIELDS),
        value in nasty(),
        how in any::<u8>(),
        body in nasty(),
    ) {
        let mut fm = String::from("---\ntitle: T\ndate: 2020-01-01\ncategories: [a]\n");
        if !matches!(field, "title" | "date" | "categories") {
            fm.push_str(&format!("{field}: {}\n", embed(&value, how)));
        } else {
            fm = fm.replace(&format!("{field}: "), &format!("{field}: {}\n_old_{field}: ", embed(&value, how)));
        }
        fm.push_str("---\n");
        fm.push_str(&body);
        if let Ok(post) = parse("post/p.md", fm.as_bytes(), &settings()) {
            assert_renders_valid(post);
        }
    }

    #[test]
    fn any_bytes_parse_or_err(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(post) = parse("p.md", &bytes, &settings()) {
            assert_renders_valid(post);
        }
    }

    #[test]
    fn any_bytes_after_a_valid_opening_parse_or_err(
        rest in prop::collection::vec(any::<u8>(), 0..1024),
        open in prop::sample::select(vec!["---\n", "+++\n", "{", "\u{feff}---\r\n", "\n\n---\n"]),
    ) {
        let mut bytes = open.as_bytes().to_vec();
        bytes.extend(rest);
        if let Ok(post) = parse("p.md", &bytes, &settings()) {
            assert_renders_valid(post);
        }
    }

    #[test]
    fn conditional_and_negotiation_headers_never_panic(
        field in prop::collection::vec(any::<u8>(), 0..256),
        etag in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = conditional::if_none_match_matches(&field, &etag);
        let _ = conditional::if_none_match_matches(&field, b"\"abc\"");
        let _ = negotiate::choose([field.as_slice()], |_| true);
        let _ = negotiate::choose([field.as_slice(), b"gzip".as_slice()], |e| e == snapshot::Encoding::Gzip);
        if let Ok(value) = hyper::header::HeaderValue::from_bytes(&field) {
            let now = std::time::SystemTime::now();
            for name in [hyper::header::IF_NONE_MATCH, hyper::header::IF_MODIFIED_SINCE] {
                let mut headers = hyper::header::HeaderMap::new();
                headers.append(name.clone(), value.clone());
                headers.append(name, value.clone());
                let _ = conditional::is_not_modified(&headers, b"\"abc\"", Some(now), now);
                let _ = conditional::is_not_modified(&headers, b"", None, std::time::UNIX_EPOCH);
            }
        }
    }
}

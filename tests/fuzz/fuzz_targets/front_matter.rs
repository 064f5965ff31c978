//! Any bytes as a content file: `parse` returns a post or an error, never panics, and the
//! feeds rendered from a post are well-formed XML 1.0 and valid JSON.
#![no_main]

use std::sync::Arc;

use herald::config::Site;
use herald::content::{parse_with_warnings, ContentLanguage, ContentSettings};
use herald::feed::{render, render_opml, FeedInfo, Format};
use libfuzzer_sys::fuzz_target;

fn info(term: Option<String>) -> FeedInfo {
    let base = "https://example.org/";
    FeedInfo {
        title: "T".into(),
        taxonomy: None,
        slug: None,
        language: "en".into(),
        description: "D".into(),
        term,
        html_url: base.into(),
        dir: String::new(),
        rss_url: format!("{base}rss.xml"),
        atom_url: format!("{base}atom.xml"),
        json_url: format!("{base}feed.json"),
    }
}

fuzz_target!(|data: &[u8]| {
    let settings = ContentSettings {
        base_url: url::Url::parse("https://example.org/").unwrap(),
        timezone: chrono_tz::America::New_York,
        permalinks: Default::default(),
        taxonomies: vec!["categories".into(), "tags".into()],
        repair_mojibake: data.first().is_some_and(|b| b & 1 == 1),
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
    };
    let parsed = parse_with_warnings("post/fuzz.md", data, &settings);
    let Ok(Some(post)) = parsed.result else { return };
    let site = Site {
        title: "Site".into(),
        description: String::new(),
        language: "en".into(),
        author: None,
        author_email: None,
        base_url: "https://example.org/".into(),
    };
    let feed = info(post.item_categories().first().map(|s| s.to_string()));
    let posts = vec![Arc::new(post)];
    for format in [Format::Rss, Format::Atom] {
        let xml = render(format, &site, &feed, &posts);
        if let Err(e) = roxmltree::Document::parse(&xml) {
            panic!("{format:?} not well-formed: {e}\n{xml}");
        }
    }
    let json = render(Format::Json, &site, &feed, &posts);
    serde_json::from_str::<serde_json::Value>(&json).expect("JSON Feed is JSON");
    let opml = render_opml(&site, &[feed]);
    roxmltree::Document::parse(&opml).expect("OPML is XML");
});

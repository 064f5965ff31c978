//! Fixture sites written to temp dirs. Where a comment says "Hugo 0.111 does this", the same
//! fixture was run through `hugo config --source` / `hugo` 0.111.3 and its output compared.

use super::*;
use serde_json::json;
use std::fs;

fn site(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    dir
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn each_format_is_read() {
    let cases = [
        (
            "hugo.toml",
            "baseURL = \"https://t.example/\"\ntitle = \"T\"\n",
        ),
        ("hugo.yaml", "baseURL: https://t.example/\ntitle: T\n"),
        ("config.yml", "baseURL: https://t.example/\ntitle: T\n"),
        (
            "config.json",
            r#"{"baseURL": "https://t.example/", "title": "T"}"#,
        ),
    ];
    for (name, text) in cases {
        let s = site(&[(name, text)]);
        let c = load(s.path()).unwrap();
        assert_eq!(c.base_url.as_deref(), Some("https://t.example/"), "{name}");
        assert_eq!(c.title.as_deref(), Some("T"), "{name}");
    }
}

#[test]
fn only_the_first_root_file_is_read() {
    // Hugo 0.111 does this: hugo.toml wins over hugo.yaml and config.toml, whose keys are
    // not merged at all.
    let s = site(&[
        ("config.toml", "title = \"config\"\ncopyright = \"c\"\n"),
        ("hugo.yaml", "title: hugo.yaml\n"),
        ("hugo.toml", "title = \"hugo.toml\"\n"),
    ]);
    let c = load(s.path()).unwrap();
    assert_eq!(c.title.as_deref(), Some("hugo.toml"));
    fs::remove_file(s.path().join("hugo.toml")).unwrap();
    assert_eq!(load(s.path()).unwrap().title.as_deref(), Some("hugo.yaml"));
}

/// The /tmp fixture this mirrors gave, under Hugo 0.111:
/// `params={"a":"root-a","b":"default-b","list":[9],"nested":{"x":"root-x","y":"default-y","z":"prod-z"}}`.
fn layered() -> tempfile::TempDir {
    site(&[
        (
            "hugo.toml",
            "baseURL = \"https://root.example/\"\ntitle = \"Root\"\n[params]\na = \"root-a\"\nb = \"root-b\"\nlist = [1, 2, 3]\n[params.nested]\nx = \"root-x\"\ny = \"root-y\"\n",
        ),
        ("config/_default/hugo.toml", "title = \"Default dir\"\n"),
        (
            "config/_default/params.toml",
            "b = \"default-b\"\nlist = [9]\n[nested]\ny = \"default-y\"\nz = \"default-z\"\n",
        ),
        ("config/production/params.yaml", "Nested:\n  Z: prod-z\n"),
        ("config/production/config.toml", "BaseURL = \"https://prod.example/\"\n"),
        ("config/development/params.json", r#"{"A": "dev-a"}"#),
    ])
}

#[test]
fn config_dir_merges_over_root_file_and_production_over_default() {
    let s = layered();
    let c = load(s.path()).unwrap();
    // Hugo 0.111 does this (see `layered`).
    assert_eq!(c.title.as_deref(), Some("Default dir"));
    assert_eq!(c.base_url.as_deref(), Some("https://prod.example/"));
    assert_eq!(
        c.params,
        json!({"a": "root-a", "b": "default-b", "list": [9],
               "nested": {"x": "root-x", "y": "default-y", "z": "prod-z"}})
    );
    let dev = load_env(s.path(), "development").unwrap();
    assert_eq!(dev.base_url.as_deref(), Some("https://root.example/"));
    assert_eq!(dev.params["a"], "dev-a");
    assert_eq!(dev.params["nested"]["z"], "default-z");
}

#[test]
fn config_dir_alone_is_enough() {
    let s = site(&[("config/_default/config.yaml", "title: only dir\n")]);
    assert_eq!(load(s.path()).unwrap().title.as_deref(), Some("only dir"));
}

#[test]
fn keys_are_case_insensitive() {
    let s = site(&[(
        "hugo.toml",
        "BASEURL = \"https://c.example/\"\nSummaryLength = 12\nUglyURLs = true\n[Params]\nDescription = \"D\"\n[Params.Deep]\nKey = 1\n[Markup.Goldmark.Renderer]\nUnsafe = true\n",
    )]);
    let c = load(s.path()).unwrap();
    assert_eq!(c.base_url.as_deref(), Some("https://c.example/"));
    assert_eq!(c.summary_length, 12);
    assert!(c.ugly_urls);
    assert!(c.goldmark_unsafe);
    assert_eq!(c.description.as_deref(), Some("D"));
    assert_eq!(c.params, json!({"description": "D", "deep": {"key": 1}}));
}

#[test]
fn languages_are_sorted_by_weight_with_their_content_dirs() {
    let s = site(&[
        (
            "config/_default/hugo.toml",
            "baseURL = \"https://l.example/\"\ndefaultContentLanguage = \"EN\"\ndisableLanguages = [\"it\"]\n",
        ),
        (
            "config/_default/languages.toml",
            "[en]\nlanguageName = \"English\"\ncontentDir = \"content/en\"\nweight = 2\ntitle = \"En\"\n[en.params]\ndescription = \"en desc\"\n[FR]\nweight = 1\ncontentDir = \"content/fr\"\nlanguageCode = \"fr-FR\"\n[de]\ntitle = \"De\"\n[es]\nweight = 3\ndisabled = true\n[it]\nweight = 4\n",
        ),
        ("config/_default/params.fr.toml", "description = \"fr desc\"\n"),
        ("config/_default/menus.en.toml", "[[main]]\nname = \"Home\"\nurl = \"/\"\n"),
    ]);
    let c = load(s.path()).unwrap();
    assert_eq!(c.default_language, "en");
    let codes: Vec<_> = c.languages.iter().map(|l| l.code.as_str()).collect();
    assert_eq!(codes, ["fr", "en", "de"]);
    let fr = c.language("fr").unwrap();
    assert_eq!(fr.content_dir, Some(s.path().join("content/fr")));
    assert_eq!(fr.language_code.as_deref(), Some("fr-FR"));
    // Hugo 0.111 does this: params.fr.toml lands in languages.fr.params.
    assert_eq!(fr.description.as_deref(), Some("fr desc"));
    let en = c.language("en").unwrap();
    assert_eq!(en.description.as_deref(), Some("en desc"));
    assert_eq!(en.language_name.as_deref(), Some("English"));
    assert_eq!(en.weight, 2);
    assert_eq!(c.language("de").unwrap().content_dir, None);
    assert!(c.language("es").is_none() && c.language("it").is_none());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn default_language_must_exist_and_stay_enabled() {
    let s = site(&[(
        "hugo.toml",
        "defaultContentLanguage = \"nl\"\n[languages.en]\nweight = 1\n",
    )]);
    let e = load(s.path()).unwrap_err().to_string();
    assert!(
        e.contains("hugo.toml: languages:") && e.contains("\"nl\""),
        "{e}"
    );
    let s = site(&[(
        "hugo.toml",
        "disableLanguages = [\"en\"]\n[languages.en]\n[languages.fr]\n",
    )]);
    assert!(load(s.path()).is_err());
}

#[test]
fn multihost_puts_the_default_language_in_a_subdir() {
    let s = site(&[(
        "hugo.yaml",
        "languages:\n  en:\n    baseURL: https://en.example/\n  fr:\n    baseURL: https://fr.example/\n",
    )]);
    let c = load(s.path()).unwrap();
    assert!(c.default_language_in_subdir);
    assert_eq!(
        c.language("fr").unwrap().base_url.as_deref(),
        Some("https://fr.example/")
    );
}

#[test]
fn both_permalink_forms() {
    let s = site(&[(
        "hugo.toml",
        "[permalinks]\npost = \"/:year/:month/:slug/\"\nnotes = \"/n/:slug/\"\n[permalinks.page]\nnotes = \"/notes/:slug/\"\nblog = \"/b/:title/\"\n[permalinks.section]\nblog = \"/b/\"\n",
    )]);
    let c = load(s.path()).unwrap();
    let want: BTreeMap<String, String> = [
        ("blog", "/b/:title/"),
        ("notes", "/notes/:slug/"),
        ("post", "/:year/:month/:slug/"),
    ]
    .into_iter()
    .map(|(a, b)| (a.into(), b.into()))
    .collect();
    assert_eq!(c.permalinks, want);
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("permalinks.section"));
}

#[test]
fn defaults_when_keys_are_absent() {
    let s = site(&[("hugo.toml", "")]);
    let c = load(s.path()).unwrap();
    assert_eq!(c.root, s.path());
    assert_eq!(c.base_url, None);
    assert_eq!(c.content_dir, s.path().join("content"));
    assert_eq!(c.default_language, "en");
    assert!(!c.default_language_in_subdir);
    assert_eq!(c.languages.len(), 1);
    assert_eq!(c.languages[0].code, "en");
    assert!(c.permalinks.is_empty());
    // Hugo 0.111 does this: no key gives categories and tags; `[taxonomies]` empty gives none.
    assert_eq!(
        c.taxonomies,
        [
            ("category".to_string(), "categories".to_string()),
            ("tag".to_string(), "tags".to_string())
        ]
    );
    assert!(c.ignore_files.is_empty());
    assert_eq!(c.summary_length, 70);
    // Hugo 0.111 does this: a post named 2019-01-02-a.md with `published` and `modified` got
    // its date from `published` (no `:filename` by default) and lastmod from `modified`.
    assert_eq!(
        c.frontmatter,
        DateKeys {
            date: strs(&[
                "date",
                "publishdate",
                "pubdate",
                "published",
                "lastmod",
                "modified"
            ]),
            publish_date: strs(&["publishdate", "pubdate", "published", "date"]),
            lastmod: strs(&[
                ":git",
                "lastmod",
                "modified",
                "date",
                "publishdate",
                "pubdate",
                "published"
            ]),
            expiry_date: strs(&["expirydate", "unpublishdate"]),
        }
    );
    assert_eq!(c.time_zone, None);
    assert!(!c.ugly_urls && !c.remove_path_accents && !c.disable_path_to_lower);
    // Hugo 0.111 does this: `"Quoted" --` became &ldquo;…&rdquo; &ndash; and a bare URL a link.
    assert!(!c.goldmark_unsafe && c.typographer && c.linkify);
    assert!(!c.build_drafts && !c.build_future && !c.build_expired);
    assert_eq!(c.params, json!({}));
    assert_eq!(c.rss_limit, None);
    assert!(c.warnings.is_empty());

    let s = site(&[("hugo.toml", "[taxonomies]\n")]);
    assert!(load(s.path()).unwrap().taxonomies.is_empty());
}

#[test]
fn site_settings_are_read() {
    let s = site(&[(
        "hugo.toml",
        r#"
title = "Site"
languageCode = "en-gb"
contentDir = "posts"
timeZone = "Europe/Oslo"
ignoreFiles = ['\.knit\.md$', '^drafts/']
rssLimit = 5
enableGitInfo = true
removePathAccents = true
disablePathToLower = true
buildFuture = "true"
[author]
name = "Top"
email = "top@example.com"
[params]
author = "Ann"
[taxonomies]
series = "series"
tag = "tags"
[frontmatter]
date = ["Date", ":fileModTime", ":default"]
lastmod = ":git lastmod"
[markup]
defaultMarkdownHandler = "blackfriday"
[markup.goldmark.extensions]
typographer = false
linkify = false
[services.rss]
limit = 10
"#,
    )]);
    let c = load(s.path()).unwrap();
    assert_eq!(c.title.as_deref(), Some("Site"));
    assert_eq!(c.language_code.as_deref(), Some("en-gb"));
    assert_eq!(c.content_dir, s.path().join("posts"));
    assert_eq!(c.time_zone.as_deref(), Some("Europe/Oslo"));
    assert_eq!(c.ignore_files, strs(&[r"\.knit\.md$", "^drafts/"]));
    assert_eq!(c.rss_limit, Some(10));
    assert!(c.remove_path_accents && c.disable_path_to_lower && c.build_future);
    assert_eq!(c.author.as_deref(), Some("Ann"));
    assert_eq!(c.author_email.as_deref(), Some("top@example.com"));
    assert_eq!(
        c.taxonomies,
        [
            ("series".to_string(), "series".to_string()),
            ("tag".to_string(), "tags".to_string())
        ]
    );
    assert_eq!(
        c.frontmatter.date,
        strs(&[
            "date",
            ":filemodtime",
            "publishdate",
            "pubdate",
            "published",
            "lastmod",
            "modified"
        ])
    );
    assert_eq!(
        c.frontmatter.lastmod,
        strs(&[":git", "lastmod", "modified"])
    );
    assert!(!c.typographer && !c.linkify);
    assert_eq!(c.warnings.len(), 3, "{:#?}", c.warnings);
    assert!(c.warnings.iter().any(|w| w.contains(":fileModTime")));
    assert!(c.warnings.iter().any(|w| w.contains(":git")));
    assert!(c.warnings.iter().any(|w| w.contains("blackfriday")));
}

#[test]
fn author_map_and_ugly_urls_map() {
    let s = site(&[(
        "config.yaml",
        "rssLimit: -1\nuglyURLs:\n  post: true\nparams:\n  author:\n    name: Bo\n    email: bo@example.com\n",
    )]);
    let c = load(s.path()).unwrap();
    assert_eq!(c.author.as_deref(), Some("Bo"));
    assert_eq!(c.author_email.as_deref(), Some("bo@example.com"));
    assert!(!c.ugly_urls);
    assert_eq!(c.rss_limit, None);
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].starts_with("uglyURLs"));
}

#[test]
fn unparsable_files_name_path_and_line() {
    let cases = [
        ("hugo.toml", "title = \"ok\"\n\nbaseURL = = 1\n", 3),
        ("hugo.yaml", "title: ok\nparams:\n  a: [1, 2\n", 4),
        ("hugo.json", "{\n  \"title\": \"ok\",\n  \"x\": }\n", 3),
        ("config/_default/params.toml", "a = 1\nb = [\n", 3),
    ];
    for (name, text, line) in cases {
        let s = site(&[(name, text)]);
        let e = load(s.path()).unwrap_err();
        let want = format!("{}:{line}: ", s.path().join(name).display());
        assert!(e.to_string().starts_with(&want), "{name}: {e}");
    }
}

#[test]
fn invalid_ignore_files_regex_names_the_key() {
    let s = site(&[("hugo.toml", "ignoreFiles = ['ok', '(unclosed']\n")]);
    let e = load(s.path()).unwrap_err().to_string();
    assert!(e.contains("hugo.toml: ignoreFiles[1]:"), "{e}");
}

#[test]
fn no_config_is_an_error() {
    let s = site(&[("content/post.md", "---\ntitle: x\n---\n")]);
    let e = load(s.path()).unwrap_err();
    assert!(matches!(e, HugoError::NotFound { .. }));
    assert!(e.to_string().contains("hugo.toml"), "{e}");
}

#[test]
fn other_language_suffixed_files_are_skipped_with_a_warning() {
    let s = site(&[
        ("hugo.toml", "title = \"T\"\n"),
        ("config/_default/markup.en.toml", "x = 1\n"),
    ]);
    let c = load(s.path()).unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("markup.en.toml"));
}

//! Reading Hugo configurations: formats, the config folder's merge order, defaults.

use super::*;

fn site(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn each_format_and_case_insensitive_keys() {
    for (name, text) in [
        (
            "hugo.toml",
            "baseURL = 'https://a.example/'\nTitle = 'A'\n[Params]\nDescription = 'd'\n",
        ),
        (
            "config.yaml",
            "baseurl: https://a.example/\ntitle: A\nparams:\n  description: d\n",
        ),
        (
            "hugo.json",
            r#"{"BaseURL": "https://a.example/", "title": "A", "params": {"description": "d"}}"#,
        ),
    ] {
        let dir = site(&[(name, text)]);
        let c = load(dir.path()).unwrap();
        assert_eq!(c.base_url.as_deref(), Some("https://a.example/"), "{name}");
        assert_eq!(c.title.as_deref(), Some("A"), "{name}");
        assert_eq!(c.description.as_deref(), Some("d"), "{name}");
    }
}

#[test]
fn hugo_toml_wins_over_config_toml() {
    let dir = site(&[
        ("config.toml", "title = 'old'\n"),
        ("hugo.toml", "title = 'new'\n"),
    ]);
    assert_eq!(load(dir.path()).unwrap().title.as_deref(), Some("new"));
}

#[test]
fn config_folder_merges_defaults_then_the_environment() {
    let dir = site(&[
        ("config/_default/hugo.toml", "baseURL = 'https://dev.example/'\ntitle = 'T'\n"),
        ("config/_default/params.toml", "description = 'from params'\n[author]\nname = 'Ann'\n"),
        (
            "config/_default/languages.yaml",
            "fr:\n  weight: 2\n  contentDir: content/fr\n  title: Le site\nen:\n  weight: 1\n  contentDir: content/en\n",
        ),
        ("config/production/hugo.toml", "baseURL = 'https://www.example/'\n"),
    ]);
    let c = load(dir.path()).unwrap();
    assert_eq!(c.base_url.as_deref(), Some("https://www.example/"));
    assert_eq!(c.title.as_deref(), Some("T"));
    assert_eq!(c.description.as_deref(), Some("from params"));
    assert_eq!(c.author.as_deref(), Some("Ann"));
    let codes: Vec<&str> = c.languages.iter().map(|l| l.code.as_str()).collect();
    assert_eq!(codes, ["en", "fr"]);
    assert_eq!(c.language("fr").unwrap().title.as_deref(), Some("Le site"));
    assert_eq!(
        c.language("fr").unwrap().content_dir.as_deref(),
        Some(dir.path().join("content/fr").as_path())
    );
    let dev = load_env(dir.path(), "development").unwrap();
    assert_eq!(dev.base_url.as_deref(), Some("https://dev.example/"));
}

#[test]
fn defaults_when_keys_are_absent() {
    let dir = site(&[("hugo.toml", "title = 'T'\n")]);
    let c = load(dir.path()).unwrap();
    assert_eq!(c.default_language, "en");
    assert_eq!(c.languages.len(), 1);
    assert_eq!(c.content_dir, dir.path().join("content"));
    assert_eq!(
        c.taxonomies,
        [
            ("category".to_string(), "categories".to_string()),
            ("tag".into(), "tags".into())
        ]
    );
    assert_eq!(c.summary_length, 70);
    assert!(!c.goldmark_unsafe && c.typographer && !c.ugly_urls);
    assert_eq!(c.frontmatter.date[0], ":filename");
    assert!(c.permalinks.is_empty());
    assert_eq!(c.rss_limit, None);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn both_permalink_forms_and_date_rules() {
    let dir = site(&[(
        "hugo.toml",
        "[permalinks]\npost = '/:year/:slug/'\n[permalinks.page]\nnotes = '/n/:filename/'\n\
         [permalinks.section]\npost = '/p/'\n[frontmatter]\ndate = ['publishDate', ':default']\n\
         lastmod = [':fileModTime', 'lastmod']\n[taxonomies]\ntag = 'Tags'\n",
    )]);
    let c = load(dir.path()).unwrap();
    assert_eq!(c.permalinks["post"], "/:year/:slug/");
    assert_eq!(c.permalinks["notes"], "/n/:filename/");
    assert_eq!(
        c.frontmatter.date[..2],
        ["publishdate".to_string(), "date".to_string()]
    );
    assert_eq!(c.frontmatter.lastmod, ["lastmod"]);
    assert_eq!(c.taxonomies, [("tag".to_string(), "tags".to_string())]);
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
}

#[test]
fn errors_name_the_file_and_line() {
    let dir = site(&[("hugo.toml", "title = 'T'\nbaseURL = \n")]);
    let e = load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("hugo.toml:2: "), "{e}");
    let dir = site(&[("config/_default/params.yaml", "a: 1\nb: [unclosed\n")]);
    let e = load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("params.yaml:"), "{e}");
    let dir = site(&[]);
    assert!(matches!(load(dir.path()), Err(HugoError::NoConfig { .. })));
}

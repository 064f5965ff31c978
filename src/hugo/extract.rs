//! From the merged config (lower-case keys) to [`HugoConfig`]: Hugo 0.111's defaults, its
//! lenient value types (`"true"` is a bool, `"70"` a number), and the warnings.

use super::files::Merged;
use super::{DateKeys, HugoConfig, HugoError, Language};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

pub(super) fn extract(root: &Path, merged: Merged) -> Result<HugoConfig, HugoError> {
    let Merged {
        value: cfg,
        origin,
        mut warnings,
    } = merged;
    let invalid = |key: &str, message: String| HugoError::Invalid {
        path: origin
            .get(&key.split('[').next().unwrap_or(key).to_lowercase())
            .cloned()
            .unwrap_or_else(|| root.to_owned()),
        key: key.into(),
        message,
    };
    let get = |path: &str| lookup(&cfg, path);

    let default_language = get("defaultcontentlanguage")
        .and_then(string)
        .map(|s| s.to_lowercase())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "en".into());
    let languages =
        languages(root, &cfg, &default_language).map_err(|m| invalid("languages", m))?;
    // Hugo 0.111 puts every language in a subfolder when each has its own baseURL.
    let multihost = languages.iter().any(|l| l.base_url.is_some());

    let ignore_files = strings(get("ignorefiles"));
    for (i, re) in ignore_files.iter().enumerate() {
        if let Err(e) = regex::Regex::new(re) {
            // The regex crate's message spans lines, with a caret; its last line says why.
            let e = e.to_string();
            let why = e
                .lines()
                .last()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            return Err(invalid(
                &format!("ignoreFiles[{i}]"),
                format!("{re:?} is not a valid regular expression: {why}"),
            ));
        }
    }

    let ugly_urls = match get("uglyurls") {
        // Hugo 0.111 honours a per-section map; Herald does not (yet).
        Some(Value::Object(_)) => {
            warnings.push("uglyURLs: the per-section form is not supported; Herald uses pretty URLs (uglyURLs = false) everywhere".into());
            false
        }
        v => v.and_then(boolean).unwrap_or(false),
    };
    // Module mounts can map any folder into `content`: Herald reads `contentDir` only.
    if let Some(Value::Array(mounts)) = get("module.mounts") {
        let content_mount = mounts.iter().any(|m| {
            m.get("target")
                .and_then(string)
                .is_some_and(|t| t.trim_matches('/').starts_with("content"))
        });
        if content_mount {
            warnings.push("module.mounts: content mounts are not followed; Herald reads contentDir (and each language's contentDir)".into());
        }
    }
    if let Some(h) = get("markup.defaultmarkdownhandler").and_then(string) {
        if !h.eq_ignore_ascii_case("goldmark") {
            warnings.push(format!(
                "markup.defaultMarkdownHandler = {h:?}: Herald renders Markdown like goldmark"
            ));
        }
    }
    // Hugo 0.111 keeps the older boolean form; 0.112 also accepts `typographer.disable`.
    let typographer = match get("markup.goldmark.extensions.typographer") {
        Some(Value::Object(m)) => !m.get("disable").and_then(boolean).unwrap_or(false),
        v => v.and_then(boolean).unwrap_or(true),
    };

    let params = match get("params") {
        Some(v @ Value::Object(_)) => v.clone(),
        _ => Value::Object(Map::new()),
    };
    let frontmatter = date_keys(&cfg, &mut warnings);
    let rss_limit = get("services.rss.limit")
        .and_then(integer)
        .filter(|&n| n != 0) // Hugo 0.111: 0 falls back to rssLimit.
        .or_else(|| get("rsslimit").and_then(integer))
        .filter(|&n| n > 0)
        .map(|n| n as usize);

    Ok(HugoConfig {
        root: root.to_owned(),
        base_url: get("baseurl").and_then(string),
        title: get("title").and_then(string),
        language_code: get("languagecode").and_then(string),
        description: get("params.description").and_then(string),
        author: get("params.author")
            .and_then(name_of)
            .or_else(|| get("author").and_then(name_of)),
        author_email: get("params.author.email")
            .or_else(|| get("author.email"))
            .or_else(|| get("params.email"))
            .and_then(string),
        content_dir: root.join(
            get("contentdir")
                .and_then(string)
                .unwrap_or_else(|| "content".into()),
        ),
        default_language_in_subdir: multihost
            || get("defaultcontentlanguageinsubdir")
                .and_then(boolean)
                .unwrap_or(false),
        default_language,
        languages,
        permalinks: permalinks(get("permalinks"), &mut warnings),
        taxonomies: taxonomies(get("taxonomies")),
        ignore_files,
        summary_length: get("summarylength")
            .and_then(integer)
            .map_or(70, |n| n.max(0) as usize),
        frontmatter,
        time_zone: get("timezone").and_then(string).filter(|s| !s.is_empty()),
        ugly_urls,
        remove_path_accents: flag(&cfg, "removepathaccents", false),
        disable_path_to_lower: flag(&cfg, "disablepathtolower", false),
        goldmark_unsafe: flag(&cfg, "markup.goldmark.renderer.unsafe", false),
        typographer,
        linkify: flag(&cfg, "markup.goldmark.extensions.linkify", true),
        build_drafts: flag(&cfg, "builddrafts", false),
        build_future: flag(&cfg, "buildfuture", false),
        build_expired: flag(&cfg, "buildexpired", false),
        params,
        rss_limit,
        warnings,
    })
}

/// `a.b.c` in nested maps (keys already lower-case).
fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.as_object()?.get(k))
}

fn flag(cfg: &Value, path: &str, default: bool) -> bool {
    lookup(cfg, path).and_then(boolean).unwrap_or(default)
}

/// Like Hugo's `cast.ToString`: numbers and bools are strings too.
fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Like Hugo's `cast.ToBool`: `"true"`, `1` are true.
fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_f64() != Some(0.0)),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Some(true),
            "false" | "f" | "0" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Like Hugo's `cast.ToStringSlice`: a list, or one string split on whitespace.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(string).collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// `author = "Ann"` or `author = { name = "Ann", email = "…" }`.
fn name_of(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => m.get("name").and_then(string),
        v => string(v),
    }
    .filter(|s| !s.is_empty())
}

fn languages(root: &Path, cfg: &Value, default: &str) -> Result<Vec<Language>, String> {
    let configured = match lookup(cfg, "languages") {
        Some(Value::Object(m)) if !m.is_empty() => m,
        _ => {
            return Ok(vec![Language {
                code: default.into(),
                content_dir: None,
                title: None,
                language_code: None,
                language_name: None,
                weight: 0,
                base_url: None,
                description: None,
            }])
        }
    };
    let disabled: Vec<String> = strings(lookup(cfg, "disablelanguages"))
        .iter()
        .map(|s| s.to_lowercase())
        .collect();
    if disabled.iter().any(|d| d == default) {
        return Err(format!("cannot disable default language {default:?}"));
    }
    let mut out = Vec::new();
    for (code, v) in configured {
        let Value::Object(m) = v else {
            return Err(format!("language {code:?} is not a map"));
        };
        let get = |k: &str| lookup(v, k);
        if disabled.contains(code) || m.get("disabled").and_then(boolean) == Some(true) {
            continue;
        }
        out.push(Language {
            code: code.clone(),
            content_dir: get("contentdir")
                .and_then(string)
                .filter(|s| !s.is_empty())
                .map(|d| root.join(d)),
            title: get("title").and_then(string),
            language_code: get("languagecode").and_then(string),
            language_name: get("languagename").and_then(string),
            weight: get("weight").and_then(integer).unwrap_or(0),
            base_url: get("baseurl").and_then(string),
            description: get("params.description")
                .or_else(|| get("description"))
                .and_then(string),
        });
    }
    // Hugo 0.111 means weight 0 to sort last (`wj == 0 || wi < wj`), but that comparator is
    // inconsistent, so with 0 and non-0 weights mixed its order changes from run to run
    // (measured: 3 orders in 30 builds). Herald gives the intended, stable order.
    out.sort_by(|a, b| {
        let key = |l: &Language| (l.weight == 0, l.weight);
        key(a).cmp(&key(b)).then_with(|| a.code.cmp(&b.code))
    });
    if !out.iter().any(|l| l.code == default) {
        // Hugo 0.111 refuses to build such a site.
        return Err(format!(
            "defaultContentLanguage {default:?} does not match any enabled language"
        ));
    }
    Ok(out)
}

/// Both `permalinks.post = "…"` and the per-kind `permalinks.page.post = "…"`.
/// Hugo 0.111 reads only the flat form; the per-kind one is Hugo 0.112's, accepted so a site
/// moving to a newer Hugo keeps working.
fn permalinks(v: Option<&Value>, warnings: &mut Vec<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(Value::Object(m)) = v else {
        return out;
    };
    let mut other_kinds = Vec::new();
    for (k, v) in m {
        match v {
            Value::String(p) => {
                out.entry(k.clone()).or_insert_with(|| p.clone());
            }
            Value::Object(sections) if k == "page" => {
                for (section, p) in sections {
                    if let Some(p) = string(p) {
                        // The per-kind form is the more specific one: it wins.
                        out.insert(section.clone(), p);
                    }
                }
            }
            Value::Object(_) if matches!(k.as_str(), "section" | "term" | "taxonomy") => {
                other_kinds.push(k.as_str())
            }
            _ => {}
        }
    }
    if !other_kinds.is_empty() {
        warnings.push(format!(
            "permalinks.{}: only regular pages' permalinks are used by Herald, which publishes no list pages",
            other_kinds.join("/")
        ));
    }
    out
}

fn taxonomies(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        // Hugo 0.111's default, when the key is absent.
        None | Some(Value::Null) => vec![
            ("category".into(), "categories".into()),
            ("tag".into(), "tags".into()),
        ],
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(s, p)| Some((s.clone(), string(p).filter(|p| !p.is_empty())?)))
            .collect(),
        Some(_) => Vec::new(),
    }
}

/// Hugo 0.111's defaults (`resources/page/pagemeta/page_frontmatter.go`), before aliases.
const DEFAULT_DATE: [&str; 3] = ["date", "publishdate", "lastmod"];
const DEFAULT_LASTMOD: [&str; 4] = [":git", "lastmod", "date", "publishdate"];
const DEFAULT_PUBLISH: [&str; 2] = ["publishdate", "date"];
const DEFAULT_EXPIRY: [&str; 1] = ["expirydate"];

fn date_keys(cfg: &Value, warnings: &mut Vec<String>) -> DateKeys {
    let list = |key: &str, default: &[&str]| -> Vec<String> {
        let configured = match lookup(cfg, &format!("frontmatter.{key}")) {
            Some(v) => strings(Some(v)).iter().map(|s| s.to_lowercase()).collect(),
            None => vec![":default".to_string()],
        };
        let mut out: Vec<String> = Vec::new();
        let mut push = |k: &str| {
            if !out.iter().any(|o| o == k) {
                out.push(k.into());
            }
        };
        for k in configured.iter().flat_map(|k| -> Vec<&str> {
            if k == ":default" {
                default.to_vec()
            } else {
                vec![k.as_str()]
            }
        }) {
            push(k);
            for alias in aliases(k) {
                push(alias);
            }
        }
        out
    };
    let keys = DateKeys {
        date: list("date", &DEFAULT_DATE),
        publish_date: list("publishdate", &DEFAULT_PUBLISH),
        lastmod: list("lastmod", &DEFAULT_LASTMOD),
        expiry_date: list("expirydate", &DEFAULT_EXPIRY),
    };
    let all = [
        &keys.date,
        &keys.publish_date,
        &keys.lastmod,
        &keys.expiry_date,
    ];
    if all.iter().any(|l| l.iter().any(|k| k == ":filemodtime")) {
        warnings.push("frontmatter: \":fileModTime\" is not used by Herald, whose dates must not change with a checkout; the next key in the list is used".into());
    }
    // `:git` does nothing in Hugo either unless enableGitInfo is on.
    if flag(cfg, "enablegitinfo", false) && all.iter().any(|l| l.iter().any(|k| k == ":git")) {
        warnings.push("frontmatter: \":git\" (enableGitInfo) is not used by Herald, which reads no Git history; the next key in the list is used".into());
    }
    keys
}

fn aliases(key: &str) -> &'static [&'static str] {
    match key {
        "lastmod" => &["modified"],
        "publishdate" => &["pubdate", "published"],
        "expirydate" => &["unpublishdate"],
        _ => &[],
    }
}

//! Finding, parsing and merging a Hugo site's configuration files, in Hugo's order: the
//! root file (`hugo.toml` … `config.json`), then `config/_default/`, then
//! `config/<environment>/`. A file named after a top-level key (`params.toml`) lands under
//! that key; `hugo.*`/`config.*` in a folder land at the top. Later values win; maps merge
//! deeply. Every key is lower-cased, since Hugo reads its config case-insensitively.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::HugoError;

/// Root config files Hugo 0.111 looks for, first found wins.
const ROOT_FILES: &[&str] = &[
    "hugo.toml",
    "hugo.yaml",
    "hugo.yml",
    "hugo.json",
    "config.toml",
    "config.yaml",
    "config.yml",
    "config.json",
];

/// The merged configuration of the site at `root`, keys lower-cased, plus the files read.
pub(super) fn merged(root: &Path, environment: &str) -> Result<(Value, Vec<PathBuf>), HugoError> {
    let mut merged = Value::Object(Map::new());
    let mut read = Vec::new();
    if let Some(file) = ROOT_FILES
        .iter()
        .map(|f| root.join(f))
        .find(|p| p.is_file())
    {
        merge(&mut merged, parse_file(&file)?);
        read.push(file);
    }
    for dir in ["_default", environment] {
        let dir = root.join("config").join(dir);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && format_of(p).is_some())
            .collect();
        // Sorted: the result must not depend on the directory's listing order.
        files.sort();
        // `hugo.*`/`config.*` first, so that a `params.toml` beside it wins for its key.
        files.sort_by_key(|p| !matches!(stem(p).as_str(), "hugo" | "config"));
        for file in files {
            let value = parse_file(&file)?;
            let name = stem(&file).to_lowercase();
            // `menus.en.toml`, `params.es.toml`: language-specific; Herald reads the
            // site-wide part only.
            let (key, lang) = name.split_once('.').unwrap_or((&name, ""));
            if !lang.is_empty() {
                if key == "params" {
                    let mut wrapped = Map::new();
                    let mut language = Map::new();
                    let mut params = Map::new();
                    params.insert("params".into(), value);
                    language.insert(lang.into(), Value::Object(params));
                    wrapped.insert("languages".into(), Value::Object(language));
                    merge(&mut merged, Value::Object(wrapped));
                }
            } else if key == "hugo" || key == "config" {
                merge(&mut merged, value);
            } else {
                let mut wrapped = Map::new();
                wrapped.insert(key.to_string(), value);
                merge(&mut merged, Value::Object(wrapped));
            }
            read.push(file);
        }
    }
    if read.is_empty() {
        return Err(HugoError::NoConfig {
            root: root.to_owned(),
        });
    }
    Ok((merged, read))
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string()
}

#[derive(Clone, Copy)]
enum Format {
    Toml,
    Yaml,
    Json,
}

fn format_of(p: &Path) -> Option<Format> {
    match p.extension()?.to_str()? {
        "toml" => Some(Format::Toml),
        "yaml" | "yml" => Some(Format::Yaml),
        "json" => Some(Format::Json),
        _ => None,
    }
}

/// One config file as a lower-cased JSON value; errors name the file and line.
fn parse_file(path: &Path) -> Result<Value, HugoError> {
    let text = std::fs::read_to_string(path).map_err(|source| HugoError::Read {
        path: path.to_owned(),
        source,
    })?;
    let syntax = |line: usize, message: String| HugoError::Syntax {
        path: path.to_owned(),
        line,
        message,
    };
    let value = match format_of(path) {
        Some(Format::Toml) => {
            let v: toml::Value = toml::from_str(&text).map_err(|e| {
                let line = e.span().map_or(1, |s| {
                    1 + text[..s.start.min(text.len())].matches('\n').count()
                });
                syntax(line, e.message().to_string())
            })?;
            serde_json::to_value(v).map_err(|e| syntax(1, e.to_string()))?
        }
        Some(Format::Yaml) => {
            if text.trim().is_empty() {
                Value::Object(Map::new())
            } else {
                let v: serde_yaml::Value = serde_yaml::from_str(&text)
                    .map_err(|e| syntax(e.location().map_or(1, |l| l.line()), e.to_string()))?;
                serde_json::to_value(v).map_err(|e| syntax(1, e.to_string()))?
            }
        }
        Some(Format::Json) => {
            serde_json::from_str(&text).map_err(|e| syntax(e.line(), e.to_string()))?
        }
        None => Value::Object(Map::new()),
    };
    Ok(lower_keys(value))
}

fn lower_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_lowercase(), lower_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(lower_keys).collect()),
        other => other,
    }
}

/// Deep merge: maps merge key by key, anything else in `over` replaces what `base` had.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

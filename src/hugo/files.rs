//! Finding a site's config files, parsing each into JSON, lower-casing keys and merging them,
//! in the order Hugo 0.111 does (`hugolib/config.go`, `config/configLoader.go`).

use super::HugoError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Hugo 0.111 reads only the first of these that exists; the others are ignored.
pub(super) const ROOT_NAMES: [&str; 8] = [
    "hugo.toml",
    "hugo.yaml",
    "hugo.yml",
    "hugo.json",
    "config.toml",
    "config.yaml",
    "config.yml",
    "config.json",
];

const EXTENSIONS: [&str; 4] = ["toml", "yaml", "yml", "json"];

/// The merged configuration of one site, before any key is interpreted.
#[derive(Debug)]
pub(super) struct Merged {
    /// Top-level map, every key lower-cased.
    pub value: Value,
    /// For each top-level key, the file that set it last: errors about a value name it.
    pub origin: BTreeMap<String, PathBuf>,
    pub warnings: Vec<String>,
}

/// Reads the root config file, then `config/_default/`, then `config/<environment>/`.
pub(super) fn merged(root: &Path, environment: &str) -> Result<Merged, HugoError> {
    let mut out = Merged {
        value: Value::Object(Map::new()),
        origin: BTreeMap::new(),
        warnings: Vec::new(),
    };
    let mut found = false;
    if let Some(path) = ROOT_NAMES
        .iter()
        .map(|n| root.join(n))
        .find(|p| p.is_file())
    {
        let v = parse_file(&path)?;
        out.add(&path, v);
        found = true;
    }
    let config_dir = root.join("config");
    for dir in [config_dir.join("_default"), config_dir.join(environment)] {
        if !dir.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        walk(&dir, &mut files)?;
        for path in files {
            let Some(key_path) = key_path(&path, &mut out.warnings) else {
                continue;
            };
            let mut v = parse_file(&path)?;
            for key in key_path.iter().rev() {
                let mut m = Map::new();
                m.insert(key.clone(), v);
                v = Value::Object(m);
            }
            out.add(&path, v);
            found = true;
        }
    }
    if !found {
        return Err(HugoError::NotFound {
            root: root.to_owned(),
        });
    }
    Ok(out)
}

impl Merged {
    fn add(&mut self, path: &Path, v: Value) {
        if let Value::Object(m) = &v {
            for k in m.keys() {
                self.origin.insert(k.clone(), path.to_owned());
            }
        }
        merge(&mut self.value, v);
    }
}

/// Every config file under `dir`, in the lexical walk order Hugo (afero.Walk) uses,
/// subfolders included.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), HugoError> {
    let read_err = |source| HugoError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(read_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err)?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else if extension(&path).is_some() {
            out.push(path);
        }
    }
    Ok(())
}

fn extension(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    EXTENSIONS.contains(&ext.as_str()).then_some(ext)
}

/// Where a config-dir file's content goes: `[]` for `hugo.*`/`config.*`, `["params"]` for
/// `params.toml`, `["languages", "en", "menus"]` for `menus.en.toml`. `None`: skipped.
fn key_path(path: &Path, warnings: &mut Vec<String>) -> Option<Vec<String>> {
    let stem = path.file_stem()?.to_str()?.to_lowercase();
    if stem == "hugo" || stem == "config" {
        return Some(Vec::new());
    }
    match stem.rsplit_once('.') {
        None => Some(vec![stem]),
        Some((name, lang)) => match name {
            "params" => Some(vec!["languages".into(), lang.into(), "params".into()]),
            // Hugo 0.111 migrates `menu` to `menus`.
            "menu" | "menus" => Some(vec!["languages".into(), lang.into(), "menus".into()]),
            _ => {
                // Hugo would merge such a file under `languages.<lang>`, a rare and surprising
                // layout; Herald does not guess.
                warnings.push(format!(
                    "{}: language-suffixed config files other than params and menus are not read by Herald; move its keys under languages.{lang} in languages.toml",
                    path.display()
                ));
                None
            }
        },
    }
}

/// Later sources win; maps merge deeply, everything else (arrays included) is replaced.
/// Hugo 0.111 does this: a `params.list` set in config/_default replaces the root file's.
fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(old) => merge(old, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (into, from) => *into = from,
    }
}

/// Parses one TOML, YAML or JSON file into a map with lower-cased keys.
pub(super) fn parse_file(path: &Path) -> Result<Value, HugoError> {
    let text = std::fs::read_to_string(path).map_err(|source| HugoError::Read {
        path: path.to_owned(),
        source,
    })?;
    let syntax = |line: usize, message: String| HugoError::Syntax {
        path: path.to_owned(),
        line,
        message,
    };
    let value = match extension(path).as_deref() {
        Some("toml") => match text.parse::<toml::Table>() {
            Ok(t) => from_toml(toml::Value::Table(t)),
            Err(e) => {
                let line = e.span().map_or(1, |s| line_of(&text, s.start));
                return Err(syntax(line, e.message().trim().to_owned()));
            }
        },
        Some("json") => serde_json::from_str::<Value>(&text)
            .map_err(|e| syntax(e.line().max(1), e.to_string()))?,
        _ => {
            let v = serde_yaml::from_str::<serde_yaml::Value>(&text).map_err(|e| {
                let line = e.location().map_or(1, |l| l.line());
                syntax(line, e.to_string())
            })?;
            from_yaml(v)
        }
    };
    match lower_keys(value) {
        // An empty YAML file is a valid, empty config.
        Value::Null => Ok(Value::Object(Map::new())),
        v @ Value::Object(_) => Ok(v),
        _ => Err(syntax(1, "a config file must hold a map of keys".into())),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn from_toml(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(from_toml).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, from_toml(v))).collect())
        }
    }
}

fn from_yaml(v: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(s) => Value::Array(s.into_iter().map(from_yaml).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    // Keys such as `2020:` or `true:` are still keys.
                    let k = match from_yaml(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, from_yaml(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => from_yaml(t.value),
    }
}

/// Hugo config keys are case-insensitive: `baseURL` and `baseurl` are one key.
/// Two spellings in one map merge, the later (in sorted order) winning.
fn lower_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Value::Object(Map::new());
            for (k, v) in m {
                let mut one = Map::new();
                one.insert(k.to_lowercase(), lower_keys(v));
                merge(&mut out, Value::Object(one));
            }
            out
        }
        Value::Array(a) => Value::Array(a.into_iter().map(lower_keys).collect()),
        v => v,
    }
}

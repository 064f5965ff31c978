//! Settings from a Hugo site's own configuration: [`crate::hugo`] reads and merges the
//! site's files; this turns what it found into Herald's [`Settings`], where every key the
//! herald.yaml sets explicitly wins over the site's value.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError, Language, Settings, SiteInfo};
use crate::content::ContentLanguage;
use crate::hugo::{self, HugoConfig};

/// Reads the Hugo site at `root` and merges it under `config` (whose explicitly written
/// top-level keys are `set`); `file` names the herald.yaml in messages.
pub(super) fn apply(
    mut config: Config,
    set: &BTreeSet<String>,
    file: &Path,
    root: &Path,
) -> Result<Settings, ConfigError> {
    let site = hugo::load(root).map_err(|e| ConfigError::Invalid {
        path: root.to_owned(),
        message: format!("cannot read the Hugo site: {e}"),
    })?;
    let unset = |key: &str| !set.contains(key);
    let take = |key: &str, value: &Option<String>, field: &mut String| {
        if let Some(v) = value.as_ref().filter(|v| !v.trim().is_empty()) {
            if unset(key) {
                *field = v.clone();
            }
        }
    };
    take("base_url", &site.base_url, &mut config.base_url);
    take("title", &site.title, &mut config.title);
    take("description", &site.description, &mut config.description);
    take("language", &site.language_code, &mut config.language);
    take("timezone", &site.time_zone, &mut config.timezone);
    if unset("author") && site.author.is_some() {
        config.author = site.author.clone();
    }
    if unset("author_email") && site.author_email.is_some() {
        config.author_email = site.author_email.clone();
    }
    if unset("taxonomies") {
        config.taxonomies = site.taxonomies.iter().map(|(_, p)| p.clone()).collect();
    }
    if unset("items_per_feed") {
        if let Some(limit) = site.rss_limit.filter(|&l| l > 0) {
            config.items_per_feed = limit;
        }
    }
    if unset("icon") && config.icon.is_none() {
        // Relative, so it resolves under base_url's path, where Hugo serves `static/`.
        config.icon = favicon(root).map(str::to_owned);
    }
    // The site has its own term pages: feeds link there unless told otherwise.
    config.site_pages.get_or_insert(super::SitePages::Hugo);
    let own_permalink = !unset("permalink") && !config.permalink.is_empty();
    let mut settings = config.validate(file)?;
    settings.hugo_site = Some(root.to_owned());
    if !own_permalink {
        settings.content.permalinks.patterns = site.permalinks.clone();
    }
    settings.content.permalinks.ugly_urls = site.ugly_urls;
    settings.content.permalinks.remove_path_accents = site.remove_path_accents;
    settings.content.permalinks.disable_path_to_lower = site.disable_path_to_lower;
    settings.content.markup.unsafe_html = site.goldmark_unsafe;
    settings.content.markup.summary_length = site.summary_length;
    settings.content.markup.typographer = site.typographer;
    settings.content.markup.site_params = site.params.clone();
    settings.content.build_drafts = site.build_drafts;
    settings.content.build_expired = site.build_expired;
    settings.content.dates = site.frontmatter.clone();
    settings.content.ignore_files = site
        .ignore_files
        .iter()
        .map(|p| {
            regex::Regex::new(p).map_err(|e| ConfigError::Invalid {
                path: root.to_owned(),
                message: format!("ignoreFiles: {p:?} is not a regular expression: {e}"),
            })
        })
        .collect::<Result<_, _>>()?;
    settings.warnings = site.warnings.clone();
    if site.build_future {
        settings.warnings.push(
            "buildFuture: future posts still wait for their date in feeds (a feed announcing \
             a post before its page exists would mislead readers)"
                .into(),
        );
    }
    let (root_dir, mut languages) = languages(&site, &settings);
    if unset("content_dir") {
        settings.content.dir = root_dir;
    } else {
        // An explicit content_dir: one language, the site's default, reading all of it.
        languages.truncate(1);
        languages[0].content.content_dir = String::new();
    }
    settings.feeds.languages = languages;
    Ok(settings)
}

/// The site's favicon, the first of these its `static/` folder holds (Hugo serves them at
/// the site's root): the feeds' icon when the config names none.
fn favicon(root: &Path) -> Option<&'static str> {
    ["favicon.ico", "favicon.png", "favicon.svg"]
        .into_iter()
        .find(|name| root.join("static").join(name).is_file())
}

/// The site's languages as Herald serves them, and the folder that holds all their content:
/// each language's own `contentDir`, else the site's.
fn languages(site: &HugoConfig, settings: &Settings) -> (PathBuf, Vec<Language>) {
    let dirs: Vec<PathBuf> = site
        .languages
        .iter()
        .map(|l| {
            l.content_dir
                .clone()
                .unwrap_or_else(|| site.content_dir.clone())
        })
        .collect();
    let root = common_ancestor(&dirs).unwrap_or_else(|| site.content_dir.clone());
    let base = &settings.feeds.site.base_url;
    let languages = site
        .languages
        .iter()
        .zip(&dirs)
        .map(|(l, dir)| {
            let is_default = l.code == site.default_language;
            let url_prefix = if is_default && !site.default_language_in_subdir {
                String::new()
            } else {
                format!("{}/", l.code)
            };
            let content_dir = match dir.strip_prefix(&root) {
                Ok(rel) if rel.as_os_str().is_empty() => String::new(),
                Ok(rel) => format!("{}/", crate::source::source_key(rel)),
                Err(_) => String::new(),
            };
            let home = match &l.base_url {
                Some(own) => {
                    let own = own.trim_end_matches('/');
                    format!("{own}/")
                }
                None => format!("{base}{url_prefix}"),
            };
            Language {
                site: SiteInfo {
                    hubs: settings.feeds.site.hubs.clone(),
                    title: l
                        .title
                        .clone()
                        .unwrap_or_else(|| settings.feeds.site.title.clone()),
                    description: l
                        .description
                        .clone()
                        .unwrap_or_else(|| settings.feeds.site.description.clone()),
                    language: l.language_code.clone().unwrap_or_else(|| {
                        if is_default {
                            settings.feeds.site.language.clone()
                        } else {
                            l.code.clone()
                        }
                    }),
                    author: settings.feeds.site.author.clone(),
                    author_email: settings.feeds.site.author_email.clone(),
                    icon: settings.feeds.site.icon.clone(),
                    logo: settings.feeds.site.logo.clone(),
                    base_url: home,
                },
                content: ContentLanguage {
                    code: l.code.clone(),
                    url_prefix,
                    content_dir,
                },
            }
        })
        .collect::<Vec<Language>>();
    // The default language first: its feeds are the site's main ones, and it wins ties.
    let (mut languages, others): (Vec<Language>, Vec<Language>) = languages
        .into_iter()
        .partition(|l| l.code() == site.default_language);
    languages.extend(others);
    (root, languages)
}

/// The deepest folder that holds every one of `dirs`.
fn common_ancestor(dirs: &[PathBuf]) -> Option<PathBuf> {
    let mut it = dirs.iter();
    let mut common = it.next()?.clone();
    for d in it {
        while !d.starts_with(&common) {
            if !common.pop() {
                return None;
            }
        }
    }
    Some(common)
}

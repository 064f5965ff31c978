//! `herald build`'s nginx rules for `redirects:` and `retired_feeds:`
//! ([`super::NGINX_MOVES_FILE`], included by `deploy/nginx/herald.conf`).

use super::NGINX_MOVES_FILE;
use crate::snapshot::Moves;

/// The nginx rules for `redirects:` and `retired_feeds:`, as `herald serve` applies them:
/// `deploy/nginx/herald.conf` includes this file where a request found no file (its 404
/// handler), so a served path is never redirected, as in `serve`. Retired paths come
/// first (a retired entry wins), then redirects, longest source first (the longest
/// matching entry wins). Matched against the raw request path (`$request_uri`, up to any
/// query), as `serve` does; the answers carry `serve`'s status, `Location` and text.
///
/// A path with a character outside `A-Z a-z 0-9 - . _ ~ /` is left out, with a comment and
/// a warning: it cannot be written into nginx's syntax (quotes, `$` variables, regex
/// metacharacters) without risk, and no slug Herald makes needs one.
pub fn nginx_moves(moves: &Moves) -> String {
    let mut out = String::from(
        "# Written by `herald build` from redirects: and retired_feeds: in Herald's config.\n\
         # Included by deploy/nginx/herald.conf in its handler for paths with no file; do not edit.\n",
    );
    let left_out = |out: &mut String, path: &str| {
        tracing::warn!(
            path,
            "left out of {NGINX_MOVES_FILE}: only A-Z a-z 0-9 - . _ ~ / can be written safely into nginx's configuration"
        );
        out.push_str(&format!(
            "# left out, not a plain path (A-Z a-z 0-9 - . _ ~ /): {path:?}\n"
        ));
    };
    for path in &moves.retired {
        if !nginx_safe(path) {
            left_out(&mut out, path);
            continue;
        }
        out.push_str(&format!(
            "if ($request_uri ~ \"{}\") {{ return 410 \"gone: this feed was retired\\n\"; }}\n",
            request_regex(path, false)
        ));
    }
    let mut redirects: Vec<(&String, &String)> = moves.redirects.iter().collect();
    redirects.sort_by(|(a, _), (b, _)| b.len().cmp(&a.len()).then(a.cmp(b)));
    for (from, to) in redirects {
        if !nginx_safe(from) || !nginx_safe(to) {
            left_out(&mut out, &format!("{from} -> {to}"));
            continue;
        }
        // A folder moves to a folder, with the rest of the path after it (config checks).
        let rest = from.ends_with('/') && to.ends_with('/');
        out.push_str(&format!(
            "if ($request_uri ~ \"{}\") {{ return 301 \"{to}{}\"; }}\n",
            request_regex(from, rest),
            if rest { "$1" } else { "" }
        ));
    }
    out
}

/// Whether `path` can go into nginx's configuration as it is, inside quotes and a regex
/// (after [`request_regex`] escapes its dots).
fn nginx_safe(path: &str) -> bool {
    path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b))
}

/// A regex for `$request_uri` (path and query) matching what [`Moves::lookup`] matches: the
/// path itself, or (a folder, ending in `/`) anything under it, the rest captured as `$1`
/// when `capture_rest`.
fn request_regex(path: &str, capture_rest: bool) -> String {
    let quoted = path.replace('.', "\\.");
    if !path.ends_with('/') {
        format!("^{quoted}(?:\\?|$)")
    } else if capture_rest {
        format!("^{quoted}([^?]*)")
    } else {
        format!("^{quoted}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_become_nginx_rules_in_serves_order_and_odd_paths_are_left_out() {
        let moves = Moves {
            redirects: [
                ("/old.xml", "/rss.xml"),
                ("/categories/old/", "/categories/new/"),
                ("/categories/old/deep/", "/categories/deeper/"),
                ("/a\"b$x", "/rss.xml"),
                ("/x.xml", "/y z\n}"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
            retired: ["/categories/gone/".to_string(), "/gone.xml".to_string()].into(),
        };
        let text = nginx_moves(&moves);
        let rules: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            rules,
            [
                r#"if ($request_uri ~ "^/categories/gone/") { return 410 "gone: this feed was retired\n"; }"#,
                r#"if ($request_uri ~ "^/gone\.xml(?:\?|$)") { return 410 "gone: this feed was retired\n"; }"#,
                r#"if ($request_uri ~ "^/categories/old/deep/([^?]*)") { return 301 "/categories/deeper/$1"; }"#,
                r#"if ($request_uri ~ "^/categories/old/([^?]*)") { return 301 "/categories/new/$1"; }"#,
                r#"if ($request_uri ~ "^/old\.xml(?:\?|$)") { return 301 "/rss.xml"; }"#,
            ]
        );
        // The odd entries are named in comments, each on one line, and nowhere else.
        let comments: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("# left out"))
            .collect();
        assert_eq!(comments.len(), 2, "{text}");
        assert_eq!(text.lines().count(), 2 + 2 + rules.len(), "{text}");
        assert!(rules
            .iter()
            .all(|r| !r.contains("$x") && !r.contains("y z")));
        assert_eq!(nginx_moves(&moves), text, "deterministic");
    }
}

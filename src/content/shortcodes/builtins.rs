//! Hugo 0.111's built-in shortcodes, as HTML a feed reader can show. `figure` and
//! `highlight` make the markup Hugo makes; embeds (`youtube`, `vimeo`, `tweet`, `x`,
//! `instagram`, `gist`) become a link to the original: Hugo makes an iframe or a script
//! there, which no reader runs (and no `<img>`, so a post has the images Hugo's has).

use html_escape::{encode_double_quoted_attribute as attr, encode_text as esc};

use super::super::frontmatter::Value;
use super::super::markdown::{inline_html, EMBED_MARK};
use super::super::permalink::site_url;
use super::{Call, ShortcodeContext};

/// What a built-in becomes.
pub(super) enum Out {
    /// HTML.
    Fragment(String),
    /// Text that goes into the Markdown as is (a URL).
    Markdown(String),
    /// A `ref`/`relref` Herald cannot resolve, with its argument.
    Unresolved(String),
}

const BUILTINS: &[&str] = &[
    "figure",
    "youtube",
    "vimeo",
    "tweet",
    "x",
    "instagram",
    "gist",
    "highlight",
    "ref",
    "relref",
    "param",
];

pub(super) fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// The output of built-in `call` (`None`: not a built-in, or nothing to show).
pub(super) fn render(
    call: &Call<'_>,
    inner: Option<&str>,
    ctx: &ShortcodeContext<'_>,
) -> Option<Out> {
    let embed = |url: String, label: String| {
        let link = format!("<a href=\"{}\">{}</a>", attr(&url), esc(&label));
        let html = if call.block {
            format!("{EMBED_MARK}<p>{link}</p>")
        } else {
            format!("{EMBED_MARK}{link}")
        };
        Some(Out::Fragment(html))
    };
    match call.name.as_str() {
        "figure" => figure(call, ctx).map(Out::Fragment),
        "youtube" => {
            let id = call.arg(0, "id")?;
            let label = call.named("title").unwrap_or("YouTube video");
            embed(
                format!("https://www.youtube.com/watch?v={id}"),
                label.into(),
            )
        }
        "vimeo" => {
            let id = call.arg(0, "id")?;
            let label = call.named("title").unwrap_or("Vimeo video");
            embed(format!("https://vimeo.com/{id}"), label.into())
        }
        "tweet" | "x" => {
            let user = call.named("user");
            let id = call.arg(0, "id")?;
            let host = if call.name == "x" {
                "x.com"
            } else {
                "twitter.com"
            };
            let url = format!("https://{host}/{}/status/{id}", user.unwrap_or("i"));
            let label = match user {
                Some(u) => format!("Post by @{u}"),
                None => "Post on X".into(),
            };
            embed(url, label)
        }
        "instagram" => {
            let id = call.arg(0, "id")?;
            embed(
                format!("https://www.instagram.com/p/{id}/"),
                "Instagram post".into(),
            )
        }
        "gist" => {
            let (user, id) = (call.arg(0, "user")?, call.arg(1, "id")?);
            let mut url = format!("https://gist.github.com/{user}/{id}");
            let file = call.arg(2, "file");
            if let Some(f) = file {
                url.push_str(&format!("#file-{}", f.replace('.', "-").to_lowercase()));
            }
            embed(url, format!("Gist {user}/{}", file.unwrap_or(id)))
        }
        "highlight" => {
            let code = inner.unwrap_or("").trim_matches('\n');
            let class = call
                .arg(0, "lang")
                .map(|l| format!(" class=\"language-{}\"", attr(l)))
                .unwrap_or_default();
            Some(Out::Fragment(format!(
                "<pre><code{class}>{}</code></pre>",
                esc(code)
            )))
        }
        "ref" | "relref" => {
            let arg = call.arg(0, "path")?;
            let (path, anchor) = match arg.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (arg, None),
            };
            let target = if path.is_empty() {
                Some(ctx.page.to_string())
            } else {
                (ctx.resolve_ref)(path)
            };
            // Feeds need absolute URLs: `relref` resolves like `ref`.
            Some(match target {
                Some(url) => Out::Markdown(match anchor {
                    Some(a) => format!("{url}#{a}"),
                    None => url,
                }),
                None => Out::Unresolved(arg.to_string()),
            })
        }
        "param" => {
            let key = call.arg(0, "name")?;
            let value =
                page_param(ctx.page_params, key).or_else(|| site_param(ctx.site_params, key))?;
            // `{{< >}}` output is escaped text (Go templates); `{{% %}}` output is Markdown.
            Some(if call.percent {
                Out::Markdown(value)
            } else {
                Out::Fragment(esc(&value).into_owned())
            })
        }
        _ => None,
    }
}

/// Hugo 0.111's `figure`: `<figure>`, the image (in a link when `link` is set), and a
/// `<figcaption>` with the title as `<h4>` and caption + attribution in a `<p>`.
fn figure(call: &Call<'_>, ctx: &ShortcodeContext<'_>) -> Option<String> {
    let url = |key: &str| {
        call.named(key)
            .and_then(|r| site_url(ctx.base, ctx.page, r))
    };
    let src = url("src")?;
    let caption = call.named("caption").map(inline_html);
    let mut h = String::from("<figure>");
    let link = url("link");
    if let Some(l) = &link {
        h.push_str(&format!("<a href=\"{}\">", attr(l)));
    }
    h.push_str(&format!("<img src=\"{}\"", attr(&src)));
    let alt = call.named("alt").map(str::to_string).or_else(|| {
        caption
            .as_deref()
            .map(|c| super::super::text::one_line(&super::super::text::strip_all_tags(c)))
    });
    if let Some(alt) = alt {
        h.push_str(&format!(" alt=\"{}\"", attr(&alt)));
    }
    for key in ["width", "height"] {
        if let Some(v) = call.named(key) {
            h.push_str(&format!(" {key}=\"{}\"", attr(v)));
        }
    }
    h.push('>');
    if link.is_some() {
        h.push_str("</a>");
    }
    let (title, attr_text) = (call.named("title"), call.named("attr"));
    if title.is_some() || caption.is_some() || attr_text.is_some() {
        h.push_str("<figcaption>");
        if let Some(t) = title {
            h.push_str(&format!("<h4>{}</h4>", esc(t)));
        }
        if caption.is_some() || attr_text.is_some() {
            h.push_str("<p>");
            h.push_str(caption.as_deref().unwrap_or(""));
            let attr_html = attr_text.map(inline_html).unwrap_or_default();
            match url("attrlink") {
                // Hugo's template leaves whitespace before the attribution link only.
                Some(l) => h.push_str(&format!(" <a href=\"{}\">{attr_html}</a>", attr(&l))),
                None => h.push_str(&attr_html),
            }
            h.push_str("</p>");
        }
        h.push_str("</figcaption>");
    }
    h.push_str("</figure>");
    Some(h)
}

/// A page parameter (front matter; keys are lower case, `a.b` reads nested maps).
fn page_param(params: &super::super::frontmatter::Map, key: &str) -> Option<String> {
    let mut parts = key.split('.');
    let mut v = params.get(&parts.next()?.to_lowercase())?;
    for p in parts {
        match v {
            Value::Map(m) => v = m.get(&p.to_lowercase())?,
            _ => return None,
        }
    }
    v.scalar_text()
}

/// A site parameter (`params` of the site config; keys compared case-insensitively).
fn site_param(params: &serde_json::Value, key: &str) -> Option<String> {
    let mut v = params;
    for p in key.split('.') {
        let map = v.as_object()?;
        v = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(p))?.1;
    }
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

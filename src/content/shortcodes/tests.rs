//! Expanding shortcodes: Hugo's built-ins, a site's own, and what must stay text.

use super::*;
use crate::content::markdown::{render_body, RenderOptions};

fn url(s: &str) -> url::Url {
    url::Url::parse(s).unwrap()
}

fn with(
    body: &str,
    custom: &BTreeMap<String, ShortcodeRule>,
    refs: &dyn Fn(&str) -> Option<String>,
) -> Expanded {
    let base = url("https://example.org/blog/");
    let page = url("https://example.org/blog/post/x/");
    let mut fm = crate::content::frontmatter::Map::new();
    fm.insert(
        "color".into(),
        crate::content::frontmatter::Value::Str("blue".into()),
    );
    let site = serde_json::json!({ "Author": "Site <Author>", "social": { "mastodon": "@me" } });
    expand(
        body,
        &ShortcodeContext {
            base: &base,
            page: &page,
            site_params: &site,
            page_params: &fm,
            custom,
            resolve_ref: refs,
        },
    )
}

fn ex(body: &str) -> Expanded {
    with(body, &BTreeMap::new(), &|_| None)
}

/// Markdown with fragments put back, unsanitized: what the expansion means.
fn strip(body: &str) -> String {
    let e = ex(body);
    crate::content::markdown::substitute(&e.markdown, &e.fragments, false)
}

/// What a reader gets, with Hugo's default raw-HTML policy (raw HTML dropped).
fn shown(body: &str) -> String {
    let e = ex(body);
    render_body(
        &e.markdown,
        &e.fragments,
        RenderOptions::default(),
        "https://example.org/blog/post/x/",
        false,
    )
}

#[test]
fn a_sites_own_shortcodes_keep_inner_content_and_are_reported() {
    assert_eq!(
        strip("{{% note %}}\nRead **this**.\n{{% /note %}}\n"),
        "\nRead **this**.\n\n"
    );
    assert_eq!(strip("self {{< br />}} closing"), "self  closing");
    let e = ex("{{< aside >}}a{{< /aside >}} {{< aside >}}b{{< /aside >}} {{< note x >}}");
    assert_eq!(e.unknown, ["aside", "note"]);
    assert_eq!(e.markdown, "a b ");
}

#[test]
fn configured_shortcodes_drop_or_fill_a_template() {
    let mut custom = BTreeMap::new();
    custom.insert("aside".to_string(), ShortcodeRule::Drop);
    custom.insert(
        "note".to_string(),
        ShortcodeRule::Template(
            "<div class=\"n\"><b>{{ .Get 0 }} {{ .Get \"by\" }}</b>{{ .Inner }}</div>".into(),
        ),
    );
    let e = with(
        "A {{< aside >}}gone{{< /aside >}} B\n\n{{< note Hey by=\"<me>\" >}}\n**in**\n{{< /note >}}\n",
        &custom,
        &|_| None,
    );
    assert!(e.unknown.is_empty());
    let html = render_body(
        &e.markdown,
        &e.fragments,
        RenderOptions::default(),
        "https://e.org/",
        false,
    );
    assert!(html.starts_with("<p>A  B</p>"), "{html}");
    // The template's HTML survives Hugo's raw-HTML policy; the inner stays Markdown.
    assert!(
        html.contains("<div><b>Hey &lt;me&gt;</b>\n<p><strong>in</strong></p>\n</div>"),
        "{html}"
    );
}

#[test]
fn rules_read_from_yaml() {
    let rules: BTreeMap<String, ShortcodeRule> =
        serde_yaml::from_str("aside: drop\nnote: \"<p>{{ .Inner }}</p>\"\n").unwrap();
    assert_eq!(rules["aside"], ShortcodeRule::Drop);
    assert_eq!(
        rules["note"],
        ShortcodeRule::Template("<p>{{ .Inner }}</p>".into())
    );
}

#[test]
fn figure_is_hugos_figure_with_absolute_urls() {
    // Hugo 0.111: <figure><a href="/big.jpg"><img src="pic.jpg" alt="Alt"/></a><figcaption>
    // <h4>Ttl</h4><p>Cap <em>em</em> <a href="https://me.example/">Me</a></p></figcaption></figure>
    let html = shown("{{< figure src=\"pic.jpg\" alt=\"Alt\" title=\"Ttl\" caption=\"Cap *em*\" link=\"/big.jpg\" attr=\"Me\" attrlink=\"https://me.example/\" >}}\n\n{{< figure src=\"/img/root.png\" >}}\n");
    assert!(html.starts_with("<figure><a href=\"https://example.org/blog/big.jpg\" rel=\"noopener noreferrer\"><img src=\"https://example.org/blog/post/x/pic.jpg\" alt=\"Alt\"></a><figcaption><h4>Ttl</h4><p>Cap <em>em</em> <a href=\"https://me.example/\" rel=\"noopener noreferrer\">Me</a></p></figcaption></figure>"), "{html}");
    // Root-relative: against the site, not the host. Hugo: <figure><img src="/img/root.png"/></figure>
    assert!(
        html.contains("<figure><img src=\"https://example.org/blog/img/root.png\"></figure>"),
        "{html}"
    );
    assert_eq!(html.matches("<img").count(), 2);
    // No alt given: the caption's text, as Hugo does.
    assert!(strip("{{< figure src=\"a.jpg\" caption=\"A *b*\" >}}").contains("alt=\"A b\""));
}

#[test]
fn embeds_become_links_never_iframes_or_images() {
    // Hugo 0.111 makes an iframe (youtube, vimeo) or a script (gist): no text, no image.
    let html = shown("{{< youtube dQw4w9WgXcQ >}}\n\n{{< youtube id=\"abc\" title=\"T\" >}}\n\n{{< vimeo 146022717 >}}\n\n{{< tweet user=\"Zoo\" id=\"14\" >}}\n\n{{< x user=\"Zoo\" id=\"15\" >}}\n\n{{< instagram BWNjjyYFxVx >}}\n\n{{< gist spf13 7896402 >}}\n\nSee {{< youtube xyz >}} inline.\n");
    for link in [
        "<p><a href=\"https://www.youtube.com/watch?v=dQw4w9WgXcQ\" rel=\"noopener noreferrer\">YouTube video</a></p>",
        "<a href=\"https://www.youtube.com/watch?v=abc\" rel=\"noopener noreferrer\">T</a>",
        "https://vimeo.com/146022717",
        "https://twitter.com/Zoo/status/14",
        "https://x.com/Zoo/status/15",
        "https://www.instagram.com/p/BWNjjyYFxVx/",
        "https://gist.github.com/spf13/7896402",
        "<p>See <a href=\"https://www.youtube.com/watch?v=xyz\"",
    ] {
        assert!(html.contains(link), "{link} missing from {html}");
    }
    assert!(!html.contains("<iframe") && !html.contains("<img") && !html.contains("<script"));
}

#[test]
fn highlight_is_a_code_block_with_its_language() {
    // Hugo 0.111: <pre><code class="language-go" data-lang="go">x := 1 &lt; 2</code></pre>
    // (inside Chroma's spans).
    let html = shown("{{< highlight go \"linenos=false\" >}}\nx := 1 < 2\n{{< /highlight >}}\n");
    assert_eq!(
        html.trim(),
        "<pre><code class=\"language-go\">x := 1 &lt; 2</code></pre>"
    );
}

#[test]
fn param_reads_page_then_site_params() {
    // Hugo 0.111: "<p>blue and Site Author</p>" (page params first, then site params).
    assert_eq!(
        shown("{{< param color >}} and {{< param \"author\" >}} and {{< param social.mastodon >}}"),
        "<p>blue and Site &lt;Author&gt; and @me</p>\n"
    );
}

#[test]
fn refs_resolve_through_the_callback_or_stay_text() {
    let refs =
        |p: &str| (p == "style.md").then(|| "https://example.org/blog/post/style/".to_string());
    let e = with(
        "[a]({{< ref \"style.md\" >}}) {{< relref \"style.md#top\" >}} [b]({{< ref \"gone.md\" >}}) {{% ref gone.md %}}",
        &BTreeMap::new(),
        &refs,
    );
    let html = render_body(
        &e.markdown,
        &e.fragments,
        RenderOptions::default(),
        "https://example.org/blog/post/x/",
        false,
    );
    assert!(
        html.contains(
            "<a href=\"https://example.org/blog/post/style/\" rel=\"noopener noreferrer\">a</a>"
        ),
        "{html}"
    );
    assert!(
        html.contains("https://example.org/blog/post/style/#top"),
        "{html}"
    );
    // Unresolved: the link text without a link, or the argument as text; never a broken link.
    assert!(
        html.contains("<a rel=\"noopener noreferrer\">b</a> gone.md"),
        "{html}"
    );
    assert!(!html.contains("gone.md\""), "{html}");
}

#[test]
fn percent_form_output_is_markdown_under_the_raw_html_policy() {
    // Hugo 0.111 with unsafe off: `{{% figure %}}` gives "<!-- raw HTML omitted -->".
    assert_eq!(
        shown("{{% figure src=\"a.jpg\" %}}\n\nText {{% param color %}}.\n"),
        "<p>Text blue.</p>\n"
    );
}

#[test]
fn arguments_quoted_backticked_and_multi_line() {
    let html = strip("{{< figure src=`a b.jpg` caption=\"say \\\"hi\\\"\"\n  title='x' >}}\nText");
    assert!(
        html.contains("src=\"https://example.org/blog/post/x/a%20b.jpg\""),
        "{html}"
    );
    assert!(html.contains("<p>say \"hi\"</p>"), "{html}");
    assert!(html.contains("<h4>'x'</h4>"), "{html}"); // Hugo quotes with \" and ` only
    assert!(html.ends_with("\nText"), "{html}");
}

#[test]
fn escaped_shortcodes_become_literal_text() {
    assert_eq!(
        strip("Write {{</* youtube abc */>}} to embed."),
        "Write {{< youtube abc >}} to embed."
    );
    assert_eq!(strip("Or {{%/* note */%}}."), "Or {{% note %}}.");
}

#[test]
fn code_fences_and_spans_are_untouched() {
    let md = "Intro {{< x >}}\n\n```go\n{{< not-a-shortcode >}}\n{{ .Title }}\n```\n\n~~~~\n{{% y %}}\n~~~~\nAfter {{< z >}}\n";
    assert_eq!(
        strip(md),
        "Intro \n\n```go\n{{< not-a-shortcode >}}\n{{ .Title }}\n```\n\n~~~~\n{{% y %}}\n~~~~\nAfter \n"
    );
    assert_eq!(
        strip("Use `{{< ref \"x\" >}}` here {{< y >}}"),
        "Use `{{< ref \"x\" >}}` here "
    );
    assert_eq!(strip("``a ` {{< k >}}``"), "``a ` {{< k >}}``");
    assert_eq!(
        strip("```\n{{</* ref \"x\" */>}}\n```\n"),
        "```\n{{< ref \"x\" >}}\n```\n"
    );
}

#[test]
fn a_pair_around_a_fence_keeps_the_fence() {
    assert_eq!(
        strip("{{< note >}}\n```\n{{< x >}}\n```\n{{< /note >}}\n"),
        "\n```\n{{< x >}}\n```\n\n"
    );
}

#[test]
fn unterminated_tags_and_plain_braces_stay() {
    assert_eq!(strip("a {{< b and no end"), "a {{< b and no end");
    assert_eq!(strip("{{ .Title }} and {x}"), "{{ .Title }} and {x}");
    assert_eq!(strip("café {{< x >}} ✓"), "café  ✓");
}

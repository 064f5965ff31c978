//! Tests of [`super::bounded`] and of the rest of the pipeline on hostile shapes: each
//! asserts what comes out (depth, cells, text kept, size, well-formedness), never how long
//! it took. The inputs are sized to run in well under a second in a debug build, which
//! they would not if any step were still quadratic.

use super::bounded::*;
use super::*;

const BASE: &str = "https://example.org/post/x/";

fn keep_html() -> RenderOptions {
    RenderOptions {
        unsafe_html: true,
        ..RenderOptions::default()
    }
}

fn render(source: &str, is_html: bool) -> String {
    markdown::render_body(source, &[], keep_html(), BASE, is_html)
}

/// The deepest element nesting of HTML that is also XML (no void elements, no `&nbsp;`),
/// read by an independent parser; and its text.
fn depth_and_text(html: &str) -> (usize, String) {
    let wrapped = format!("<root>{html}</root>");
    let doc = roxmltree::Document::parse(&wrapped)
        .unwrap_or_else(|e| panic!("not well-formed: {e}: {}", &html[..html.len().min(300)]));
    let depth = doc
        .descendants()
        .filter(|n| n.is_element())
        .map(|n| n.ancestors().filter(|a| a.is_element()).count() - 1)
        .max()
        .unwrap_or(0);
    let text: String = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    (depth, text)
}

fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

fn numbered(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("w{i}")).collect()
}

#[test]
fn deeply_nested_divs_are_flattened_past_the_limit_and_keep_every_word() {
    // As an `.html` content file, and as raw HTML in Markdown.
    for (n, is_html) in [(80_000, true), (20_000, false)] {
        let mut html = String::new();
        for i in 0..n {
            html.push_str(&format!("<div>w{i} "));
        }
        html.push_str(&"</div>".repeat(n));
        let out = render(&html, is_html);
        let (depth, text) = depth_and_text(&out);
        assert!(depth <= MAX_DEPTH, "depth {depth}");
        assert!(
            depth >= MAX_DEPTH - 1,
            "flattened only past the limit: {depth}"
        );
        assert_eq!(words(&text), numbered(n));
    }
}

#[test]
fn nested_blockquotes_in_markdown_and_html_are_bounded() {
    let md = format!("{}deep quote\n", "> ".repeat(20_000));
    let (depth, text) = depth_and_text(&render(&md, false));
    assert!(depth <= MAX_DEPTH, "depth {depth}");
    assert_eq!(text.trim(), "deep quote");

    let html = format!(
        "{}deep{}",
        "<blockquote><p>q</p>".repeat(20_000),
        "</blockquote>".repeat(20_000)
    );
    let (depth, text) = depth_and_text(&render(&html, false));
    assert!(depth <= MAX_DEPTH, "depth {depth}");
    assert_eq!(text.matches('q').count(), 20_000);
    assert!(
        text.trim_end().ends_with("deep"),
        "{}",
        &text[text.len() - 20..]
    );
}

#[test]
fn formatting_elements_left_open_are_not_reopened_at_every_block() {
    // html5ever alone makes 16 million elements of this (each `<b>` reopened in every
    // later `<div>`).
    let n = 4_000;
    let html: String = (0..n)
        .map(|i| format!("<div><b class=\"c{i}\">w{i}</div>"))
        .collect();
    let out = render(&html, true);
    assert!(
        out.len() < 20 * html.len(),
        "{} bytes from {}",
        out.len(),
        html.len()
    );
    let (depth, text) = depth_and_text(&out);
    assert!(depth <= MAX_DEPTH, "depth {depth}");
    assert_eq!(words(&text.replace('w', " w")), numbered(n));
}

#[test]
fn a_10000_column_html_table_keeps_at_most_the_cells_allowed_and_all_its_text() {
    let cols = 10_000;
    let mut html = String::from("<table>");
    for r in 0..3 {
        html.push_str("<tr>");
        for c in 0..cols {
            html.push_str(&format!("<td>r{r}c{c}</td>"));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table><p>after</p>");
    let out = render(&html, true);
    let wrapped = format!("<root>{out}</root>");
    let doc = roxmltree::Document::parse(&wrapped).unwrap();
    let rows: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("tr")).collect();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let cells = row.children().filter(|n| n.has_tag_name("td")).count();
        assert_eq!(cells, MAX_COLUMNS);
    }
    let text: String = doc
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" ");
    for r in 0..3 {
        for c in [0, MAX_COLUMNS - 1, MAX_COLUMNS, cols - 1] {
            assert!(text.contains(&format!("r{r}c{c}")), "r{r}c{c} lost");
        }
    }
    assert!(out.ends_with("<p>after</p>"), "{}", &out[out.len() - 100..]);
}

#[test]
fn markdown_tables_stay_within_the_cell_budget() {
    // A 150-column table renders, cut to the columns allowed (the rest join the last cell).
    let head = format!("|{}\n|{}\n", "h|".repeat(150), "-|".repeat(150));
    let row: String = (0..150).map(|c| format!("c{c}|")).collect();
    let md = format!("{head}|{row}\n\nafter\n");
    let out = render(&md, false);
    assert_eq!(out.matches("<th>").count(), MAX_COLUMNS);
    assert_eq!(out.matches("<td>").count(), MAX_COLUMNS);
    assert!(out.contains("c149"), "{out}");

    // pulldown-cmark pads each row to its header's width: a 512 × 512 table is text, and
    // of 50 tables of 64 × 64 the ones past the budget are.
    let table = |n: usize| {
        format!(
            "|{}\n|{}\n{}\n",
            "h|".repeat(n),
            "-|".repeat(n),
            "x\n".repeat(n)
        )
    };
    let out = render(&table(512), false);
    assert!(!out.contains("<td>"));
    assert_eq!(out.matches('x').count(), 512);
    let md = table(64).repeat(50);
    assert!(bound_markdown_tables(&md).len() > md.len());
    let out = render(&md, false);
    let cells = out.matches("<td").count() + out.matches("<th").count();
    assert!(cells <= MAX_CELLS, "{cells} cells");
    assert!(cells >= MAX_CELLS / 2, "{cells} cells");
    assert_eq!(
        out.matches('x').count(),
        64 * 50,
        "every row's text is kept"
    );

    // Within the budget, nothing changes.
    let small = "| a | b |\n|---|---|\n| 1 | 2 |\n";
    assert!(matches!(
        bound_markdown_tables(small),
        std::borrow::Cow::Borrowed(_)
    ));
}

#[test]
fn ordinary_and_sloppy_html_passes_unchanged() {
    let cases = [
        "<p>One <em>two</em> <a href=\"x\">three</a></p>\n<ul>\n<li>a</li>\n</ul>\n".to_string(),
        // Old-style HTML: unclosed paragraphs, list items and cells, by the hundred.
        format!("<div>{}</div>", "<p>para".repeat(500)),
        format!("<ul>{}</ul>", "<li>item".repeat(500)),
        format!("<dl>{}</dl>", "<dt>t<dd>d".repeat(500)),
        format!(
            "<table>{}</table>",
            "<tr><td>a<td>b<td>c<td>d".repeat(1_000)
        ),
        format!("<select>{}</select>", "<option>o".repeat(500)),
        // Bold left open across a few paragraphs, headings closing headings.
        "<p><b>bold</p><p>still</p><h1>a<h2>b</h2>".to_string(),
        // Inline SVG with many self-closing shapes.
        format!("<svg>{}</svg>", "<path d=\"M0 0\"/>".repeat(50)),
    ];
    for html in &cases {
        assert!(
            matches!(bound_html(html), std::borrow::Cow::Borrowed(_)),
            "rewritten: {}",
            &html[..html.len().min(80)]
        );
    }
}

#[test]
fn long_text_with_escapes_is_split_invisibly() {
    let html = format!(
        "<p>{}</p><pre>{}</pre>",
        "a &amp; b ".repeat(1_000),
        "x&&y\n".repeat(1_000)
    );
    let bounded = bound_html(&html);
    assert!(bounded.contains("<!---->"));
    assert_eq!(ammonia::clean(&bounded), ammonia::clean(&html));
    // Character references are never cut.
    let refs = format!("<p>{}</p>", "&eacute;&#x2014;&amp;".repeat(500));
    assert_eq!(ammonia::clean(&bound_html(&refs)), ammonia::clean(&refs));
}

#[test]
fn tags_with_too_many_attributes_or_escapes_are_dropped_keeping_their_text() {
    let attrs: String = (0..10_000).map(|i| format!(" a{i}")).collect();
    let out = render(&format!("<div{attrs}>kept</div><p>after</p>"), true);
    assert_eq!(out.trim_start(), "kept <p>after</p>");
    let title = "&amp;".repeat(10_000);
    let out = render(
        &format!("<p><a title=\"{title}\" href=\"/y\">link</a></p>"),
        true,
    );
    assert_eq!(out, "<p>link</p>");
}

#[test]
fn content_misplaced_in_a_table_is_bounded() {
    let html = format!(
        "{}<table>{}</table>",
        "<p>x</p>".repeat(10_000),
        "<span>q</span>".repeat(10_000)
    );
    let out = render(&html, true);
    assert_eq!(out.matches('q').count(), 10_000);
    assert_eq!(out.matches("<p>x</p>").count(), 10_000);
}

#[test]
fn element_counts_are_capped_keeping_the_text() {
    let html = "<b>w</b>".repeat(MAX_ELEMENTS + 10_000);
    let bounded = bound_html(&html);
    assert_eq!(bounded.matches("<b>").count(), MAX_ELEMENTS);
    assert_eq!(bounded.matches('w').count(), MAX_ELEMENTS + 10_000);
}

#[test]
fn bounding_is_deterministic() {
    let html = format!("{}x", "<div><table><tr><td><span>".repeat(3_000));
    assert_eq!(bound_html(&html), bound_html(&html));
    let (depth, _) = depth_and_text(&render(&html, true));
    assert!(depth <= MAX_DEPTH, "depth {depth}");
}

fn long_post(paragraphs: usize) -> String {
    let mut md = String::from("---\ntitle: Long\ndate: 2024-01-01\n---\n");
    for i in 0..paragraphs {
        md.push_str(&format!(
            "Paragraph {i} with *emphasis*, `code` and a [link](/l/{i}/) & more.\n\n"
        ));
    }
    md
}

#[test]
fn an_item_over_max_item_bytes_is_cut_well_formed_and_links_to_the_post() {
    let settings = ContentSettings {
        max_item_bytes: 64 * 1024,
        ..tests::settings()
    };
    let post = parse("post/long.md", long_post(3_000).as_bytes(), &settings).unwrap();
    let html = post.body.html();
    assert!(
        html.len() <= settings.max_item_bytes,
        "{} bytes",
        html.len()
    );
    assert!(
        html.len() > settings.max_item_bytes - 1024,
        "{} bytes",
        html.len()
    );
    assert!(html.starts_with("<p>Paragraph 0 with <em>emphasis</em>"));
    let wrapped = format!("<root>{}</root>", html.replace("&amp;", "&#38;"));
    let doc = roxmltree::Document::parse(&wrapped).expect("well-formed");
    let last = doc.root_element().last_element_child().unwrap();
    assert_eq!(last.tag_name().name(), "p");
    let link = last.children().find(|n| n.has_tag_name("a")).unwrap();
    assert_eq!(link.attribute("href"), Some(post.permalink.as_str()));
    assert!(
        html.ends_with(
            "<p>This post is too long for the feed; <a href=\"https://example.org/post/long/\" \
         rel=\"noopener noreferrer\">read it on the site</a>.</p>\n"
        ),
        "{}",
        &html[html.len() - 200..]
    );
    // Deterministic, and a post within the cap is whole.
    let again = parse("post/long.md", long_post(3_000).as_bytes(), &settings).unwrap();
    assert_eq!(again.body.html(), html);
    let short = parse("post/short.md", long_post(10).as_bytes(), &settings).unwrap();
    assert!(!short.body.html().contains("too long for the feed"));
}

#[test]
fn one_element_too_long_for_the_item_gives_an_excerpt() {
    let settings = ContentSettings {
        max_item_bytes: 8 * 1024,
        ..tests::settings()
    };
    let src = format!(
        "---\ntitle: One line\ndate: 2024-01-01\n---\n{}\n",
        "word & more 1 < 2 ".repeat(20_000)
    );
    let post = parse("post/line.md", src.as_bytes(), &settings).unwrap();
    let html = post.body.html();
    assert!(
        html.len() <= settings.max_item_bytes,
        "{} bytes",
        html.len()
    );
    assert!(
        html.starts_with("<p>word &amp; more 1 &lt; 2 word"),
        "{}",
        &html[..100]
    );
    assert!(html.contains("…</p>\n<p>This post is too long"));
    let (_, text) = depth_and_text(&html.replace("&amp;", "&#38;"));
    assert!(text.len() > 4_000);
    // The summary is cut too.
    let summary = post.summary.unwrap();
    assert!(summary.chars().count() <= MAX_SUMMARY_CHARS + 1);
}

#[test]
fn a_post_of_one_long_word_is_handled_and_its_item_capped() {
    // tests/bench/hostile_shapes.sh times the 4 MiB one.
    let src = format!(
        "---\ntitle: Big\ndate: 2024-01-01\n---\n{}\n",
        "a".repeat(1 << 20)
    );
    let post = parse("post/big.md", src.as_bytes(), &tests::settings()).unwrap();
    let html = post.body.html();
    assert!(html.len() <= 256 * 1024);
    assert!(html.len() > 255 * 1024, "{}", html.len());
    assert!(html.ends_with("read it on the site</a>.</p>\n"));
    assert!(post.summary.unwrap().chars().count() <= MAX_SUMMARY_CHARS + 1);
}

#[test]
fn hostile_text_shapes_keep_their_meaning() {
    // A million `<!--` before the divider; `<script` without end; `<` without `>`.
    let opens = "<!-- ".repeat(50_000);
    assert_eq!(
        before_divider(&format!("{opens}<!--more-->")),
        Some(opens.as_str())
    );
    assert_eq!(before_divider(&opens), None);
    assert_eq!(
        text::drop_script_and_style(&"x<script>y</script>".repeat(50_000)),
        "x".repeat(50_000)
    );
    let lt = "<a b ".repeat(100_000);
    assert_eq!(text::strip_known_tags(&lt), lt);
    assert_eq!(summary::plain(&lt), lt.replace("  ", " "));
    assert_eq!(
        rawhtml::defuse(&"<iframe src=x ".repeat(100_000)).len(),
        1_400_000
    );
}

#[test]
fn many_broken_style_blocks_are_all_fixed() {
    let md = "<STYLE>\np{}\n</STYLE> x\n\ntext *emph*\n\n".repeat(40) + "Final **para**.\n";
    let html = render(&md, false);
    assert_eq!(html.matches("<em>emph</em>").count(), 40);
    assert!(html
        .trim_end()
        .ends_with("<p>Final <strong>para</strong>.</p>"));
}

#[test]
fn hostile_shortcodes_neither_recurse_deep_nor_warn_without_end() {
    let body = format!(
        "{}deep{}",
        "{{< nest >}}".repeat(20_000),
        "{{< /nest >}}".repeat(20_000)
    );
    let src = format!("---\ntitle: S\ndate: 2024-01-01\n---\n{body}\n");
    let parsed = parse_with_warnings("post/s.md", src.as_bytes(), &tests::settings());
    let post = parsed.result.unwrap().unwrap();
    assert!(post.body.html().contains("deep"));
    assert_eq!(parsed.warnings.len(), 1);

    let body: String = (0..5_000).map(|i| format!("{{{{< s{i} >}}}}")).collect();
    let src = format!(
        "---\ntitle: S\ndate: 2024-01-01\n---\n{body} kept\n{}",
        "{{< x ".repeat(20_000)
    );
    let parsed = parse_with_warnings("post/s.md", src.as_bytes(), &tests::settings());
    assert_eq!(parsed.warnings.len(), 21, "20 named, one for the rest");
    assert!(parsed.warnings[20].message.contains("4980 more"));
    let post = parsed.result.unwrap().unwrap();
    assert!(post.body.html().contains("kept"));
}

#[test]
fn mojibake_throughout_a_big_file_is_repaired_and_reported_in_21_lines() {
    let line = "caf\u{c3}\u{a9} \u{e2}\u{20ac}\u{201d} don\u{e2}\u{20ac}\u{2122}t\n";
    let src = format!(
        "---\ntitle: M\ndate: 2024-01-01\n---\n{}",
        line.repeat(40_000)
    );
    let settings = ContentSettings {
        repair_mojibake: true,
        ..tests::settings()
    };
    let parsed = parse_with_warnings("post/m.md", src.as_bytes(), &settings);
    assert_eq!(parsed.warnings.len(), 21);
    assert_eq!(parsed.warnings[0].line, Some(5));
    assert!(
        parsed.warnings[20].message.contains("on 39980 more lines"),
        "{}",
        parsed.warnings[20]
    );
    assert_eq!(parsed.warnings[20].line, Some(25));
    let post = parsed.result.unwrap().unwrap();
    assert!(!post.body.markdown().contains('\u{e2}'));
    assert_eq!(post.body.markdown().matches("café — don’t").count(), 40_000);
}

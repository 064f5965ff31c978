#!/usr/bin/env bash
# Hostile content shapes, timed: one post per shape in a temporary site, through
# `herald check` (parse, summary) and `herald build` (render, sanitize, every feed and
# encoding). Prints wall seconds, peak RSS and the size of the biggest feed written.
# Nothing here asserts: it prints figures for a person to read (issue 10, faults 3, 10, 14a).
#
#   tests/bench/hostile_shapes.sh                 uses target/release/herald (builds it)
#   HERALD=path/to/herald tests/bench/hostile_shapes.sh [shape...]
#
# Each run is cut off after $LIMIT seconds (default 120). Needs python3 and /usr/bin/time.
set -euo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
limit=${LIMIT:-120}
if [ -z "${HERALD:-}" ]; then
    cargo build --release --quiet --manifest-path "$root/Cargo.toml"
    HERALD="$root/target/release/herald"
fi
work=$(mktemp -d /tmp/herald-hostile.XXXXXX)
trap 'rm -rf "$work"' EXIT

# name → generator of the post body (Python expression over `n` bytes / counts).
shapes=(
    div_nested_5k div_nested_20k div_nested_80k div_siblings_80k
    blockquote_html_80k blockquote_md_5k blockquote_md_20k blockquote_md_80k
    html_file_div_80k post_4mib_divs
    table_10k_columns table_10k_header_padded table_many_small
    mojibake_4mib mojibake_4mib_repair single_line_4mib emphasis_openers_4mib
    brackets_4mib lists_nested_10k lists_nested_indented link_refs_100k
    entities_4mib controls_4mib shortcodes_4mib shortcodes_unclosed_4mib
    lt_without_gt_4mib comments_unclosed_4mib script_tags_4mib backticks_4mib
    upper_style_blocks prose_4mib
    formatting_reopened_4k foster_parented_40k attributes_100k attribute_escapes_4mib
    table_padding_bomb nbsp_text_4mib stray_end_tags_4mib unclosed_p_4mib unclosed_li_4mib
    svg_foreign_div_80k unknown_shortcodes_100k nested_shortcodes_100k distinct_tags_nested_100k
    style_blocks_in_quote
)
[ $# -gt 0 ] && shapes=("$@")

gen() {
    python3 - "$1" "$2" <<'PY'
import sys
name, out = sys.argv[1], sys.argv[2]
MiB = 4 * 1024 * 1024
def fill(unit, size=MiB - 200):
    return unit * (size // len(unit))
n = lambda s: int(s.rsplit("_", 1)[1].rstrip("k")) * 1000
body, ext = None, "md"
if name.startswith("div_nested_"):
    k = n(name)
    body = "<div>" * k + "\ntext HMGOOD\n" + "</div>" * k + "\n"
elif name == "div_siblings_80k":
    body = "<div>a</div>\n" * 80000
elif name == "blockquote_html_80k":
    body = "<blockquote>" * 80000 + "\ndeep\n" + "</blockquote>" * 80000 + "\n"
elif name.startswith("blockquote_md_"):
    body = "> " * n(name) + "deep quote\n"
elif name == "html_file_div_80k":
    body, ext = "<div>" * 80000 + "text" + "</div>" * 80000, "html"
elif name == "post_4mib_divs":
    body = fill("<div>")
elif name == "table_10k_columns":
    cols = 10000
    row = "|" + "x|" * cols + "\n"
    body = "|" + "h|" * cols + "\n|" + "-|" * cols + "\n" + row * 100
elif name == "table_10k_header_padded":
    cols = 10000
    head = "|" + "h|" * cols + "\n|" + "-|" * cols + "\n"
    body = head + fill("x\n", MiB - 200 - len(head))
elif name == "table_many_small":
    t = "|a|b|c|\n|-|-|-|\n|1|2|3|\n\n"
    body = fill(t)
elif name.startswith("mojibake_4mib"):
    body = fill("caf\u00c3\u00a9 \u00e2\u20ac\u201d don\u00e2\u20ac\u2122t\n", MiB // 2)
elif name == "single_line_4mib":
    body = fill("a")
elif name == "emphasis_openers_4mib":
    body = fill("*a ")
elif name == "brackets_4mib":
    body = fill("[a")
elif name == "lists_nested_10k":
    body = "- " * 10000 + "item\n"
elif name == "lists_nested_indented":
    body = "".join("  " * i + "- item\n" for i in range(2000))
elif name == "link_refs_100k":
    k = 100000
    body = "".join(f"[x][r{i}] " for i in range(k)) + "\n\n" + "".join(
        f"[r{i}]: https://e.example/{i}\n" for i in range(k))
elif name == "entities_4mib":
    body = fill("&amp;&eacute;&#x2014; ")
elif name == "controls_4mib":
    body = fill("a\u0001\u0013")
elif name == "shortcodes_4mib":
    body = fill("{{< ref \"x\" >}} ")
elif name == "shortcodes_unclosed_4mib":
    body = fill("{{< x ")
elif name == "lt_without_gt_4mib":
    body = fill("<a ")
elif name == "comments_unclosed_4mib":
    body = fill("<!-- ")
elif name == "script_tags_4mib":
    body = fill("<script></script>x ")
elif name == "backticks_4mib":
    body = "{{< x >}}\n" + fill("`a` ")
elif name == "upper_style_blocks":
    body = fill("<STYLE>\np{}\n</STYLE> x\n\ntext\n\n")
elif name == "formatting_reopened_4k":
    body = "".join(f"<div><b class={i}></div>" for i in range(4000)) + "x\n"
elif name == "foster_parented_40k":
    body = "<p>x</p>" * 40000 + "<table>" + "<span>a</span>" * 40000 + "</table>\n"
elif name == "attributes_100k":
    body = "<div " + " ".join(f"a{i}" for i in range(100000)) + ">x</div>\n"
elif name == "attribute_escapes_4mib":
    body = "<a title=\"" + fill("&amp;", MiB - 300) + "\" href=\"x\">x</a>\n"
elif name == "table_padding_bomb":
    t = "|" + "h|" * 512 + "\n|" + "-|" * 512 + "\n" + "x\n" * 512 + "\n"
    body = fill(t)
elif name == "nbsp_text_4mib":
    body = fill("a\u00a0b ")
elif name == "stray_end_tags_4mib":
    body = "<div>" + fill("&a</x>") + "</div>\n"
elif name == "unclosed_p_4mib":
    body = "<div>" + fill("<p>a") + "</div>\n"
elif name == "unclosed_li_4mib":
    body = "<ul>" + fill("<li>a") + "</ul>\n"
elif name == "svg_foreign_div_80k":
    body = "<svg><foreignObject>" + "<div/>" * 80000 + "x\n"
elif name == "unknown_shortcodes_100k":
    body = "".join(f"{{{{< s{i} >}}}}" for i in range(100000)) + "\n"
elif name == "nested_shortcodes_100k":
    body = "{{< x >}}" * 100000 + "deep" + "{{< /x >}}" * 100000 + "\n"
elif name == "distinct_tags_nested_100k":
    body = "".join(f"<div class=x{i}><x-{i}>" for i in range(100000)) + "x\n"
elif name == "style_blocks_in_quote":
    body = fill("> <STYLE>\n> p{}\n> </STYLE> x\n>\n> text *a*\n>\n")
elif name == "prose_4mib":
    body = fill("Some *ordinary* prose with a [link](https://e.example/) and `code`.\n\n")
else:
    sys.exit(f"unknown shape {name}")
front = "---\ntitle: Hostile\ndate: 2024-01-01\n---\n"
with open(f"{out}/post.{ext}", "w", encoding="utf-8") as f:
    f.write(front + body)
PY
}

printf '%-26s %9s %9s  %9s %9s %12s\n' shape "check s" "check MB" "build s" "build MB" "biggest feed"
for shape in "${shapes[@]}"; do
    site="$work/$shape"
    mkdir -p "$site/content"
    gen "$shape" "$site/content"
    repair=false
    [[ $shape == *_repair ]] && repair=true
    cat >"$site/herald.yaml" <<EOF
content_dir: content
base_url: https://feeds.example.org/
title: Hostile shapes
max_post_bytes: 8388608
repair_mojibake: $repair
watch: off
EOF
    run() { # prints "seconds peak_MB"; check exits 1 when the post is refused, which is fine
        local t="$site/time.$1" rc=0
        timeout "$limit" /usr/bin/time -f '%e %M' -o "$t" "$HERALD" "$@" -c "$site/herald.yaml" \
            >"$site/log.$1" 2>&1 || rc=$?
        if [ "$rc" = 124 ]; then
            printf '%9s %9s' ">$limit" "?"
        else
            tail -n 1 "$t" 2>/dev/null | awk '{printf "%9s %9.0f", $1, $2/1024}' || printf '%9s %9s' "?" "?"
        fi
    }
    c=$(run check)
    b=$(run build --out "$site/out")
    big=$( (find "$site/out" -name '*.xml' -o -name '*.json' 2>/dev/null || true) | xargs -r ls -l 2>/dev/null |
        awk 'BEGIN{m=0} {if ($5>m) m=$5} END{printf "%.1f MiB", m/1048576}' || true)
    printf '%-26s %s  %s %12s\n' "$shape" "$c" "$b" "$big"
    rm -rf "$site"
done

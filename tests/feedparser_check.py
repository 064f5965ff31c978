#!/usr/bin/env python3
"""Judges every feed in a `herald build` output folder with Python's feedparser, the parser
most feed readers descend from: each must parse with bozo == 0, carry a title and a self link,
and every entry must have an id, a title, a link and a date. Exits 1 listing every failure."""

import pathlib
import sys

import feedparser


def check(path: pathlib.Path) -> list[str]:
    problems = []
    # Given bytes alone, feedparser only tries XML; the Content-Type tells it JSON Feed,
    # as it would when fetching over HTTP.
    content_type = "application/feed+json" if path.suffix == ".json" else "application/xml"
    parsed = feedparser.parse(path.read_bytes(), response_headers={"content-type": content_type})
    if parsed.bozo:
        problems.append(f"bozo: {parsed.bozo_exception!r}")
    if not parsed.feed.get("title"):
        problems.append("feed has no title")
    if path.suffix == ".xml" and not any(l.get("rel") == "self" for l in parsed.feed.get("links", [])):
        problems.append("feed has no self link")
    if not parsed.entries:
        problems.append("feed has no entries")
    for i, entry in enumerate(parsed.entries):
        for field in ("id", "title", "link"):
            if not entry.get(field):
                problems.append(f"entry {i} has no {field}")
        if not (entry.get("published_parsed") or entry.get("updated_parsed")):
            problems.append(f"entry {i} has no parseable date")
    return problems


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    feeds = sorted(p for p in root.rglob("*") if p.name in ("rss.xml", "atom.xml", "feed.json"))
    if not feeds:
        print(f"no feeds under {root}")
        return 1
    failed = 0
    for path in feeds:
        problems = check(path)
        for problem in problems:
            print(f"{path}: {problem}")
        failed += bool(problems)
    print(f"feedparser {feedparser.__version__}: {len(feeds)} feeds, {failed} with problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

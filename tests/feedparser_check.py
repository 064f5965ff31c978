#!/usr/bin/env python3
"""Judges every feed in a `herald build` output folder with independent Python tools.

RSS and Atom: feedparser, the parser most feed readers descend from. Each feed must parse
with bozo == 0, carry a title and a self link, and every entry must have an id, a title, a
link and a date. JSON Feed (which feedparser 6 does not read): Python's jsonschema against
tests/schemas/jsonfeed-1.1.schema.json. Exits 1 listing every failure."""

import json
import pathlib
import sys

import feedparser
import jsonschema

SCHEMA = json.loads((pathlib.Path(__file__).parent / "schemas" / "jsonfeed-1.1.schema.json").read_text())


def check_json(path: pathlib.Path) -> list[str]:
    try:
        feed = json.loads(path.read_bytes())
    except ValueError as err:
        return [f"not JSON: {err}"]
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    problems = [f"schema: {e.json_path}: {e.message}" for e in validator.iter_errors(feed)]
    if not feed.get("items"):
        problems.append("feed has no entries")
    return problems


def check(path: pathlib.Path) -> list[str]:
    if path.suffix == ".json":
        return check_json(path)
    problems = []
    parsed = feedparser.parse(path.read_bytes())
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

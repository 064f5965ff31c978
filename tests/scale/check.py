#!/usr/bin/env python3
"""The checks of tests/scale/run, through Varnish in front of two Herald replicas.

Standard library only; every request goes to 127.0.0.1 with a timeout."""

import argparse
import gzip
import http.client
import json
import os
import signal
import statistics
import sys
import threading
import time

EDITED = "conditional-get.md"
TITLE = 'title = "Conditional GET, exactly"'


# The public host: what readers send to the cache, and what Herald purges under.
PUBLIC_HOST = "feeds.example.test"


def request(addr, path, headers=None, method="GET"):
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request(method, path, headers={"Host": PUBLIC_HOST, **(headers or {})})
        r = conn.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


def wait_until(what, f, limit=30.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            value = f()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"FAIL: timed out waiting for {what}")


def decode(headers, body):
    coding = headers.get("content-encoding")
    if coding == "gzip":
        return gzip.decompress(body)
    if coding == "br":
        return None  # the standard library has no brotli; compared by ETag instead
    return body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--varnish", required=True)
    ap.add_argument("--replica", action="append", required=True)
    ap.add_argument("--content", action="append", required=True)
    ap.add_argument("--stop-pid", type=int, required=True)
    args = ap.parse_args()
    v = args.varnish
    failures = []

    def check(ok, message):
        if not ok:
            failures.append(message)
            print("FAIL:", message)

    for r in args.replica:
        wait_until(f"replica {r}", lambda: request(r, "/healthz")[0] == 200)
    wait_until("varnish", lambda: request(v, "/rss.xml")[0] == 200)
    # The probes must see both replicas healthy before the round-robin uses both.
    time.sleep(2.5)

    status, _, body = request(v, "/feeds.json")
    feeds = json.loads(body)["feeds"]
    paths = ["/", "/feeds.json", "/feeds.opml"]
    for f in feeds:
        for key in ("rss", "atom", "json"):
            url = f.get(key) or f.get(f"{key}_url")
            if url:
                paths.append("/" + url.split("://", 1)[1].split("/", 1)[1])
    paths = sorted(set(paths))

    # Replicas agree on every byte and ETag (content copied with other mtimes and order).
    for path in paths:
        for coding in ("identity", "gzip", "br"):
            seen = [request(r, path, {"Accept-Encoding": coding}) for r in args.replica]
            check(len({s[0] for s in seen}) == 1, f"{path} {coding}: replicas differ in status")
            check(len({s[1].get("etag") for s in seen}) == 1, f"{path} {coding}: replicas differ in ETag")
            check(len({s[2] for s in seen}) == 1, f"{path} {coding}: replicas differ in bytes")

    # Hits after the first request; the hit ratio over repeated polls.
    hits = misses = 0
    for _ in range(5):
        for path in paths:
            _, h, _ = request(v, path, {"Accept-Encoding": "gzip"})
            if h.get("x-cache") == "HIT":
                hits += 1
            else:
                misses += 1
    _, h1, _ = request(v, "/rss.xml", {"Accept-Encoding": "gzip"})
    check(h1.get("x-cache") == "HIT", "a repeated request is a cache hit")
    hit_ratio = hits / (hits + misses)

    # Conditional GETs through the cache: 304 with Herald's own ETag.
    _, direct, _ = request(args.replica[0], "/atom.xml", {"Accept-Encoding": "gzip"})
    etag = direct["etag"]
    s, h, b = request(v, "/atom.xml", {"Accept-Encoding": "gzip", "If-None-Match": etag})
    check(s == 304 and h.get("etag") == etag and not b, f"If-None-Match through Varnish: {s} {h.get('etag')} (want 304 {etag})")
    lm = direct.get("last-modified")
    s, _, _ = request(v, "/atom.xml", {"Accept-Encoding": "gzip", "If-Modified-Since": lm})
    check(s == 304, f"If-Modified-Since through Varnish: {s}")

    # Codings never mixed: each request gets the coding it asked for, whatever was cached.
    for path in paths:
        for coding, want in (("gzip", "gzip"), ("identity", None), ("br", "br"), ("gzip, br", "br"), ("", None)):
            s, h, b = request(v, path, {"Accept-Encoding": coding} if coding else {})
            got = h.get("content-encoding")
            if got is not None or want is not None:
                # Tiny bodies are never compressed: identity is always acceptable.
                check(got in (want, None), f"{path} asked {coding!r}: got Content-Encoding {got}")
            if got == "gzip":
                check(gzip.decompress(b)[:1] in (b"<", b"{"), f"{path}: gzip body is gzip")
            if got is None:
                check(b[:1] in (b"<", b"{"), f"{path} asked {coding!r}: identity body is plain")

    # An edit applied to both copies, fresh through the cache within 1 s (max-age=300).
    for _ in range(3):
        request(v, "/rss.xml")  # cached
    marker = f"Edited {int(time.time() * 1000) % 100000}"
    started = time.monotonic()
    for content in args.content:
        p = os.path.join(content, "post", EDITED)
        text = open(p, encoding="utf-8").read()
        assert TITLE in text
        open(p, "w", encoding="utf-8").write(text.replace(TITLE, f'title = "{marker}"'))
    wait_until("the edit through Varnish", lambda: marker.encode() in request(v, "/rss.xml")[2], 10)
    fresh_ms = (time.monotonic() - started) * 1000
    check(fresh_ms <= 1000, f"edit → fresh through the cache took {fresh_ms:.0f} ms (goal ≤ 1000)")
    for coding in ("gzip", "identity"):
        s, h, b = request(v, "/rss.xml", {"Accept-Encoding": coding})
        body = decode(h, b)
        check(marker.encode() in body, f"the {coding} copy is fresh too")

    # One replica stopped while clients keep asking (uncached URLs reach the replicas).
    errors = []
    counts = {"requests": 0}
    stop = threading.Event()

    def client(n):
        i = 0
        while not stop.is_set():
            i += 1
            try:
                s, _, _ = request(v, f"/rss.xml?c={n}-{i}")
                counts["requests"] += 1
                if s >= 500:
                    errors.append(s)
            except OSError as e:
                errors.append(str(e))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1)
    os.kill(args.stop_pid, signal.SIGTERM)
    time.sleep(4)
    stop.set()
    for t in threads:
        t.join(10)
    check(not errors, f"{len(errors)} errors while a replica stopped: {errors[:5]}")

    print()
    print("| figure | value |")
    print("|---|---|")
    print(f"| paths checked (every feed, list and page) | {len(paths)} |")
    print(f"| edit → fresh through Varnish (both replicas purge) | {fresh_ms:.0f} ms (goal ≤ 1000) |")
    print(f"| hit ratio, 5 polls of every path | {hit_ratio:.2f} ({hits} hits, {misses} misses) |")
    print(f"| 5xx during a replica stop | {len(errors)} of {counts['requests']} requests |")
    if failures:
        sys.exit(f"{len(failures)} checks failed")
    print("scale: all checks passed")


if __name__ == "__main__":
    main()

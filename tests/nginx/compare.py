#!/usr/bin/env python3
"""Compares nginx serving a `herald build` folder (deploy/nginx/herald.conf) with
`herald serve` on the same content. Called by tests/nginx/run; standard library only.

Exits 1 listing every difference."""

import argparse
import http.client
import json
import os
import sys
import time

CODINGS = {"identity": "identity", "gzip": "gzip", "br": "br"}
COMPARED = ["content-type", "cache-control", "vary", "content-encoding", "last-modified", "location"]
TIMEOUT = 10
REQUESTS = [0]


def get(addr, path, headers=None, method="GET"):
    REQUESTS[0] += 1
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        # Header names in lower case; a repeated header joined, so a duplicate shows.
        h = {}
        for k, v in r.getheaders():
            k = k.lower()
            h[k] = v if k not in h else h[k] + " | " + v
        return r.status, h, body
    finally:
        conn.close()


def wait_up(addr, path, deadline):
    while True:
        try:
            status, _, _ = get(addr, path)
            if status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"{addr} did not answer {path} in time")
        time.sleep(0.1)


def built_paths(out):
    """URL path -> (codings with a sibling file) for every file of the build."""
    paths = {}
    for folder, dirs, files in os.walk(out):
        dirs[:] = sorted(d for d in dirs if d != ".herald")
        for name in sorted(files):
            if name.endswith((".gz", ".br")):
                continue
            rel = os.path.relpath(os.path.join(folder, name), out)
            url = "/" + rel
            if name == "index.html":
                url = url[: -len("index.html")]
            codings = {"identity"}
            for ext, coding in ((".gz", "gzip"), (".br", "br")):
                if os.path.exists(os.path.join(folder, name + ext)):
                    codings.add(coding)
            paths[url] = codings
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nginx", required=True)
    ap.add_argument("--serve", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--copy", required=True)
    ap.add_argument("--brotli", choices=["yes", "no"], default="yes")
    args = ap.parse_args()
    codings = ["identity", "gzip"] + (["br"] if args.brotli == "yes" else [])
    problems = []

    def problem(text):
        problems.append(text)
        print("DIFF", text)

    deadline = time.monotonic() + 30
    wait_up(args.nginx, "/rss.xml", deadline)
    wait_up(args.serve, "/rss.xml", deadline)

    paths = built_paths(args.out)
    # The two really are nginx and Herald (a test comparing a server with itself proves nothing).
    if not get(args.nginx, "/rss.xml")[1].get("server", "").startswith("nginx"):
        problem(f"{args.nginx} is not nginx")
    if get(args.serve, "/rss.xml")[1].get("server", "").startswith("nginx"):
        problem(f"{args.serve} is not herald serve")
    # Every feed /feeds.json lists is in the build (and so compared below).
    _, _, listed = get(args.serve, "/feeds.json")
    for feed in json.loads(listed)["feeds"]:
        for key in ("rss", "atom", "json"):
            p = "/" + feed[key].split("/", 3)[3]
            if p not in paths:
                problem(f"{p}: listed in /feeds.json but not built")

    # serve compresses in the background after start: wait until it offers every coding
    # the build wrote, then compare strictly.
    while True:
        pending = [
            (p, c)
            for p, have in paths.items()
            for c in codings
            if c != "identity" and c in have
            and get(args.serve, p, {"Accept-Encoding": c})[1].get("content-encoding") != c
        ]
        if not pending:
            break
        if time.monotonic() > deadline + 30:
            problem(f"serve never offered {pending[:5]} (the build wrote them)")
            break
        time.sleep(0.2)

    compared = 0
    nginx_etags = {}
    for path in sorted(paths):
        for coding in codings:
            req = {"Accept-Encoding": coding}
            n = get(args.nginx, path, req)
            s = get(args.serve, path, req)
            compared += 1
            where = f"{path} [{coding}]"
            if n[0] != s[0]:
                problem(f"{where}: status nginx {n[0]}, serve {s[0]}")
                continue
            if n[2] != s[2]:
                problem(f"{where}: bodies differ ({len(n[2])} vs {len(s[2])} bytes)")
            for h in COMPARED + ["content-length"]:
                if n[1].get(h) != s[1].get(h):
                    problem(f"{where}: {h}: nginx {n[1].get(h)!r}, serve {s[1].get(h)!r}")
            etag = n[1].get("etag")
            if not etag:
                problem(f"{where}: nginx sent no ETag")
                continue
            nginx_etags[(path, coding)] = etag
            # Conditional GETs: nginx with its own ETag, both with Last-Modified.
            for name, cond in (
                ("If-None-Match", {"If-None-Match": etag}),
                ("If-Modified-Since", {"If-Modified-Since": s[1].get("last-modified", "")}),
            ):
                n304 = get(args.nginx, path, {**req, **cond})
                s304 = get(args.serve, path, {**req, **cond}) if name != "If-None-Match" else None
                if n304[0] != 304:
                    problem(f"{where}: nginx {name} → {n304[0]}, not 304")
                if n304[2]:
                    problem(f"{where}: nginx 304 has a body")
                if s304 is not None:
                    if s304[0] != 304:
                        problem(f"{where}: serve {name} → {s304[0]}, not 304")
                    for h in ("cache-control", "vary", "last-modified", "content-type", "content-encoding"):
                        if n304[1].get(h) != s304[1].get(h):
                            problem(f"{where}: 304 {h}: nginx {n304[1].get(h)!r}, serve {s304[1].get(h)!r}")
            stale = get(args.nginx, path, {**req, "If-None-Match": '"not-this-one"'})
            if stale[0] != 200:
                problem(f"{where}: nginx answers a stale If-None-Match with {stale[0]}")
        # Each coding has its own ETag: a cache never matches one against another, and a
        # tag of one coding does not make a 304 for another.
        tags = [nginx_etags.get((path, c)) for c in codings if c in paths[path]]
        if len(set(tags)) != len(tags):
            problem(f"{path}: nginx gives two codings one ETag: {tags}")
        if "gzip" in paths[path] and nginx_etags.get((path, "identity")):
            other = get(args.nginx, path, {"Accept-Encoding": "gzip", "If-None-Match": nginx_etags[(path, "identity")]})
            if other[0] != 200 or other[1].get("content-encoding") != "gzip":
                problem(f"{path}: the identity ETag answered a gzip request with {other[0]}")
        # HEAD: the GET headers, no body.
        n, s = get(args.nginx, path, {"Accept-Encoding": "gzip"}, "HEAD"), get(args.serve, path, {"Accept-Encoding": "gzip"}, "HEAD")
        for h in COMPARED + ["content-length"]:
            if n[1].get(h) != s[1].get(h):
                problem(f"{path} HEAD: {h}: nginx {n[1].get(h)!r}, serve {s[1].get(h)!r}")
        if n[0] != s[0] or n[2] or s[2]:
            problem(f"{path} HEAD: {n[0]}/{s[0]}, bodies {len(n[2])}/{len(s[2])} bytes")
    # Browsers' Accept-Encoding: br preferred, as in serve.
    for path in ("/rss.xml", "/"):
        ae = {"Accept-Encoding": "gzip, deflate, br" if args.brotli == "yes" else "gzip, deflate"}
        n, s = get(args.nginx, path, ae), get(args.serve, path, ae)
        compared += 1
        if (n[1].get("content-encoding"), n[2]) != (s[1].get("content-encoding"), s[2]):
            problem(f"{path} [{ae['Accept-Encoding']}]: nginx {n[1].get('content-encoding')}, serve {s[1].get('content-encoding')}")

    # Moves and misses: statuses, Location, Cache-Control, and the text of 404 and 410.
    others = [
        "/categories/wearable/rss.xml",
        "/categories/wearable/atom.xml?utm_source=x",
        "/categories/wearable/",
        "/old/rss.xml",
        "/old/rss.xml?x=1",
        "/old/rss.xml.bak",
        "/categories/web/rss.xml",
        "/categories/medical-devices/rss.xml",
        "/categories/medical-devices/",
        "/legacy.xml",
        "/legacy.xml/more",
        "/nope",
        "/categories",
        "/categories/",
        "/categories/rust",
        "/index.html",
        "/categories/rust/index.html",
        "/rss.xml.gz",
        "/rss.xml.br",
        "/.herald/nginx-moves.conf",
    ]
    statuses = {}
    for path in others:
        n, s = get(args.nginx, path), get(args.serve, path)
        compared += 1
        statuses[path] = s[0]
        if n[0] != s[0]:
            problem(f"{path}: status nginx {n[0]}, serve {s[0]}")
            continue
        for h in ("location", "cache-control") + (() if s[0] == 301 else ("content-type",)):
            if n[1].get(h) != s[1].get(h):
                problem(f"{path}: {h}: nginx {n[1].get(h)!r}, serve {s[1].get(h)!r}")
        if s[0] != 301 and n[2] != s[2]:
            problem(f"{path}: bodies differ: nginx {n[2][:80]!r}, serve {s[2][:80]!r}")
    # The fixture's moves did what the config says (so the comparison above means something).
    expect = {
        "/categories/wearable/atom.xml?utm_source=x": 301,
        "/old/rss.xml": 301,
        "/categories/web/rss.xml": 200,
        "/categories/medical-devices/rss.xml": 410,
        "/legacy.xml": 410,
        "/nope": 404,
    }
    for path, status in expect.items():
        if statuses.get(path) != status:
            problem(f"{path}: serve answered {statuses.get(path)}, the fixture expects {status}")

    # A build of a copy of the content (other mtimes): the same mtimes and sizes, so nginx
    # on either replica sends the same ETags.
    copy = built_paths(args.copy)
    if copy != paths:
        problem("the copy's build has other files")
    for folder, _, files in os.walk(args.out):
        for name in files:
            a = os.path.join(folder, name)
            b = os.path.join(args.copy, os.path.relpath(a, args.out))
            sa, sb = os.stat(a), os.stat(b)
            if (sa.st_mtime_ns, sa.st_size) != (sb.st_mtime_ns, sb.st_size):
                problem(f"{os.path.relpath(a, args.out)}: mtime/size differ between the builds")
            with open(a, "rb") as fa, open(b, "rb") as fb:
                if fa.read() != fb.read():
                    problem(f"{os.path.relpath(a, args.out)}: bytes differ between the builds")

    print(f"compared {compared} responses of nginx and serve over {len(paths)} paths x {len(codings)} codings "
          f"(+ conditional, HEAD and moved paths; {REQUESTS[0]} requests in all); "
          f"brotli_static: {args.brotli}; {len(problems)} differences")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

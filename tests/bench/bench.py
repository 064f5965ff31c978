#!/usr/bin/env python3
"""Herald's benchmark driver. Run it through tests/bench/run, which installs the tools,
builds herald and passes the paths below.

Three measurements, each against the tool an operator would otherwise use:
  cold build     `herald build` vs `hugo` on the same corpus (runs alternate A B A B):
                 medians of wall and CPU (user+sys) time, peak RSS from /usr/bin/time -v.
  edit -> served `herald serve` on each corpus: one post of the global feed is rewritten
                 many times; each sample runs from just before the write until a GET of
                 /rss.xml on a keep-alive connection (polled with If-None-Match) returns a
                 new ETag. Also the cold start (spawn -> first 200) and the server's peak RSS.
  HTTP           the global RSS feed (50 items, full content) served by herald and by nginx
                 (etag on, gzip_static on, serving herald build's output, so the bytes are
                 identical), wrk -t1 -c50: identity GET, gzip GET, If-None-Match -> 304,
                 If-Modified-Since -> 304; runs alternate A B A B.
Every figure printed is a median. Only loopback traffic; every run is bounded in time.
"""

import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

BASE_URL = "https://feeds.example.org/"
FEED = "/rss.xml"


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def percentile(xs, p):
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


# ---------------------------------------------------------------- corpora and configs


def corpus(args, n):
    """The corpus of n posts (generated once, kept in the work dir), laid out as a Hugo site
    with a Herald config beside it."""
    site = os.path.join(args.work, f"site-{n}")
    stamp = os.path.join(site, ".generated")
    if not os.path.exists(stamp):
        shutil.rmtree(site, ignore_errors=True)
        log(f"generating {n} posts")
        subprocess.run([sys.executable, args.gen, "--n", str(n), "--out", site], check=True)
        open(stamp, "w").close()
    shutil.copy(args.hugo_config, os.path.join(site, "config.toml"))
    layouts = os.path.join(site, "layouts")
    shutil.rmtree(layouts, ignore_errors=True)
    shutil.copytree(args.hugo_layouts, layouts)
    with open(os.path.join(site, "herald.yaml"), "w") as f:
        f.write(
            "content_dir: content\n"
            f"base_url: {BASE_URL}\n"
            "listen: 127.0.0.1:0\n"
            "title: Bench Feeds\n"
            "items_per_feed: 50\n"
            "taxonomies: [categories]\n"
            "watch: notify\n"
            "watch_debounce_ms: 5\n"
            "rescan_interval_secs: 0\n"
        )
    return site


# ---------------------------------------------------------------- cold build


def timed(cmd, env=None, timeout=900):
    """Runs cmd under /usr/bin/time -v: (wall s, cpu s, peak RSS KiB)."""
    t0 = time.perf_counter()
    r = subprocess.run(
        ["/usr/bin/time", "-v"] + cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        timeout=timeout,
    )
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{r.stderr[-3000:]}")

    def field(name):
        m = re.search(rf"{re.escape(name)}: ([0-9.]+)", r.stderr)
        return float(m.group(1)) if m else float("nan")

    cpu = field("User time (seconds)") + field("System time (seconds)")
    return wall, cpu, field("Maximum resident set size (kbytes)")


def cold_build(args, n, site, runs):
    out_herald = os.path.join(args.work, f"out-herald-{n}")
    out_hugo = os.path.join(args.work, f"out-hugo-{n}")
    env = dict(os.environ, RUST_LOG="warn", HUGO_CACHEDIR=os.path.join(args.work, "hugo-cache"))
    cmds = {
        "herald": [args.herald, "build", "--config", os.path.join(site, "herald.yaml"), "--out", out_herald],
        "hugo": ["hugo", "--quiet", "--source", site, "--destination", out_hugo],
    }
    res = {"herald": [], "hugo": []}
    for i in range(runs):
        for tool in ("herald", "hugo"):  # A B A B
            if args.no_hugo and tool == "hugo":
                continue
            shutil.rmtree(out_herald if tool == "herald" else out_hugo, ignore_errors=True)
            res[tool].append(timed(cmds[tool], env=env))
            w, c, m = res[tool][-1]
            log(f"build {n}: {tool} run {i + 1}/{runs}: {w:.3f} s wall, {c:.3f} s CPU, {m / 1024:.0f} MiB")
    summary = {}
    for tool, rows in res.items():
        if rows:
            summary[tool] = {
                "wall": median([r[0] for r in rows]),
                "cpu": median([r[1] for r in rows]),
                "rss_kib": median([r[2] for r in rows]),
                "runs": len(rows),
            }
    return summary, out_herald


# ---------------------------------------------------------------- herald serve


class Server:
    """herald serve on a free loopback port; stopped with SIGTERM."""

    def __init__(self, args, site):
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [args.herald, "serve", "--config", os.path.join(site, "herald.yaml"), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=open(os.path.join(args.work, "serve.log"), "a"),
            text=True,
            env=dict(os.environ, RUST_LOG="warn"),
        )
        self.port = None
        deadline = time.time() + 300
        for line in self.proc.stdout:
            m = re.search(r"on http://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
                break
            if time.time() > deadline:
                break
        if self.port is None:
            self.stop()
            sys.exit("bench: herald serve did not start (see serve.log in the work dir)")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while True:
            c.request("GET", FEED)
            r = c.getresponse()
            r.read()
            if r.status == 200:
                break
        self.cold_start = time.perf_counter() - self.t0
        c.close()

    def cpu_s(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, limit_s=120):
        """Waits until the server's background work (compressing the first snapshot's gzip
        and brotli variants) is done: less than 20 ms of CPU over half a second."""
        t0 = time.perf_counter()
        last = self.cpu_s()
        while time.perf_counter() - t0 < limit_s:
            time.sleep(0.5)
            now = self.cpu_s()
            if now - last < 0.02:
                break
            last = now
        self.settle_s = time.perf_counter() - t0

    def peak_rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
        return float(m.group(1)) if m else float("nan")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def head_post(site, port):
    """The source file of the newest item of the global feed (editing it changes that feed)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/feed.json")
    feed = json.loads(c.getresponse().read())
    c.close()
    item_id = feed["items"][0]["id"]  # the permalink: <base>post/<slug>/
    slug = item_id.rstrip("/").rsplit("/", 1)[-1]
    path = os.path.join(site, "content", "post", slug + ".md")
    if not os.path.exists(path):
        sys.exit(f"bench: cannot find the source of {item_id} ({path})")
    return path


def edit_to_served(args, n, site, edits):
    srv = Server(args, site)
    try:
        srv.wait_idle()
        path = head_post(site, srv.port)
        with open(path, "rb") as f:
            original = f.read()
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)

        def current():
            """(identity ETag, gzip ETag) now; waits until gzip is offered."""
            end = time.perf_counter() + 10
            while True:
                c.request("GET", FEED, headers={"Accept-Encoding": "gzip"})
                r = c.getresponse()
                r.read()
                if r.getheader("Content-Encoding") == "gzip" or time.perf_counter() > end:
                    gz = r.getheader("ETag")
                    break
                time.sleep(0.001)
            c.request("GET", FEED)
            r = c.getresponse()
            r.read()
            return r.getheader("ETag"), gz

        def wait_new(old, t0, deadline_s=5.0):
            """Polls as a gzip-capable reader would, with the tags it holds. Returns the time
            until new content was served in any coding, and until it was served gzipped."""
            old_id, old_gz = old
            inm = f"{old_id}, {old_gz}"
            content = None
            end = t0 + deadline_s
            while time.perf_counter() < end:
                c.request("GET", FEED, headers={"Accept-Encoding": "gzip", "If-None-Match": inm})
                r = c.getresponse()
                r.read()
                if r.status == 200:
                    now = time.perf_counter() - t0
                    if content is None:
                        content = now
                    if r.getheader("Content-Encoding") == "gzip":
                        return content, now
                time.sleep(args.poll_interval)
            return content, None

        samples, gz_samples, timeouts = [], [], 0
        old = current()
        for i in range(edits):
            text = original + f"\nBenchmark edit {i}.\n".encode()
            t0 = time.perf_counter()
            with open(path, "wb") as f:
                f.write(text)
            content, gz = wait_new(old, t0)
            if content is None or gz is None:
                timeouts += 1
            else:
                samples.append(content)
                gz_samples.append(gz)
            time.sleep(args.edit_gap)
            old = current()
        with open(path, "wb") as f:
            f.write(original)
        wait_new(old, time.perf_counter())
        c.close()
        result = {
            "median_ms": median(samples) * 1e3,
            "p99_ms": percentile(samples, 99) * 1e3,
            "max_ms": max(samples) * 1e3 if samples else float("nan"),
            "gzip_median_ms": median(gz_samples) * 1e3,
            "gzip_p99_ms": percentile(gz_samples, 99) * 1e3,
            "edits": len(samples),
            "timeouts": timeouts,
            "cold_start_s": srv.cold_start,
            "compressed_after_s": srv.cold_start + srv.settle_s,
            "peak_rss_kib": srv.peak_rss_kib(),
        }
        log(
            f"edit->served {n}: median {result['median_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms; "
            f"gzip median {result['gzip_median_ms']:.1f} ms, p99 {result['gzip_p99_ms']:.1f} ms "
            f"({len(samples)} edits, {timeouts} timeouts), cold start {srv.cold_start:.2f} s, "
            f"peak {result['peak_rss_kib'] / 1024:.0f} MiB"
        )
        return result
    finally:
        srv.stop()


# ---------------------------------------------------------------- HTTP vs nginx


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self, args, root):
        self.dir = os.path.join(args.work, "nginx")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(os.path.join(self.dir, "logs"))
        self.port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        user = "user root;\n" if os.geteuid() == 0 else ""
        with open(conf, "w") as f:
            f.write(
                f"""# Written by tests/bench/bench.py for one benchmark run.
{user}worker_processes auto;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {self.dir}/client_body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    types {{
        application/rss+xml xml;
        application/feed+json json;
        text/html html;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        root {root};
        etag on;
        gzip_static on;
    }}
}}
"""
            )
        self.proc = subprocess.Popen(
            ["nginx", "-p", self.dir, "-e", os.path.join(self.dir, "logs", "error.log"), "-c", conf],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        sys.exit(f"bench: nginx did not start (see {self.dir}/logs/error.log)")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def fetch(port, headers):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", FEED, headers=headers)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def wrk(port, headers, seconds):
    cmd = ["wrk", "-t1", "-c50", f"-d{seconds}s", "--timeout", "5s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(f"http://127.0.0.1:{port}{FEED}")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"Requests/sec:\s+([0-9.]+)", r.stdout)
    if r.returncode != 0 or not m:
        sys.exit(f"bench: wrk failed:\n{r.stdout}\n{r.stderr}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    errors = re.search(r"Socket errors: (.*)", r.stdout)
    if bad or errors:
        log(f"wrk on port {port}: {bad.group(0) if bad else ''} {errors.group(0) if errors else ''}")
    return float(m.group(1))


def http_bench(args, site, out_herald, rounds, seconds):
    srv = Server(args, site)
    ngx = Nginx(args, out_herald)
    try:
        srv.wait_idle()
        servers = {"herald": srv.port, "nginx": ngx.port}
        ident = {name: fetch(port, {}) for name, port in servers.items()}
        gz = {name: fetch(port, {"Accept-Encoding": "gzip"}) for name, port in servers.items()}
        if ident["herald"][2] != ident["nginx"][2]:
            log("WARNING: herald and nginx serve different identity bytes")
        if gz["herald"][2] != gz["nginx"][2]:
            log("WARNING: herald and nginx serve different gzip bytes")
        for name, (status, h, _) in gz.items():
            if h.get("content-encoding") != "gzip":
                log(f"WARNING: {name} did not answer gzip to Accept-Encoding: gzip")
        kinds = {
            "identity GET": lambda name: {},
            "gzip GET": lambda name: {"Accept-Encoding": "gzip"},
            "If-None-Match → 304": lambda name: {"If-None-Match": ident[name][1]["etag"]},
            "If-Modified-Since → 304": lambda name: {"If-Modified-Since": ident[name][1]["last-modified"]},
        }
        for kind, hdrs in kinds.items():
            for name, port in servers.items():
                status = fetch(port, hdrs(name))[0]
                want = 304 if "304" in kind else 200
                if status != want:
                    log(f"WARNING: {name} answered {status} to {kind}")
        res = {k: {"herald": [], "nginx": []} for k in kinds}
        for i in range(rounds):
            for kind, hdrs in kinds.items():
                for name, port in servers.items():  # A B A B
                    rps = wrk(port, hdrs(name), seconds)
                    res[kind][name].append(rps)
                    log(f"http round {i + 1}/{rounds}: {kind}: {name} {rps:,.0f} req/s")
        summary = {
            kind: {name: median(v) for name, v in by.items()} for kind, by in res.items()
        }
        return summary, len(ident["herald"][2]), len(gz["herald"][2])
    finally:
        ngx.stop()
        srv.stop()


# ---------------------------------------------------------------- report


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model}"


def version(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (r.stdout.strip() or r.stderr.strip()).splitlines()[0]
    except Exception:
        return "?"


def fmt_s(s):
    return f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.2f} s"


def mib(kib):
    return f"{kib / 1024:.0f} MiB"


def report(args, builds, edits, http_res):
    rows = []
    for n, b in builds.items():
        h, g = b.get("herald"), b.get("hugo")
        if not h:
            continue
        target = {1000: "", 10000: "≥ 10", 100000: "≥ 15"}.get(n, "")
        mem_target = "≤ 0.10" if n == 100000 else ""
        if g:
            rows.append((f"cold build {n:,}: wall", fmt_s(h["wall"]), fmt_s(g["wall"]), f"Hugo/Herald {g['wall'] / h['wall']:.2f}", target))
            rows.append((f"cold build {n:,}: CPU", fmt_s(h["cpu"]), fmt_s(g["cpu"]), f"Hugo/Herald {g['cpu'] / h['cpu']:.2f}", ""))
            rows.append((f"cold build {n:,}: peak RSS", mib(h["rss_kib"]), mib(g["rss_kib"]), f"Herald/Hugo {h['rss_kib'] / g['rss_kib']:.2f}", mem_target))
        else:
            rows.append((f"cold build {n:,}: wall / CPU / RSS", f"{fmt_s(h['wall'])} / {fmt_s(h['cpu'])} / {mib(h['rss_kib'])}", "", "", ""))
    for n, e in edits.items():
        rows.append((f"edit → served {n:,}: median / p99", f"{e['median_ms']:.1f} / {e['p99_ms']:.1f} ms", "", f"{e['edits']} edits" + (f", {e['timeouts']} timed out" if e["timeouts"] else ""), "≤ 25 ms" if n >= 10000 else ""))
        rows.append((f"edit → served gzipped {n:,}: median / p99", f"{e['gzip_median_ms']:.1f} / {e['gzip_p99_ms']:.1f} ms", "", "", ""))
        rows.append((f"serve {n:,}: cold start / peak RSS", f"{fmt_s(e['cold_start_s'])} / {mib(e['peak_rss_kib'])}", "", f"all codings after {fmt_s(e['compressed_after_s'])}", ""))
    if http_res:
        summary, ident_len, gz_len = http_res
        for kind, by in summary.items():
            rows.append((f"HTTP {kind} (req/s)", f"{by['herald']:,.0f}", f"{by['nginx']:,.0f}", f"Herald/nginx {by['herald'] / by['nginx']:.2f}", "≥ 1.00"))
    head = ("measure", "Herald", "Hugo / nginx", "ratio", "target")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(5)]

    def line(r):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"

    out = [
        f"Herald benchmark, {datetime.date.today().isoformat()}, {machine()}",
        f"{version(['hugo', 'version'])}; {version(['nginx', '-v'])}" if not args.no_hugo else "",
    ]
    if http_res:
        out.append(f"HTTP: {FEED} of the {args.http_size:,}-post corpus, {ident_len:,} bytes ({gz_len:,} gzip), wrk -t1 -c50 -d{args.wrk_seconds}s, {args.http_rounds} rounds A B A B")
    out.append("Figures are medians.")
    out.append("")
    out.append(line(head))
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out += [line(r) for r in rows]
    return "\n".join(x for x in out if x is not None)


def main():
    ap = argparse.ArgumentParser(description="Herald benchmark (run via tests/bench/run)")
    ap.add_argument("--herald", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--hugo-config", required=True)
    ap.add_argument("--hugo-layouts", required=True)
    ap.add_argument("--quick", action="store_true", help="1k and 10k posts, fewer runs")
    ap.add_argument("--sizes", help="comma-separated corpus sizes (default 1000,10000,100000)")
    ap.add_argument("--runs", type=int, help="cold-build runs per tool and size")
    ap.add_argument("--edits", type=int, help="edits per corpus for edit -> served")
    ap.add_argument("--only", default="build,edit,http", help="subset of build,edit,http")
    ap.add_argument("--no-hugo", action="store_true", help="skip Hugo in the cold build")
    ap.add_argument("--work", default=os.environ.get("HERALD_BENCH_DIR", "/tmp/herald-bench"),
                    help="work dir for corpora and outputs (default $HERALD_BENCH_DIR or /tmp/herald-bench)")
    ap.add_argument("--poll-interval", type=float, default=0.0002, help="seconds between polls of the feed")
    ap.add_argument("--edit-gap", type=float, default=0.1, help="seconds between edits")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([1000, 10000] if args.quick else [1000, 10000, 100000])
    runs = args.runs or (3 if args.quick else 5)
    edits = args.edits or (20 if args.quick else 50)
    args.http_rounds = 2 if args.quick else 3
    args.wrk_seconds = 5 if args.quick else 10
    args.http_size = 10000 if 10000 in sizes else max(sizes)
    only = set(args.only.split(","))
    os.makedirs(args.work, exist_ok=True)
    args.work = os.path.abspath(args.work)

    builds, edit_res, http_res = {}, {}, None
    outs = {}
    for n in sizes:
        site = corpus(args, n)
        if "build" in only or ("http" in only and n == args.http_size):
            r = runs if "build" in only else 1
            # At 100k Hugo takes ~20 s a run: fewer runs keep the whole benchmark bounded.
            if n >= 100000 and not args.runs:
                r = min(r, 3)
            builds[n], outs[n] = cold_build(args, n, site, r)
        if "edit" in only:
            edit_res[n] = edit_to_served(args, n, site, edits)
    if "http" in only:
        http_res = http_bench(args, corpus(args, args.http_size), outs[args.http_size], args.http_rounds, args.wrk_seconds)
    if "build" not in only:
        builds = {}
    table = report(args, builds, edit_res, http_res)
    with open(os.path.join(args.work, "results.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump({"builds": builds, "edits": edit_res, "http": http_res[0] if http_res else None}, f, indent=1)
    print()
    print(table)


if __name__ == "__main__":
    main()

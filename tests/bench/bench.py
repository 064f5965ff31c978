#!/usr/bin/env python3
"""Herald's benchmark driver. Run it through tests/bench/run, which installs the tools,
builds herald and passes the paths below. It prints every row of the engine issue's speed
table: Herald, the anchor, the ratio, the goal and whether it is met.

Groups of rows (--only build,start,edit,http,load,push):
  build  `herald build` vs `hugo` on the same corpus (runs alternate A B A B): medians of
         wall and CPU (user+sys) time, peak RSS from /usr/bin/time -v.
  start  `herald serve` with a state_dir and NOTIFY_SOCKET set to a datagram socket opened
         here, started twice: first with an empty state dir (cold), then again (warm: the
         snapshot the first run stored is served while the content loads): spawn ->
         READY=1, spawn -> first 200 on /rss.xml, VmRSS once idle, VmHWM; vs `hugo server`
         (from memory, no live reload, no fast render): spawn -> first 200 on /index.xml.
  edit   one post of the global feed is rewritten many times; each sample runs from just
         before the write until a GET of /rss.xml on a keep-alive connection (polled with
         If-None-Match, the old identity/gzip/br tags) returns new content, and until it does
         so gzip-encoded and br-encoded. vs `hugo server`, polling /index.xml for the edit.
  http   the global RSS feed (50 items, full content) served by herald and by nginx
         (etag on, gzip_static on, serving herald build's output, so the bytes are
         identical), wrk -t1 -c50: identity GET, gzip GET, If-None-Match -> 304,
         If-Modified-Since -> 304; runs alternate A B A B.
  load   GET /rss.xml latency (wrk -t1 -c50 in back-to-back 1 s runs, quantiles merged over
         the runs overlapping the work) while herald serve (a) reloads on SIGHUP, (b) rescans
         its content dir (swapped atomically with a hard-linked twin), (c) sees a folder of
         20,000 posts deleted; the anchor is the same client against the idle server.
  push   WebSub: herald serve with its built-in hub (on the smallest corpus) and 1, then
         1,000 subscribers of /rss.xml played by a threaded HTTP server here (each callback
         answers the verification and records each delivery); one post of the feed is
         rewritten again and again, each sample running from just before the write until
         the (last) callback has received the new feed: median and p99 with 1 subscriber,
         and until all 1,000 have it.
Only loopback traffic; every run is bounded in time; nothing asserts on time.
"""

import argparse
import ctypes
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


class Notify:
    """A stand-in for systemd's notification socket: a unix datagram socket whose path is
    passed to the child as NOTIFY_SOCKET. Every datagram is kept with its arrival time."""

    def __init__(self, work):
        self.path = os.path.join(work, f"notify-{os.getpid()}-{id(self)}.sock")
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []  # (perf_counter, {key: value})
        self.cond = threading.Condition()
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.perf_counter()
            fields = dict(line.split("=", 1) for line in data.decode("utf-8", "replace").splitlines() if "=" in line)
            with self.cond:
                self.messages.append((now, fields))
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.messages)

    def wait(self, pred, since=0, timeout=60.0):
        """The first message at index >= since that satisfies pred: (time, fields, index), or None."""
        end = time.perf_counter() + timeout
        i = since
        with self.cond:
            while True:
                while i < len(self.messages):
                    t, f = self.messages[i]
                    if pred(f):
                        return t, f, i
                    i += 1
                left = end - time.perf_counter()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def close(self):
        self.closed = True
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def status_posts(fields):
    """The post count of a STATUS= line ("12 posts, 9 feeds, ..."), or None."""
    m = re.match(r"(\d+) posts,", fields.get("STATUS", ""))
    return int(m.group(1)) if m else None


class Server:
    """herald serve on a free loopback port, with a notify socket; stopped with SIGTERM.
    Records the time from spawn to READY=1 and to the first 200 on /rss.xml."""

    def __init__(self, args, site, config=None):
        self.notify = Notify(args.work)
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [args.herald, "serve", "--config", config or os.path.join(site, "herald.yaml"), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=open(os.path.join(args.work, "serve.log"), "a"),
            text=True,
            env=dict(os.environ, RUST_LOG="warn", NOTIFY_SOCKET=self.notify.path),
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
        ready = self.notify.wait(lambda f: f.get("READY") == "1", timeout=60)
        self.ready_s = ready[0] - self.t0 if ready else float("nan")
        self.posts = status_posts(ready[1]) if ready else None

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

    def rss_kib(self, key="VmRSS"):
        return proc_rss_kib(self.proc.pid, key)

    def peak_rss_kib(self):
        return self.rss_kib("VmHWM")

    def metric(self, name):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
        m = re.search(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? ([0-9.e+]+)$", text, re.M)
        return float(m.group(1)) if m else float("nan")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.notify.close()


def proc_rss_kib(pid, key="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(rf"{key}:\s+(\d+) kB", f.read())
        return float(m.group(1)) if m else float("nan")
    except OSError:
        return float("nan")


def head_post(site, port):
    """The source file of the newest item of the global feed (editing it changes that feed)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/feed.json")
    feed = json.loads(c.getresponse().read())
    c.close()
    item_id = feed["items"][0]["id"]  # the permalink: <base>post/<slug>/
    return post_source(site, item_id)


def post_source(site, permalink):
    slug = permalink.rstrip("/").rsplit("/", 1)[-1]
    path = os.path.join(site, "content", "post", slug + ".md")
    if not os.path.exists(path):
        sys.exit(f"bench: cannot find the source of {permalink} ({path})")
    return path


def serve_herald(args, n, site, edits):
    """herald serve with a state_dir (as the shipped unit has): the first start (cold: an
    empty state dir) and a restart (warm: the snapshot the first one stored is served while
    the content loads), each as READY, first 200 and RSS once idle; then edit -> served on
    the restarted one."""
    config = os.path.join(site, "herald-serve.yaml")
    with open(os.path.join(site, "herald.yaml")) as f:
        base = f.read()
    state = os.path.join(args.work, "serve-state")
    shutil.rmtree(state, ignore_errors=True)
    with open(config, "w") as f:
        f.write(base + f"state_dir: {state}\n")
    srv = Server(args, site, config)
    try:
        srv.wait_idle()
        result = {
            "ready_s": srv.ready_s,
            "first_200_s": srv.cold_start,
            "compressed_after_s": srv.cold_start + srv.settle_s,
            "steady_rss_kib": srv.rss_kib(),
            "peak_rss_kib": srv.peak_rss_kib(),
            "posts": srv.posts,
        }
    finally:
        srv.stop()
    srv = Server(args, site, config)
    try:
        result["warm_ready_s"] = srv.ready_s
        result["warm_first_200_s"] = srv.cold_start
        result["warm_ready_rss_kib"] = srv.rss_kib()
        while True:  # until the content is loaded and its snapshot replaced the stored one
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            c.request("GET", "/healthz")
            health = json.loads(c.getresponse().read())
            c.close()
            if not health.get("loading"):
                break
            time.sleep(0.02)
        result["warm_loaded_s"] = time.perf_counter() - srv.t0
        srv.wait_idle()
        result["warm_steady_rss_kib"] = srv.rss_kib()
        result["warm_peak_rss_kib"] = srv.peak_rss_kib()
        log(f"serve {n}: cold READY after {result['ready_s']:.2f} s, first 200 after {result['first_200_s']:.2f} s, "
            f"steady RSS {result['steady_rss_kib'] / 1024:.0f} MiB; warm READY after {srv.ready_s:.2f} s, "
            f"first 200 after {srv.cold_start:.2f} s, loaded after {result['warm_loaded_s']:.2f} s, "
            f"steady RSS {result['warm_steady_rss_kib'] / 1024:.0f} MiB")
        if edits:
            result.update(edit_to_served(args, n, site, srv, edits))
            result["warm_peak_rss_kib"] = srv.peak_rss_kib()
        return result
    finally:
        srv.stop()


def edit_to_served(args, n, site, srv, edits):
    path = head_post(site, srv.port)
    with open(path, "rb") as f:
        original = f.read()
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)

    def tag(coding):
        """The ETag of /rss.xml in this coding, once it is offered (waits up to 10 s)."""
        end = time.perf_counter() + 10
        while True:
            c.request("GET", FEED, headers={"Accept-Encoding": coding} if coding else {})
            r = c.getresponse()
            r.read()
            if not coding or r.getheader("Content-Encoding") == coding or time.perf_counter() > end:
                return r.getheader("ETag")
            time.sleep(0.001)

    def current():
        return [tag(None), tag("gzip"), tag("br")]

    def wait_new(old, t0, deadline_s=5.0):
        """Polls as a reader holding the old tags would, alternately asking for gzip and
        for br. Returns the times until new content was served in any coding, gzipped,
        and brotli-compressed (None: not within the deadline)."""
        inm = ", ".join(t for t in old if t)
        got = {"any": None, "gzip": None, "br": None}
        end = t0 + deadline_s
        k = 0
        while time.perf_counter() < end and (got["gzip"] is None or got["br"] is None):
            want = ("gzip", "br")[k % 2]
            k += 1
            if got[want] is not None:
                want = "br" if want == "gzip" else "gzip"
            c.request("GET", FEED, headers={"Accept-Encoding": want, "If-None-Match": inm})
            r = c.getresponse()
            r.read()
            if r.status == 200:
                now = time.perf_counter() - t0
                if got["any"] is None:
                    got["any"] = now
                if r.getheader("Content-Encoding") == want and got[want] is None:
                    got[want] = now
            time.sleep(args.poll_interval)
        return got

    samples = {"any": [], "gzip": [], "br": []}
    timeouts = 0
    old = current()
    for i in range(edits):
        text = original + f"\nBenchmark edit {i}.\n".encode()
        t0 = time.perf_counter()
        with open(path, "wb") as f:
            f.write(text)
        got = wait_new(old, t0)
        if None in got.values():
            timeouts += 1
        else:
            for k, v in got.items():
                samples[k].append(v)
        time.sleep(args.edit_gap)
        old = current()
    with open(path, "wb") as f:
        f.write(original)
    wait_new(old, time.perf_counter())
    c.close()
    result = {"edits": len(samples["any"]), "timeouts": timeouts}
    for k, xs in samples.items():
        pre = "" if k == "any" else k + "_"
        result[pre + "median_ms"] = median(xs) * 1e3
        result[pre + "p99_ms"] = percentile(xs, 99) * 1e3
    log(
        f"edit->served {n}: median {result['median_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms; "
        f"gzip {result['gzip_median_ms']:.1f} / {result['gzip_p99_ms']:.1f} ms; "
        f"br {result['br_median_ms']:.1f} / {result['br_p99_ms']:.1f} ms ({len(samples['any'])} edits, {timeouts} timeouts)"
    )
    return result


# ---------------------------------------------------------------- push (WebSub)


class Callbacks:
    """Subscribers' callbacks on a loopback port: /cb/<i> echoes the verification challenge
    and counts deliveries (with the time of the last one)."""

    def __init__(self):
        import http.server
        import urllib.parse

        self.lock = threading.Lock()
        self.got = {}  # callback path -> (deliveries, time of the last)
        self.cond = threading.Condition(self.lock)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, body=b""):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                self.reply(q.get("hub.challenge", [""])[0].encode())

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.perf_counter()
                path = self.path.split("?")[0]
                with outer.cond:
                    n, _ = outer.got.get(path, (0, 0.0))
                    outer.got[path] = (n + 1, now)
                    outer.cond.notify_all()
                self.reply()

        class Quiet(http.server.ThreadingHTTPServer):
            # The listen backlog is set when the server is made: 1,000 subscribers' deliveries
            # arrive at once, and the default of 5 dropped connections (seen as failed
            # deliveries, retried seconds later), which measured this server, not Herald.
            request_queue_size = 1024
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client closing a kept-alive connection is not news

        self.server = Quiet(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def counts(self):
        with self.lock:
            return {k: v[0] for k, v in self.got.items()}

    def wait_all(self, paths, before, deadline_s):
        """Waits until every path has more deliveries than in `before`; the time of the last
        of those deliveries, or None past the deadline."""
        end = time.perf_counter() + deadline_s
        with self.cond:
            while True:
                done = [self.got.get(p, (0, 0.0)) for p in paths]
                if all(n > before.get(p, 0) for p, (n, _) in zip(paths, done)):
                    return max(t for _, t in done)
                left = end - time.perf_counter()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def stop(self):
        self.server.shutdown()


def push_bench(args, n, site, edits):
    """edit -> delivered to the callbacks, with 1 and with 1,000 subscribers."""
    config = os.path.join(site, "herald-push.yaml")
    with open(os.path.join(site, "herald.yaml")) as f:
        base = f.read()
    state = os.path.join(args.work, "push-state")
    shutil.rmtree(state, ignore_errors=True)
    with open(config, "w") as f:
        f.write(base + f"state_dir: {state}\n" + "websub:\n  builtin_hub: true\n  allow_private_callbacks: true\n"
                "  rate_limit_burst: 5000\n  max_subscriptions_per_callback_host: 5000\n")
    cbs = Callbacks()
    srv = Server(args, site, config)
    result = {}
    try:
        srv.wait_idle()
        path = head_post(site, srv.port)
        with open(path, "rb") as f:
            original = f.read()
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        subscribed = 0
        k = 0
        for subs, runs in ((1, edits), (1000, max(5, min(edits, 20)))):
            paths = [f"/cb/{i}" for i in range(subs)]
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            for p in paths[subscribed:]:
                body = "&".join([
                    "hub.mode=subscribe",
                    f"hub.topic={BASE_URL}rss.xml",
                    f"hub.callback=http://127.0.0.1:{cbs.port}{p}",
                ])
                c.request("POST", "/websub", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
                r = c.getresponse()
                r.read()
                if r.status != 202:
                    sys.exit(f"bench: push: subscribing answered {r.status}")
            subscribed = subs
            end = time.time() + 120
            while srv.metric("herald_websub_subscriptions") < subs and time.time() < end:
                time.sleep(0.05)
            samples, timeouts = [], 0
            for _ in range(runs):
                before = cbs.counts()
                text = original + f"\nPush benchmark edit {k}.\n".encode()
                k += 1
                t0 = time.perf_counter()
                with open(path, "wb") as f:
                    f.write(text)
                last = cbs.wait_all(paths, before, 10.0)
                if last is None:
                    timeouts += 1
                else:
                    samples.append(last - t0)
                time.sleep(args.edit_gap)
            m = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            m.request("GET", "/metrics")
            text = m.getresponse().read().decode()
            m.close()
            failed = re.search(r'^herald_websub_deliveries_total\{outcome="failed"\} (\d+)', text, re.M)
            result[subs] = {"median_ms": median(samples) * 1e3, "p99_ms": percentile(samples, 99) * 1e3,
                            "edits": len(samples), "timeouts": timeouts,
                            "failed_total": int(failed.group(1)) if failed else None}
            log(f"push {subs} subscribers: edit -> all delivered median {result[subs]['median_ms']:.1f} ms, "
                f"p99 {result[subs]['p99_ms']:.1f} ms ({len(samples)} edits, {timeouts} timed out, "
                f"{result[subs]['failed_total']} failed deliveries so far)")
        c.close()
        with open(path, "wb") as f:
            f.write(original)
    finally:
        srv.stop()
        cbs.stop()
    return result


# ---------------------------------------------------------------- hugo server


def serve_hugo(args, n, site, edits):
    """`hugo server` (from memory, no live reload) on the same site: time from spawn until its
    home RSS feed answers 200, its RSS then, and edit -> served (a poll of /index.xml until
    it carries the edit)."""
    port = free_port()
    env = dict(os.environ, HUGO_CACHEDIR=os.path.join(args.work, "hugo-cache"))
    cmd = ["hugo", "server", "--source", site, "--port", str(port), "--bind", "127.0.0.1",
           # Hugo 0.111 serves from memory by default (it has no --renderToMemory flag)
           # --disableFastRender: in fast-render mode hugo 0.111 re-renders only the pages a
           # browser has visited (tracked through live reload), and its /index.xml never showed
           # an edit to the poller; a full re-render does.
           "--disableLiveReload", "--disableFastRender", "--appendPort=false",
           "--baseURL", f"http://127.0.0.1:{port}/"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=open(os.path.join(args.work, "hugo-server.log"), "a"),
                            stderr=subprocess.STDOUT, env=env)
    url = "/index.xml"
    result = {}
    try:
        deadline = t0 + args.hugo_timeout
        body = None
        while time.perf_counter() < deadline and proc.poll() is None:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                c.request("GET", url)
                r = c.getresponse()
                data = r.read()
                c.close()
                if r.status == 200:
                    body = data
                    break
            except OSError:
                pass
            time.sleep(0.05)
        if body is None:
            why = f"exited with {proc.returncode}" if proc.poll() is not None else f"no 200 within {args.hugo_timeout:.0f} s"
            log(f"hugo server {n}: {why} on {url} (see hugo-server.log in the work dir)")
            return None
        result["first_200_s"] = time.perf_counter() - t0
        time.sleep(1)
        result["steady_rss_kib"] = proc_rss_kib(proc.pid)
        result["peak_rss_kib"] = proc_rss_kib(proc.pid, "VmHWM")
        log(f"hugo server {n}: first 200 after {result['first_200_s']:.2f} s, RSS {result['steady_rss_kib'] / 1024:.0f} MiB")
        if not edits:
            return result
        m = re.search(rb"<item>.*?<link>([^<]+)</link>", body, re.S)
        path = post_source(site, m.group(1).decode())
        with open(path, "rb") as f:
            original = f.read()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        samples, timeouts = [], 0
        try:
            for i in range(edits):
                marker = f"Hugo benchmark edit {i} {time.time_ns()}."
                t0 = time.perf_counter()
                with open(path, "wb") as f:
                    f.write(original + f"\n{marker}\n".encode())
                end = t0 + args.hugo_edit_timeout
                seen = None
                while time.perf_counter() < end:
                    c.request("GET", url)
                    r = c.getresponse()
                    if marker.encode() in r.read():
                        seen = time.perf_counter() - t0
                        break
                    time.sleep(0.002)
                if seen is None:
                    timeouts += 1
                else:
                    samples.append(seen)
                time.sleep(max(args.edit_gap, 0.3))
        finally:
            with open(path, "wb") as f:
                f.write(original)
            c.close()
        result.update({
            "median_ms": median(samples) * 1e3,
            "p99_ms": percentile(samples, 99) * 1e3,
            "edits": len(samples),
            "timeouts": timeouts,
        })
        log(f"hugo server edit->served {n}: median {result['median_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms "
            f"({len(samples)} edits, {timeouts} timeouts)")
        return result
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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


# ---------------------------------------------------------------- latency under background work

# wrk's Lua hook prints the latency distribution of one run as quantiles (every percent up
# to 90, then every 0.01 %), so the runs that overlap a window can be merged.
WRK_QUANTILES_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKQ requests %d errors %d\\n", summary.requests,
    e.connect + e.read + e.write + e.timeout + e.status))
  for i = 1, 90 do io.write(string.format("WRKQ %.3f %d\\n", i - 0.5, latency:percentile(i - 0.5))) end
  for i = 0, 999 do
    local p = 90 + (i + 0.5) / 100
    io.write(string.format("WRKQ %.3f %d\\n", p, latency:percentile(p)))
  end
end
"""


class WrkSlices:
    """wrk -t1 -c50 on /rss.xml in back-to-back one-second runs ("slices") until stopped;
    each slice keeps its start and end time, request count and latency quantiles."""

    def __init__(self, args, port, headers=None):
        self.script = os.path.join(args.work, "latency.lua")
        with open(self.script, "w") as f:
            f.write(WRK_QUANTILES_LUA)
        self.cmd = ["wrk", "-t1", "-c50", "-d1s", "--timeout", "5s", "-s", self.script]
        for k, v in (headers or {}).items():
            self.cmd += ["-H", f"{k}: {v}"]
        self.cmd.append(f"http://127.0.0.1:{port}{FEED}")
        self.slices = []
        self.stopping = threading.Event()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.started.wait(10)

    def _run(self):
        while not self.stopping.is_set():
            t0 = time.perf_counter()
            self.started.set()
            r = subprocess.run(self.cmd, capture_output=True, text=True, timeout=60)
            t1 = time.perf_counter()
            q, reqs, errs = [], 0, 0
            for line in r.stdout.splitlines():
                if not line.startswith("WRKQ "):
                    continue
                parts = line.split()
                if parts[1] == "requests":
                    reqs, errs = int(parts[2]), int(parts[4])
                else:
                    q.append((float(parts[1]), int(parts[2])))
            self.slices.append({"t0": t0, "t1": t1, "requests": reqs, "errors": errs, "q": q})

    def stop(self):
        self.stopping.set()
        self.thread.join(90)

    def merged(self, start=None, end=None):
        """p50, p99 and max-ish (p99.995) over the slices that overlap [start, end] (all
        if not given), each slice weighted by its request count."""
        pts, reqs, errs, used = [], 0, 0, 0
        for s in self.slices:
            if start is not None and (s["t1"] < start or s["t0"] > end):
                continue
            used += 1
            reqs += s["requests"]
            errs += s["errors"]
            prev = 0.0
            for p, v in s["q"]:
                # quantile points are centred in bins: weight = the bin's share of requests
                hi = p + (p - prev)
                pts.append((v, s["requests"] * (hi - prev) / 100))
                prev = hi
        if not pts:
            return None
        pts.sort()
        total = sum(w for _, w in pts)

        def at(frac):
            acc = 0.0
            for v, w in pts:
                acc += w
                if acc >= frac * total:
                    return v / 1e3
            return pts[-1][0] / 1e3

        return {"p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": pts[-1][0] / 1e3,
                "requests": reqs, "errors": errs, "slices": used}


libc = ctypes.CDLL(None, use_errno=True)


def exchange(a, b):
    """Swaps two paths atomically (renameat2 with RENAME_EXCHANGE)."""
    if libc.renameat2(-100, a.encode(), -100, b.encode(), 2) != 0:  # AT_FDCWD, RENAME_EXCHANGE
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), a)


def link_tree(src, dst):
    """A copy of a folder's tree made of hard links (same inodes, so the same stamps)."""
    subprocess.run(["cp", "-al", src, dst], check=True, timeout=600)


def delete_site(args, n, site):
    """A copy of the n-post site (hard links) with args.delete_files posts moved into
    content/post/bulk/, which the delete row removes with rm -rf."""
    dsite = os.path.join(args.work, f"site-{n}-del")
    shutil.rmtree(dsite, ignore_errors=True)
    os.makedirs(os.path.join(dsite, "content", "post", "bulk"))
    src = os.path.join(site, "content", "post")
    names = sorted(x for x in os.listdir(src) if x.endswith(".md"))
    k = min(args.delete_files, len(names) // 2)
    for i, name in enumerate(names):
        sub = "bulk" if i < k else ""
        os.link(os.path.join(src, name), os.path.join(dsite, "content", "post", sub, name))
    shutil.copy(os.path.join(site, "herald.yaml"), os.path.join(dsite, "herald.yaml"))
    return dsite, k


def run_window(args, srv, label, work):
    """Runs wrk slices while `work(deadline)` runs; returns the merged latency of the slices
    that overlap the window [start of work, end of work] and what work returned."""
    slices = WrkSlices(args, srv.port)
    time.sleep(0.05)
    start = time.perf_counter()
    info = work(start + args.load_seconds)
    end = time.perf_counter()
    slices.stop()
    lat = slices.merged(start, end)
    if lat is None:
        return None
    lat.update(info or {})
    lat["window_s"] = end - start
    log(f"load {label}: p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms over {lat['requests']:,} requests "
        f"in {lat['slices']} wrk slices, window {lat['window_s']:.2f} s {info or ''}")
    return lat


def load_bench(args, n, site, only):
    """GET /rss.xml p99 latency with 50 concurrent clients (wrk) while herald serve (a)
    reloads (SIGHUP), (b) rescans the content dir, (c) sees 20,000 files deleted; and idle."""
    res = {}
    wanted = set(args.load_cases)
    twin = os.path.join(site, "content.twin")
    content = os.path.join(site, "content")
    if "rescan" in wanted and not os.path.isdir(twin):
        link_tree(content, twin)
    if wanted & {"idle", "reload", "rescan"}:
        srv = Server(args, site)
        try:
            srv.wait_idle()
            if "idle" in wanted:
                def idle(deadline):
                    time.sleep(max(0.0, deadline - time.perf_counter()))
                res["idle"] = run_window(args, srv, "idle", idle)

            if "reload" in wanted:
                def reload(deadline):
                    """SIGHUP, wait for READY=1 (end of the reload), again, until the deadline."""
                    times = []
                    while time.perf_counter() < deadline or not times:
                        mark = srv.notify.mark()
                        t = time.perf_counter()
                        srv.proc.send_signal(signal.SIGHUP)
                        got = srv.notify.wait(lambda f: f.get("READY") == "1", since=mark, timeout=120)
                        if got is None:
                            log("load reload: no READY=1 within 120 s of SIGHUP")
                            break
                        times.append(got[0] - t)
                    return {"runs": len(times), "each_s": median(times)}
                srv.wait_idle()
                res["reload"] = run_window(args, srv, "reload", reload)

            if "rescan" in wanted:
                def rescan(deadline):
                    """Swaps the content dir with its hard-linked twin: Herald sees another
                    folder in place and rescans the whole tree (the STATUS= after it ends
                    the rescan). Again, until the deadline."""
                    times = []
                    before = srv.metric("herald_rescans_total")
                    while time.perf_counter() < deadline or not times:
                        mark = srv.notify.mark()
                        t = time.perf_counter()
                        exchange(content, twin)
                        got = srv.notify.wait(lambda f: "STATUS" in f, since=mark, timeout=120)
                        if got is None:
                            log("load rescan: no STATUS= within 120 s of swapping the content dir")
                            break
                        times.append(got[0] - t)
                    if len(times) % 2:  # put the original folder back in place
                        mark = srv.notify.mark()
                        exchange(content, twin)
                        srv.notify.wait(lambda f: "STATUS" in f, since=mark, timeout=120)
                    return {"runs": len(times), "each_s": median(times),
                            "rescans": srv.metric("herald_rescans_total") - before}
                srv.wait_idle()
                res["rescan"] = run_window(args, srv, "rescan", rescan)
        finally:
            srv.stop()

    if "delete" in wanted:
        dsite, k = delete_site(args, n, site)
        srv = Server(args, dsite)
        try:
            srv.wait_idle()
            posts0 = srv.posts

            def delete(deadline):
                """rm -rf of the bulk folder; the window ends at the rebuild (STATUS=) that
                serves the post count without the deleted posts (or, if that never comes, at
                the last rebuild before a quiet minute; at most five minutes in all)."""
                mark = srv.notify.mark()
                target = posts0 - k if posts0 is not None else None
                t = time.perf_counter()
                subprocess.run(["rm", "-rf", os.path.join(dsite, "content", "post", "bulk")], check=True, timeout=300)
                rm_s = time.perf_counter() - t
                last, posts, rebuilds = None, posts0, 0
                end = time.perf_counter() + 300
                while time.perf_counter() < end:
                    # one rebuild of a large delete can take many seconds
                    got = srv.notify.wait(lambda f: "STATUS" in f, since=mark, timeout=min(60.0, max(0.0, end - time.perf_counter())))
                    if got is None:
                        break
                    last, mark, rebuilds = got[0], got[2] + 1, rebuilds + 1
                    posts = status_posts(got[1])
                    if target is not None and posts is not None and posts <= target:
                        break
                if last is None:
                    return {"rm_s": rm_s, "settled": False}
                return {"rm_s": rm_s, "until_served_s": last - t, "posts_before": posts0,
                        "posts_after": posts, "files": k, "rebuilds": rebuilds,
                        "settled": target is None or (posts is not None and posts <= target), "_end": last}

            slices = WrkSlices(args, srv.port)
            time.sleep(0.05)
            start = time.perf_counter()
            info = delete(None)
            end = info.pop("_end", time.perf_counter())
            slices.stop()
            lat = slices.merged(start, end)
            if lat:
                lat.update(info)
                lat["window_s"] = end - start
                log(f"load delete: p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms over {lat['requests']:,} "
                    f"requests in {lat['slices']} wrk slices, window {lat['window_s']:.2f} s {info}")
            res["delete"] = lat
        finally:
            srv.stop()
            shutil.rmtree(dsite, ignore_errors=True)
    return res


# ---------------------------------------------------------------- report


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1)) / 2**20
    return f"{len(os.sched_getaffinity(0))} cores (nproc), {model}, {mem:.0f} GiB"


def version(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (r.stdout.strip() or r.stderr.strip()).splitlines()[0]
    except Exception:
        return "?"


def fmt_s(s):
    if s != s:
        return "?"
    return f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.2f} s"


def mib(kib):
    return "?" if kib != kib else f"{kib / 1024:.0f} MiB"


def ms(x):
    return "?" if x != x else (f"{x:.1f}" if x < 100 else f"{x:,.0f}")


def met(ok):
    """The goal column's verdict."""
    if ok is None:
        return "n/a"
    return "yes" if ok else "NO"


def report(args, res):
    """One table: measure | Herald | anchor | ratio | goal | met."""
    rows = []
    for n, b in res.get("builds", {}).items():
        h, g = b.get("herald"), b.get("hugo")
        if not h:
            continue
        goal = {1000: 2, 10000: 10, 100000: 15}.get(n)
        if g:
            r = g["wall"] / h["wall"]
            rows.append((f"cold build {n:,}: wall", fmt_s(h["wall"]), f"Hugo {fmt_s(g['wall'])}", f"Hugo/Herald {r:.2f}",
                         f"≥ {goal}× Hugo" if goal else "", met(r >= goal) if goal else ""))
            rows.append((f"cold build {n:,}: CPU", fmt_s(h["cpu"]), f"Hugo {fmt_s(g['cpu'])}", f"Hugo/Herald {g['cpu'] / h['cpu']:.2f}", "", ""))
            rows.append((f"cold build {n:,}: peak RSS", mib(h["rss_kib"]), f"Hugo {mib(g['rss_kib'])}", f"Herald/Hugo {h['rss_kib'] / g['rss_kib']:.2f}",
                         "≤ 300 MiB" if n >= 100000 else "", met(h["rss_kib"] <= 300 * 1024) if n >= 100000 else ""))
        else:
            rows.append((f"cold build {n:,}: wall / CPU / peak RSS", f"{fmt_s(h['wall'])} / {fmt_s(h['cpu'])} / {mib(h['rss_kib'])}", "(Hugo skipped)", "", "", ""))
    for n, s in res.get("serve", {}).items():
        h, g = s.get("herald"), s.get("hugo") or {}
        if not h:
            continue
        gs = g.get("first_200_s")
        rows.append((f"serve {n:,}: first start (empty state dir) → READY=1", fmt_s(h["ready_s"]), "", "", "", ""))
        rows.append((f"serve {n:,}: first start → first 200 /rss.xml", fmt_s(h["first_200_s"]),
                     f"hugo server {fmt_s(gs)}" if gs else ("hugo server: no 200" if s.get("hugo") is None and not args.no_hugo else ""),
                     f"hugo/Herald {gs / h['first_200_s']:.2f}" if gs else "", "", ""))
        rows.append((f"serve {n:,}: first start: steady RSS / peak", f"{mib(h['steady_rss_kib'])} / {mib(h['peak_rss_kib'])}",
                     f"hugo server {mib(g['steady_rss_kib'])}" if gs else "",
                     f"Herald/hugo {h['steady_rss_kib'] / g['steady_rss_kib']:.2f}" if gs else "",
                     "≤ 300 MiB steady", met(h["steady_rss_kib"] <= 300 * 1024)))
        if "warm_ready_s" in h:
            rows.append((f"serve {n:,}: restart (stored snapshot) → READY=1 / first 200", f"{fmt_s(h['warm_ready_s'])} / {fmt_s(h['warm_first_200_s'])}",
                         f"hugo server {fmt_s(gs)}" if gs else "", f"hugo/Herald {gs / h['warm_first_200_s']:.1f}" if gs else "",
                         "≤ 2 s to READY", met(h["warm_ready_s"] <= 2)))
            rows.append((f"serve {n:,}: restart: RSS at READY / steady / peak",
                         f"{mib(h['warm_ready_rss_kib'])} / {mib(h['warm_steady_rss_kib'])} / {mib(h['warm_peak_rss_kib'])}",
                         "", f"content loaded after {fmt_s(h['warm_loaded_s'])}", "≤ 300 MiB steady", met(h["warm_steady_rss_kib"] <= 300 * 1024)))
        rows.append((f"serve {n:,}: all codings compressed", fmt_s(h["compressed_after_s"]), "", "after spawn", "", ""))
        if "median_ms" in h:
            ge = g.get("median_ms")
            if ge is not None and ge != ge:  # every hugo server edit timed out
                ge = None
            note = f"Herald {h['edits']} edits" + (f", {h['timeouts']} timed out" if h["timeouts"] else "")
            if g.get("edits") is not None:
                note += f"; hugo {g['edits']}" + (f", {g['timeouts']} timed out" if g["timeouts"] else "")
            rows.append((f"edit → served {n:,}: median", f"{ms(h['median_ms'])} ms",
                         f"hugo server {ms(ge)} ms" if ge is not None else "",
                         f"hugo/Herald {ge / h['median_ms']:.1f}" if ge is not None else "",
                         "≤ 10 ms", met(h["median_ms"] <= 10)))
            rows.append((f"edit → served {n:,}: p99", f"{ms(h['p99_ms'])} ms",
                         f"hugo server {ms(g['p99_ms'])} ms" if ge is not None else "",
                         note,
                         "≤ 25 ms", met(h["p99_ms"] <= 25)))
            for k, name in (("gzip", "gzip"), ("br", "br")):
                rows.append((f"edit → served {name} {n:,}: median / p99", f"{ms(h[k + '_median_ms'])} / {ms(h[k + '_p99_ms'])} ms",
                             "", "", "≤ 50 ms (p99)", met(h[k + "_p99_ms"] <= 50)))
    for n, p in res.get("push", {}).items():
        for subs, goal_name, ok in ((1, "≤ 50 ms (median)", lambda r: r["median_ms"] <= 50),
                                    (1000, "all within 1 s (p99)", lambda r: r["p99_ms"] <= 1000)):
            r = p.get(subs)
            if not r:
                continue
            what = "subscriber" if subs == 1 else "subscribers, all delivered"
            note = f"{r['edits']} edits" + (f", {r['timeouts']} timed out" if r["timeouts"] else "")
            rows.append((f"edit → delivered to a subscriber's callback ({subs:,} {what}, {n:,} posts): median / p99",
                         f"{ms(r['median_ms'])} / {ms(r['p99_ms'])} ms", "", note, goal_name,
                         met(ok(r) and not r["timeouts"])))
    if res.get("http"):
        for kind, by in res["http"]["rates"].items():
            r = by["herald"] / by["nginx"]
            rows.append((f"HTTP {kind} (req/s)", f"{by['herald']:,.0f}", f"nginx {by['nginx']:,.0f}", f"Herald/nginx {r:.2f}", "≥ 1.0× nginx", met(r >= 1.0)))
    for n, load in res.get("load", {}).items():
        idle = load.get("idle")
        names = {"idle": "idle (no background work)", "reload": "(a) during SIGHUP reloads",
                 "rescan": "(b) during full rescans", "delete": f"(c) during a {(load.get('delete') or {}).get('files', args.delete_files):,}-file delete"}
        for case in ("idle", "reload", "rescan", "delete"):
            if case not in load:
                continue
            x = load[case]
            if not x:
                rows.append((f"GET p99, {n:,} posts, {names[case]}", "not measured", "", "", "≤ 20 ms", "n/a"))
                continue
            if case == "idle":
                rows.append((f"GET p99, {n:,} posts, {names[case]}", f"{ms(x['p99_ms'])} ms", "",
                             f"p50 {ms(x['p50_ms'])} ms, {x['requests']:,} req", "", ""))
                continue
            what = {
                "reload": lambda: f"{x['runs']} reloads, {fmt_s(x['each_s'])} each",
                "rescan": lambda: f"{x['runs']} swaps → {x['rescans']:.0f} rescans, {fmt_s(x['each_s'])} each",
                "delete": lambda: (f"rm -rf {fmt_s(x['rm_s'])}, served after {fmt_s(x['until_served_s'])} "
                                   f"({x['rebuilds']} rebuilds{'' if x['settled'] else ', post count never dropped by all of them'}); "
                                   f"{x['slices']} s of wrk around it" if "until_served_s" in x else
                                   f"no rebuild served within {fmt_s(x['window_s'])} of the rm (window cut there)"),
            }[case]()
            rows.append((f"GET p99, {n:,} posts, {names[case]}", f"{ms(x['p99_ms'])} ms",
                         f"idle {ms(idle['p99_ms'])} ms" if idle else "",
                         (f"loaded/idle {x['p99_ms'] / idle['p99_ms']:.1f}; " if idle else "") + what,
                         "≤ 20 ms", met(x["p99_ms"] <= 20)))
    head = ("measure", "Herald", "anchor", "ratio / notes", "goal", "met")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(6)]

    def line(r):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"

    out = [
        f"Herald benchmark, {datetime.datetime.now().isoformat(timespec='minutes')}",
        f"machine: {machine()}; load average at start {args.loadavg_start}, at end {loadavg()}",
        f"{version([args.herald, '--version'])}; {version(['hugo', 'version'])}; {version(['nginx', '-v'])}; {version(['wrk', '-v'])}",
    ]
    if res.get("http"):
        h = res["http"]
        out.append(f"HTTP: {FEED} of the {args.http_size:,}-post corpus, {h['identity_bytes']:,} bytes ({h['gzip_bytes']:,} gzip), "
                   f"wrk -t1 -c50 -d{args.wrk_seconds}s, {args.http_rounds} rounds A B A B")
    if res.get("load"):
        out.append(f"GET p99: wrk -t1 -c50 on {FEED} in back-to-back 1 s runs, merged over the runs that overlap the "
                   f"background work; reload and rescan repeat for {args.load_seconds} s")
    out.append("Figures are medians unless a percentile is named. Goals: issue's speed table; "
               "serve/edit/latency goals are checked at every size, build goals at their size.")
    out.append("")
    out.append(line(head))
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out += [line(r) for r in rows]
    return "\n".join(out)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


ROWS = ("build", "start", "edit", "http", "load", "push")


def main():
    ap = argparse.ArgumentParser(description="Herald benchmark (run via tests/bench/run)")
    ap.add_argument("--herald", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--hugo-config", required=True)
    ap.add_argument("--hugo-layouts", required=True)
    ap.add_argument("--quick", action="store_true", help="1k and 10k posts, fewer runs, shorter wrk runs")
    ap.add_argument("--sizes", help="comma-separated corpus sizes (default 1000,10000,100000)")
    ap.add_argument("--runs", type=int, help="cold-build runs per tool and size")
    ap.add_argument("--edits", type=int, help="edits per corpus for edit -> served (herald)")
    ap.add_argument("--hugo-edits", type=int, help="edits per corpus for edit -> served (hugo server)")
    ap.add_argument("--only", default=",".join(ROWS),
                    help="comma-separated subset of build,start,edit,http,load,push "
                         "(load may name cases: load:idle+reload+rescan+delete)")
    ap.add_argument("--no-hugo", action="store_true", help="skip Hugo (cold build and hugo server)")
    ap.add_argument("--load-size", type=int, help="corpus size for the latency-under-work rows (default: the largest)")
    ap.add_argument("--load-seconds", type=float, help="how long reloads / rescans are repeated (default 10, quick 4)")
    ap.add_argument("--delete-files", type=int, default=20000, help="files in the deleted folder (at most half the corpus)")
    ap.add_argument("--hugo-timeout", type=float, default=600, help="seconds to wait for hugo server's first 200")
    ap.add_argument("--hugo-edit-timeout", type=float, default=60, help="seconds to wait for hugo server to serve an edit")
    ap.add_argument("--json", help="also write every figure to this file")
    ap.add_argument("--work", default=os.environ.get("HERALD_BENCH_DIR", "/tmp/herald-bench"),
                    help="work dir for corpora and outputs (default $HERALD_BENCH_DIR or /tmp/herald-bench)")
    ap.add_argument("--poll-interval", type=float, default=0.0002, help="seconds between polls of the feed")
    ap.add_argument("--edit-gap", type=float, default=0.1, help="seconds between edits")
    args = ap.parse_args()
    args.loadavg_start = loadavg()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([1000, 10000] if args.quick else [1000, 10000, 100000])
    runs = args.runs or (3 if args.quick else 5)
    edits = args.edits or (20 if args.quick else 50)
    hugo_edits = 0 if args.no_hugo else (args.hugo_edits if args.hugo_edits is not None else (3 if args.quick else 5))
    args.http_rounds = 2 if args.quick else 3
    args.wrk_seconds = 5 if args.quick else 10
    args.http_size = 10000 if 10000 in sizes else max(sizes)
    args.load_seconds = args.load_seconds or (4 if args.quick else 10)
    load_size = args.load_size or max(sizes)
    only, args.load_cases = set(), ["idle", "reload", "rescan", "delete"]
    for item in args.only.split(","):
        name, _, cases = item.partition(":")
        if name not in ROWS:
            sys.exit(f"bench: --only: unknown row {name!r} (rows: {', '.join(ROWS)})")
        only.add(name)
        if name == "load" and cases:
            args.load_cases = cases.split("+")
    os.makedirs(args.work, exist_ok=True)
    args.work = os.path.abspath(args.work)

    res = {"builds": {}, "serve": {}, "http": None, "load": {}, "push": {}}
    outs = {}
    for n in sizes:
        site = corpus(args, n)
        if "build" in only or ("http" in only and n == args.http_size):
            r = runs if "build" in only else 1
            # At 100k Hugo takes ~30 s a run: fewer runs keep the whole benchmark bounded.
            if n >= 100000 and not args.runs:
                r = min(r, 3)
            b, outs[n] = cold_build(args, n, site, r)
            if "build" in only:
                res["builds"][n] = b
        if only & {"start", "edit"}:
            s = {"herald": serve_herald(args, n, site, edits if "edit" in only else 0)}
            if not args.no_hugo:
                s["hugo"] = serve_hugo(args, n, site, hugo_edits if "edit" in only else 0)
            res["serve"][n] = s
        if "load" in only and n == load_size:
            res["load"][n] = load_bench(args, n, site, only)
        if "push" in only and n == min(sizes):
            res["push"][n] = push_bench(args, n, site, edits)
    if "http" in only:
        rates, ident_len, gz_len = http_bench(args, corpus(args, args.http_size), outs[args.http_size], args.http_rounds, args.wrk_seconds)
        res["http"] = {"rates": rates, "identity_bytes": ident_len, "gzip_bytes": gz_len}
    table = report(args, res)
    with open(os.path.join(args.work, "results.md"), "w") as f:
        f.write(table + "\n")
    dump = dict(res, machine=machine(), date=datetime.datetime.now().isoformat(), argv=sys.argv[1:])
    for path in [os.path.join(args.work, "results.json")] + ([args.json] if args.json else []):
        with open(path, "w") as f:
            json.dump(dump, f, indent=1, default=str)
    print()
    print(table)


if __name__ == "__main__":
    main()

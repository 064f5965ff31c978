#!/usr/bin/env python3
"""Load and slowloris figures for `herald serve`, on loopback only, bounded in time.

Starts the given herald binary on the bundled sample site (127.0.0.1, ephemeral port),
then runs two phases of --seconds each and prints figures:

  1. polling:   --clients keep-alive connections polling /rss.xml with If-None-Match
  2. slowloris: the same polling while --attackers connections send nothing (half) or
                dribble one header byte every 100 ms (half)

Usage (build first: cargo build --release):
  python3 tests/load/run.py [--bin target/release/herald] [--clients 200] [--attackers 300]
                            [--seconds 10] [--header-timeout 2]
Only the Python standard library is used. Exit status 1 if any request failed or got a 5xx.
"""
import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def poller(host, port, etag, deadline, stats):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as e:
        stats["errors"].append("connect: %s" % e)
        return
    req = ("GET /rss.xml HTTP/1.1\r\nHost: %s\r\nIf-None-Match: %s\r\n\r\n" % (host, etag)).encode()
    try:
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            writer.write(req)
            await writer.drain()
            status = await asyncio.wait_for(read_response(reader), 10)
            stats["latencies"].append(time.perf_counter() - t0)
            stats["status"][status] = stats["status"].get(status, 0) + 1
    except Exception as e:  # noqa: BLE001 - every failure is a figure
        stats["errors"].append("%s: %s" % (type(e).__name__, e))
    finally:
        writer.close()


async def attacker(host, port, dribble, deadline, closed_after):
    t0 = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return
    line = b"GET /rss.xml HTTP/1.1\r\nX-Slow: " + b"a" * 10000
    i = 0
    try:
        while time.monotonic() < deadline:
            if dribble:
                writer.write(line[i % len(line):i % len(line) + 1])
                i += 1
                await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(1024), 0.1)
                if data == b"" or data.startswith(b"HTTP/1.1 408"):
                    closed_after.append(time.monotonic() - t0)
                    return
            except asyncio.TimeoutError:
                pass
    except (ConnectionError, OSError):
        closed_after.append(time.monotonic() - t0)
    finally:
        writer.close()


async def phase(host, port, etag, clients, attackers, seconds):
    stats = {"latencies": [], "status": {}, "errors": []}
    closed_after = []
    deadline = time.monotonic() + seconds
    tasks = [attacker(host, port, i % 2 == 1, deadline, closed_after) for i in range(attackers)]
    tasks += [poller(host, port, etag, deadline, stats) for _ in range(clients)]
    t0 = time.monotonic()
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - t0
    return stats, closed_after, elapsed


def report(name, stats, elapsed, closed_after=None, attackers=0):
    lat = stats["latencies"]
    n = len(lat)
    print("%-10s requests=%d  req/s=%.0f  p50=%.2fms  p99=%.2fms  max=%.2fms  statuses=%s  errors=%d"
          % (name, n, n / elapsed if elapsed else 0, percentile(lat, 50) * 1e3, percentile(lat, 99) * 1e3,
             (max(lat) if lat else float("nan")) * 1e3, stats["status"], len(stats["errors"])))
    for e in stats["errors"][:5]:
        print("           error: %s" % e)
    if attackers:
        print("           attackers=%d  closed by server=%d  closed after p50=%.1fs max=%.1fs"
              % (attackers, len(closed_after), percentile(closed_after, 50),
                 max(closed_after) if closed_after else float("nan")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "herald"))
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--attackers", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--header-timeout", type=int, default=2)
    args = ap.parse_args()
    if not os.path.exists(args.bin):
        sys.exit("no herald binary at %s: cargo build --release, or pass --bin" % args.bin)
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    except (ImportError, ValueError, OSError):
        pass

    tmp = tempfile.mkdtemp(prefix="herald-load-")
    shutil.copytree(os.path.join(ROOT, "config", "sample-site", "content"), os.path.join(tmp, "content"))
    with open(os.path.join(tmp, "herald.yaml"), "w") as f:
        f.write("content_dir: content\nbase_url: http://127.0.0.1/\nwatch: off\nmax_connections: 4096\n"
                "header_read_timeout_secs: %d\n" % args.header_timeout)
    proc = subprocess.Popen([args.bin, "serve", "--listen", "127.0.0.1:0", "--config", os.path.join(tmp, "herald.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(os.environ, RUST_LOG="error"))
    try:
        first = proc.stdout.readline().decode()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
        if not m:
            sys.exit("herald did not print its address: %r" % first)
        port = int(m.group(1))
        host = "127.0.0.1"

        async def run():
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n")
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            writer.close()
            etag = re.search(r"(?im)^etag:\s*(\S+)", head).group(1)
            print("herald %s on 127.0.0.1:%d; %d clients, %d attackers, %.0fs per phase, header timeout %ds"
                  % (args.bin, port, args.clients, args.attackers, args.seconds, args.header_timeout))
            s1, _, e1 = await phase(host, port, etag, args.clients, 0, args.seconds)
            report("polling", s1, e1)
            s2, closed, e2 = await phase(host, port, etag, args.clients, args.attackers, args.seconds)
            report("slowloris", s2, e2, closed, args.attackers)
            bad = s1["errors"] + s2["errors"]
            fives = sum(v for s in (s1, s2) for k, v in s["status"].items() if k >= 500)
            return 1 if bad or fives else 0

        code = asyncio.run(run())
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()

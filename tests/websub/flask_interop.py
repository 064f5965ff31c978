"""Herald's WebSub against flask-websub's subscriber and hub (see flask_interop beside this).

Runs one Flask app (flask-websub's hub at /hub and its subscriber's callbacks under /cb) and
two `herald serve`: one with its built-in hub, one pinging the Flask hub. Every address is
127.0.0.1; every wait is bounded. Exits non-zero on the first failed check.
"""

import argparse
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import cachelib
from celery import Celery
from flask import Flask
from flask_websub.hub import Hub, SQLite3HubStorage
from flask_websub.subscriber import (
    Subscriber,
    SQLite3SubscriberStorage,
    WerkzeugCacheTempSubscriberStorage,
    discover,
)
from werkzeug.serving import make_server

DEADLINE = 30.0
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(what, check, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    sys.exit(f"flask_interop: FAILED: {what} (within {deadline:.0f} s)")


def post(title):
    return f"---\ntitle: {title!r}\ndate: 2024-01-01\ncategories: [Interop]\n---\nBody of {title}.\n"


class Herald:
    """A `herald serve` on a temporary site at a fixed loopback port."""

    def __init__(self, binary, websub):
        self.dir = tempfile.mkdtemp(prefix="herald-websub-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/"
        os.makedirs(os.path.join(self.dir, "content", "post"))
        self.write("Alpha")
        with open(os.path.join(self.dir, "herald.yaml"), "w") as f:
            f.write(
                f"content_dir: content\nstate_dir: state\nbase_url: {self.base}\n"
                f"listen: 127.0.0.1:{self.port}\ntitle: Interop\n{websub}"
            )
        self.proc = subprocess.Popen(
            [binary, "serve", "--config", os.path.join(self.dir, "herald.yaml")],
            stdout=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("HERALD_TEST_LOG", "warn")},
        )
        eventually("herald serves", lambda: self.get("healthz") is not None)

    def write(self, title):
        with open(os.path.join(self.dir, "content", "post", "a.md"), "w") as f:
            f.write(post(title))

    def get(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as r:
                return r.read().decode()
        except OSError:
            return None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def flask_app(port, workdir):
    """flask-websub's hub (/hub) and subscriber (/cb/<id>) in one app; what arrives is recorded."""
    app = Flask("interop")
    app.config["SERVER_NAME"] = f"127.0.0.1:{port}"
    # The hub's endpoint reads these from the app's config (the hub's own is for its tasks).
    app.config["PUBLISH_SUPPORTED"] = True
    app.config["HUB_MIN_LEASE_SECONDS"] = 60
    celery = Celery("interop")
    celery.conf.task_always_eager = True
    hub = Hub(
        SQLite3HubStorage(os.path.join(workdir, "hub.sqlite3")),
        celery,
        PUBLISH_SUPPORTED=True,
        REQUEST_TIMEOUT=5,
        HUB_MIN_LEASE_SECONDS=60,
    )
    app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))
    subscriber = Subscriber(
        SQLite3SubscriberStorage(os.path.join(workdir, "subscriber.sqlite3")),
        WerkzeugCacheTempSubscriberStorage(cachelib.SimpleCache()),
        REQUEST_TIMEOUT=5,
    )
    app.register_blueprint(subscriber.build_blueprint(url_prefix="/cb"))
    events = {"verified": [], "received": [], "errors": []}
    subscriber.add_success_handler(lambda topic, cb, mode: events["verified"].append((topic, cb, mode)))
    subscriber.add_listener(lambda topic, cb, body: events["received"].append((topic, cb, body)))
    subscriber.add_error_handler(lambda topic, cb, reason: events["errors"].append((topic, cb, reason)))
    return app, subscriber, events


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--herald", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    workdir = tempfile.mkdtemp(prefix="flask-websub-")
    fport = free_port()
    app, subscriber, events = flask_app(fport, workdir)
    server = make_server("127.0.0.1", fport, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    flask_hub = f"http://127.0.0.1:{fport}/hub"

    own = Herald(args.herald, "websub:\n  builtin_hub: true\n  allow_private_callbacks: true\n")
    pinging = Herald(args.herald, f"websub:\n  hubs: [{flask_hub}]\n")
    try:
        # 1. Herald's hub, flask-websub's subscriber (discovery from the Link headers).
        topic = own.base + "rss.xml"
        with app.app_context():
            found = discover(topic)
            assert found == {"hub_url": own.base + "websub", "topic_url": topic}, found
            callback_id = subscriber.subscribe(**found, lease_seconds=3600)
        eventually(
            "flask-websub's subscriber confirms Herald's verification",
            lambda: any(cb == callback_id and mode == "subscribe" for _, cb, mode in events["verified"]),
        )
        own.write("Alpha, edited for the subscriber")
        got = eventually(
            "Herald's hub delivers the edited feed to flask-websub's subscriber",
            lambda: [b for t, cb, b in events["received"] if cb == callback_id and b"edited for the subscriber" in b],
        )
        served = own.get("rss.xml")
        assert got[-1].decode() == served, "the delivered body is the served feed"
        print("flask_interop: ok: Herald's hub -> flask-websub's subscriber (discover, subscribe, verify, deliver)")

        # Unsubscribe through flask-websub, verified by Herald: nothing more arrives.
        with app.app_context():
            subscriber.unsubscribe(callback_id)
        eventually(
            "flask-websub's subscriber confirms the unsubscription",
            lambda: any(cb == callback_id and mode == "unsubscribe" for _, cb, mode in events["verified"]),
        )
        print("flask_interop: ok: unsubscribe through Herald's hub")

        # 2. Herald's pings to flask-websub's hub.
        topic = pinging.base + "rss.xml"
        with app.app_context():
            found = discover(topic)
            assert found == {"hub_url": flask_hub, "topic_url": topic}, found
            second = subscriber.subscribe(**found, lease_seconds=3600)
        eventually(
            "flask-websub's hub verifies its subscriber",
            lambda: any(cb == second and mode == "subscribe" for _, cb, mode in events["verified"]),
        )
        pinging.write("Alpha, edited for the hub")
        eventually(
            "Herald pings flask-websub's hub, which pushes the edited feed on",
            lambda: [b for t, cb, b in events["received"] if cb == second and b"edited for the hub" in b],
        )
        print("flask_interop: ok: Herald's pings -> flask-websub's hub -> its subscriber")
        if events["errors"]:
            sys.exit(f"flask_interop: FAILED: subscriber errors {events['errors']}")
    finally:
        own.stop()
        pinging.stop()
        server.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    print("flask_interop: passed")


if __name__ == "__main__":
    main()

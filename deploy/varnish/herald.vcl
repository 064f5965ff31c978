# Varnish in front of Herald replicas: each URL goes to a healthy `herald serve` instance
# chosen by consistent hashing (a retry goes to the next replica, never the same one),
# health probes on /healthz, PURGE from loopback (Herald's `purge:` sends it), and grace so
# that a cached feed is still served while every replica is down (stale-if-error).
#
# Use (Varnish 6 or 7):
#   varnishd -a :80 -f /etc/varnish/herald.vcl -p http_gzip_support=off -s malloc,256m
# `http_gzip_support=off` leaves content coding to Herald, which has gzip and brotli ready
# for every feed and answers `Vary: Accept-Encoding`; Varnish then keeps one object per
# normalized Accept-Encoding (br, gzip, none) and never serves one to the wrong client.
# Each replica's herald.yaml names this cache:
#   purge:
#     - url: http://127.0.0.1:80
# Edit the backends below (one per replica); tests/scale/run uses this file with only the
# ports changed.

vcl 4.1;

import directors;
import std;

probe herald_health {
    .url = "/healthz";
    .interval = 1s;
    .timeout = 1s;
    .window = 3;
    .threshold = 2;
}

backend herald_1 {
    .host = "127.0.0.1";
    .port = "8080";
    .probe = herald_health;
    .connect_timeout = 1s;
    .first_byte_timeout = 10s;
}

backend herald_2 {
    .host = "127.0.0.1";
    .port = "8081";
    .probe = herald_health;
    .connect_timeout = 1s;
    .first_byte_timeout = 10s;
}

# Who may purge: the replicas (on this host, or add their addresses).
acl herald_purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_init {
    # The shard director, not round robin: its `alt` picks the next replica on a retry, so a
    # replica that has just stopped (before the probes have seen it) costs one retry, never
    # a 503. With round robin, requests in flight move the turn on between a request's tries,
    # and all of them could land on the stopped replica.
    new herald = directors.shard();
    herald.add_backend(herald_1);
    herald.add_backend(herald_2);
    herald.reconfigure();
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ herald_purgers) {
            return (synth(405, "PURGE is not allowed from this address"));
        }
        # Drops every variant (br, gzip, identity) of this URL.
        return (purge);
    }
    if (req.method != "GET" && req.method != "HEAD") {
        # WebSub subscriptions (POST /websub) go to a replica as they are.
        return (pass);
    }
    if (req.url ~ "^/(healthz|metrics)(\?|$)") {
        return (pass);
    }
    # One object per coding Herald offers, whatever the client's exact header says.
    if (req.http.Accept-Encoding ~ "(^|[ ,])br([ ;,]|$)") {
        set req.http.Accept-Encoding = "br";
    } elsif (req.http.Accept-Encoding ~ "gzip") {
        set req.http.Accept-Encoding = "gzip";
    } else {
        unset req.http.Accept-Encoding;
    }
    unset req.http.Cookie;
    unset req.http.Authorization;
    # Serve a stale copy for a short while when a replica is up (it is refreshed in the
    # background), for a day when none is (see beresp.grace below).
    set req.backend_hint = herald.backend(by=URL);
    if (std.healthy(req.backend_hint)) {
        set req.grace = 10s;
    }
    return (hash);
}

sub vcl_backend_fetch {
    # Chosen here, so that retry N goes to the N-th other replica for this URL.
    set bereq.backend = herald.backend(by=URL, alt=bereq.retries, resolve=NOW);
}

sub vcl_backend_response {
    # A replica stopping answers 503 while it drains: ask the next one.
    if (beresp.status >= 500 && bereq.retries < 2) {
        return (retry);
    }
    # stale-if-error: kept a day past its freshness, served when no replica answers.
    set beresp.grace = 24h;
    # Kept another hour to revalidate with If-None-Match (Herald's ETags are content
    # hashes, the same on every replica).
    set beresp.keep = 1h;
}

sub vcl_backend_error {
    # A replica that refused the connection: ask the next one before failing.
    if (bereq.retries < 2) {
        return (retry);
    }
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}

"""
Discovery (SPEC.md "Log files": discover { nginx = true }): ferry-tail finds
a running nginx from the process list, reads the configuration that nginx
runs, and follows its access logs as the log source "nginx" (records keyed
systail.nginx.HOST), with nothing of them configured; it follows nginx's
reloads (a changed format, a new access_log) without a restart, and lets
the files go when nginx goes, resuming them where they were when it
comes back.

The nginx is Debian's, started by the test as a master of its own (daemon
off, in the foreground, so the test holds its pid) with a prefix, a
configuration, a pid file and an error log under the test's folder, on a
127.0.0.1 port of the test's allocation: a custom log_format with
$request_time, two access_logs (one in http, one in a server), and
locations that answer 2xx, 3xx, 4xx and 5xx. Requests are made with
urllib; what nginx logged (its own files) is the reference the spool and
the sink are compared with.

The standard metrics of the discovered logs (nginx.requests, by status
class, and summaries of $request_time) are compared with what was sent and
what nginx itself logged; /slow is proxied to an upstream of the test's
that waits a chosen time, so request times vary. Discovery sees every
nginx of the machine, and its metrics add them up: that test is serial.

Every wait polls a condition under a deadline; every load loop is bounded.
"""
import http.server
import json
import os
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, ro_query, wait_for
from peers import Peer, _which
from test_derive import render, sums

HOST = "systest"
TIMEOUT = 60.0      # ASan binaries on two shared cores
KEY = "systail.nginx.%s" % HOST

TIMED = ("'$remote_addr - $remote_user [$time_local] \"$request\" '\n"
         "                 '$status $body_bytes_sent rt=$request_time "
         "\"$http_user_agent\"'")
TIMED2 = ("'$remote_addr [$time_local] \"$request\" $status '\n"
          "                  'bytes=$body_bytes_sent rt=$request_time'")


class Nginx(Peer):
    """
    nginx as a master of its own under dir: -p dir/ -c dir/nginx.conf,
    daemon off (the test's child), its pid file and error log in dir. The
    configuration is rewritten by configure(version) before a start or a
    reload.
    """
    name = "nginx"

    def __init__(self, tmp_path, name=None):
        super().__init__(tmp_path, name)
        self.port = free_port()
        self.version = 1
        self.logs_dir = self.dir / "logs"
        self.logs_dir.mkdir(exist_ok=True)
        self.access = self.logs_dir / "access.log"      # in http, "timed"
        self.site = self.logs_dir / "site.log"          # in the server, combined
        self.extra = self.logs_dir / "extra.log"        # after the reload
        self.other = self.logs_dir / "other.log"        # metrics: /other's
        self.upstream = None    # metrics: the port /slow is proxied to

    @classmethod
    def program(cls):
        return _which("nginx")

    def configure(self):
        formats = "    log_format timed %s;\n" % TIMED
        logs = "    access_log logs/site.log;\n"
        if self.version in (2, "m2"):
            # Reloaded: "timed" changed, and a file of its own for /extra.
            formats = ("    log_format timed %s;\n"
                       "    log_format short '$status $request_time';\n"
                       % TIMED2)
            logs += ("    location /extra { access_log logs/extra.log short; "
                     "return 200 \"extra\\n\"; }\n")
        if self.version in ("m1", "m2"):
            # For the metrics: every request in access.log ("timed") but
            # /other's, in other.log (combined: no $request_time), and
            # /slow's answered by the test's upstream after a wait.
            logs = logs.replace("    access_log logs/site.log;\n", "") + (
                "    location = /other { access_log logs/other.log; "
                "return 200 \"other\\n\"; }\n"
                "    location /slow { proxy_pass http://127.0.0.1:%d; }\n"
                % self.upstream)
        (self.dir / "nginx.conf").write_text(
            "# written by ferry's tests/system/test_discover.py\n"
            "daemon off;\n"
            "master_process on;\n"
            # As root, workers would be nobody, who cannot reopen the logs
            # in our folder (SIGUSR1); as another user nginx ignores it.
            "%(user)s"
            "worker_processes 1;\n"
            "pid %(dir)s/nginx.pid;\n"
            "error_log %(dir)s/error.log info;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            "    client_body_temp_path %(dir)s/tmp/body;\n"
            "    proxy_temp_path %(dir)s/tmp/proxy;\n"
            "    fastcgi_temp_path %(dir)s/tmp/fastcgi;\n"
            "    uwsgi_temp_path %(dir)s/tmp/uwsgi;\n"
            "    scgi_temp_path %(dir)s/tmp/scgi;\n"
            "%(formats)s"
            "    access_log logs/access.log timed;\n"
            "    server {\n"
            "        listen 127.0.0.1:%(port)d;\n"
            "%(logs)s"
            "        location = /ok { return 200 \"ok\\n\"; }\n"
            "        location = /moved { return 301 /ok; }\n"
            "        location = /missing { return 404; }\n"
            "        location = /broken { return 503; }\n"
            "    }\n"
            "}\n" % {"dir": self.dir, "port": self.port, "formats": formats,
                     "logs": logs, "user": "user root;\n"
                     if os.geteuid() == 0 else ""})
        (self.dir / "tmp").mkdir(exist_ok=True)

    def argv(self):
        return [self.program(), "-p", "%s/" % self.dir, "-c",
                str(self.dir / "nginx.conf")]

    def ready(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def reload(self, version):
        """Rewrite the configuration and SIGHUP our master; wait for it."""
        self.version = version
        self.configure()
        before = self.error_log().count("reconfiguring")
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.error_log().count("reconfiguring") > before,
                 TIMEOUT, what="nginx to reload")

    def error_log(self):
        try:
            return (self.dir / "error.log").read_text(errors="replace")
        except OSError:
            return ""

    def get(self, path):
        """GET path; the status nginx answered (redirects not followed)."""
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open("http://127.0.0.1:%d%s" % (self.port, path),
                             timeout=10) as r:
                r.read()
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def lines(self, path):
        try:
            return Path(path).read_text().splitlines()
        except FileNotFoundError:
            return []

    def wait_lines(self, path, n):
        """
        path's lines once it has n: nginx logs a request after its answer
        went, so the client may see the answer first.
        """
        wait_for(lambda: len(self.lines(path)) >= n, TIMEOUT,
                 what="%d lines in %s" % (n, path))
        return self.lines(path)

    def logs(self):
        return [("nginx output", self.out_path),
                ("nginx error log", self.dir / "error.log")]


@pytest.fixture
def nginx(start_peer):
    """An nginx of the test's own, not started."""
    return start_peer(Nginx, start=False)


def discovering(start_ferry, discover=""):
    """A ferry with nginx discovery on, rescanning every half second."""
    f = start_ferry("discover { nginx = true %s }\n"
                    "tail { rescan_interval = 0.5 }\n" % discover)
    f.child_pid("tail")
    return f


def discovered(f, under=None):
    """
    What ferryctl status --json says was discovered: [{...}], those under
    a folder when given. Discovery sees every nginx of the machine: the
    tests running beside this one have theirs.
    """
    st = f.status() or {}
    return [d for d in st.get("discovered") or []
            if under is None or (d.get("path") or "").startswith(
                "%s/" % under)]


def wait_discovered(f, nginx, paths, formats=None):
    """
    Wait until status lists exactly these paths of nginx's (and their
    formats).
    """
    want = sorted(str(p) for p in paths)
    got = [None]

    def ok():
        got[0] = [d for d in discovered(f, nginx.dir) if d.get("path")]
        if sorted(d["path"] for d in got[0]) != want:
            return False
        return formats is None or all(
            d["format"] == formats[d["path"]] for d in got[0])
    try:
        wait_for(ok, TIMEOUT, interval=0.2, what="discovery of %s" % want)
    except AssertionError:
        raise AssertionError("discovered: %r, wanted %r (%r)"
                             % (got[0], want, formats)) from None
    return got[0]


def held(pid, folder):
    """The files under folder that process pid holds open."""
    out = []
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for fd in fds:
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("%s/" % folder):
            out.append(target)
    return out


def spool_records(f, path):
    """The log records of path in the spool's "tail" stream, in order."""
    out = []
    for seg in sorted(f.spool.glob("tail.*"),
                      key=lambda p: int(p.name.split(".")[1])):
        with open(seg, "rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break
                key, _, obj = raw.decode().partition(" ")
                if not obj.startswith("{"):
                    continue    # a metric the rules made, not a record
                rec = json.loads(obj)
                if rec.get("file") == str(path):
                    rec["key"] = key
                    out.append(rec)
    return out


def sink_text(f, path):
    """The lines the sink stores for path, in line order."""
    rows = ro_query(f.sink_db_path, "SELECT content FROM logs WHERE host = ? "
                    "AND file = ? ORDER BY line", (HOST, str(path))) or []
    return [l for (c,) in rows for l in c.split("\n")]


def wait_arrived(f, path, lines):
    """The sink holds path's lines, each once, in order; the spool too."""
    got = [None]

    def ok():
        got[0] = sink_text(f, path)
        return len(got[0]) >= len(lines)
    try:
        wait_for(ok, TIMEOUT, interval=0.25,
                 what="%d lines of %s in the sink" % (len(lines), path))
    except AssertionError:
        raise AssertionError("the sink has %d of %d lines of %s"
                             % (len(got[0]), len(lines), path)) from None
    assert got[0] == lines, "the sink's %s differs from nginx's" % path
    # The spool: the newest records (the forwarder deletes segments every
    # output has passed), in order, each once, under the source's key.
    recs = spool_records(f, path)
    assert recs and [r["text"] for r in recs] == lines[-len(recs):]
    assert {r["key"] for r in recs} == {KEY}
    assert {r["name"] for r in recs} == {"nginx"}
    return recs


MIX = (["/ok"] * 7 + ["/moved"] * 3 + ["/missing"] * 4 + ["/broken"] * 2)


def test_discovered_logs_are_followed(start_ferry, nginx):
    """
    A running nginx's two access logs (one in http with a custom format,
    one in a server with combined) are found and followed from their
    start; every request it logs reaches the spool and the sink under
    systail.nginx.HOST, each line once, as nginx wrote it.
    """
    f = discovering(start_ferry)
    nginx.start()
    found = wait_discovered(f, nginx, [nginx.access, nginx.site],
                            {str(nginx.access): "timed",
                             str(nginx.site): "combined"})
    for d in found:
        assert d["service"] == "nginx"
        assert d["origin"].startswith("nginx[%d] %s/nginx.conf:"
                                      % (nginx.pid, nginx.dir)), d
    statuses = [nginx.get(p) for p in MIX]
    assert sorted(statuses) == sorted([200] * 7 + [301] * 3 + [404] * 4 +
                                      [503] * 2)
    # The server's own access_log replaces http's there: only site.log.
    site = nginx.wait_lines(nginx.site, len(MIX))
    assert len(site) == len(MIX)
    wait_arrived(f, nginx.site, site)
    assert nginx.lines(nginx.access) == []
    text = f.run("ferryctl", "status").stdout
    assert "DISCOVERED" in text and str(nginx.site) in text, text


def test_reload_and_stop(start_ferry, nginx):
    """
    nginx reloaded with a changed format and a new access_log: ferry
    follows both without a restart. nginx stopped: the source goes; nginx
    started again: its files resume where they were, no line twice.
    """
    f = discovering(start_ferry)
    nginx.start()
    wait_discovered(f, nginx, [nginx.access, nginx.site])
    for p in MIX[:5]:
        nginx.get(p)
    tail_pid = f.child_pid("tail")
    nginx.reload(2)
    wait_discovered(f, nginx, [nginx.access, nginx.site, nginx.extra],
                    {str(nginx.access): "timed", str(nginx.site): "combined",
                     str(nginx.extra): "short"})
    for p in MIX + ["/extra"] * 3:
        nginx.get(p)
    extra = nginx.wait_lines(nginx.extra, 3)
    assert len(extra) == 3
    wait_arrived(f, nginx.extra, extra)
    wait_arrived(f, nginx.site, nginx.wait_lines(nginx.site,
                                                   5 + len(MIX)))
    assert f.child_pid("tail") == tail_pid, "ferry-tail restarted"

    # nginx goes: nothing is discovered, its files are let go (ferry-tail
    # holds none open: the counters would count the other tests' too).
    assert held(tail_pid, nginx.dir), "ferry-tail follows none of them"
    nginx.stop()
    wait_discovered(f, nginx, [])
    wait_for(lambda: not held(tail_pid, nginx.dir), TIMEOUT,
             what="ferry-tail to let nginx's files go")
    # Back: the files resume at their checkpoints, no line twice.
    nginx.start()
    wait_discovered(f, nginx, [nginx.access, nginx.site, nginx.extra])
    for p in ["/ok", "/extra"]:
        nginx.get(p)
    wait_arrived(f, nginx.site, nginx.wait_lines(nginx.site,
                                                   6 + len(MIX)))
    wait_arrived(f, nginx.extra, nginx.wait_lines(nginx.extra, 4))
    assert f.child_pid("tail") == tail_pid, "ferry-tail restarted"


def test_resumes_after_ferry_restarts_while_nginx_is_down(start_ferry, nginx):
    """
    The checkpoints of a discovered source outlive ferry-tail's start even
    when its service is not running then: nginx found again later resumes
    each file where it was, so no line is sent twice nor skipped.
    """
    f = discovering(start_ferry)
    nginx.start()
    wait_discovered(f, nginx, [nginx.access, nginx.site])
    for p in MIX:
        nginx.get(p)
    wait_arrived(f, nginx.site, nginx.wait_lines(nginx.site, len(MIX)))
    nginx.stop()
    wait_discovered(f, nginx, [])
    # ferry stopped and started again, nginx still down: nothing found.
    assert f.stop() == 0
    f.start()
    f.child_pid("tail")
    wait_for(lambda: "log.nginx.files" not in f.counters("tail") or
             f.counters("tail").get("open_files") is not None, TIMEOUT,
             what="ferry-tail's first counters")
    # Lines nginx writes while ferry runs without it, then nginx back.
    nginx.start()
    wait_discovered(f, nginx, [nginx.access, nginx.site])
    for p in MIX:
        nginx.get(p)
    wait_arrived(f, nginx.site, nginx.wait_lines(nginx.site, 2 * len(MIX)))


class Upstream:
    """An HTTP server on 127.0.0.1 that answers GET /slow?ms=N after N ms."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                q = urllib.parse.urlparse(self.path).query
                ms = int(urllib.parse.parse_qs(q).get("ms", ["0"])[0])
                time.sleep(ms / 1000.0)
                body = b"slow\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream():
    u = Upstream()
    yield u
    u.close()


BASE = "servers.%s.nginx." % HOST
# /slow's waits, in ms: request times from about 0 to 0.3 s.
WAITS = [0, 5, 10, 20, 40, 60, 90, 120, 160, 200, 250, 300]
MIX2 = MIX + ["/other"] * 3 + ["/slow?ms=%d" % w for w in WAITS]


def classes(paths):
    """{class: count} of the answers nginx gives these paths."""
    want = {}
    for p in paths:
        c = {"/moved": "3xx", "/missing": "4xx", "/broken": "5xx"}.get(p,
                                                                      "2xx")
        want[c] = want.get(c, 0) + 1
    return want


def request_times(lines):
    """The rt= values of lines in "timed" (TIMED or TIMED2), in seconds."""
    return [float(m.group(1)) for m in
            (re.search(r" rt=([0-9.]+)", l) for l in lines) if m]


def wait_requests(f, want):
    """
    Wait until the sink's nginx.requests, summed over its intervals, is the
    total of want ({class: n}), then check each class's; the sums.
    """
    total = sum(want.values())

    def arrived():
        got = sums(render(f, BASE + "requests", BASE + "requests.*"))
        return got.get(BASE + "requests") == total and got
    try:
        got = wait_for(arrived, TIMEOUT, interval=0.5,
                       what="%d requests counted in the sink" % total)
    except AssertionError:
        raise AssertionError("counted: %r, wanted %r" % (sums(render(
            f, BASE + "requests", BASE + "requests.*")), want)) from None
    for cls, n in want.items():
        assert got.get(BASE + "requests." + cls) == n, (cls, got)
    return got


def check_times(f, times):
    """
    The request_time summaries, over every interval, against what nginx
    logged: count and sum exact, the least min and the greatest max nginx's
    own, and each interval's quantiles within them.
    """
    def counted():
        pts = render(f, BASE + "request_time.count")
        return sum(v for _, v in pts.get(BASE + "request_time.count",
                                          [])) == len(times)
    wait_for(counted, TIMEOUT, interval=0.5,
             what="%d request times summed up" % len(times))
    series = render(f, BASE + "request_time.*")
    total = sum(v for _, v in series[BASE + "request_time.sum"])
    assert abs(total - sum(times)) <= 1e-6 + 1e-6 * sum(times)
    assert min(v for _, v in series[BASE + "request_time.min"]) == min(times)
    assert max(v for _, v in series[BASE + "request_time.max"]) == max(times)
    for q in ("p50", "p90", "p99"):
        for _, v in series[BASE + "request_time." + q]:
            assert min(times) * 0.99 <= v <= max(times) * 1.01, (q, v)


@pytest.mark.serial
def test_standard_metrics(start_ferry, nginx, upstream):
    """
    The discovered logs' metrics: per interval (1 s), nginx.requests and
    its split by status class sum to the requests sent, whichever of the
    two access logs they went to; the request_time summary (of the
    "timed" log, the other has none) agrees with nginx's own log. Then
    nginx reloaded with "timed" changed and a third access_log: counted on,
    without ferry restarting.
    """
    f = discovering(start_ferry, "interval = 1")
    nginx.upstream = upstream.port
    nginx.version = "m1"
    nginx.start()
    wait_discovered(f, nginx, [nginx.access, nginx.other])
    for p in MIX2:
        nginx.get(p)
    access = nginx.wait_lines(nginx.access, len(MIX2) - 3)
    nginx.wait_lines(nginx.other, 3)
    wait_requests(f, classes(MIX2))
    check_times(f, request_times(access))
    tail_pid = f.child_pid("tail")

    nginx.reload("m2")
    wait_discovered(f, nginx, [nginx.access, nginx.other, nginx.extra],
                    {str(nginx.access): "timed", str(nginx.other): "combined",
                     str(nginx.extra): "short"})
    after = MIX2 + ["/extra"] * 4
    for p in after:
        nginx.get(p)
    access = nginx.wait_lines(nginx.access, 2 * (len(MIX2) - 3))
    nginx.wait_lines(nginx.extra, 4)
    want = classes(MIX2)
    for cls, n in classes(after).items():
        want[cls] = want.get(cls, 0) + n
    wait_requests(f, want)
    # The changed format's times (rt= still), and /extra's ("short").
    times = request_times(access) + [
        float(l.split()[1]) for l in nginx.lines(nginx.extra)]
    check_times(f, times)
    assert f.child_pid("tail") == tail_pid, "ferry-tail restarted"


def test_rotation_by_rename_and_reopen(start_ferry, nginx):
    """
    A discovered file rotated as logrotate does it for nginx (rename, then
    SIGUSR1 to the master, which reopens its logs): the rotated file is
    read to its end, the new one from its start, under the same path in
    the sink; no line lost, none twice.
    """
    f = discovering(start_ferry)
    nginx.start()
    wait_discovered(f, nginx, [nginx.access, nginx.site])
    for p in MIX:
        nginx.get(p)
    nginx.wait_lines(nginx.site, len(MIX))
    rotated = nginx.site.with_name("site.log.1")
    nginx.site.rename(rotated)
    for p in MIX[:4]:           # still into the renamed file
        nginx.get(p)
    nginx.wait_lines(rotated, len(MIX) + 4)
    # The master reopens, then tells its worker, which says so too.
    nginx.proc.send_signal(signal.SIGUSR1)
    wait_for(lambda: nginx.error_log().count("reopening logs") >= 2,
             TIMEOUT, what="nginx's worker to reopen its logs")
    for p in MIX:
        nginx.get(p)
    wait_for(lambda: len(nginx.lines(rotated)) + len(nginx.lines(
        nginx.site)) == 2 * len(MIX) + 4, TIMEOUT, what="nginx's lines")
    assert nginx.lines(nginx.site), "nginx did not reopen site.log"
    wait_arrived(f, nginx.site, nginx.lines(rotated) +
                 nginx.lines(nginx.site))


def test_files_let_go_stay_let_go(start_ferry, start_peer, nginx):
    """
    Files let go when their nginx stopped are not taken up again as
    "rotated while ferry-tail was down" when another nginx is found:
    they wait, checkpointed, for their own nginx.
    """
    f = discovering(start_ferry)
    tail_pid = f.child_pid("tail")
    nginx.start()
    wait_discovered(f, nginx, [nginx.access, nginx.site])
    for p in MIX:
        nginx.get(p)
    wait_arrived(f, nginx.site, nginx.wait_lines(nginx.site, len(MIX)))
    nginx.stop()
    wait_discovered(f, nginx, [])
    wait_for(lambda: not held(tail_pid, nginx.dir), TIMEOUT,
             what="ferry-tail to let nginx's files go")
    other = start_peer(Nginx, name="nginx2")
    wait_discovered(f, other, [other.access, other.site])
    assert held(tail_pid, other.dir)
    assert not held(tail_pid, nginx.dir), held(tail_pid, nginx.dir)

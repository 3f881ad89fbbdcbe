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

Every wait polls a condition under a deadline; every load loop is bounded.
"""
import json
import os
import shutil
import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, ro_query, wait_for
from peers import Peer, _which

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

    @classmethod
    def program(cls):
        return _which("nginx")

    def configure(self):
        if self.version == 1:
            formats = "    log_format timed %s;\n" % TIMED
            logs = "    access_log logs/site.log;\n"
        else:
            # Reloaded: "timed" changed, and a file of its own for /extra.
            formats = ("    log_format timed %s;\n"
                       "    log_format short '$status $request_time';\n"
                       % TIMED2)
            logs = ("    access_log logs/site.log;\n"
                    "    location /extra { access_log logs/extra.log short; "
                    "return 200 \"extra\\n\"; }\n")
        (self.dir / "nginx.conf").write_text(
            "# written by ferry's tests/system/test_discover.py\n"
            "daemon off;\n"
            "master_process on;\n"
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
                     "logs": logs})
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


def discovering(start_ferry, extra=""):
    """A ferry with nginx discovery on, rescanning every half second."""
    f = start_ferry("discover { nginx = true }\n"
                    "tail { rescan_interval = 0.5 }\n%s" % extra)
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

    # nginx goes: nothing is discovered, its files are let go.
    nginx.stop()
    wait_discovered(f, nginx, [])
    wait_for(lambda: any(d.get("path") for d in discovered(f)) or
             f.counters("tail").get("log.nginx.files") == 0,
             TIMEOUT, what="the source's files let go")
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

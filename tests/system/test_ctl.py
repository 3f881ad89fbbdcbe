"""
ferryctl, the operator's command (issue 5): `status` and its exit codes,
`status --json` against what the sink and the spool hold, the messages of
`check-config` with file and line, `check-config --effective`, and drains
(`drain add|list|remove`) followed end to end to a second HTTP endpoint.
"""
import http.server
import json
import os
import re
import signal
import socketserver
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import SANITIZER_MARKS, free_port, require_programs, wait_for

ARRIVAL = 60.0      # ASan builds on two shared cores
PREFIX = "servers.systest."
SEGMENT = re.compile(r"^[A-Za-z0-9_-]+\.\d{16}$")


def status(f):
    """(exit status, parsed JSON) of `ferryctl status --json`."""
    r = f.run("ferryctl", "status", "--json")
    assert r.stderr == "" or "AddressSanitizer" not in r.stderr, r.stderr
    return r.returncode, json.loads(r.stdout)


def output(st, name):
    for o in st["outputs"]:
        if o["name"] == name:
            return o
    return None


def line_of(path, needle):
    """The 1-based number of the line of path that holds needle."""
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError("%r not in %s" % (needle, path))


def write_collector(f, name, body):
    d = f.etc / "collectors.d"
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / (".%s.tmp" % name)
    tmp.write_text("#!/bin/sh\n" + body)
    os.chmod(tmp, 0o755)
    os.rename(tmp, d / name)


# -- status -----------------------------------------------------------------

def test_status_healthy_then_down(start_ferry):
    # The supervisor runs every child, so healthy needs them all built.
    require_programs("ferry-collectors", "ferry-periodic")
    f = start_ferry()
    rc, st = wait_for(lambda: (lambda r: r[0] == 0 and r)(status(f)),
                      ARRIVAL, interval=0.5, what="status healthy")
    assert st["status"] == "healthy" and st["reasons"] == []
    assert st["supervisor"]["running"] and st["supervisor"]["pid"] == f.proc.pid
    names = {p["name"]: p for p in st["processes"]}
    for child in ("receiver", "forwarder", "sink", "collectors", "periodic"):
        assert names[child]["state"] == "running", names[child]
    assert output(st, "sink")["state"] == "sending"
    assert output(st, "sink")["configured"] is True

    r = f.run("ferryctl", "status")
    assert r.returncode == 0
    assert r.stdout.startswith("ferry healthy (supervisor pid %d)" % f.proc.pid)
    for heading in ("PROCESS", "OUTPUT", "receiver:", "spool:"):
        assert heading in r.stdout, r.stdout

    assert f.stop() == 0
    # Down: read from the database and the spool alone, and still whole.
    rc, st = status(f)
    assert rc == 2
    assert st["status"] == "down"
    assert st["supervisor"] == {"running": False, "pid": None}
    assert output(st, "sink") is not None
    assert st["receiver"] is not None
    r = f.run("ferryctl", "status")
    assert r.returncode == 2
    assert r.stdout.startswith("ferry down")
    assert "ferry-supervisor is not running" in r.stdout


def test_status_output_failing_is_degraded(start_ferry):
    closed = free_port()     # nothing listens there: connection refused
    f = start_ferry('output "dead" { uri = "http://127.0.0.1:%d/api/v1/sink" }\n'
                    % closed)
    f.send_tcp(["ctl.fail.a %d %d" % (i, 1700000000 + i) for i in range(50)])

    def failing():
        rc, st = status(f)
        o = output(st, "dead")
        return rc == 1 and o is not None and o["state"] == "retrying" and st
    st = wait_for(failing, ARRIVAL, interval=0.5, what="output dead retrying")
    dead = output(st, "dead")
    assert any(r.startswith("output dead is retrying") for r in st["reasons"])
    assert dead["last_error"] and dead["last_error_at"]
    assert dead["since"] and dead["sent"] == 0
    # What it has not sent waits for it, oldest first.
    assert dead["backlog"]["records"] >= 50
    assert dead["backlog"]["oldest"] == 1700000000
    # The other output is not held up.
    f.wait_sink_count("ctl.fail.", 50, timeout=ARRIVAL)
    r = f.run("ferryctl", "status")
    assert r.returncode == 1
    assert r.stdout.startswith("ferry degraded")
    assert re.search(r"^dead +retrying", r.stdout, re.M), r.stdout


def spool_backlog(f, name):
    """An output's unsent records, counted here from its cursors and the spool."""
    rows = f._db_query("SELECT stream, seq, off FROM cursor WHERE output = ?",
                       (name,)) or []
    cursors = {s: (seq, off) for s, seq, off in rows}
    segs = sorted((p.name.rsplit(".", 1)[0], int(p.name.rsplit(".", 1)[1]), p)
                  for p in f.spool.iterdir() if SEGMENT.match(p.name))
    records = 0
    first = {}
    for stream, seq, path in segs:
        first.setdefault(stream, seq)
        cseq, coff = cursors.get(stream, (first[stream], 0))
        if seq < cseq:
            continue
        data = path.read_bytes()[coff if seq == cseq else 0:]
        records += data.count(b"\n")
    return records


def test_status_json_same_numbers_as_sink_and_spool(start_ferry):
    f = start_ferry()
    n = 700
    f.send_tcp(["ctl.json.m%d %d %d" % (i, i, 1700000000) for i in range(n)])
    f.wait_sink_count("ctl.json.", n, timeout=ARRIVAL)

    # Running: the receiver accepted what was sent, the output sent what the
    # sink stored (self-metrics are not counted as sent).
    def same():
        rc, st = status(f)
        o = output(st, "sink")
        return (st["receiver"] and st["receiver"]["accepted"] == n and
                o["sent"] == n and st)
    st = wait_for(same, ARRIVAL, interval=0.5, what="accepted and sent == %d" % n)
    assert f.sink_count("ctl.json.") == n
    assert st["receiver"]["dropped"] == 0
    assert set(st["receiver"]["rejected"]) >= {"bad_name", "bad_value"}
    assert st["spool"]["max_size"] == 100 << 20
    assert st["spool"]["memory_max_size"] == 64 << 20
    assert st["spool"]["memory_fallback"] is False

    # Stopped, nothing moves: the spool's bytes and the backlog are exact.
    assert f.stop() == 0
    rc, st = status(f)
    assert rc == 2
    disk = sum(p.stat().st_size for p in f.spool.iterdir() if SEGMENT.match(p.name))
    assert st["spool"]["bytes"] == disk
    assert st["spool"]["memory_bytes"] == 0
    o = output(st, "sink")
    assert o["sent"] == n == f.sink_count("ctl.json.")
    assert o["backlog"]["records"] == spool_backlog(f, "sink")
    assert st["receiver"]["accepted"] == n


def test_status_collectors_grouped(start_ferry):
    require_programs("ferry-collectors")
    f = start_ferry("collectors { interval = 1 }\n", start=False)
    write_collector(f, "hello", 'echo "coll.hello.x 1"\n')
    write_collector(f, "oops", 'echo "coll.oops.x 1"\nexit 3\n')
    # A run that takes a known time: its duration_ms says so.
    write_collector(f, "slow", 'sleep 0.3\necho "coll.slow.x 1"\n')
    f.start()

    def counted():
        cs = {c["name"]: c for c in status(f)[1]["collectors"]}
        return ("hello" in cs and cs["hello"]["runs"] >= 2 and
                cs["hello"]["lines"] >= 2 and "oops" in cs and
                cs["oops"]["failures"] >= 1 and "slow" in cs and
                cs["slow"]["duration_ms"] is not None and cs)
    cs = wait_for(counted, ARRIVAL, interval=0.5, what="collectors counted")
    assert cs["hello"]["failures"] == 0 and cs["hello"]["timeouts"] == 0
    assert cs["hello"]["counters"]["runs"] == cs["hello"]["runs"]
    assert cs["oops"]["counters"]["failures"] == cs["oops"]["failures"]
    # Only collectors: the drop directory's counters are not one.
    assert "dropdir" not in cs

    # Last run and duration (issue 5): a run each second, so the last one
    # started moments ago; the counters are published within a second or
    # two of a change, the ASan build on shared cores allowed for.
    now = time.time()
    for name in ("hello", "oops", "slow"):
        c = cs[name]
        assert now - 20 <= c["last_run"] <= now + 1, (name, c, now)
        assert 0 <= c["last_run_age"] <= 20, (name, c)
        assert c["duration_ms"] is not None and c["duration_ms"] >= 0, c
        assert c["duration_ms"] < 10000, c
        assert c["counters"]["last_run"] == c["last_run"]
    assert cs["slow"]["duration_ms"] >= 300, cs["slow"]

    f.wait_sink_count(PREFIX + "coll.hello.x", 1, timeout=ARRIVAL)
    r = f.run("ferryctl", "status")
    assert re.search(r"^COLLECTOR +RUNS +LINES +FAILURES +TIMEOUTS +"
                     r"LAST RUN +DURATION +OTHER$", r.stdout, re.M), r.stdout
    assert re.search(r"^hello +\d+ +\d+ +0 +0 +\d+s ago +\d+(ms|\.\ds) ",
                     r.stdout, re.M), r.stdout
    assert re.search(r"^oops +\d+ +\d+ +[1-9]\d* +0 +\d+s ago ", r.stdout,
                     re.M), r.stdout
    # Shown in columns, so not again among the others.
    assert "last_run" not in r.stdout and "duration_ms" not in r.stdout


# -- check-config -----------------------------------------------------------

def check(f, *args):
    return f.run("ferryctl", "-c", str(f.conf), "check-config", *args)


def test_check_config_messages(start_ferry):
    f = start_ferry(start=False)
    r = check(f)
    assert r.returncode == 0 and r.stdout == "configuration OK\n"

    f.write_config('\nhostnme = "web1"\n')
    r = check(f)
    assert r.returncode == 1
    assert ('%s:%d: unknown key "hostnme"; did you mean "hostname"?'
            % (f.conf, line_of(f.conf, "hostnme"))) in r.stderr, r.stderr

    f.write_config("")
    frag = f.etc / "conf.d" / "20-port.conf"
    frag.write_text("# the port\nreceiver {\n  tcp_port = 70000\n}\n")
    r = check(f)
    assert r.returncode == 1
    assert ("%s:3: receiver.tcp_port = 70000 is out of range (0 to 65535)"
            % frag) in r.stderr, r.stderr
    r = check(f, "--json")
    assert r.returncode == 1
    j = json.loads(r.stdout)
    assert j["ok"] is False
    assert {"file": str(frag), "line": 3,
            "msg": "receiver.tcp_port = 70000 is out of range (0 to 65535)"} \
        in j["errors"]

    frag.write_text("receiver {\n  tcp_port = 1\n}\n}\n")
    r = check(f)
    assert r.returncode == 1
    assert "%s:4: unexpected closing brace" % frag in r.stderr, r.stderr

    frag.write_text("receiver {\n  tcp_port = 1\n")
    r = check(f)
    assert r.returncode == 1
    assert ("%s:1: a section that starts here is never closed" % frag) in r.stderr


def test_check_config_refuses_what_a_program_would(start_ferry):
    """
    Issue 12: check-config said "configuration OK" for a sink on 0.0.0.0
    without a key, which ferry-sink then refused with exit 78. Now
    check-config, ferry-supervisor -n and ferry-sink -n all refuse it,
    naming the file and line of the sink section.
    """
    f = start_ferry(start=False)
    frag = f.etc / "conf.d" / "30-sink.conf"
    frag.write_text('sink {\n  bind = "0.0.0.0"\n}\n')
    want = '%s:3: sink.bind "0.0.0.0" listens beyond loopback' % frag
    r = check(f)
    assert r.returncode == 1 and want in r.stderr, (r.returncode, r.stderr)
    r = f.run("ferry-supervisor", "-n", "-c", str(f.conf))
    assert r.returncode != 0 and want in r.stderr + r.stdout, r
    r = f.run("ferry-sink", "-n", "-c", str(f.conf))
    assert r.returncode == 78, r
    # With a key, all three take it.
    frag.write_text('sink {\n  bind = "0.0.0.0"\n  api_key = "k3y"\n}\n')
    assert check(f).returncode == 0
    assert f.run("ferry-supervisor", "-n", "-c", str(f.conf)).returncode == 0
    assert f.run("ferry-sink", "-n", "-c", str(f.conf)).returncode == 0


def test_check_config_effective(start_ferry):
    f = start_ferry('api_key = "topsecret"\n'
                    'output "hg" { uri = "https://user:hunter2@example.com/api"'
                    ' api_key = "alsosecret" }\n', start=False)
    f.env["FERRY_RECEIVER_UDP_PORT"] = "2999"
    r = check(f, "--effective")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for secret in ("topsecret", "alsosecret", "hunter2"):
        assert secret not in out
    assert re.search(r'^api_key = "\*\*\*"$', out, re.M), out
    assert 'uri = "https://user:***@example.com/api"' in out
    assert re.search(r"^\s+udp_port = 2999\s+# from FERRY_RECEIVER_UDP_PORT$",
                     out, re.M), out
    assert re.search(r"^\s+tcp_port = %d$" % f.tcp_port, out, re.M), out
    # Defaults are there too, and every key conf.c knows is shown.
    assert re.search(r"^\s+segment_size = 10M$", out, re.M)
    assert re.search(r"^\s+heartbeat_interval = 60$", out, re.M)
    assert "not shown" not in out
    # The text is configuration itself: it loads.
    eff = f.root / "effective.conf"
    eff.write_text(out)
    r2 = f.run("ferryctl", "-c", str(eff), "check-config")
    assert r2.returncode == 0, r2.stderr

    r = check(f, "--effective", "--json")
    assert r.returncode == 0
    j = json.loads(r.stdout)
    assert j["config"]["api_key"] == "***"
    assert j["config"]["receiver"]["udp_port"] == 2999
    hg = [o for o in j["config"]["output"] if o["name"] == "hg"]
    assert len(hg) == 1 and hg[0]["api_key"] == "***"
    assert j["env"] == {"receiver.udp_port": "FERRY_RECEIVER_UDP_PORT"}
    assert j["not_shown"] == []
    assert "topsecret" not in r.stdout


# -- drains -----------------------------------------------------------------

class Endpoint:
    """An HTTP endpoint that stores the lines of every POST body."""

    def __init__(self):
        self.lines = []
        self.lock = threading.Lock()
        ep = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode(errors="replace")
                with ep.lock:
                    ep.lines.extend(l for l in body.splitlines() if l)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def names(self, prefix):
        with self.lock:
            return {l.split()[0] for l in self.lines if l.startswith(prefix)}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    ep = Endpoint()
    yield ep
    ep.close()


def drain(f, *args):
    return f.run("ferryctl", "-c", str(f.conf), "drain", *args)


def test_drain_add_list_remove(start_ferry, endpoint):
    f = start_ferry()
    uri = "http://copier:pw123@127.0.0.1:%d/api/v1/sink" % endpoint.port
    fwd = f.child_pid("forwarder")
    r = drain(f, "add", "copy", uri, "--api-key", "k1")
    assert r.returncode == 0, r.stderr
    path = f.etc / "conf.d" / "50-drain-copy.conf"
    assert "drain copy added (%s)" % path in r.stdout
    assert "reload requested (ferry-supervisor pid %d)" % f.proc.pid in r.stdout
    text = path.read_text()
    assert text.startswith("# ferryctl drain:")
    assert 'output "copy" {' in text and 'api_key = "k1"' in text
    # The reload restarts the forwarder with the drain.
    fwd = f.child_pid("forwarder", not_pid=fwd)

    n = 200
    f.send_tcp(["ctl.drain.a%d %d %d" % (i, i, 1700000000) for i in range(n)])
    f.wait_sink_count("ctl.drain.a", n, timeout=ARRIVAL)
    wait_for(lambda: len(endpoint.names("ctl.drain.a")) == n, ARRIVAL,
             interval=0.2, what="%d metrics at the drain" % n)

    r = drain(f, "list")
    assert r.returncode == 0
    assert re.search(r"^copy +yes +http://copier:\*\*\*@127\.0\.0\.1:%d/api/v1/sink +%s$"
                     % (endpoint.port, re.escape(str(path))), r.stdout, re.M), r.stdout
    assert re.search(r"^sink +no +http://127\.0\.0\.1:%d/api/v1/sink +%s$"
                     % (f.sink_port, re.escape(str(f.conf))), r.stdout, re.M), r.stdout
    assert "pw123" not in r.stdout
    r = drain(f, "list", "--json")
    j = {o["name"]: o for o in json.loads(r.stdout)["outputs"]}
    assert {k: j["copy"][k] for k in ("name", "drain", "file", "uri")} == {
        "name": "copy", "drain": True, "file": str(path),
        "uri": "http://copier:***@127.0.0.1:%d/api/v1/sink" % endpoint.port}
    assert j["sink"]["drain"] is False and j["sink"]["file"] == str(f.conf)
    # The drain shows in status like any output.
    assert output(status(f)[1], "copy")["configured"] is True

    # A hand-written output is not ferryctl's to remove.
    before = f.conf.read_text()
    r = drain(f, "remove", "sink")
    assert r.returncode == 1
    assert "not a drain" in r.stderr and str(f.conf) in r.stderr, r.stderr
    assert f.conf.read_text() == before

    r = drain(f, "remove", "copy", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["ok"] and j["removed"] == "copy" and j["reload"] is True
    assert not path.exists()
    f.child_pid("forwarder", not_pid=fwd)

    f.send_tcp(["ctl.drain.b%d %d %d" % (i, i, 1700000000) for i in range(n)])
    f.wait_sink_count("ctl.drain.b", n, timeout=ARRIVAL)
    assert endpoint.names("ctl.drain.b") == set()
    r = drain(f, "list")
    assert "copy" not in r.stdout


def test_drain_refusals_and_supervisor_down(start_ferry):
    f = start_ferry(start=False)
    cases = [
        (("add", "bad name", "http://h/"), "only letters, digits"),
        (("add", "c", "gopher://h:70/"), 'unknown scheme "gopher" (http, https, carbon'),
        (("add", "c", "redis://h/?db=x"), "db=x is not a whole number"),
        (("add", "c", "tcp://h:1/?format=%7Bbogus%7D"), "unknown field {bogus}"),
        (("add", "c", "h:2003"), "is not a URI"),
        (("add", "c", "http:///x"), "no host"),
        (("add", "c", 'http://h/"x'), "quote"),
        (("add", "sink", "http://h/"), 'an output "sink" exists already'),
        (("remove", "nope"), 'no drain "nope"'),
        (("remove", "sink"), "not a drain"),
    ]
    for args, msg in cases:
        r = drain(f, *args)
        assert r.returncode == 1, (args, r.stdout)
        assert msg in r.stderr, (args, r.stderr)
    assert list((f.etc / "conf.d").iterdir()) == []

    r = drain(f, "add", "later", "https://example.com/api")
    assert r.returncode == 0, r.stderr
    assert "ferry-supervisor is not running: the change applies at its next start" \
        in r.stdout
    assert check(f).returncode == 0
    # Twice is refused, with what to do.
    r = drain(f, "add", "later", "https://example.com/other")
    assert r.returncode == 1 and "remove that drain first" in r.stderr
    r = drain(f, "remove", "later")
    assert r.returncode == 0
    assert list((f.etc / "conf.d").iterdir()) == []


# -- tail -------------------------------------------------------------------

READY = re.compile(r"^ferryctl: tailing (\d+) streams in ")
LIVE = 1.0          # the issue: a metric sent after tail started, within 1 s


class TailRun:
    """
    `ferryctl tail ARGS` in the background; its stdout lines, each with the
    time it arrived, and its stderr. read_stdout=False leaves stdout to the
    test (to close it).
    """

    def __init__(self, f, *args, read_stdout=True):
        self.proc = subprocess.Popen(
            [str(f.bin / "ferryctl"), "tail", *args], env=f.env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.lock = threading.Lock()
        self.lines = []     # (time.monotonic(), line)
        self.err = []
        self.threads = [threading.Thread(target=self._read,
                                         args=(self.proc.stderr, self.err,
                                               False), daemon=True)]
        if read_stdout:
            self.threads.append(threading.Thread(
                target=self._read, args=(self.proc.stdout, self.lines, True),
                daemon=True))
        for t in self.threads:
            t.start()

    def _read(self, stream, into, stamp):
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            with self.lock:
                into.append((time.monotonic(), line) if stamp else line)

    def out(self):
        with self.lock:
            return [l for _, l in self.lines]

    def stderr(self):
        with self.lock:
            return "\n".join(self.err)

    def wait_ready(self, timeout=20):
        """The number of streams it says it follows, once it is ready."""
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("ferryctl tail exited %s: %s"
                                     % (self.proc.returncode, self.stderr()))
            with self.lock:
                return next((READY.match(l) for l in self.err
                             if READY.match(l)), None)
        return int(wait_for(ready, timeout, what="tail ready").group(1))

    def wait_line(self, line, timeout):
        """The time the line arrived, waiting for it up to timeout."""
        def arrived():
            with self.lock:
                return next((t for t, l in self.lines if l == line), None)
        return wait_for(arrived, timeout, interval=0.01,
                        what="%r from tail (have %r)" % (line, self.out()[-5:]))

    def wait_exit(self, timeout=10):
        rc = self.proc.wait(timeout=timeout)
        for t in self.threads:
            t.join(timeout)
        return rc

    def stop(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)
        return self.wait_exit()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def tails():
    """A factory: tails(f, *args) -> TailRun; none outlives the test."""
    require_programs("ferryctl")
    made = []

    def make(f, *args, **kw):
        t = TailRun(f, *args, **kw)
        made.append(t)
        return t
    yield make
    for t in made:
        t.kill()
    reports = [t.stderr() for t in made
               if any(m in t.stderr() for m in SANITIZER_MARKS)]
    assert not reports, "\n".join(reports)


def open_files(pid, under):
    """[(path, access mode)] of what pid holds open under the folder."""
    out = []
    fddir = "/proc/%d/fd" % pid
    for fd in os.listdir(fddir):
        try:
            target = os.readlink(os.path.join(fddir, fd))
            info = Path("/proc/%d/fdinfo/%s" % (pid, fd)).read_text()
        except OSError:
            continue
        if target.startswith(str(under)):
            flags = int(re.search(r"^flags:\s+(\d+)", info, re.M).group(1), 8)
            out.append((target, flags & os.O_ACCMODE))
    return out


def leftovers(f):
    """What a tail could leave behind: non-segment files, drains, db rows."""
    spool = sorted(p.name for p in f.spool.iterdir()
                   if not SEGMENT.match(p.name))
    confd = sorted(p.name for p in (f.etc / "conf.d").iterdir())
    outputs = sorted({r[0] for r in f._db_query(
        "SELECT output FROM cursor") or []})
    procs = sorted(r[0] for r in f._db_query("SELECT name FROM process") or [])
    return spool, confd, outputs, procs


def test_tail_live_metric_within_1s(start_ferry, tails):
    f = start_ferry()
    ts = int(time.time())
    # Already spooled before tail starts: not shown.
    f.send_tcp(["tail.live.old %d" % ts])
    f.wait_sink_count("tail.live.old", 1, timeout=ARRIVAL)
    before = leftovers(f)

    t = tails(f, "tail.live.", "tail.also.")
    assert t.wait_ready() >= 1
    # A reader only: it holds segments open read-only, and not ferry.db.
    files = open_files(t.proc.pid, f.root)
    assert any(SEGMENT.match(os.path.basename(p.split(" ")[0]))
               for p, _ in files), files
    assert all(mode == os.O_RDONLY for _, mode in files), files
    assert not any("ferry.db" in p for p, _ in files), files

    sent = time.monotonic()
    f.send_tcp(["tail.live.a 1 %d" % ts, "tail.other.b 2 %d" % ts,
                "tail.also.c 3 %d" % ts])
    arrived = t.wait_line("tail.live.a 1 %d" % ts, ARRIVAL)
    assert arrived - sent <= LIVE, "shown %.3f s after it was sent" % (
        arrived - sent)
    # c was spooled after b, in the same stream: once c shows, b was passed.
    t.wait_line("tail.also.c 3 %d" % ts, ARRIVAL)
    assert t.out() == ["tail.live.a 1 %d" % ts, "tail.also.c 3 %d" % ts]

    # Delivery is unchanged: the sink has all of them, once.
    f.wait_sink_count("tail.", 4, timeout=ARRIVAL)
    assert sorted(f.sink_points("tail.")) == [
        "tail.also.c", "tail.live.a", "tail.live.old", "tail.other.b"]

    assert t.stop(signal.SIGINT) == 0, t.stderr()
    assert t.out() == ["tail.live.a 1 %d" % ts, "tail.also.c 3 %d" % ts]
    # Nothing left behind: no file in the spool, no drain, no row.
    assert leftovers(f) == before
    assert before[2] == ["sink"]


def test_tail_follows_rotation_and_deletion(start_ferry, tails):
    # The smallest segments allowed: the receiver rotates every 4 KiB and
    # the forwarder deletes each segment once the sink has it, while tail
    # still reads on.
    f = start_ferry("spool { segment_size = 4096 }\n")
    n = 3000
    t = tails(f, "-n", str(n), "--json", "tail.rot.")
    t.wait_ready()
    first = [p.split(" ")[0] for p, _ in open_files(t.proc.pid, f.spool)
             if os.path.basename(p).startswith("receiver.")]
    assert len(first) == 1, first
    lines = []
    for i in range(n):
        lines.append("tail.rot.m%04d %d 1700000000" % (i, i))
        if i % 3 == 0:
            lines.append("tail.skip.m%04d %d 1700000000" % (i, i))
    # A segment is at least one write of the receiver (every 50 ms): send
    # in pieces, so there are many segments.
    for i in range(0, len(lines), 100):
        f.send_tcp(lines[i:i + 100])
        time.sleep(0.06)
    # -n: it ends by itself once it printed that many.
    assert t.wait_exit(timeout=ARRIVAL) == 0, t.stderr()
    got = [json.loads(l) for l in t.out()]
    want = [l for l in lines if l.startswith("tail.rot.")]
    assert [g["line"] for g in got] == want
    assert all(g["stream"] == "receiver" for g in got)
    assert [g["key"] for g in got] == [l.split()[0] for l in want]
    assert "skipped" not in t.stderr(), t.stderr()

    f.wait_sink_count("tail.", len(lines), timeout=ARRIVAL)
    segs = [p for p in f.spool.iterdir() if p.name.startswith("receiver.")]
    newest = max(int(p.name.split(".")[1]) for p in segs)
    assert newest > int(first[0].rsplit(".", 1)[1]) + 10, (first, segs)
    # The segment tail started in went while it was open, and it went on.
    wait_for(lambda: not os.path.exists(first[0]), ARRIVAL,
             what="the forwarder to delete %s" % first[0])


def seg(d, stream, seq):
    return Path(d) / ("%s.%016d" % (stream, seq))


def append(path, text):
    with open(path, "a") as fp:
        fp.write(text)


def test_tail_hand_made_spool(start_ferry, tails):
    """
    No ferry running: segments written here, each step awaited, so every
    case is certain to happen: a segment deleted while tail has it open, a
    line written in two pieces, the memory place appearing, new streams.
    """
    f = start_ferry(start=False)
    f.spool.mkdir(parents=True)
    mem = f.root / "dev/shm/ferry"
    append(seg(f.spool, "receiver", 1), "old.a 1 1\n")
    append(seg(f.spool, "self-receiver", 1), "self.a 1 1\n")
    t = tails(f)
    # self-* streams are left out without --self.
    assert t.wait_ready() == 1
    append(seg(f.spool, "receiver", 1), "r.1 1 1\n")
    t.wait_line("r.1 1 1", 5)

    # Rotation, and the finished segment deleted at once (as the forwarder
    # may): what was appended to it is still read, through the open fd.
    append(seg(f.spool, "receiver", 1), "r.2 1 1\n")
    append(seg(f.spool, "receiver", 2), "r.3 1 1\n")
    os.unlink(seg(f.spool, "receiver", 1))
    t.wait_line("r.3 1 1", 5)

    # A line is shown only once it is whole.
    append(seg(f.spool, "receiver", 2), "r.4 1")
    append(seg(f.spool, "self-receiver", 1), "self.b 1 1\n")
    time.sleep(0.1)
    append(seg(f.spool, "receiver", 2), " 1\n")
    t.wait_line("r.4 1 1", 5)

    # The disk is full: the stream goes on in the memory place, which did
    # not exist when tail started, then comes back.
    mem.mkdir(parents=True)
    append(seg(mem, "receiver", 3), "r.5 1 1\n")
    t.wait_line("r.5 1 1", 5)
    append(seg(f.spool, "receiver", 4), "r.6 1 1\n")
    t.wait_line("r.6 1 1", 5)
    # A stream that appears later is shown from its start.
    append(seg(f.spool, "collectors", 1), "c.1 1 1\nc.2 1 1\n")
    t.wait_line("c.2 1 1", 5)
    assert t.stop(signal.SIGTERM) == 0, t.stderr()
    assert t.out() == ["r.1 1 1", "r.2 1 1", "r.3 1 1", "r.4 1 1", "r.5 1 1",
                       "r.6 1 1", "c.1 1 1", "c.2 1 1"]

    # --self, prefixes, JSON and -n.
    t = tails(f, "--self", "--json", "-n", "2", "self.", "c.")
    assert t.wait_ready() == 3
    append(seg(f.spool, "self-receiver", 1), "self.c 1 1\nother 1 1\n")
    append(seg(f.spool, "collectors", 1), "c.3 1 1\n")
    assert t.wait_exit() == 0, t.stderr()
    # Streams are read in turn: across them, no order is promised.
    assert sorted((json.loads(l) for l in t.out()),
                  key=lambda r: r["stream"]) == [
        {"stream": "collectors", "key": "c.3", "line": "c.3 1 1"},
        {"stream": "self-receiver", "key": "self.c", "line": "self.c 1 1"}]

    # Started while a line was half written: its rest is not a record.
    append(seg(f.spool, "collectors", 1), "c.half 1")
    t = tails(f, "-n", "1")
    t.wait_ready()
    append(seg(f.spool, "collectors", 1), " 1\nc.4 1 1\n")
    assert t.wait_exit() == 0, t.stderr()
    assert t.out() == ["c.4 1 1"]

    # The reader of its output went away: it ends, with 0, even though
    # nothing was printed.
    t = tails(f, "nothing.matches.", read_stdout=False)
    t.wait_ready()
    t.proc.stdout.close()
    assert t.wait_exit() == 0, t.stderr()

    # Nothing written: the spool holds exactly what this test wrote.
    assert sorted(p.name for p in f.spool.iterdir()) == [
        seg(f.spool, s, q).name for s, q in
        (("collectors", 1), ("receiver", 2), ("receiver", 4),
         ("self-receiver", 1))]
    assert sorted(p.name for p in mem.iterdir()) == [seg(mem, "receiver", 3).name]
    assert not f.db_path.exists()


def test_tail_usage(start_ferry):
    require_programs("ferryctl")
    f = start_ferry(start=False)
    for args in (("-n",), ("-n", "0"), ("--count=x",), ("--bogus",)):
        r = f.run("ferryctl", "tail", *args)
        assert r.returncode == 64, (args, r.stderr)
    r = f.run("ferryctl", "tail")
    assert r.returncode == 1 and "spool" in r.stderr, r.stderr

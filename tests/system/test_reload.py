"""
Issue 5's acceptance tests for ferry-periodic and selective reload: an edit
of the configuration is noticed by content, validated, and applied by
restarting only the programs whose settings changed; an invalid edit changes
nothing and is logged once with its file and line; reloads lose no record;
the heartbeat reaches the sink with what it promises.

Every suite here watches its configuration every 0.5 s (periodic {
config_interval = 0.5 }), so an edit is applied within a second; each wait
polls a condition under a deadline.
"""
import base64
import http.server
import json
import os
import re
import shutil
import signal
import socket
import threading
import time

import pytest

from conftest import children_of, pid_alive, proc_exe_name, wait_for

WATCH = 0.5
APPLY_TIMEOUT = 30.0       # ASan binaries on two shared cores
ARRIVAL_TIMEOUT = 90.0


def periodic_conf(**keys):
    keys.setdefault("config_interval", WATCH)
    body = " ".join("%s = %s" % (k, json.dumps(v) if isinstance(v, str) else v)
                    for k, v in keys.items())
    return "periodic { %s }\n" % body


def child_pids(f):
    """{"receiver": pid, ...} for every live child of the supervisor."""
    out = {}
    for pid in children_of(f.proc.pid):
        exe = proc_exe_name(pid)
        if pid_alive(pid) and exe and exe.startswith("ferry-"):
            out[exe[len("ferry-"):]] = pid
            f.known_children.add(pid)
    return out


def start_watched(start_ferry, extra=""):
    """A suite whose ferry-periodic watches every WATCH s, once it watches."""
    f = start_ferry(extra_conf=periodic_conf() + extra)
    f.child_pid("periodic")
    wait_periodic_watching(f)
    return f


def wait_periodic_watching(f, count=1):
    """ferry-periodic has taken its baseline (it logs its settings then)."""
    wait_for(lambda: f.log_text("periodic").count("config watch every") >= count,
             APPLY_TIMEOUT, what="ferry-periodic watching the configuration")


def reloads_requested(f):
    return f.log_text("periodic").count("asked ferry-supervisor")


def settle(f, pids):
    """Every child in pids runs, and no restart is under way."""
    def steady():
        now = child_pids(f)
        return now if set(now) >= set(pids) else None
    return wait_for(steady, APPLY_TIMEOUT, what="every child running")


def edit(f, extra):
    """Write ferry.conf with extra after the test template."""
    f.write_config(extra)


# -- selective reload ----------------------------------------------------


def test_output_edit_restarts_only_the_forwarder(start_ferry):
    f = start_watched(start_ferry)
    before = settle(f, ("receiver", "forwarder", "sink", "periodic"))
    edit(f, periodic_conf() + 'output "second" { uri = "http://127.0.0.1:%d'
         '/api/v1/sink" }\n' % f.sink_port)
    new_fwd = f.child_pid("forwarder", timeout=APPLY_TIMEOUT,
                          not_pid=before["forwarder"])
    after = child_pids(f)
    assert after["forwarder"] == new_fwd
    for name, pid in before.items():
        if name != "forwarder":
            assert after.get(name) == pid, "%s restarted: %r -> %r" % (
                name, before, after)
    sup = f.log_text("supervisor")
    assert "forwarder: its settings changed; restarting it" in sup
    for name in before:
        if name != "forwarder":
            assert "%s: its settings changed" % name not in sup

    # The new forwarder delivers, to both outputs.
    ts = int(time.time()) - 30
    f.send_tcp(["reload.after.m%d %d %d" % (i, i, ts) for i in range(50)])
    f.wait_sink_count("reload.after.", 50, timeout=ARRIVAL_TIMEOUT)


def test_receiver_edit_restarts_only_the_receiver(start_ferry):
    f = start_watched(start_ferry)
    before = settle(f, ("receiver", "forwarder", "sink", "periodic"))
    edit(f, periodic_conf() + "receiver { max_connections = 77 }\n")
    f.child_pid("receiver", timeout=APPLY_TIMEOUT, not_pid=before["receiver"])
    after = child_pids(f)
    for name in ("forwarder", "sink", "periodic"):
        assert after.get(name) == before[name], name


def test_an_edit_that_changes_no_setting_restarts_nothing(start_ferry):
    f = start_watched(start_ferry)
    before = settle(f, ("receiver", "forwarder", "sink", "periodic"))
    n = reloads_requested(f)
    # A comment and a default spelled out: new content, same settings.
    edit(f, periodic_conf() + "# an operator's note\nprefix = \"servers\"\n")
    wait_for(lambda: reloads_requested(f) > n, APPLY_TIMEOUT,
             what="ferry-periodic to ask for a reload")
    wait_for(lambda: "nothing restarted" in f.log_text("supervisor"),
             APPLY_TIMEOUT, what="the supervisor's reload")
    assert child_pids(f) == before


def test_touch_without_edit_asks_for_nothing(start_ferry):
    f = start_watched(start_ferry)
    text = f.conf.read_text()
    f.conf.write_text(text)        # same bytes, new mtime
    # Several checks later, nothing was asked for. (Absence takes time.)
    time.sleep(WATCH * 4)
    assert reloads_requested(f) == 0
    assert "reloading" not in f.log_text("supervisor")


def test_periodic_edit_restarts_only_periodic(start_ferry):
    f = start_watched(start_ferry)
    before = settle(f, ("receiver", "forwarder", "sink", "periodic"))
    edit(f, periodic_conf(heartbeat_interval=30))
    f.child_pid("periodic", timeout=APPLY_TIMEOUT, not_pid=before["periodic"])
    after = child_pids(f)
    for name in ("receiver", "forwarder", "sink"):
        assert after.get(name) == before[name], name


def test_sink_disabled_then_enabled(start_ferry):
    f = start_watched(start_ferry)
    before = settle(f, ("receiver", "forwarder", "sink", "periodic"))
    edit(f, periodic_conf() + "sink { enabled = false }\n")
    wait_for(lambda: "sink" not in child_pids(f), APPLY_TIMEOUT,
             what="the sink to stop")
    after = child_pids(f)
    for name in ("receiver", "forwarder", "periodic"):
        assert after.get(name) == before[name], name
    edit(f, periodic_conf())
    f.child_pid("sink", timeout=APPLY_TIMEOUT, not_pid=before["sink"])
    assert child_pids(f)["forwarder"] == before["forwarder"]


REFUSED_KEY = 'api_key = "refused-by-the-test"'


def refusing_sink_bin(tmp_path, real):
    """
    A bin folder like real, whose ferry-sink exits 78 while ferry.conf gives
    the sink REFUSED_KEY. conf_load() now refuses ahead of time whatever
    ferry-sink itself would refuse, so no edit makes the real one exit 78;
    a child can still refuse settings the check could not judge (a bind
    name that stopped resolving), and the supervisor's part is the same.
    """
    d = tmp_path / "bin"
    d.mkdir()
    for p in real.iterdir():
        if p.name == "ferry-supervisor":
            # It runs its siblings beside /proc/self/exe: a copy, not a link.
            shutil.copy2(p, d / p.name)
        elif p.name != "ferry-sink":
            (d / p.name).symlink_to(p)
    sink = d / "ferry-sink"
    sink.write_text("#!/bin/sh\n"
                    "grep -qF '%s' \"$FERRY_ROOT/etc/opt/ferry/ferry.conf\" && "
                    "{ echo 'ferry-sink: settings refused' >&2; exit 78; }\n"
                    "exec %s \"$@\"\n" % (REFUSED_KEY, real / "ferry-sink"))
    sink.chmod(0o755)
    return d


def test_fatal_child_waits_for_its_own_settings_to_change(start_ferry, tmp_path):
    f = start_ferry(extra_conf=periodic_conf(), start=False)
    f.bin = refusing_sink_bin(tmp_path, f.bin)
    f.start()
    f.child_pid("periodic")
    wait_periodic_watching(f)
    before = settle(f, ("receiver", "forwarder", "sink", "periodic"))
    good = f.conf.read_text()
    refused = good.replace('sink { enabled = true',
                           'sink { enabled = true ' + REFUSED_KEY)
    assert refused != good
    f.conf.write_text(refused)
    wait_for(lambda: (f.processes().get("sink") or {}).get("state") == "fatal",
             APPLY_TIMEOUT, what="the sink parked in fatal")
    restarts = f.processes()["sink"]["restarts"]

    # An edit of another program's settings: the sink stays parked.
    f.conf.write_text(refused + 'output "other" { uri = "http://127.0.0.1:%d'
                      '/api/v1/sink" }\n' % f.sink_port)
    f.child_pid("forwarder", timeout=APPLY_TIMEOUT, not_pid=before["forwarder"])
    assert f.processes()["sink"]["state"] == "fatal"
    assert f.processes()["sink"]["restarts"] == restarts
    assert f.log_text("supervisor").count("sink exited (exit 78)") == 1
    assert "sink" not in child_pids(f)

    # Its own settings fixed: it runs again.
    f.conf.write_text(good)
    f.child_pid("sink", timeout=APPLY_TIMEOUT)
    wait_for(f.sink_ok, APPLY_TIMEOUT, what="the sink answering again")
    assert f.processes()["sink"]["restarts"] == restarts + 1


# -- invalid edits ---------------------------------------------------------

INVALID = [
    # (name, the bad text, what the error message says)
    ("unknown_key", "periodic { config_interval = 0.5 no_such_key = 1 }\n",
     "no_such_key"),
    ("bad_value", "periodic { config_interval = 0.5 heartbeat_interval = 0 }\n",
     "heartbeat_interval"),
    ("syntax_error", "periodic { config_interval = 0.5\noutput \"x\" { uri = }\n",
     ""),
]


def bad_line(f, bad):
    """The line of ferry.conf the error is on: the first line of bad."""
    f.write_config(bad)
    lines = f.conf.read_text().splitlines()
    first = bad.splitlines()[0]
    return lines.index(first) + 1


@pytest.mark.parametrize("name,bad,says", INVALID, ids=[i[0] for i in INVALID])
def test_invalid_edit_changes_nothing_and_fixing_applies(start_ferry, name, bad, says):
    f = start_watched(start_ferry)
    before = settle(f, ("receiver", "forwarder", "sink", "periodic"))
    good = f.conf.read_text()
    line = bad_line(f, bad)     # writes it

    pattern = re.compile(r"periodic\[\d+\]: warning: %s:(\d+): (.*)"
                         % re.escape(str(f.conf)))

    def error_logged():
        return pattern.findall(f.log_text("periodic"))

    def reported():
        # The errors come first, then the line saying the running
        # configuration stays: read them once that last line is there.
        text = f.log_text("periodic")
        return "the running configuration stays" in text and pattern.findall(text)
    errors = wait_for(reported, APPLY_TIMEOUT,
                      what="the error with file and line in periodic.log, then "
                      "'the running configuration stays'")
    lines = {int(l) for l, _ in errors}
    if name == "syntax_error":
        # Two lines of bad input: the unclosed section's, or the broken uri's.
        assert lines & {line, line + 1}, (line, errors)
    else:
        assert line in lines, errors
    assert says in " ".join(m for _, m in errors)

    # Logged once: several checks later, the same errors are not repeated.
    time.sleep(WATCH * 4)
    assert len(error_logged()) == len(errors)
    assert reloads_requested(f) == 0
    assert "reloading" not in f.log_text("supervisor")
    assert child_pids(f) == before

    # Fixed, with a change of an output: applied, the forwarder only.
    f.conf.write_text(good + 'output "fixed" { uri = "http://127.0.0.1:%d'
                      '/api/v1/sink" }\n' % f.sink_port)
    f.child_pid("forwarder", timeout=APPLY_TIMEOUT, not_pid=before["forwarder"])
    after = child_pids(f)
    for n in ("receiver", "sink", "periodic"):
        assert after.get(n) == before[n], n


def test_unclosed_section_line(start_ferry):
    f = start_watched(start_ferry)
    bad = "periodic { config_interval = 0.5\n"
    line = bad_line(f, bad)
    pattern = re.compile(r"warning: %s:(\d+): .*never closed"
                         % re.escape(str(f.conf)))
    found = wait_for(lambda: pattern.findall(f.log_text("periodic")),
                     APPLY_TIMEOUT, what="the unclosed section's error")
    assert int(found[0]) == line, (found, line)


@pytest.mark.long(12)
def test_periodic_started_on_an_invalid_config_still_applies_the_fix(start_ferry):
    import os
    import signal
    f = start_watched(start_ferry)
    before = settle(f, ("receiver", "forwarder", "sink", "periodic"))
    good = f.conf.read_text()
    f.conf.write_text(good + "no_such_key = 1\n")
    wait_for(lambda: "no_such_key" in f.log_text("periodic"), APPLY_TIMEOUT,
             what="the invalid edit seen")
    # ferry-periodic dies and comes back while the file is invalid.
    os.kill(before["periodic"], signal.SIGKILL)
    f.child_pid("periodic", timeout=APPLY_TIMEOUT, not_pid=before["periodic"])
    wait_for(lambda: "watching it until it is" in f.log_text("periodic"),
             APPLY_TIMEOUT, what="the new ferry-periodic watching anyway")
    # Without a valid config it checks every 10 s.
    f.conf.write_text(good + 'output "fixed" { uri = "http://127.0.0.1:%d'
                      '/api/v1/sink" }\n' % f.sink_port)
    f.child_pid("forwarder", timeout=APPLY_TIMEOUT + 10,
                not_pid=before["forwarder"])
    assert child_pids(f)["receiver"] == before["receiver"]


def test_invalid_fragment_names_its_file(start_ferry):
    f = start_watched(start_ferry)
    before = settle(f, ("receiver", "forwarder", "sink", "periodic"))
    frag = f.etc / "conf.d" / "50-bad.conf"
    frag.write_text("# an output\noutput \"bad\" {\n  uri = \"http://x/\"\n"
                    "  bogus = 3\n}\n")
    wait_for(lambda: ("%s:4:" % frag) in f.log_text("periodic"),
             APPLY_TIMEOUT, what="the fragment's error at line 4")
    assert child_pids(f) == before
    # Removing the file is an edit too: back to the running configuration.
    frag.unlink()
    wait_for(lambda: reloads_requested(f) >= 1, APPLY_TIMEOUT,
             what="a reload after the file went")
    wait_for(lambda: "nothing restarted" in f.log_text("supervisor"),
             APPLY_TIMEOUT, what="the supervisor's reload")
    assert child_pids(f) == before


def test_fragment_added_is_an_edit(start_ferry):
    f = start_watched(start_ferry)
    before = settle(f, ("receiver", "forwarder", "sink", "periodic"))
    (f.etc / "conf.d" / "20-out.conf").write_text(
        'output "frag" { uri = "http://127.0.0.1:%d/api/v1/sink" }\n'
        % f.sink_port)
    f.child_pid("forwarder", timeout=APPLY_TIMEOUT, not_pid=before["forwarder"])
    assert child_pids(f)["receiver"] == before["receiver"]


# -- reloads lose nothing --------------------------------------------------


def send_until_read(port, lines, deadline):
    """
    Send lines on a new connection until the receiver has read them all:
    it closed its side cleanly (EOF) after our end of stream. A connection
    refused (the receiver restarting) or reset (it stopped with our bytes
    unread) means they may not all have been taken: the whole batch goes
    again, which the sink stores once. Returns the attempts it took.
    """
    data = "".join(l + "\n" for l in lines).encode()
    attempts = 0
    while True:
        attempts += 1
        if time.monotonic() >= deadline:
            raise AssertionError("could not deliver a batch to the receiver "
                                 "in time (%d attempts)" % attempts)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                s.settimeout(10)
                while s.recv(4096):
                    pass
            return attempts
        except OSError:
            time.sleep(0.02)


@pytest.mark.long(15)
def test_metrics_sent_during_20_reloads_arrive_complete(start_ferry):
    """
    A stream sent through 20 reloads: each adds or removes an output (the
    forwarder restarts), every fourth changes a periodic setting too, and
    every other one from the second on changes the receiver's idle_timeout,
    so the receiver restarts 10 times while the stream goes on. Every line
    the receiver read must arrive.
    """
    f = start_watched(start_ferry)
    settle(f, ("receiver", "forwarder", "sink", "periodic"))
    ts0 = int(time.time()) - 3600
    sent = []
    retried = []
    stop = threading.Event()
    failure = []

    def sender():
        i = 0
        deadline = time.monotonic() + 240
        try:
            while not stop.is_set():
                batch = ["reload.stream.s%d %d %d" % (j % 10, j, ts0 + j)
                         for j in range(i, i + 200)]
                if send_until_read(f.tcp_port, batch, deadline) > 1:
                    retried.append(i)
                sent.extend(batch)
                i += 200
                time.sleep(0.01)
        except Exception as e:          # reported below, not lost in a thread
            failure.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    receiver_edits = 0
    try:
        second = ('output "second" { uri = "http://127.0.0.1:%d/api/v1/sink" }\n'
                  % f.sink_port)
        for n in range(20):
            fwd = f.child_pid("forwarder")
            rcv = f.child_pid("receiver")
            # Alternate: an output added and removed (the forwarder
            # restarts), and every fourth time a periodic setting too; the
            # receiver's idle_timeout flips on every odd edit.
            extra = periodic_conf(heartbeat_interval=60 + n % 4 // 3) + \
                (second if n % 2 == 0 else "") + \
                "receiver { idle_timeout = %d }\n" % (60 + (n + 1) // 2 % 2)
            edit(f, extra)
            f.child_pid("forwarder", timeout=APPLY_TIMEOUT, not_pid=fwd)
            if n % 2 == 1:
                receiver_edits += 1
                f.child_pid("receiver", timeout=APPLY_TIMEOUT, not_pid=rcv)
    finally:
        stop.set()
        t.join(timeout=60)
    assert not t.is_alive(), "the sender did not stop"
    assert not failure, failure
    assert len(sent) > 0
    sup = f.log_text("supervisor")
    assert sup.count("forwarder: its settings changed") >= 20
    assert sup.count("receiver: its settings changed") >= receiver_edits == 10
    f.wait_sink_count("reload.stream.", len(sent), timeout=ARRIVAL_TIMEOUT)
    points = f.sink_points("reload.stream.")
    got = {(name, ts) for name, pts in points.items() for ts, _ in pts}
    want = set()
    for line in sent:
        name, _, ts = line.split()
        want.add((name, int(ts)))
    print("20 reloads (%d restarting the receiver): %d lines sent, %d batches "
          "sent again after a refused or reset connection"
          % (receiver_edits, len(sent), len(retried)))
    assert want - got == set()


# -- heartbeat ---------------------------------------------------------------


def test_heartbeat_reaches_the_sink_with_its_fields(start_ferry):
    f = start_ferry(start=False)
    f.write_config(periodic_conf(
        heartbeat_url="http://127.0.0.1:%d/beat" % f.sink_port,
        heartbeat_interval=1))
    f.start()
    f.child_pid("periodic")
    # Something to be in the backlog's and the outputs' figures.
    ts = int(time.time()) - 30
    f.send_tcp(["beat.m%d %d %d" % (i, i, ts) for i in range(20)])
    f.wait_sink_count("beat.", 20, timeout=ARRIVAL_TIMEOUT)

    def beat_with_states():
        try:
            rows = json.loads(f.http_get("/beat?host=systest"))
        except Exception:
            return None
        beat = rows[0]["beat"]
        names = {p["name"]: p for p in beat.get("processes", [])}
        outs = beat.get("outputs", [])
        if ({"receiver", "forwarder", "sink", "periodic"} <= set(names)
                and outs and outs[0]["state"] != "unknown"
                and outs[0]["sent"] > 0):
            return beat
        return None
    beat = wait_for(beat_with_states, APPLY_TIMEOUT,
                    what="a heartbeat with process and output states")

    assert beat["hostname"] == "systest"
    assert abs(beat["timestamp"] - time.time()) < 60
    assert beat["version"] == f.run("ferryctl", "version").stdout.strip()
    assert beat["platform"].startswith("Linux ")
    assert beat["ip"] == "127.0.0.1"
    assert isinstance(beat["ok"], bool)
    assert isinstance(beat["errors"], list) and len(beat["errors"]) <= 10
    procs = {p["name"]: p for p in beat["processes"]}
    for name in ("receiver", "forwarder", "sink", "periodic"):
        p = procs[name]
        assert p["state"] == "running", p
        assert p["pid"] > 0 and p["restarts"] >= 0
        assert "last_exit" in p and "started" in p
    assert procs["periodic"]["pid"] == f.child_pid("periodic")
    (out,) = beat["outputs"]
    assert out["name"] == "sink"
    for key in ("state", "since", "backlog_bytes", "backlog_records",
                "oldest_age", "last_success", "last_error", "last_error_at",
                "sent", "dropped"):
        assert key in out, key
    assert out["backlog_bytes"] >= 0 and out["backlog_records"] >= 0
    assert out["last_success"] > 0
    assert out["sent"] >= 20


def test_heartbeat_errors_and_ok(start_ferry):
    f = start_ferry(start=False)
    f.write_config(periodic_conf(
        heartbeat_url="http://127.0.0.1:%d/beat" % f.sink_port,
        heartbeat_interval=1))
    f.start()
    f.child_pid("periodic")
    wait_periodic_watching(f)
    # A warning in the last interval: an invalid edit makes one.
    f.write_config(periodic_conf(
        heartbeat_url="http://127.0.0.1:%d/beat" % f.sink_port,
        heartbeat_interval=1) + "bogus_top_key = 1\n")

    def beat_with_error():
        try:
            beat = json.loads(f.http_get("/beat?host=systest"))[0]["beat"]
        except Exception:
            return None
        errs = [e for e in beat["errors"] if "bogus_top_key" in e]
        return beat if errs else None
    beat = wait_for(beat_with_error, APPLY_TIMEOUT,
                    what="a heartbeat carrying the config error")
    assert beat["ok"] is False
    assert all(": warning: " in e or ": fatal: " in e for e in beat["errors"])


class FlakyBeatServer:
    """An HTTP endpoint for PUT /beat that refuses the first `fail` beats."""

    def __init__(self, fail):
        self.fail = fail
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append((self.headers.get("Authorization"), body))
                code = 503 if len(outer.requests) <= outer.fail else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_failing_heartbeat_is_logged_once_and_not_retried_in_a_storm(start_ferry):
    srv = FlakyBeatServer(fail=4)
    try:
        f = start_ferry(start=False)
        f.write_config('api_key = "k123"\n' + periodic_conf(
            heartbeat_url="http://127.0.0.1:%d/beat" % srv.port,
            heartbeat_interval=1))
        f.start()
        f.child_pid("periodic")
        wait_for(lambda: len(srv.requests) >= 6, APPLY_TIMEOUT,
                 what="six heartbeats at the endpoint")
        # The forwarder's heartbeat output sends it, and logs as outputs do.
        log = f.log_text("forwarder")
        assert log.count("output @heartbeat: HTTP 503; retrying") == 1
        wait_for(lambda: "output @heartbeat: delivering again" in
                 f.log_text("forwarder"), APPLY_TIMEOUT,
                 what="the recovery logged")
        assert f.log_text("forwarder").count("delivering again") == 1
        # Retried with backoff, not in a burst.
        assert len(srv.requests) <= 12
        auth, body = srv.requests[-1]
        assert auth == "Basic " + base64.b64encode(b"k123:").decode()
        beat = json.loads(body)
        assert beat["hostname"] == "systest"
        assert "k123" not in f.log_text("periodic")
        assert "k123" not in f.log_text("forwarder")
    finally:
        srv.close()


def beats_in_spool(f):
    """The heartbeat records ferry-periodic has written, oldest first."""
    beats = []
    for seg in sorted((f.var / "spool").glob("heartbeat.*")):
        for line in seg.read_text().splitlines():
            key, _, body = line.partition(" ")
            assert key == "@heartbeat", line
            beats.append(json.loads(body))
    return beats


def test_heartbeat_goes_through_the_forwarder_and_a_backlog_collapses(start_ferry):
    srv = FlakyBeatServer(fail=0)
    try:
        f = start_ferry(start=False)
        f.write_config(periodic_conf(
            heartbeat_url="http://127.0.0.1:%d/beat" % srv.port,
            heartbeat_interval=1))
        f.start()
        wait_for(lambda: len(srv.requests) >= 2, APPLY_TIMEOUT,
                 what="heartbeats at the endpoint")
        # Periodic wrote them into the spool; the forwarder PUT them.
        assert beats_in_spool(f)

        fwd = f.child_pid("forwarder")
        os.kill(fwd, signal.SIGSTOP)
        try:
            time.sleep(0.5)     # a request already on its way may land
            stopped_at = len(srv.requests)
            t_stop = time.time()
            written = len(beats_in_spool(f))
            wait_for(lambda: len(beats_in_spool(f)) >= written + 4,
                     APPLY_TIMEOUT, what="beats written while it is stopped")
            # None arrives while the forwarder is stopped.
            assert len(srv.requests) == stopped_at
            t_cont = time.time()
        finally:
            os.kill(fwd, signal.SIGCONT)
        wait_for(lambda: len(srv.requests) > stopped_at, APPLY_TIMEOUT,
                 what="heartbeats resuming")
        # The backlog collapses to its newest: the beats written while the
        # forwarder was stopped are not replayed, only the newest is sent.
        after = [json.loads(b) for _, b in srv.requests[stopped_at:]]
        backlog = [b for b in after
                   if t_stop + 1 < b["timestamp"] < t_cont - 1]
        assert len(backlog) <= 1, [b["timestamp"] for b in after]
        newest = [b for b in after if b["timestamp"] >= t_cont - 2]
        assert newest, [b["timestamp"] for b in after]
        assert f.log_text("periodic").count("heartbeat") >= 1
    finally:
        srv.close()


def test_dead_heartbeat_endpoint_does_not_hold_up_the_watch(start_ferry):
    # A port that accepts connections and never answers.
    import socket
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    try:
        f = start_ferry(start=False)
        f.write_config(periodic_conf(
            heartbeat_url="http://127.0.0.1:%d/beat" % hole.getsockname()[1],
            heartbeat_interval=1))
        f.start()
        before = settle(f, ("receiver", "forwarder", "sink", "periodic"))
        wait_periodic_watching(f)
        t0 = time.monotonic()
        edit(f, periodic_conf(
            heartbeat_url="http://127.0.0.1:%d/beat" % hole.getsockname()[1],
            heartbeat_interval=1) + 'output "x2" { uri = "http://127.0.0.1:%d'
            '/api/v1/sink" }\n' % f.sink_port)
        f.child_pid("forwarder", timeout=APPLY_TIMEOUT, not_pid=before["forwarder"])
        # Applied well within the heartbeat's 10 s timeout.
        assert time.monotonic() - t0 < 8
    finally:
        hole.close()

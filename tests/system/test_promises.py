"""
Promises of SPEC.md that a review found without a system test: each test
here exists to fail when its promise breaks.

  1. self-metrics reach an output like any metric
  2. one dead output never slows another
  3. the spool cap holds across a restart, and dropping is logged once
  4. the built-in collectors run through ferry-collectors; disabling one
     stops it
  5. with no output configured, ferry keeps spooling and says so once
  6. a lost progress database re-sends what is spooled, and says so
  7. a 503 with Retry-After is honoured like a 429
  8. an output reuses its connection across batches
  9. a growing file in the drop directory is taken only once stable
 11. a permanent 4xx (403) is dead-lettered, and the count survives a
     forwarder restart
(10, the receiver restarted during the 20-reload stream, lives in
test_reload.py.)

Outputs that need faults go through a FaultProxy (faultproxy.py); its log
of requests is the ground truth for what was POSTed and when. Every wait
polls under a deadline.
"""
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from conftest import (CONFIG_TEMPLATE, REPO, check_stored, children_of,
                      deadletter_batches, free_port, proc_exe_name, wait_for)
from faultproxy import FaultProxy

OUTPUT = "sink"             # the output's name in conftest's configuration
SELF = "servers.systest.ferry."
ARRIVAL = 45.0              # delivery on ASan binaries and two shared cores
APPLY = 30.0                # a reload applied


# -- helpers ---------------------------------------------------------------------

class Rig:
    """Suites behind fault proxies; the suites stop before the proxies close."""

    def __init__(self, start_ferry):
        self.start_ferry = start_ferry
        self.suites = []
        self.proxies = []

    def proxy(self, upstream_port):
        p = FaultProxy(upstream_port)
        self.proxies.append(p)
        return p

    def make(self, extra="", start=True, retry_max="2"):
        """A suite whose output "sink" goes through a passthrough proxy."""
        f = self.start_ferry(extra, start=False)
        f.env["FERRY_FORWARDER_RETRY_MAX"] = retry_max
        p = self.proxy(f.sink_port)
        f.write_config(extra, output_port=p.port)
        self.suites.append(f)
        if start:
            f.start()
        return f, p

    def close(self):
        for f in self.suites:
            f.stop()
        for p in self.proxies:
            p.close()


@pytest.fixture
def rig(start_ferry):
    r = Rig(start_ferry)
    yield r
    r.close()


def lines(prefix, n, ts, start=0):
    return ["%sm%05d %d %d" % (prefix, i, i, ts) for i in range(start, start + n)]




def expect(prefix, n, start=0):
    return {"%sm%05d" % (prefix, i): i for i in range(start, start + n)}


SINK_SELF = "servers.systest.ferry.sink."


def wait_quiet(proxy, quiet=1.5, timeout=20.0):
    """
    Wait until the proxy has seen no new request for `quiet` seconds, from
    now on: the self-metrics every process publishes as it starts are
    through. The sink's own counters are left out: each request it takes
    changes them, so it publishes them again a second later, and a request
    holding only those comes every second for as long as the suite runs.
    """
    t0 = time.monotonic()

    def calm():
        reqs = [r for r in proxy.snapshot()
                if not r.lines() or
                not all(l.startswith(SINK_SELF) for l in r.lines())]
        last = max([t0] + [r.t_start for r in reqs])
        return time.monotonic() - last >= quiet
    wait_for(calm, timeout, interval=0.1, what="the output to go quiet")


def answered(proxy, status, timeout=10.0):
    """
    The requests the proxy answered with status, once there is one: the
    counted mode runs out when a request is taken, a moment before the
    request is logged and answered.
    """
    return wait_for(lambda: [r for r in proxy.snapshot()
                             if r.status == status and r.t_answer is not None],
                    timeout, interval=0.02, what="a request answered %d" % status)


def acked_at(proxy):
    """{line name: monotonic time its first 2xx was written to the forwarder}."""
    out = {}
    for r in proxy.snapshot():
        if r.t_answer is None or not r.status or not 200 <= r.status < 300:
            continue
        for l in r.lines():
            name = l.split(" ", 1)[0]
            if name not in out or r.t_answer < out[name]:
                out[name] = r.t_answer
    return out


def counter(f, proc, name):
    return f.counters(proc).get(name)


def spool_files(f):
    """{path: size} of every regular file under the spool directory."""
    out = {}
    for d, _, files in os.walk(str(f.spool)):
        for n in files:
            p = os.path.join(d, n)
            try:
                out[p] = os.lstat(p).st_size
            except OSError:
                pass        # deleted under us
    return out


def spool_names(f, prefix):
    """The names under prefix found in the receiver's spool segments, each
    time they appear."""
    out = []
    pre = prefix.encode()
    for p in sorted(f.spool.glob("receiver.*")):
        try:
            data = p.read_bytes()
        except OSError:
            continue
        out += [l.split(b" ", 1)[0].decode() for l in data.split(b"\n")
                if l.startswith(pre)]
    return out


def collectors_bin():
    d = os.environ.get("FERRY_COLLECTORS_BIN")
    return Path(d) if d else REPO / "build" / "asan" / "collectors"


def require(f, *programs):
    missing = [p for p in programs if not os.access(f.bin / p, os.X_OK)]
    if missing:
        pytest.skip("not built in %s: %s" % (f.bin, " ".join(missing)))


# -- 1. self-metrics end to end -------------------------------------------------------

def test_self_metrics_reach_the_sink(ferry):
    n = 1234
    ts = int(time.time()) - 60
    ferry.send_tcp(lines("selfm.", n, ts))
    ferry.wait_sink_count("selfm.", n, timeout=ARRIVAL)
    name = SELF + "receiver.accepted"

    def published():
        pts = ferry.sink_points(name).get(name, [])
        return [v for _, v in pts if v == n] and pts
    pts = wait_for(published, ARRIVAL, interval=0.2,
                   what="%s = %d in the sink" % (name, n))
    # A counter only grows, and nothing else was sent to the receiver.
    values = [v for _, v in pts]
    assert values == sorted(values) and max(values) == n, pts
    assert all(abs(t - time.time()) < 120 for t, _ in pts), pts


# -- 2. one dead output never slows another -------------------------------------------

LATENCY_LIMIT = 2.0


@pytest.mark.long(15)
def test_dead_output_does_not_slow_the_other(rig):
    f = rig.start_ferry(start=False)
    f.env["FERRY_FORWARDER_RETRY_MAX"] = "2"
    live = rig.proxy(f.sink_port)
    dead = rig.proxy(f.sink_port)
    dead.set_mode("swallow")        # connections accepted, nothing answered
    extra = 'output "dead" { uri = "http://127.0.0.1:%d/api/v1/sink" }\n' % dead.port
    f.write_config(extra, output_port=live.port)
    rig.suites.append(f)
    f.start()
    wait_for(lambda: dead.connections(), 20, what="the dead output to connect")

    # 20 lines every 0.25 s for 14 s: past the 10 s in which the forwarder
    # gives up on the silent peer, so it retries while we measure.
    ts = int(time.time()) - 60
    sent = []       # (chunk prefix, monotonic time before the send)
    t_end = time.monotonic() + 14
    k = 0
    while time.monotonic() < t_end:
        prefix = "deadout.c%03d." % k
        t = time.monotonic()
        f.send_tcp(lines(prefix, 20, ts))
        sent.append((prefix, t))
        k += 1
        time.sleep(max(0.0, t + 0.25 - time.monotonic()))
    total = 20 * len(sent)
    f.wait_sink_count("deadout.", total, timeout=ARRIVAL)

    acked = acked_at(live)
    latency = []
    for prefix, t in sent:
        names = ["%sm%05d" % (prefix, i) for i in range(20)]
        assert all(n in acked for n in names), "chunk %s never acknowledged" % prefix
        latency.append(max(acked[n] for n in names) - t)
    lat = sorted(latency)
    # The dead output tried again on a new connection meanwhile.
    wait_for(lambda: len(dead.connections()) >= 2, 20, interval=0.2,
             what="the dead output to retry on a new connection")
    retries = wait_for(lambda: counter(f, "forwarder", "output.dead.retries"), 20,
                       interval=0.3, what="output.dead.retries > 0")
    print("dead output beside the sink: %d chunks, latency median %.3f s, "
          "max %.3f s; the dead output opened %d connections, retries %s"
          % (len(sent), lat[len(lat) // 2], lat[-1], len(dead.connections()),
             retries))
    assert lat[-1] < LATENCY_LIMIT, (
        "the live output's latency reached %.2f s beside a dead output: %s"
        % (lat[-1], ["%.2f" % x for x in latency]))
    assert not [r for r in dead.snapshot() if r.status], \
        "the dead output was answered"
    problems = check_stored(f.sink_points("deadout."),
                          {"%sm%05d" % (p, i): i for p, _ in sent for i in range(20)},
                          ts)
    assert problems == [], problems


# -- 3. the spool cap holds across a restart, logged once -------------------------------

CAP = 1 << 20
SEGMENT = 128 << 10


def test_spool_cap_across_restart(start_ferry):
    f = start_ferry(start=False)
    extra = "spool { max_size = 1M segment_size = 128K }\n"
    dead_port = free_port()         # nothing listens there
    f.write_config(extra, output_port=dead_port)
    f.start()
    assert f.stop() == 0

    # Pre-fill: 24 finished segments of ~128 KiB (3 MiB, 3 x the cap),
    # after whatever the receiver wrote in the first run.
    seqs = [int(p.name.split(".")[1]) for p in f.spool.glob("receiver.*")]
    seq = max(seqs, default=0) + 1
    ts = int(time.time()) - 600
    pad = "." + "p" * 50
    total = 0
    i = 0
    for s in range(seq, seq + 24):
        chunk = []
        size = 0
        while size < SEGMENT - 100:
            l = "capr.m%06d%s %d %d\n" % (i, pad, i, ts)
            chunk.append(l)
            size += len(l)
            i += 1
        (f.spool / ("receiver.%016d" % s)).write_text("".join(chunk))
        total += len(chunk)
    before = sum(spool_files(f).values())
    assert before > 3 * CAP - SEGMENT, before

    f.start()
    t0 = time.monotonic()
    wait_for(lambda: sum(spool_files(f).values()) <= CAP, 5, interval=0.05,
             what="the spool within its cap of %d bytes (it held %d)" % (CAP, before))
    t_cap = time.monotonic() - t0
    dropped = wait_for(lambda: counter(f, "forwarder", "output.%s.dropped" % OUTPUT),
                       20, interval=0.3, what="output.%s.dropped > 0" % OUTPUT)
    left = len(spool_names(f, "capr."))
    # The forwarder's later checks must not log again (give them 3 s).
    time.sleep(3)
    over = [l for l in f.log_text("forwarder").splitlines() if "over its cap" in l]
    after = sum(spool_files(f).values())
    print("spool cap across a restart: %d bytes pre-filled (%d records), within "
          "the cap %.2f s after start; %d records left, output.%s.dropped %s; "
          "%d bytes now; %d 'over its cap' lines"
          % (before, total, t_cap, left, OUTPUT, dropped, after, len(over)))
    assert after <= CAP
    assert dropped >= total - left, (dropped, total, left)
    assert len(over) == 1, over


# -- 4. the built-in collectors through the runner -----------------------------------------

def install_builtins(f):
    src = collectors_bin()
    progs = sorted(p for p in src.iterdir() if p.is_file() and os.access(p, os.X_OK)) \
        if src.is_dir() else []
    names = {p.name for p in progs}
    if not {"loadavg", "memory"} <= names:
        pytest.skip("built-in collectors not built in %s" % src)
    dest = f.root / "opt/ferry/collectors"
    dest.mkdir(parents=True, exist_ok=True)
    for p in progs:
        shutil.copy2(p, dest / p.name)
        os.chmod(dest / p.name, 0o755)
    return names


def test_builtin_collectors_through_the_runner(start_ferry):
    f = start_ferry(start=False)
    require(f, "ferry-collectors")
    install_builtins(f)
    conf = "collectors { interval = 1 }\n"
    f.write_config(conf)
    f.start()
    old = f.child_pid("collectors")
    load = "servers.systest.loadavg.01"
    memtotal = "servers.systest.memory.MemTotal"
    f.wait_sink_count(load, 2, timeout=ARRIVAL)
    f.wait_sink_count(memtotal, 2, timeout=ARRIVAL)
    kb = int(re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(),
                       re.M).group(1))
    assert f.sink_points(memtotal)[memtotal][-1][1] == kb * 1024

    # Disabled: loadavg stops, memory goes on.
    f.write_config(conf + 'collector "loadavg" { enabled = false }\n')
    r = f.run("ferryctl", "reload")
    assert r.returncode == 0, r.stderr
    f.child_pid("collectors", timeout=APPLY, not_pid=old)
    t_new = int(time.time())
    wait_for(lambda: len([t for t, _ in f.sink_points(memtotal).get(memtotal, [])
                          if t > t_new + 1]) >= 3, ARRIVAL, interval=0.3,
             what="three new points of memory.MemTotal after the reload")
    after = [t for t, _ in f.sink_points(load).get(load, []) if t > t_new]
    print("built-ins: loadavg and memory arrived; after disabling loadavg, "
          "%d new loadavg points" % len(after))
    assert after == [], "loadavg went on after it was disabled: %s" % after


def test_builtins_run_inline_and_their_files_switch_them(start_ferry):
    """
    The default builtin_mode, "inline": the built-ins are sampled inside
    ferry-collectors, with no process of their own (self excepted, which
    opens ferry.db), and their lines go the way every collector's go. The
    file in opt/ferry/collectors still switches each one: refused while
    world-writable, stopped when removed. A built-in given args, and an
    operator's collector asking for inline, run as processes instead.
    """
    f = start_ferry(start=False)
    require(f, "ferry-collectors")
    names = install_builtins(f)
    custom = f.etc / "collectors.d"
    custom.mkdir(parents=True, exist_ok=True)
    (custom / "mine").write_text("#!/bin/sh\necho coll.mine.v 1\n")
    os.chmod(custom / "mine", 0o755)
    f.write_config("collectors { interval = 1 }\n"
                   'collector "diskspace" { args = { "-t", "tmpfs" } }\n'
                   'collector "mine" { mode = "inline" }\n')
    f.start()
    pid = f.child_pid("collectors")
    pre = "servers.systest."
    for name in ("loadavg.01", "cpu.cpu_count", "vmstat.pgfault", "coll.mine.v"):
        f.wait_sink_count(pre + name, 1, timeout=ARRIVAL)

    def kids():
        return {proc_exe_name(p) for p in children_of(pid)}
    wanted = {"diskspace"} | ({"self"} & names)
    wait_for(lambda: wanted <= kids(), 10, what="daemons %s" % sorted(wanted))
    inline = {"cpu", "memory", "loadavg", "diskio", "network", "vmstat", "sockstat"}
    assert not inline & kids(), kids()
    text = f.log_text("collectors")
    root = f.root / "opt/ferry/collectors"
    assert "collector loadavg: %s/loadavg, inline, sampled every 1 s (built-in)" \
        % root in text
    assert "collector diskspace: %s/diskspace, daemon" % root in text
    assert "collector mine cannot run inline" in text

    # World-writable: refused by name, and not sampled; memory goes on.
    load, mem = pre + "loadavg.01", pre + "memory.MemTotal"
    os.chmod(root / "loadavg", 0o757)
    wait_for(lambda: "refusing to run collector %s/loadavg: it is world-writable"
             % root in f.log_text("collectors"), 10, what="the refusal")
    t_ref = int(time.time())
    wait_for(lambda: len([t for t, _ in f.sink_points(mem).get(mem, [])
                          if t > t_ref + 1]) >= 3, ARRIVAL, interval=0.3,
             what="three new points of memory.MemTotal")
    late = [t for t, _ in f.sink_points(load).get(load, []) if t > t_ref + 1]
    assert late == [], "loadavg sampled while refused: %s" % late

    # Safe again: sampled again. Removed: stopped.
    os.chmod(root / "loadavg", 0o755)
    t_ok = int(time.time())
    wait_for(lambda: [t for t, _ in f.sink_points(load).get(load, [])
                      if t > t_ok], ARRIVAL, interval=0.3,
             what="loadavg sampled again")
    (root / "loadavg").unlink()
    wait_for(lambda: "collector loadavg: its file is gone" in
             f.log_text("collectors"), 10, what="loadavg retired")
    print("inline built-ins: daemons %s, refused and resumed loadavg"
          % sorted(kids()))


# -- 5. no output configured ------------------------------------------------------------------

def test_no_output_keeps_spooling_and_says_so_once(start_ferry):
    f = start_ferry(start=False)
    text = CONFIG_TEMPLATE.format(tcp_port=f.tcp_port, udp_port=f.udp_port,
                                  sink_port=f.sink_port, output_port=f.sink_port,
                                  hostname=f.hostname, extra="")
    text = re.sub(r"(?m)^output .*$", "", text)
    assert "output" not in text
    f.conf.write_text(text)
    f.start()
    ts = int(time.time()) - 60
    for k in range(3):
        f.send_tcp(lines("noout.", 100, ts, start=100 * k))
    wait_for(lambda: counter(f, "receiver", "accepted") == 300, 20, interval=0.3,
             what="accepted == 300")
    names = wait_for(lambda: len(spool_names(f, "noout.")) >= 300 and
                     spool_names(f, "noout."), 10, what="300 lines in the spool")
    assert sorted(set(names)) == sorted(expect("noout.", 300)), "spool lost lines"
    time.sleep(2)       # the forwarder has had its chances to say it again
    said = [l for l in f.log_text("forwarder").splitlines()
            if "no output configured" in l]
    assert len(said) == 1, said
    st = f.run("ferryctl", "status")
    assert "no output is configured: records stay in the spool" in st.stdout, st.stdout
    assert f.sink_count("noout.") == 0


# -- 6. a missing progress database ------------------------------------------------------------

@pytest.mark.parametrize("where", ["later_segment", "first_segment"])
def test_missing_progress_db_resends_the_spool(ferry, where):
    f = ferry
    ts = int(time.time()) - 60
    if where == "later_segment":
        # Delivered, then a restart: the receiver's first segment is
        # finished, passed and deleted; what follows is in a later one.
        f.send_tcp(lines("nodb0.", 50, ts))
        f.wait_sink_count("nodb0.", 50, timeout=ARRIVAL)
        assert f.stop() == 0
        f.start()
        wait_for(lambda: not spool_names(f, "nodb0."), 20, interval=0.2,
                 what="the first segment passed and deleted")
    f.send_tcp(lines("nodb.", 300, ts))
    f.wait_sink_count("nodb.", 300, timeout=ARRIVAL)
    assert f.stop() == 0
    spooled = set(spool_names(f, "nodb."))
    assert spooled, "nothing of the stream left in the spool to re-send"
    seqs = sorted(int(p.name.split(".")[1]) for p in f.spool.glob("receiver.*"))
    removed = []
    for p in list(f.var.glob("ferry.db*")) + list(f.var.glob("sink.db*")):
        p.unlink()
        removed.append(p.name)
    assert "ferry.db" in removed and "sink.db" in removed, removed
    log_before = len(f.log_text("forwarder"))

    f.start()
    f.wait_sink_count("nodb.", len(spooled), timeout=ARRIVAL)
    stored = set(f.sink_points("nodb."))
    assert spooled <= stored, sorted(spooled - stored)[:5]
    new_log = f.log_text("forwarder")[log_before:]
    said = [l for l in new_log.splitlines()
            if re.search(r"output %s: no position in stream receiver\b" % OUTPUT, l)]
    print("lost ferry.db (%s; receiver segments %s): %d spooled lines, %d "
          "stored again; log: %s" % (where, seqs, len(spooled), len(stored), said))
    assert said, ("forwarder.log does not say output %s had no position in "
                  "stream receiver (receiver segments %s):\n%s"
                  % (OUTPUT, seqs, new_log[-3000:]))


# -- 7. 503 with Retry-After ----------------------------------------------------------------------

def test_503_retry_after_is_honoured(rig):
    f, proxy = rig.make()
    wait_quiet(proxy)
    proxy.set_mode("status", count=1, status=503, headers={"Retry-After": "2"})
    ts = int(time.time()) - 60
    f.send_tcp(lines("r503.", 300, ts))
    assert proxy.wait_mode("pass", 30), "no request came to be answered 503"
    answered(proxy, 503)
    f.wait_sink_count("r503.", 300, timeout=ARRIVAL)
    reqs = proxy.snapshot()
    k = [i for i, r in enumerate(reqs) if r.status == 503]
    assert len(k) == 1, reqs
    k = k[0]
    assert k + 1 < len(reqs), "no attempt after the 503"
    gap = reqs[k + 1].t_start - reqs[k].t_reply
    print("503 Retry-After 2: the next attempt %.3f s later" % gap)
    assert gap >= 2.0 - 0.01, "the attempt after a 503 with Retry-After: 2 came " \
        "%.3f s later" % gap
    # The refused batch was sent again, not set aside.
    refused = {l.split()[0] for l in reqs[k].lines()}
    stored = set(f.sink_points(""))
    assert refused and refused <= stored, sorted(refused - stored)[:5]
    assert not (f.var / "deadletter" / ("%s.log" % OUTPUT)).exists()
    assert check_stored(f.sink_points("r503."), expect("r503.", 300), ts) == []


# -- 8. connection reuse ----------------------------------------------------------------------------

def test_connection_reused_across_batches(rig):
    f, proxy = rig.make()
    ts = int(time.time()) - 60
    batches = 12
    for k in range(batches):
        prefix = "reuse.b%02d." % k
        f.send_tcp(lines(prefix, 10, ts))
        # Acknowledged before the next: each is a batch of its own.
        wait_for(lambda: all(n in acked_at(proxy) for n in expect(prefix, 10)), 20,
                 interval=0.05, what="batch %d acknowledged" % k)
        time.sleep(0.2)
    with_stream = [r for r in proxy.snapshot()
                   if any(l.startswith("reuse.") for l in r.lines())]
    conns = proxy.connections()
    print("connection reuse: %d requests (%d of the stream) over %d connections"
          % (len(proxy.snapshot()), len(with_stream), len(conns)))
    assert len(with_stream) >= batches
    assert len(conns) <= 2, "%d connections for %d requests: %s" % (
        len(conns), len(proxy.snapshot()), conns)


# -- 9. the drop directory and a growing file ------------------------------------------------------

def test_drop_dir_waits_for_a_growing_file(start_ferry):
    f = start_ferry(start=False)
    require(f, "ferry-collectors")
    drop = f.var / "drop"
    drop.mkdir(parents=True, exist_ok=True)
    f.start()
    f.child_pid("collectors")
    n = 400
    ts = int(time.time()) - 60
    data = "".join("%s\n" % l for l in lines("dropg.", n, ts)).encode()
    # Nine pieces 0.25 s apart, each cut in the middle of a line: a file
    # taken early would lose or cut lines.
    path = drop / "growing"
    cuts = [len(data) * k // 9 + 5 for k in range(1, 9)]
    assert all(data[c - 1:c] != b"\n" for c in cuts)
    bounds = [0] + cuts + [len(data)]
    taken_early = None
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    ino = os.fstat(fd).st_ino
    try:
        for k in range(len(bounds) - 1):
            os.write(fd, data[bounds[k]:bounds[k + 1]])
            t_last = time.monotonic()
            try:
                if os.stat(str(path)).st_ino != ino:
                    taken_early = taken_early or "replaced after piece %d" % k
            except FileNotFoundError:
                taken_early = taken_early or "gone after piece %d" % k
            if k < len(bounds) - 2:
                time.sleep(0.25)
    finally:
        os.close(fd)
    assert taken_early is None, "the growing file was taken early: " + taken_early
    t_gone = wait_for(lambda: not path.exists() and time.monotonic(), 20,
                      interval=0.02, what="the file to be taken")
    f.wait_sink_count("dropg.", n, timeout=ARRIVAL)
    cs = wait_for(lambda: (counter(f, "collectors", "dropdir.lines") or 0) >= n and
                  f.counters("collectors"), 20, interval=0.3,
                  what="dropdir.lines >= %d" % n)
    print("drop dir: a file growing for %.1f s was taken %.2f s after its last "
          "write; dropdir.files %s, dropdir.lines %s"
          % (0.25 * 8, t_gone - t_last, cs.get("dropdir.files"),
             cs.get("dropdir.lines")))
    assert t_gone - t_last >= 0.9, "taken %.2f s after the last write" % (
        t_gone - t_last)
    assert cs.get("dropdir.files") == 1 and cs.get("dropdir.lines") == n, cs
    assert check_stored(f.sink_points("dropg."), expect("dropg.", n), ts) == []


# -- 11. dead-letter a 403; the count survives a restart ------------------------------------------



def test_403_is_deadlettered_and_counted_across_restart(rig):
    extra = "periodic { config_interval = 0.5 }\n"
    f, proxy = rig.make(extra, start=False)
    # Only the stream goes this way (not the self-metrics), so the one 403
    # meets a batch of it.
    text = f.conf.read_text()
    filtered = text.replace('/api/v1/sink" }', '/api/v1/sink?filter=dl403." }', 1)
    assert filtered != text
    f.conf.write_text(filtered)
    f.start()
    proxy.set_mode("status", count=1, status=403)
    ts = int(time.time()) - 60
    f.send_tcp(lines("dl403.", 300, ts))
    assert proxy.wait_mode("pass", 30), "no request came to be refused"
    answered(proxy, 403)
    reqs = proxy.snapshot()
    bad = [r for r in reqs if r.status == 403]
    assert len(bad) == 1, reqs
    refused_lines = bad[0].lines()
    refused = {l.split()[0] for l in refused_lines}
    assert refused and all(n.startswith("dl403.m") for n in refused), refused_lines[:5]
    expected = {n: v for n, v in expect("dl403.", 300).items() if n not in refused}
    f.wait_sink_count("dl403.", len(expected), timeout=ARRIVAL)

    batches = wait_for(lambda: deadletter_batches(f), 10, interval=0.2,
                       what="the dead-letter file")
    assert len(batches) == 1, batches
    fields, dl_lines = batches[0]
    assert fields.get("output") == OUTPUT and fields.get("status") == "403", fields
    assert dl_lines == refused_lines, "the dead-letter batch is not the refused one"
    # The rest stored, the refused not (a refused (name, ts) is in no later batch).
    assert check_stored(f.sink_points("dl403."), expected, ts) == []
    stored = {(n, t) for n, pts in f.sink_points("").items() for t, _ in pts}
    refused_points = {(l.split()[0], int(l.split()[2])) for l in refused_lines}
    assert not stored & refused_points, "refused lines were stored anyway"
    name = "output.%s.deadlettered" % OUTPUT
    wait_for(lambda: counter(f, "forwarder", name) == len(refused_lines), 15,
             interval=0.3, what="%s == %d" % (name, len(refused_lines)))
    sent0 = counter(f, "forwarder", "output.%s.sent" % OUTPUT)

    # An output key edited: the reload restarts the forwarder.
    old = f.child_pid("forwarder")
    text = f.conf.read_text()
    edited = text.replace('dl403." }', 'dl403." connect_timeout = 4 }', 1)
    assert edited != text
    f.conf.write_text(edited)
    f.child_pid("forwarder", timeout=APPLY, not_pid=old)
    f.send_tcp(lines("dl403.after.", 20, ts))
    f.wait_sink_count("dl403.after.", 20, timeout=ARRIVAL)
    # The new forwarder has published its counters once `sent` moved.
    cs = wait_for(lambda: (f.counters("forwarder").get("output.%s.sent" % OUTPUT)
                           not in (None, sent0)) and f.counters("forwarder"),
                  20, interval=0.3, what="the new forwarder's counters")
    print("403: %d records dead-lettered; after the restart %s = %s, sent %s "
          "(was %s)" % (len(refused_lines), name, cs.get(name),
                        cs.get("output.%s.sent" % OUTPUT), sent0))
    assert (cs.get(name) or 0) >= len(refused_lines), (
        "%s is %r after the forwarder restarted, was %d"
        % (name, cs.get(name), len(refused_lines)))

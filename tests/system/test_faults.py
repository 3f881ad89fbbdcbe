"""
Issue 3's fault-injection tests: the forwarder delivers every accepted
metric exactly once (as stored by the sink) through a peer that refuses,
resets, stalls, crawls, answers 500, 429 or 400, goes away for a minute or
swallows its connections; through 30 kill -9s; with the spool on a full
filesystem; and under the spool cap, where what is dropped is counted.

The forwarder's output points at a FaultProxy (faultproxy.py) in front of
the real sink; the proxy's log of requests is the ground truth for what was
POSTed and when. Every loop here is bounded by a deadline.
"""
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import check_stored, deadletter_batches, ferry_bin, wait_for
from faultproxy import FaultProxy

RETRY_MAX = "2"         # forwarder.retry_max, so backoffs stay short
DRAIN_TIMEOUT = 90.0    # for a backlog to reach the sink, on a loaded box
STALL_TIMEOUT = 20.0    # no progress at all for this long: stuck
OUTPUT = "sink"         # the output's name in conftest's configuration


# -- the rig: a suite whose output goes through a proxy -----------------------

class Rig:
    """Suites behind proxies, and tmpfs mounts, undone in the right order."""

    def __init__(self, start_ferry, tmp_path):
        self.start_ferry = start_ferry
        self.tmp_path = tmp_path
        self.made = []          # (Ferry, FaultProxy)
        self.mounts = []

    def make(self, extra_conf="", before_start=None, env=None):
        """A started suite whose output "sink" goes through a FaultProxy."""
        f = self.start_ferry(extra_conf, start=False)
        f.env["FERRY_FORWARDER_RETRY_MAX"] = RETRY_MAX
        f.env.update(env or {})
        proxy = FaultProxy(f.sink_port)
        self.made.append((f, proxy))
        f.write_config(extra_conf, output_port=proxy.port)
        if before_start is not None:
            before_start(f)
        f.start()
        return f, proxy

    def mount_tmpfs(self, path, size):
        """Mount a tmpfs of size on path; skip the test when not permitted."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        try:
            r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                                "size=%s,mode=0755" % size, "tmpfs", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=30)
            why = r.stdout.strip() if r.returncode != 0 else None
        except OSError as e:
            why = str(e)
        if why is not None:
            pytest.skip("cannot mount a tmpfs on %s (%s): the small-filesystem "
                        "test needs root and permission to mount" % (path, why))
        self.mounts.append(path)
        return path

    def close(self):
        # The supervisors first (start_ferry's teardown then only reads
        # their exit status), then the proxies, then the mounts they used.
        for f, _ in self.made:
            f.stop()
        for _, p in self.made:
            p.close()
        for path in reversed(self.mounts):
            r = subprocess.run(["umount", str(path)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", str(path)])


@pytest.fixture
def rig(start_ferry, tmp_path):
    r = Rig(start_ferry, tmp_path)
    yield r
    r.close()


# -- the stream -----------------------------------------------------------------

class Sender(threading.Thread):
    """
    Sends `total` distinct lines "<prefix>m<i> <i> <ts>" over TCP at a steady
    `rate` (lines/s), `chunk` lines per write. A write that fails is sent
    again on a new connection; connecting is retried until the deadline.
    Records each chunk whose send completed as (first, end, t_done, t_conn).
    """

    def __init__(self, port, prefix, total, rate, ts=None, chunk=100,
                 timeout=240.0, pad=""):
        super().__init__(daemon=True)
        self.port, self.prefix, self.total, self.rate = port, prefix, total, rate
        self.pad = pad          # a suffix that makes names (and lines) longer
        self.ts = ts if ts is not None else int(time.time()) - 60
        self.chunk = chunk
        self.deadline = time.monotonic() + timeout
        self.sent = []          # (first, end, t_done, t_conn)
        self.failures = 0       # writes that failed (then sent again)
        self.connects = 0
        self.error = None
        self.lock = threading.Lock()
        self.halt = threading.Event()

    def name_of(self, i):
        return "%sm%06d%s" % (self.prefix, i, self.pad)

    def line(self, i):
        return "%s %d %d\n" % (self.name_of(i), i, self.ts)

    def _connect(self):
        while not self.halt.is_set() and time.monotonic() < self.deadline:
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                self.connects += 1
                return s, time.monotonic()
            except OSError:
                time.sleep(0.02)
        return None, None

    def run(self):
        sock, t_conn = None, None
        i = 0
        t_next = time.monotonic()
        interval = self.chunk / float(self.rate)
        try:
            while i < self.total and not self.halt.is_set():
                if time.monotonic() >= self.deadline:
                    self.error = "deadline passed at line %d" % i
                    break
                if sock is None:
                    sock, t_conn = self._connect()
                    if sock is None:
                        continue
                end = min(i + self.chunk, self.total)
                data = "".join(self.line(k) for k in range(i, end)).encode()
                try:
                    sock.sendall(data)
                except OSError:
                    self.failures += 1
                    sock.close()
                    sock = None
                    continue
                with self.lock:
                    self.sent.append((i, end, time.monotonic(), t_conn))
                i = end
                t_next += interval
                pause = t_next - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        finally:
            if sock is not None:
                # Wait for the receiver's close: everything was read.
                try:
                    sock.shutdown(socket.SHUT_WR)
                    sock.settimeout(10)
                    while sock.recv(4096):
                        pass
                except OSError:
                    pass
                sock.close()

    def count(self):
        with self.lock:
            return self.sent[-1][1] if self.sent else 0

    def finish(self, timeout):
        self.join(timeout)
        assert not self.is_alive(), "the sender did not finish in %.0f s" % timeout
        assert self.error is None, self.error
        return self.count()


def expected_names(snd, n=None):
    return {snd.name_of(i): i for i in range(snd.total if n is None else n)}




def wait_progress(value, target, timeout=DRAIN_TIMEOUT, stall=STALL_TIMEOUT,
                  interval=0.2):
    """
    Poll value() until it reaches target; give up quietly when it has not
    changed for `stall` seconds (stuck: no point waiting out the timeout) or
    past the timeout. Returns the last value.
    """
    deadline = time.monotonic() + timeout
    last, t_last = None, time.monotonic()
    while True:
        v = value()
        if v >= target:
            return v
        now = time.monotonic()
        if v != last:
            last, t_last = v, now
        if now - t_last >= stall or now >= deadline:
            return v
        time.sleep(interval)


def wait_stored(f, prefix, n, timeout=DRAIN_TIMEOUT):
    """Wait for n points under prefix (or until stuck); the count."""
    return wait_progress(lambda: f.sink_count(prefix), n, timeout)


def counter(f, proc, name):
    return f.counters(proc).get(name)


def proxy_lines(requests, prefix, acked_only=True):
    """
    The lines under prefix in the requests the proxy relayed, each time it
    saw them: with acked_only, only those answered 2xx to the forwarder.
    """
    out = []
    pre = prefix.encode()
    for r in requests:
        if acked_only and not (r.status and 200 <= r.status < 300 and
                               r.upstream_status is not None and
                               not r.client_gone):
            continue
        out += [l.split(b" ", 1)[0] for l in r.body.split(b"\n")
                if l.startswith(pre)]
    return out


# -- 1. the proxy's modes ---------------------------------------------------------

TOTAL = 100_000
RATE = 20_000           # lines/s: the stream takes 5 s
SLOW_RATE = 10_000      # bytes/s, each way, in "slow"


def apply_fault(mode, proxy, snd):
    """
    Start the stream's fault once a fifth of it is sent; return when the
    proxy passes traffic again, with the fault's (start, end) times.
    Windows are bounded (see each mode).
    """
    wait_for(lambda: snd.count() >= TOTAL // 5, 30, what="a fifth of the stream")
    t_on = time.monotonic()
    if mode == "refuse":
        proxy.set_mode("refuse")
        time.sleep(3)
        proxy.passthrough()
    elif mode == "reset":
        proxy.set_mode("reset", count=5)
        assert proxy.wait_mode("pass", 60), "5 requests never came to be reset"
    elif mode == "stall":
        # Longer than the forwarder waits for a silent peer (7 s), so it
        # gives up on the request and sends it again.
        proxy.set_mode("stall")
        time.sleep(12.5)
        proxy.passthrough()
    elif mode == "slow":
        # 10 KB/s cannot carry 100,000 lines (3 MB) in a test's time: slow
        # for a bounded window of 6 s (about 60 KB), then pass.
        proxy.set_mode("slow", rate=SLOW_RATE)
        time.sleep(6)
        proxy.passthrough()
    elif mode == "500":
        proxy.set_mode("status", count=8, status=500)
        assert proxy.wait_mode("pass", 60), "8 requests never came to be failed"
    elif mode == "429":
        proxy.set_mode("status", count=3, status=429, headers={"Retry-After": "2"})
        assert proxy.wait_mode("pass", 60), "3 requests never came to be failed"
    elif mode == "400":
        proxy.set_mode("status", count=1, status=400)
        assert proxy.wait_mode("pass", 30), "no request came to be refused"
    else:
        raise AssertionError(mode)
    return t_on, time.monotonic()




@pytest.mark.long(12)
@pytest.mark.parametrize("mode", ["refuse", "reset", "stall", "slow", "500",
                                  "429", "400"])
def test_proxy_fault(rig, mode):
    f, proxy = rig.make()
    prefix = "flt.%s." % mode
    t0 = time.monotonic()
    snd = Sender(f.tcp_port, prefix, TOTAL, RATE)
    snd.start()
    t_on, t_off = apply_fault(mode, proxy, snd)
    snd.finish(120)
    expected = expected_names(snd)
    reqs = proxy.snapshot()
    faulted = [r for r in reqs if r.action != "pass"]
    if mode != "refuse":
        assert faulted, "the fault never met a request: %s" % reqs[:10]

    refused = {}
    if mode == "400":
        bad = [r for r in reqs if r.status == 400]
        assert len(bad) == 1, bad
        refused_lines = bad[0].lines()
        refused = {l.split()[0] for l in refused_lines if l.startswith(prefix)}
        for name in refused:
            del expected[name]

    stored = wait_stored(f, prefix, len(expected))
    t_done = time.monotonic()
    points = f.sink_points(prefix)
    problems = check_stored(points, expected, snd.ts)
    acked = proxy_lines(proxy.snapshot(), prefix)
    print("mode %s: %d sent, %d stored, %d requests (%d faulted), %d lines "
          "re-sent after an ack, %.1f s from start to all stored"
          % (mode, snd.count(), stored, len(proxy.snapshot()), len(faulted),
             len(acked) - len(set(acked)), t_done - t0))
    assert problems == [], problems

    if mode == "refuse":
        # Nothing got through while the port was closed, the forwarder
        # counted its failed attempts, and it came back on a new connection.
        reqs = proxy.snapshot()
        assert not [r for r in reqs if t_on + 0.2 < r.t_start < t_off], reqs
        assert len(proxy.connections()) >= 2, proxy.connections()
        wait_for(lambda: (counter(f, "forwarder", "output.%s.retries" % OUTPUT)
                          or 0) > 0, 10, interval=0.2, what="retries > 0")
    if mode == "429":
        # After each 429 the next attempt waited at least Retry-After (2 s).
        reqs = proxy.snapshot()
        for k, r in enumerate(reqs):
            if r.status == 429:
                assert k + 1 < len(reqs), "no attempt after the 429"
                gap = reqs[k + 1].t_start - r.t_reply
                assert gap >= 2.0 - 0.01, (
                    "the attempt after a 429 with Retry-After: 2 came %.3f s "
                    "later" % gap)
    if mode == "slow":
        slow = [r for r in reqs if r.action == "slow" and r.t_answer]
        assert slow and all(r.t_answer - r.t_start >= 0.9 * len(r.body) / SLOW_RATE
                            for r in slow), slow
    if mode == "stall":
        assert any(r.action == "stall" and r.client_gone for r in reqs), (
            "the forwarder never gave up on a stalled request: %s" % faulted)
    if mode == "400":
        batches = deadletter_batches(f)
        assert len(batches) == 1, batches
        fields, lines = batches[0]
        assert fields.get("output") == OUTPUT and fields.get("status") == "400", fields
        assert lines == refused_lines, "the dead-letter batch is not the refused one"
        assert int(fields.get("records", -1)) == len(refused_lines)
        assert refused, "the refused batch held none of the stream"
        assert not set(points) & refused, "refused lines were stored anyway"
        wait_for(lambda: counter(f, "forwarder", "output.%s.deadlettered" % OUTPUT)
                 == len(refused_lines), 10, interval=0.2,
                 what="deadlettered == %d" % len(refused_lines))


def stored_below(f, prefix, snd, n):
    """How many of the stream's first n names are in the sink."""
    rows = f._sink_query("SELECT count(*) FROM points WHERE name >= ? AND name < ?",
                         (prefix, snd.name_of(n)))
    return rows[0][0] if rows else 0


# -- 2. the sink away for a minute ----------------------------------------------

@pytest.mark.long(70)
def test_sink_down_60s(rig):
    f, proxy = rig.make()
    prefix = "outage."
    rate = 2000
    snd = Sender(f.tcp_port, prefix, rate * 70, rate, timeout=200)
    snd.start()
    wait_for(lambda: snd.count() >= 3 * rate, 30, what="3 s of stream")
    proxy.set_mode("refuse")
    time.sleep(60)
    n_back = snd.count()
    proxy.passthrough()
    t_back = time.monotonic()
    # Caught up: everything sent while the sink was away is stored.
    t_caught = None
    if wait_progress(lambda: stored_below(f, prefix, snd, n_back), n_back,
                     interval=0.1) >= n_back:
        t_caught = time.monotonic()
    snd.finish(60)
    stored = wait_stored(f, prefix, snd.total)
    t_all = time.monotonic()
    problems = check_stored(f.sink_points(prefix), expected_names(snd), snd.ts)
    print("sink down 60 s: %d lines sent, %d stored; a backlog of %d lines "
          "caught up %s after the sink came back; the last point stored "
          "%.1f s after it came back (the stream ran on for %.1f s)"
          % (snd.total, stored, n_back,
             "in %.1f s" % (t_caught - t_back) if t_caught else "NEVER",
             t_all - t_back, (snd.total - n_back) / float(rate)))
    assert problems == [], problems
    assert t_caught is not None


# -- 6. a peer that swallows ------------------------------------------------------

NOTICE_LIMIT = 10.0     # issue 3: a silent peer is noticed within 10 s
NOTICE_TOLERANCE = 2.0  # a loaded machine (the forwarder itself waits 7 s)


@pytest.mark.long(20)
def test_peer_swallows(rig):
    f, proxy = rig.make()
    prefix = "swallow."
    rate = 2000
    snd = Sender(f.tcp_port, prefix, rate * 18, rate, timeout=200)
    snd.start()
    wait_for(lambda: snd.count() >= 2 * rate, 30, what="2 s of stream")
    proxy.set_mode("swallow")
    t_sw = time.monotonic()
    # The old connection stays open and silent; the forwarder must give up
    # on it and open another (which the proxy swallows too).
    try:
        t_new = wait_for(lambda: [t for t, _ in proxy.connections() if t > t_sw],
                         NOTICE_LIMIT + NOTICE_TOLERANCE + 10, interval=0.05,
                         what="a new connection")[0]
    finally:
        time.sleep(1)
        proxy.passthrough()
    snd.finish(120)
    stored = wait_stored(f, prefix, snd.total)
    problems = check_stored(f.sink_points(prefix), expected_names(snd), snd.ts)
    print("swallow: a new connection %.1f s after the peer went silent; %d "
          "connections in all; %d sent, %d stored"
          % (t_new - t_sw, len(proxy.connections()), snd.total, stored))
    assert t_new - t_sw <= NOTICE_LIMIT + NOTICE_TOLERANCE, (
        "the forwarder took %.1f s to notice" % (t_new - t_sw))
    assert problems == [], problems


# -- 3. kill -9 ---------------------------------------------------------------------

DATA_PATH = ("receiver", "forwarder", "sink")


def kill_targets():
    """The supervisor's children (collectors and periodic once built)."""
    out = list(DATA_PATH)
    for name in ("collectors", "periodic"):
        if os.access(ferry_bin() / ("ferry-" + name), os.X_OK):
            out.append(name)
    return out

KILLS = 30
KILLS_PER_EPOCH = 10
KILLS_PER_CHILD_PER_EPOCH = 4
KILL_PHASE_TIMEOUT = 150.0


@pytest.mark.long(50)
def test_kill9_30_times(rig):
    """
    30 kill -9s spread at random over the receiver, the forwarder, the
    sink (and ferry-collectors and ferry-periodic once built) during a
    200,000-metric stream.

    The supervisor's restart backoff starts at 1 s, doubles per consecutive
    failure (to 60 s) and resets only after 60 s of stable running, so ten
    kills of one child in a row would take over 5 minutes of backoff. The
    kills therefore come in epochs of 10 (at most 4 per child, at most
    1+2+4 s of backoff to wait for), and each epoch ends with a graceful
    restart of the whole suite (SIGTERM, exit 0 checked, start again), which
    starts the backoff over. Each kill hits a running process: the test
    waits for the chosen child's replacement before killing it again; other
    children may still be in their backoff.
    """
    f, proxy = rig.make()
    children = kill_targets()
    prefix = "kill."
    seed = int(os.environ.get("FERRY_TEST_SEED", time.time()))
    rnd = random.Random(seed)
    # 5,000 lines/s: the stream lasts about as long as the kills.
    snd = Sender(f.tcp_port, prefix, 200_000, 5000, chunk=50, timeout=300)
    snd.start()
    wait_for(lambda: snd.count() >= 5000, 30, what="1 s of stream")

    kills = []              # (monotonic time, child, pid)
    receiver_gone = []      # times the receiver was killed or stopped
    last_pid = {}
    deadline = time.monotonic() + KILL_PHASE_TIMEOUT
    for epoch in range(KILLS // KILLS_PER_EPOCH):
        if epoch > 0:
            receiver_gone.append(time.monotonic())
            status = f.stop()
            assert status == 0, "ferry-supervisor exited %r on SIGTERM" % status
            f.start()
            last_pid = {}
        left = dict.fromkeys(children, KILLS_PER_CHILD_PER_EPOCH)
        # Each child once per epoch, in a random order (left to chance,
        # one seed in about 40 never killed some child), then at random.
        each = rnd.sample(children, len(children))
        for j in range(KILLS_PER_EPOCH):
            assert time.monotonic() < deadline, "the kill phase took too long"
            if j < len(each):
                child = each[j]
            else:
                # The data path (receiver, forwarder, sink) twice as often.
                can = [c for c in children if left[c] > 0]
                child = rnd.choices(can, weights=[2 if c in DATA_PATH else 1
                                                  for c in can])[0]
            left[child] -= 1
            pid = f.child_pid(child, timeout=max(1.0, deadline - time.monotonic()),
                              not_pid=last_pid.get(child))
            time.sleep(rnd.uniform(0.2, 1.0))
            t = time.monotonic()
            if child == "receiver":
                receiver_gone.append(t)
            os.kill(pid, signal.SIGKILL)
            kills.append((t, child, pid))
            last_pid[child] = pid
    t_kills_done = time.monotonic()
    n_at_end = snd.count()
    snd.finish(180)
    # Every child is back before the check.
    for child in children:
        f.child_pid(child, timeout=70, not_pid=last_pid.get(child))

    # Required: a chunk whose send completed 200 ms or more before the next
    # receiver kill (or stop), on a connection opened after the last one.
    with snd.lock:
        chunks = list(snd.sent)
    required = {}
    for first, end, t_done, t_conn in chunks:
        if not any(t_conn < k < t_done + 0.2 for k in receiver_gone):
            required.update((snd.name_of(i), i) for i in range(first, end))
    sent_names = expected_names(snd)
    def required_stored():
        rows = f._sink_query("SELECT name FROM points WHERE name >= ? AND name < ?",
                             (prefix, snd.name_of(snd.total))) or []
        return len(set(required).intersection(r[0] for r in rows))
    wait_progress(required_stored, len(required), interval=1.0)
    points = f.sink_points(prefix)
    problems = check_stored({n: p for n, p in points.items() if n in required},
                          required, snd.ts)
    problems += check_stored(points, {}, snd.ts, allowed=sent_names)
    acked = proxy_lines(proxy.snapshot(), prefix)
    relayed = proxy_lines(proxy.snapshot(), prefix, acked_only=False)
    by = {c: sum(1 for _, ch, _ in kills if ch == c) for c in children}
    print("kill -9 x%d (seed %d; %s) in %.1f s, %d lines sent before the last "
          "kill; %d sent, %d required, %d stored, %d not stored (lost at a "
          "receiver kill, allowed); %d write failures, %d connections; "
          "duplicates the forwarder produced: %d lines acknowledged more than "
          "once (%d lines POSTed to the sink more than once)"
          % (len(kills), seed, ", ".join("%s %d" % kv for kv in by.items()),
             t_kills_done - kills[0][0], n_at_end, snd.total, len(required),
             len(points), snd.total - len(points), snd.failures, snd.connects,
             len(acked) - len(set(acked)), len(relayed) - len(set(relayed))))
    assert len(kills) == KILLS
    assert all(by.values()), by
    assert problems == [], problems


# -- 4. the spool on a small filesystem ---------------------------------------------

def spool_segments(d, stream):
    """{seq: size} of stream's segments in directory d."""
    out = {}
    pat = re.compile(r"^%s\.(\d{16})$" % re.escape(stream))
    try:
        entries = list(os.scandir(d))
    except OSError:
        return out
    for e in entries:
        m = pat.match(e.name)
        if m:
            try:
                out[int(m.group(1))] = e.stat().st_size
            except OSError:
                pass
    return out


def dropped_total(f):
    fc = f.counters("forwarder")
    rc = f.counters("receiver")
    return (rc.get("dropped") or 0) + (fc.get("output.%s.dropped" % OUTPUT) or 0)


@pytest.mark.long(13)
def test_small_filesystem(rig, tmp_path):
    memdir = tmp_path / "shm"
    extra = ('spool { segment_size = 256K memory_dir = "%s" memory_max_size = 4M }\n'
             % memdir)

    def mounts(f):
        rig.mount_tmpfs(f.spool, "2m")
        rig.mount_tmpfs(memdir, "8m")

    f, proxy = rig.make(extra, before_start=mounts)
    proxy.set_mode("refuse")
    prefix = "smallfs."
    # 100,000 lines of about 80 bytes: 8 MB into 2 MB of disk and a 4 MB
    # memory spool, while the sink is away.
    pad = "." + "p" * 50
    snd = Sender(f.tcp_port, prefix, 100_000, 20_000, pad=pad, timeout=120)
    snd.start()
    snd.finish(120)
    # The agent kept accepting: no write failed, one connection did it all.
    assert snd.failures == 0 and snd.connects == 1, (snd.failures, snd.connects)
    wait_for(lambda: f.counters("receiver").get("accepted") == snd.total, 20,
             interval=0.3, what="accepted == %d" % snd.total)
    wait_for(lambda: f.counters("receiver").get("spool.memory") == 1, 10,
             interval=0.3, what="spool.memory == 1 (writing to the memory spool)")
    in_memory = spool_segments(memdir, "receiver")
    assert in_memory, "no receiver segment in the memory spool %s" % memdir
    wait_for(lambda: (f.counters("forwarder").get("spool.memory_bytes") or 0) > 0,
             10, interval=0.3, what="the forwarder's spool.memory_bytes > 0")
    dropped_early = dropped_total(f)

    # The sink comes back: everything not dropped drains.
    proxy.passthrough()

    wait_progress(lambda: f.sink_count(prefix) + dropped_total(f), snd.total,
                  interval=0.5)
    stored = f.sink_count(prefix)
    rc, fc = f.counters("receiver"), f.counters("forwarder")
    dropped = snd.total - stored
    print("small filesystem: %d lines (%.1f MB) sent with the sink away; %d "
          "segments in memory; %d stored, %d dropped; counters: receiver "
          "dropped %s, forwarder output.%s.dropped %s (%s while the sink was "
          "away)" % (snd.total, snd.total * len(snd.line(0)) / 1e6,
                     len(in_memory), stored, dropped, rc.get("dropped"), OUTPUT,
                     fc.get("output.%s.dropped" % OUTPUT), dropped_early))
    problems = check_stored(f.sink_points(prefix), {}, snd.ts,
                          allowed=expected_names(snd))
    assert problems == [], problems
    assert dropped == (rc.get("dropped") or 0) + \
        (fc.get("output.%s.dropped" % OUTPUT) or 0), (
        "sent - stored = %d, but the counters say receiver %s + forwarder %s"
        % (dropped, rc.get("dropped"), fc.get("output.%s.dropped" % OUTPUT)))

    # Writers go back to disk: new data lands in a new disk segment.
    snd2 = Sender(f.tcp_port, "smallfs2.", 2000, 2000, pad=pad, timeout=60)
    snd2.start()
    snd2.finish(60)
    wait_stored(f, "smallfs2.", snd2.total, timeout=30)
    assert check_stored(f.sink_points("smallfs2."), expected_names(snd2),
                      snd2.ts) == []
    wait_for(lambda: f.counters("receiver").get("spool.memory") == 0, 20,
             interval=0.3, what="spool.memory == 0 (back on disk)")
    on_disk = spool_segments(f.spool, "receiver")
    assert on_disk and max(on_disk) > max(in_memory), (
        "no new receiver segment on disk: disk %s, memory had %s"
        % (sorted(on_disk), sorted(in_memory)))


# -- 5. the spool cap ------------------------------------------------------------------

class DirSampler(threading.Thread):
    """The total bytes of the regular files under a directory, every 50 ms."""

    def __init__(self, path, interval=0.05):
        super().__init__(daemon=True)
        self.path, self.interval = str(path), interval
        self.samples = []       # (monotonic time, bytes)
        self.halt = threading.Event()

    def total(self):
        n = 0
        for d, _, files in os.walk(self.path):
            for name in files:
                try:
                    st = os.lstat(os.path.join(d, name))
                except OSError:
                    continue    # deleted under us
                n += st.st_size
        return n

    def run(self):
        deadline = time.monotonic() + 600
        while not self.halt.is_set() and time.monotonic() < deadline:
            self.samples.append((time.monotonic(), self.total()))
            time.sleep(self.interval)

    def peak(self):
        return max((b for _, b in self.samples), default=0)


CAP = 2 << 20


def test_spool_cap(rig):
    f, proxy = rig.make("spool { max_size = 2M segment_size = 128K }\n")
    proxy.set_mode("refuse")
    prefix = "cap."
    pad = "." + "p" * 50
    sampler = DirSampler(f.spool)
    sampler.start()
    try:
        # 3 x the cap of distinct lines of about 80 bytes, at 1.6 MB/s.
        line_len = len(Sender(0, prefix, 1, 1, pad=pad).line(0))
        total = 3 * CAP // line_len + 1
        snd = Sender(f.tcp_port, prefix, total, 20_000, pad=pad, timeout=120)
        snd.start()
        snd.finish(120)
        wait_for(lambda: f.counters("receiver").get("accepted") == snd.total, 20,
                 interval=0.3, what="accepted == %d" % snd.total)
        time.sleep(1)   # the forwarder's last enforcement, under the sampler
        spool_bytes = f.counters("forwarder").get("spool.bytes")
        assert spool_bytes is not None and 0 < spool_bytes <= CAP, (
            "the forwarder's spool.bytes is %r" % spool_bytes)
        proxy.passthrough()

        # The newest lines are kept: the last 5,000 (400 KB) all arrive.
        newest = {snd.name_of(i): i for i in range(snd.total - 5000, snd.total)}

        wait_progress(lambda: f.sink_count(prefix) + (f.counters("forwarder").get(
            "output.%s.dropped" % OUTPUT) or 0), snd.total, interval=0.5)
    finally:
        sampler.halt.set()
        sampler.join(5)
    points = f.sink_points(prefix)
    fc = f.counters("forwarder")
    dropped = fc.get("output.%s.dropped" % OUTPUT)
    print("spool cap %d bytes: %d lines (%.1f MB) sent with the sink away; "
          "spool peak %d bytes in %d samples; %d delivered, output.%s.dropped "
          "%s, receiver dropped %s" % (CAP, snd.total, snd.total * line_len / 1e6,
                                       sampler.peak(), len(sampler.samples),
                                       len(points), OUTPUT, dropped,
                                       f.counters("receiver").get("dropped")))
    assert len(sampler.samples) > 20
    assert sampler.peak() <= CAP, "the spool reached %d bytes, over its cap %d" % (
        sampler.peak(), CAP)
    assert check_stored({n: p for n, p in points.items() if n in newest}, newest,
                      snd.ts) == [], "the newest lines were not all kept"
    assert check_stored(points, {}, snd.ts, allowed=expected_names(snd)) == []
    assert dropped == snd.total - len(points), (
        "output.%s.dropped is %s, sent - delivered is %d"
        % (OUTPUT, dropped, snd.total - len(points)))


def test_spool_cap_without_output(start_ferry):
    """
    With no output configured the spool still keeps its cap: the oldest
    segments go, counted in the forwarder's spool.dropped, and what is
    left in the spool plus what was dropped is what was sent.
    """
    from conftest import CONFIG_TEMPLATE
    f = start_ferry(start=False)
    text = CONFIG_TEMPLATE.format(
        tcp_port=f.tcp_port, udp_port=f.udp_port, sink_port=f.sink_port,
        output_port=f.sink_port, hostname=f.hostname,
        extra="spool { max_size = 2M segment_size = 128K }\n")
    text = re.sub(r"(?m)^output .*$", "", text)
    assert "output" not in text
    f.conf.write_text(text)
    f.start()
    prefix = "capnout."
    pad = "." + "p" * 50
    sampler = DirSampler(f.spool)
    sampler.start()
    try:
        line_len = len(Sender(0, prefix, 1, 1, pad=pad).line(0))
        snd = Sender(f.tcp_port, prefix, 3 * CAP // line_len + 1, 20_000, pad=pad,
                     timeout=120)
        snd.start()
        snd.finish(120)
        wait_for(lambda: f.counters("receiver").get("accepted") == snd.total, 20,
                 interval=0.3, what="accepted == %d" % snd.total)

        def left_in_spool():
            n = 0
            for p in f.spool.iterdir():
                if p.name.startswith("receiver."):
                    try:
                        n += p.read_bytes().count(prefix.encode())
                    except OSError:
                        pass    # deleted under us
            return n

        def balanced():
            dropped = f.counters("forwarder").get("spool.dropped")
            left = left_in_spool()
            return dropped is not None and dropped + left == snd.total and \
                (dropped, left)
        try:
            dropped, left = wait_for(balanced, 15, interval=0.5,
                                     what="spool.dropped + left == sent")
        except AssertionError:
            dropped, left = f.counters("forwarder").get("spool.dropped"), \
                left_in_spool()
    finally:
        sampler.halt.set()
        sampler.join(5)
    print("no output, cap %d bytes: %d lines sent, %d left in the spool, "
          "spool.dropped %s; spool peak %d bytes"
          % (CAP, snd.total, left, dropped, sampler.peak()))
    assert sampler.peak() <= CAP
    assert dropped is not None and dropped + left == snd.total, (
        "spool.dropped %s + %d left in the spool != %d sent"
        % (dropped, left, snd.total))
    assert f.sink_count(prefix) == 0

"""
Hostile clients (issue 12): each attack runs against a real suite while a
second, well-behaved client sends metrics at a steady rate, and each test
shows that client's metrics all arriving within the normal latency, the
attack bounded and counted, and the memory of the receiver and the sink
staying under a stated bound.

  1. more idle TCP connections than receiver.max_connections
  2. the same against the sink (its SINK_CONN_MAX, 256)
  3. a 100 MB line without a newline (and a 100 MB body to the sink)
  4. a flood of random UDP datagrams
  5. thousands of connects and closes a second, to the receiver and the sink

The well-behaved client opens a new connection for each batch (as cron
jobs, `nc` and many small agents do), so it needs the receiver to accept it
during the attack: one that connected before would keep its slot anyway.
Its latency is measured from just before its connect() to the moment the
point is found in the sink's database (the incoming table, where a POST
puts it before answering), polled every 50 ms.

The attacks are bounded loops (a deadline and a count); every server is on
127.0.0.1; only processes this harness started are signalled, by pid.
"""
import json
import os
import random
import select
import socket
import sqlite3
import struct
import threading
import time

import pytest

from conftest import proc_exe_name, wait_for

ATTACK_SECONDS = 12.0
SEND_PERIOD = 0.1           # the good client: a batch every 0.1 s
BATCH = 2                   # of this many lines, each a new name
P99_LIMIT = 1.2             # seconds, send to stored (issue 12)
ARRIVAL = 45.0              # ASan binaries on two shared cores
# Peak resident memory (VmHWM) the receiver and the sink may reach during
# any attack here, kB. Measured on the plain build: receiver 2.6 MB, sink
# 7.2 MB, whatever the attack; on the ASan build up to 22 MB and 44 MB,
# with its quarantine of freed memory cut to 16 MB for these tests (by
# default it keeps 256 MB of freed blocks, which a connection storm fills,
# and VmHWM would then measure ASan, not ferry). Since the receiver reads
# per 50 ms tick (a ready connection waits out of epoll until the tick,
# UDP is read 32 datagrams a call) a connect storm took the ASan receiver
# to 37 MB on a clean clone's make check: the bound is 48 MB.
RECEIVER_HWM_KB = 48 << 10
SINK_HWM_KB = 64 << 10
ASAN_OPTIONS = "detect_leaks=1:abort_on_error=0:quarantine_size_mb=16"


# -- the well-behaved side -------------------------------------------------------

def sink_names(db_path, prefix):
    """Names under prefix stored by the sink so far (incoming or merged)."""
    if not db_path.exists():
        return set()
    try:
        db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=1)
    except sqlite3.Error:
        return set()
    hi = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    try:
        rows = db.execute(
            "SELECT name FROM incoming WHERE name >= ? AND name < ? UNION "
            "SELECT name FROM points WHERE name >= ? AND name < ?",
            (prefix, hi, prefix, hi)).fetchall()
        return {r[0] for r in rows}
    except sqlite3.Error:
        return set()
    finally:
        db.close()


class Arrivals(threading.Thread):
    """First time each name under prefix is seen in sink.db (monotonic)."""

    def __init__(self, db_path, prefix):
        super().__init__(daemon=True)
        self.db_path, self.prefix = db_path, prefix
        self.seen = {}
        self.stopping = False

    def run(self):
        while not self.stopping:
            t = time.monotonic()
            for n in sink_names(self.db_path, self.prefix):
                self.seen.setdefault(n, t)
            time.sleep(0.05)

    def stop(self):
        self.stopping = True
        self.join(timeout=10)


def exchange(port, data, half_close):
    """
    Connect, send data, (half_close: shut our side) and read until the
    server closes; what it answered.
    """
    reply = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        while True:
            d = s.recv(4096)
            if not d:
                return reply
            reply += d


class Steady(threading.Thread):
    """Call once(k, ts) every SEND_PERIOD for `seconds`; errors collected."""

    def __init__(self, port, prefix, seconds):
        super().__init__(daemon=True)
        self.port, self.prefix, self.seconds = port, prefix, seconds
        self.errors = []

    def run(self):
        ts = int(time.time())
        end = time.monotonic() + self.seconds
        k = 0
        while time.monotonic() < end:
            t = time.monotonic()
            try:
                self.once(k, ts, t)
            except OSError as e:
                self.errors.append("batch %d: %s" % (k, e))
            k += 1
            time.sleep(max(0.0, t + SEND_PERIOD - time.monotonic()))


class GoodSender(Steady):
    """
    Each time: connect to the receiver, send BATCH lines, close our side
    and wait for the receiver to close its own (all was read).
    sent: {name: monotonic time before connect()}.
    """

    def __init__(self, port, prefix, seconds):
        super().__init__(port, prefix, seconds)
        self.sent = {}

    def once(self, k, ts, t):
        names = ["%sb%04d.m%d" % (self.prefix, k, i) for i in range(BATCH)]
        exchange(self.port, "".join("%s %d %d\n" % (n, i, ts) for i, n in
                                    enumerate(names)).encode(), True)
        for n in names:
            self.sent[n] = t


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))]


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def suite(start_ferry, **env):
    """A started suite with the quarantine above and env set."""
    f = start_ferry(start=False)
    f.env["ASAN_OPTIONS"] = ASAN_OPTIONS
    f.env.update(env)
    f.start()
    return f


def run_with_attack(f, attack, prefix, seconds=ATTACK_SECONDS):
    """
    Run attack(deadline) in a thread while the good client sends for
    `seconds`; then wait for every good line in the sink. Returns the
    latencies and the attack's own result.
    """
    arrivals = Arrivals(f.sink_db_path, prefix)
    arrivals.start()
    result = {}
    deadline = time.monotonic() + seconds

    def attacker():
        result["attack"] = attack(deadline)
    at = threading.Thread(target=attacker, daemon=True)
    at.start()
    time.sleep(0.5)     # the attack is under way before the first batch
    good = GoodSender(f.tcp_port, prefix, seconds - 0.5)
    good.start()
    good.join(timeout=seconds + 60)
    at.join(timeout=60)
    assert not at.is_alive(), "the attack did not end by its deadline"
    try:
        wait_for(lambda: set(good.sent) <= set(arrivals.seen), ARRIVAL,
                 interval=0.2, what="every good line in the sink (%d of %d)"
                 % (len(set(good.sent) & set(arrivals.seen)), len(good.sent)))
    finally:
        arrivals.stop()
    assert good.errors == [], "the good client failed: %s" % good.errors[:5]
    assert len(good.sent) >= BATCH * (seconds - 1) / SEND_PERIOD * 0.8, \
        "the good client sent only %d lines" % len(good.sent)
    lat = [arrivals.seen[n] - good.sent[n] for n in good.sent]
    return lat, result.get("attack")


def check_latency(lat, what):
    p50, p99 = percentile(lat, 0.5), percentile(lat, 0.99)
    print("%s: %d good lines, latency p50 %.3f s, p99 %.3f s, max %.3f s"
          % (what, len(lat), p50, p99, max(lat)))
    assert p99 < P99_LIMIT, "%s: p99 %.2f s (limit %.1f s)" % (what, p99,
                                                               P99_LIMIT)


def check_memory(f):
    rx, sink = f.child_pid("receiver"), f.child_pid("sink")
    hwm = {"receiver": vm_hwm_kb(rx), "sink": vm_hwm_kb(sink)}
    print("VmHWM: receiver %d kB, sink %d kB" % (hwm["receiver"], hwm["sink"]))
    assert hwm["receiver"] < RECEIVER_HWM_KB, hwm
    assert hwm["sink"] < SINK_HWM_KB, hwm
    return hwm


def counter_at_least(f, proc, name, n):
    return wait_for(lambda: (f.counters(proc).get(name) or 0) >= n and
                    f.counters(proc).get(name), 20, interval=0.3,
                    what="%s counter %s >= %d" % (proc, name, n))


def log_lines(f, name, marker):
    return sum(1 for l in f.log_text(name).splitlines() if marker in l)


# -- the attacks -----------------------------------------------------------------

def idle_flood(port, n, deadline, max_opens=50000):
    """
    Hold n idle connections to port; reopen any the server closes, as a
    hostile client would, every 0.1 s. Returns (opened, seen closed).
    """
    socks = []
    opened = closed = 0

    def top_up():
        nonlocal opened
        while len(socks) < n and opened < max_opens and time.monotonic() < deadline:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
            except OSError:
                return      # the backlog is full for now
            socks.append(s)
            opened += 1
    try:
        while time.monotonic() < deadline:
            top_up()
            r, _, _ = select.select(socks, [], [], 0.1)
            for s in r:
                try:
                    gone = s.recv(1, socket.MSG_DONTWAIT) == b""
                except OSError:
                    gone = True
                if gone:
                    socks.remove(s)
                    s.close()
                    closed += 1
    finally:
        for s in socks:
            s.close()
    return opened, closed


def storm(port, deadline, max_conns=200000):
    """Connect and close as fast as we can; every other close is a reset."""
    n = 0
    rst = struct.pack("ii", 1, 0)
    while time.monotonic() < deadline and n < max_conns:
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if n % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, rst)
            s.connect(("127.0.0.1", port))
            s.close()
            n += 1
        except OSError:
            s.close()
    return n


def storm_threads(port, deadline, threads=3):
    counts = [0] * threads

    def one(i):
        counts[i] = storm(port, deadline)
    ts = [threading.Thread(target=one, args=(i,), daemon=True)
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
    return sum(counts)


# -- 1. idle connections past receiver.max_connections ---------------------------

@pytest.mark.serial
@pytest.mark.long(40)
def test_idle_connections_do_not_shut_out_the_receiver(start_ferry):
    f = suite(start_ferry, FERRY_RECEIVER_MAX_CONNECTIONS="64")
    lat, (opened, closed) = run_with_attack(
        f, lambda d: idle_flood(f.tcp_port, 200, d), "hostile.idle.")
    print("idle flood: %d connections opened, %d closed by the receiver"
          % (opened, closed))
    check_latency(lat, "receiver idle flood")
    # Every connection the receiver closed on us was an eviction, counted.
    evicted = counter_at_least(f, "receiver", "evicted", max(1, closed - 5))
    print("receiver: %d evicted" % evicted)
    assert (f.counters("receiver").get("refused") or 0) == 0
    assert log_lines(f, "receiver", "receiver.max_connections") <= 2
    st = f.run("ferryctl", "status").stdout
    assert "closed to make room" in st, st
    check_memory(f)


# -- 2. idle connections past the sink's limit -----------------------------------

class GoodPoster(Steady):
    """Each time: POST one point to the sink on a new connection."""

    def __init__(self, port, prefix, seconds):
        super().__init__(port, prefix, seconds)
        self.took = []

    def once(self, k, ts, t):
        body = ("%sp%04d %d %d\n" % (self.prefix, k, k, ts)).encode()
        reply = exchange(self.port, (
            b"POST /api/v1/sink HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: text/plain\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body, False)
        if not reply.startswith(b"HTTP/1.1 200"):
            self.errors.append("post %d: %r" % (k, reply[:40]))
        self.took.append(time.monotonic() - t)


@pytest.mark.serial
@pytest.mark.long(40)
def test_idle_connections_do_not_shut_out_the_sink(start_ferry):
    f = suite(start_ferry)
    poster = GoodPoster(f.sink_port, "hostile.post.", ATTACK_SECONDS - 0.5)

    def attack(deadline):
        time.sleep(0.2)
        poster.start()
        # 400 idle connections: past the sink's 256, and past the 320 at
        # which libmicrohttpd itself stops accepting.
        r = idle_flood(f.sink_port, 400, deadline)
        poster.join(timeout=60)
        return r
    lat, (opened, closed) = run_with_attack(f, attack, "hostile.sinkidle.")
    print("sink idle flood: %d connections opened, %d closed by the sink"
          % (opened, closed))
    check_latency(lat, "sink idle flood, through the forwarder")
    assert poster.errors == [], poster.errors[:5]
    assert len(poster.took) >= (ATTACK_SECONDS - 1) / SEND_PERIOD * 0.8, \
        "only %d POSTs made" % len(poster.took)
    check_latency(poster.took, "sink idle flood, POSTs on new connections")
    evicted = counter_at_least(f, "sink", "evicted", 1)
    assert evicted >= 100, evicted
    assert log_lines(f, "sink", "closed to make room") <= 2
    check_memory(f)


# -- 3. a 100 MB line without a newline ------------------------------------------

LONG = 100 << 20


def long_line(port, deadline):
    """
    Offer one 100 MB line without a newline; when the receiver cuts us off,
    connect again and go on with the rest, as a stubborn client would.
    Returns (bytes the kernel took, connections).
    """
    chunk = b"x" * (1 << 20)
    taken = conns = 0
    while taken < LONG and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                conns += 1
                s.settimeout(2)
                while taken < LONG and time.monotonic() < deadline:
                    taken += s.send(chunk)
        except OSError:
            pass
    return taken, conns


def long_body(port):
    """POST a declared 100 MB body to the sink; the status it answers."""
    head = (b"POST /api/v1/sink HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: %d\r\n\r\n" % LONG)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        s.settimeout(10)
        chunk = b"a.b 1\n" * 10000
        sent = 0
        reply = b""
        try:
            while sent < LONG:
                r, _, _ = select.select([s], [], [], 0)
                if r:
                    break
                sent += s.send(chunk)
        except OSError:
            pass
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                reply += d
        except OSError:
            pass
    return reply.split(b"\r\n", 1)[0], sent


@pytest.mark.serial
@pytest.mark.long(40)
def test_a_100mb_line_is_cut_and_counted(start_ferry):
    f = suite(start_ferry)
    res = {}

    def attack(deadline):
        res["body"] = long_body(f.sink_port)
        return long_line(f.tcp_port, deadline)
    lat, (taken, conns) = run_with_attack(f, attack, "hostile.long.")
    print("long line: %d MB taken by the kernel over %d connections; the "
          "sink answered a 100 MB body with %r after %d bytes"
          % (taken >> 20, conns, res["body"][0], res["body"][1]))
    check_latency(lat, "100 MB line")
    assert res["body"][0].startswith(b"HTTP/1.1 413"), res["body"]
    n = counter_at_least(f, "receiver", "rejected.too_long", 1)
    assert n <= conns, (n, conns)
    # Logged with the rate limit: at most 10 lines a minute.
    assert log_lines(f, "receiver", "rejected (too_long)") <= 10
    check_memory(f)


# -- 4. a flood of random UDP datagrams ------------------------------------------

def udp_flood(port, deadline, max_datagrams=2000000):
    rnd = random.Random(12)
    pool = [os.urandom(rnd.randrange(1, 1400)) for _ in range(256)]
    n = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        while time.monotonic() < deadline and n < max_datagrams:
            for d in pool:
                try:
                    s.sendto(d, ("127.0.0.1", port))
                except OSError:
                    pass
            n += len(pool)
    return n


@pytest.mark.serial
@pytest.mark.long(40)
def test_random_udp_datagrams_are_counted(start_ferry):
    f = suite(start_ferry)
    lat, n = run_with_attack(f, lambda d: udp_flood(f.udp_port, d),
                             "hostile.udp.")
    drops = f.udp_drops()
    c = f.counters("receiver")
    rejected = sum(v for k, v in c.items() if k.startswith("rejected."))
    print("udp flood: %d datagrams sent, %d dropped by the kernel, %d lines "
          "rejected" % (n, drops, rejected))
    check_latency(lat, "random UDP flood")
    assert rejected > 0
    # Logged with the rate limit: at most 10 lines a minute and a summary.
    assert log_lines(f, "receiver", "rejected (") <= 10
    check_memory(f)


# -- 5. thousands of connects and closes a second --------------------------------

@pytest.mark.serial
@pytest.mark.long(40)
def test_connect_storm_is_bounded(start_ferry):
    f = suite(start_ferry)
    before = f.counters("receiver").get("connections") or 0
    before_sink = f.counters("sink").get("connections") or 0
    t0 = time.monotonic()

    def attack(deadline):
        res = {}
        th = threading.Thread(target=lambda: res.update(
            sink=storm_threads(f.sink_port, deadline, 2)), daemon=True)
        th.start()
        rx = storm_threads(f.tcp_port, deadline, 2)
        th.join(timeout=60)
        return rx, res["sink"]
    lat, (rx, sink) = run_with_attack(f, attack, "hostile.storm.")
    secs = time.monotonic() - t0
    print("connect storm: %d to the receiver, %d to the sink, %.0f a second"
          % (rx, sink, (rx + sink) / ATTACK_SECONDS))
    check_latency(lat, "connect storm")
    assert (rx + sink) / ATTACK_SECONDS >= 1000, (rx, sink)
    got = counter_at_least(f, "receiver", "connections", before + rx // 2)
    got_sink = counter_at_least(f, "sink", "connections",
                                before_sink + sink // 2)
    print("counted: receiver %d, sink %d connections in %.0f s"
          % (got - before, got_sink - before_sink, secs))
    # No line per connection in either log.
    for name in ("receiver", "sink"):
        assert len(f.log_text(name).splitlines()) < 50, f.log_text(name)[-2000:]
    check_memory(f)


# -- 6. a pattern of many alternatives -------------------------------------------

def test_a_pattern_of_many_alternatives_is_bounded(ferry):
    """
    {a,b} sixty times in one component is 2^60 patterns when expanded, as
    the sink matches alternatives: found by fuzzing (tests/fuzz/fuzz_sink.c,
    corpus regress-brace-expansion), it held the sink for good. A match now
    tries at most 1024 expansions; the sink answers at once, and still finds
    what a pattern of few alternatives names.
    """
    from urllib.parse import quote
    ts = int(time.time())
    ferry.send_tcp(["hostile.ab.m 1 %d" % ts, "hostile.ba.m 2 %d" % ts])
    ferry.wait_sink_count("hostile.", 2)
    for q in ("{a,b}" * 60, "{a,{b,{a,{b,{a,{b,{a,b}}}}}}}" * 20):
        t = time.monotonic()
        found = json.loads(ferry.http_get(
            "/metrics/find?query=hostile.%s&format=completer" % quote(q)))
        took = time.monotonic() - t
        print("find with %d alternatives: %.3f s" % (q.count(","), took))
        assert took < 2.0, took
        assert found is not None
    found = ferry.http_get("/metrics/find?query=hostile.{ab,ba}.m")
    assert "hostile.ab.m" in found and "hostile.ba.m" in found, found

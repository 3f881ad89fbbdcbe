"""
Issue 13's everyday load: ferry-receiver reads in step with its spool
flush (every 50 ms), so a client writing one line a millisecond costs it
wake-ups in proportion to the flush ticks, not to the lines; and every line
still arrives, once.
"""
import socket
import time

import pytest

from conftest import check_stored

RATE = 1000         # lines a second, one per write or datagram
SECS = 3
TICK = 0.05         # the receiver's flush tick (receiver/receiver.c FLUSH_MS)
ARRIVAL_TIMEOUT = 60.0


def wakeups(pid):
    """The receiver's voluntary context switches: each is a wait that slept."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches for %d" % pid)


def trickle(sock, prefix, n, ts):
    """n lines at RATE a second, one per send; their {name: value}."""
    expected = {}
    start = time.monotonic()
    for i in range(n):
        wait = start + i / RATE - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        name = "%sm%05d" % (prefix, i)
        expected[name] = i
        sock.send(("%s %d %d\n" % (name, i, ts)).encode())
    return expected


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_a_trickle_wakes_the_receiver_per_tick_not_per_line(ferry, proto):
    pid = ferry.child_pid("receiver")
    ts = int(time.time()) - 60
    prefix = "sys.trickle.%s." % proto
    if proto == "tcp":
        sock = socket.create_connection(("127.0.0.1", ferry.tcp_port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(("127.0.0.1", ferry.udp_port))
    with sock:
        before, t0 = wakeups(pid), time.monotonic()
        expected = trickle(sock, prefix, RATE * SECS, ts)
        woke, elapsed = wakeups(pid) - before, time.monotonic() - t0
    ticks = elapsed / TICK
    # Per tick: the tick itself, and the first line after a quiet tick;
    # once a second the fsync and the counters. Reading per line, as
    # before, is about one a line: RATE * SECS.
    assert woke <= 3 * ticks + 3 * SECS, (
        "%d wake-ups for %d lines in %.1f s (%.0f ticks)"
        % (woke, len(expected), elapsed, ticks))
    ferry.wait_sink_count(prefix, len(expected), timeout=ARRIVAL_TIMEOUT)
    assert check_stored(ferry.sink_points(prefix), expected, ts) == []

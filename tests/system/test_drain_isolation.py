"""
One dead drain must not slow another (issue 9): a drain pointed at a dead
port and one at a peer that accepts and then stops reading sit beside an
HTTP output, whose p99 latency must stay within 10% of its p99 with no
other drain.

Both are measured in the same run, at the same time, so the machine's own
load (two shared cores, ASan binaries) weighs on both alike: suite A has
the HTTP output alone, suite B the same output plus the two bad drains, and
the same chunks of metrics go to both receivers at the same moments. The
latency of a chunk is from just before it was sent to the moment its last
line's 2xx was written by a pass-through proxy in front of each sink
(faultproxy.py), which is what the forwarder waits for.
"""
import socket
import threading
import time

import pytest

from conftest import free_port, wait_for
from faultproxy import FaultProxy

CHUNK = 20              # lines per chunk
PERIOD = 0.25           # seconds between chunks
DURATION = 16.0         # seconds of sending: past the stalled peer's 7 s
ARRIVAL = 45.0


class StallingPeer:
    """Accepts connections and never reads: its small buffer fills at once."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            self.conns.append(c)

    def close(self):
        self.closed = True
        self.sock.close()
        for c in self.conns:
            c.close()


def lines(prefix, n, ts):
    return ["%sm%05d %d %d" % (prefix, i, i, ts) for i in range(n)]


def acked_at(proxy):
    out = {}
    for r in proxy.snapshot():
        if r.t_answer is None or not r.status or not 200 <= r.status < 300:
            continue
        for l in r.lines():
            name = l.split(" ", 1)[0]
            out.setdefault(name, r.t_answer)
    return out


def p99(values):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(0.99 * (len(v) - 1))))]


@pytest.mark.serial
def test_bad_drains_do_not_slow_an_http_output(start_ferry):
    dead_port = free_port()             # nothing listens there
    stall = StallingPeer()
    drains = ('output "dead" { uri = "carbon://127.0.0.1:%d/" }\n'
              'output "stalled" { uri = "tcp://127.0.0.1:%d/?format=json" }\n'
              % (dead_port, stall.port))
    suites, proxies = [], []
    try:
        for extra in ("", drains):
            f = start_ferry(start=False)
            p = FaultProxy(f.sink_port)
            f.write_config(extra, output_port=p.port)
            f.start()
            suites.append(f)
            proxies.append(p)
        alone, beside = suites
        wait_for(lambda: stall.conns, 20, what="the stalled drain to connect")

        ts = int(time.time()) - 60
        sent = []
        t_end = time.monotonic() + DURATION
        k = 0
        while time.monotonic() < t_end:
            prefix = "iso.c%03d." % k
            t = time.monotonic()
            for f in suites:
                f.send_tcp(lines(prefix, CHUNK, ts))
            sent.append((prefix, t))
            k += 1
            time.sleep(max(0.0, t + PERIOD - time.monotonic()))
        for f in suites:
            f.wait_sink_count("iso.", CHUNK * len(sent), timeout=ARRIVAL)

        lat = []
        for p in proxies:
            acked = acked_at(p)
            one = []
            for prefix, t in sent:
                names = ["%sm%05d" % (prefix, i) for i in range(CHUNK)]
                assert all(n in acked for n in names), prefix
                one.append(max(acked[n] for n in names) - t)
            lat.append(one)
        base, with_drains = p99(lat[0]), p99(lat[1])
        # The bad drains were really failing meanwhile.
        status = beside.status()
        states = {o["name"]: o["state"] for o in status["outputs"]}
        print("http output p99: %.3f s alone, %.3f s beside a dead and a "
              "stalled drain (%.1f%%); drains: %s"
              % (base, with_drains, 100.0 * (with_drains / base - 1), states))
        assert states["dead"] == "retrying", states
        assert with_drains <= base * 1.10, (
            "p99 %.3f s beside the bad drains, %.3f s alone" % (with_drains, base))
    finally:
        for f in suites:
            f.stop()
        for p in proxies:
            p.close()
        stall.close()

"""
Real senders that users put in front of ferry, not written here: collectd's
write_graphite plugin (CRLF line endings, its own naming) and carbon-c-relay
relaying into ferry's receiver. What they send reaches the sink.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import wait_for


def start(argv, log):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def test_collectd_write_graphite(start_ferry, tmp_path):
    collectd = shutil.which("collectd") or "/usr/sbin/collectd"
    if not os.path.exists(collectd):
        pytest.skip("collectd is not installed")
    f = start_ferry()
    conf = tmp_path / "collectd.conf"
    conf.write_text("""\
Hostname "peertest"
FQDNLookup false
Interval 1
BaseDir "%(dir)s"
PIDFile "%(dir)s/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin load
LoadPlugin write_graphite
<Plugin write_graphite>
  <Node "ferry">
    Host "127.0.0.1"
    Port "%(port)d"
    Protocol "tcp"
    Prefix "collectd."
  </Node>
</Plugin>
""" % {"dir": tmp_path, "port": f.tcp_port})
    log = open(tmp_path / "collectd.log", "wb")
    p = start([collectd, "-f", "-C", str(conf)], log)
    try:
        name = "collectd.peertest.load.load.shortterm"
        wait_for(lambda: f.sink_count(name) >= 2, 30,
                 what="collectd's load metric in the sink")
        rejected = f.counters("receiver") or {}
        assert not any(v for k, v in rejected.items() if k.startswith("rejected.")), \
            rejected
    finally:
        stop(p)
        log.close()


def test_carbon_c_relay_in_front(start_ferry, tmp_path):
    relay = shutil.which("carbon-c-relay")
    if relay is None:
        pytest.skip("carbon-c-relay is not installed")
    f = start_ferry()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    conf = tmp_path / "relay.conf"
    conf.write_text("listen type linemode 127.0.0.1:%d proto tcp;\n"
                    "cluster ferry forward 127.0.0.1:%d;\n"
                    "match * send to ferry stop;\n" % (port, f.tcp_port))
    log = open(tmp_path / "relay.log", "wb")
    p = start([relay, "-f", str(conf), "-p", str(port), "-s"], log)
    try:
        def relay_up():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(relay_up, 10, what="carbon-c-relay listening")
        ts = int(time.time())
        lines = "".join("relayed.m%d %d %d\n" % (i, i, ts) for i in range(500))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(lines.encode())
        f.wait_sink_count("relayed.", 500, timeout=30)
        points = f.sink_points("relayed.")
        assert points["relayed.m499"] == [(ts, 499)]
    finally:
        stop(p)
        log.close()

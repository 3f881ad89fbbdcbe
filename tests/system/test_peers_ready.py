"""
Each real peer of peers.py starts on its own ports in the test's folder,
takes what a plain client sends it (the protocol ferry's outputs will speak),
gives it back through its helpers, and stops. No ferry here: these tests
prove the harness, so that a failing output test is about ferry.
"""
import socket
import time

import pytest

from conftest import pid_alive
from peers import (ALL, CarbonCache, CarbonCRelay, ClickHouse, Redis, Rsyslog,
                   VictoriaMetrics, graphite_lines, octet_frame, send_tcp,
                   send_udp, tcp_accepts)


def report(peer):
    print("%s ready in %.2f s" % (peer.name, peer.start_seconds))


def stopped(peer, *ports):
    """The peer's process is gone and none of its ports accepts."""
    assert peer.stop() is not None
    assert not pid_alive(peer.pid)
    for port in ports:
        assert not tcp_accepts(port), "port %d still accepts" % port


def test_redis_lpush_ltrim_and_restart(start_peer, tmp_path):
    r = start_peer(Redis)
    report(r)
    assert r.command("LPUSH", "recent", "one", "two", "three") == 3
    assert r.command("LTRIM", "recent", 0, 1) == "OK"
    assert r.lrange("recent") == ["three", "two"]
    assert r.lpush("other", "x", db=2) == 1
    assert r.keys(db=2) == ["other"] and r.keys() == ["recent"]
    port, pid = r.port, r.pid
    r.restart()
    assert r.port == port and r.pid != pid
    assert r.lrange("recent") == []     # no persistence: a restart forgets
    # Nothing of its own outside its folder.
    assert sorted(p.name for p in r.dir.iterdir()) == ["peer.out", "redis.log"]
    stopped(r, port)


def test_rsyslog_rfc5424_tcp_octet_counting_and_udp(start_peer):
    s = start_peer(Rsyslog)
    report(s)
    first = ('<134>1 2026-12-03T09:00:00.000Z web1 nginx 42 ID47 '
             '[ferry@32473 key="systail.nginx.web1"] GET /index.html 200')
    # A newline inside the message: octet counting frames it, LF would not.
    second = '<131>1 2026-12-03T09:00:01Z web1 nginx - - - two\nlines'
    send_tcp(s.tcp_port, octet_frame(first) + octet_frame(second))
    send_udp(s.udp_port, ['<13>1 2026-12-03T09:00:02Z db2 postgres 7 - - over udp'])
    recs = s.wait_records(3)
    by_msg = {r["msg"]: r for r in recs}
    assert set(by_msg) == {"GET /index.html 200", "two\nlines", "over udp"}, recs
    r = by_msg["GET /index.html 200"]
    assert (r["input"], r["pri"], r["hostname"], r["app_name"], r["procid"],
            r["msgid"]) == ("imtcp", "134", "web1", "nginx", "42", "ID47")
    assert r["structured_data"] == '[ferry@32473 key="systail.nginx.web1"]'
    assert r["version"] == "1"
    assert by_msg["over udp"]["input"] == "imudp"
    assert by_msg["over udp"]["hostname"] == "db2"
    lines = s.lines()
    assert "web1 nginx GET /index.html 200" in lines
    assert "db2 postgres over udp" in lines
    stopped(s, s.tcp_port)


def test_carbon_c_relay_to_file(start_peer):
    c = start_peer(CarbonCRelay)
    report(c)
    ts = int(time.time())
    send_tcp(c.port, graphite_lines([("relay.a", 1, ts), ("relay.b", 2.5, ts)]))
    send_udp(c.port, [graphite_lines([("relay.u", 3, ts)])])
    c.wait_lines(3)
    assert c.points() == {"relay.a": [(ts, 1.0)], "relay.b": [(ts, 2.5)],
                          "relay.u": [(ts, 3.0)]}
    stopped(c, c.port)


def test_carbon_c_relay_in_front_of_a_peer(start_peer):
    """The relay as a forwarder, here in front of another relay's file."""
    back = start_peer(CarbonCRelay, name="back")
    front = start_peer(CarbonCRelay, name="front", forward_to=[("127.0.0.1", back.port)])
    ts = int(time.time())
    send_tcp(front.port, graphite_lines([("fwd.m%d" % i, i, ts) for i in range(100)]))
    back.wait_lines(100)
    assert back.points()["fwd.m99"] == [(ts, 99.0)]
    assert front.lines() == []


def test_carbon_cache_whisper(start_peer):
    c = start_peer(CarbonCache)
    report(c)
    ts = int(time.time())
    send_tcp(c.port, graphite_lines([("cc.a", 1, ts), ("cc.b.c", 2.5, ts),
                                     ("cc.a", 4, ts + 1)]))
    assert c.wait_points("cc.a", 2) == [(ts, 1.0), (ts + 1, 4.0)]
    assert c.wait_points("cc.b.c", 1) == [(ts, 2.5)]
    assert c.read_points("cc.a", since=ts - 10) == [(ts, 1.0), (ts + 1, 4.0)]
    assert c.metrics() == ["cc.a", "cc.b.c"]     # no carbon.* self-metrics
    stopped(c, c.port)


def test_victoria_metrics_graphite_and_export(start_peer):
    v = start_peer(VictoriaMetrics)
    report(v)
    ts = int(time.time())
    send_tcp(v.graphite_port, graphite_lines([("vm.a", 1, ts), ("vm.b.c", 2.5, ts),
                                              ("vm.t;host=web1", 3, ts)]))
    got = v.wait_points('{__name__=~"vm\\\\..*"}', 3)
    assert got == {"vm.a": [(ts, 1.0)], "vm.b.c": [(ts, 2.5)],
                   "vm.t;host=web1": [(ts, 3.0)]}, got
    stopped(v, v.http_port, v.graphite_port)


def test_clickhouse_json_each_row_over_http(start_peer):
    c = start_peer(ClickHouse)
    report(c)
    if c.start_seconds > 10:
        print("clickhouse took %.1f s to start (over 10 s)" % c.start_seconds)
    c.query("CREATE TABLE metrics (name String, value Float64, ts DateTime)"
            " ENGINE = MergeTree ORDER BY (name, ts)")
    c.insert("metrics", [{"name": "ch.a", "value": 1.5, "ts": 1796280000},
                         {"name": "ch.b", "value": 2, "ts": 1796280001}])
    rows = c.rows("SELECT name, value, toUnixTimestamp(ts) AS t FROM metrics ORDER BY name")
    assert rows == [{"name": "ch.a", "value": 1.5, "t": 1796280000},
                    {"name": "ch.b", "value": 2, "t": 1796280001}]
    with pytest.raises(Exception):
        c.query("SELECT nonsense FROM nowhere")
    stopped(c, c.http_port, c.tcp_port)


def test_free_ports_do_not_repeat():
    """The allocator never hands out the same port twice in a row of many."""
    from conftest import free_port
    ports = [free_port(k) for k in (socket.SOCK_STREAM, socket.SOCK_DGRAM) * 50]
    assert len(set(ports)) == len(ports)


@pytest.mark.parametrize("cls", ALL, ids=[c.name for c in ALL])
def test_restart_keeps_the_ports(start_peer, cls):
    """restart() (the 'peer restarts' tests) comes back on the same ports."""
    p = start_peer(cls)
    ports = {k: v for k, v in vars(p).items() if k.endswith("port")}
    pid = p.pid
    p.restart()
    assert p.pid != pid and not pid_alive(pid)
    assert {k: v for k, v in vars(p).items() if k.endswith("port")} == ports
    assert p.ready() and p.starts == 2

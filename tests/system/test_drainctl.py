"""
Drain management (`ferryctl drain add|list|remove`) for every scheme of
common/url.c, each against a peer this file starts on 127.0.0.1: a TCP
listener (carbon, tcp, syslog), a UDP socket (udp, syslog+udp), redis-server
(redis), a path (file), a small HTTP server (http, clickhouse) and the same
over TLS with a certificate made here (https).

A round trip writes the drain's conf.d fragment, restarts the forwarder and
nothing else (receiver, sink, periodic, collectors and the supervisor keep
their pids), delivers a metric sent after the add to the peer, lists the
drain as "sending" with a backlog, then removes it: the fragment goes, the
forwarder alone restarts again, the drain leaves `drain list`, and its
cursor and state rows leave ferry.db.

Then what a drain does to the spool: a dead drain holds the segments the
sink output has passed until it is removed, and a drain with fail_after
that has failed that long ("failed" in drain list and status) holds none,
and counts what it loses as dropped.
"""
import http.server
import json
import re
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time

import pytest

from conftest import (children_of, free_port, pid_alive, proc_exe_name,
                      require_programs, ro_query, wait_for)

ARRIVAL = 60.0      # ASan builds on two shared cores
FAILED_WITHIN = 30.0  # fail_after=2 plus backoff, on a loaded machine


# -- peers -------------------------------------------------------------------

class Peer:
    """What every peer has: the bytes it received, and a way to stop."""

    def __init__(self):
        self.data = bytearray()
        self.lock = threading.Lock()

    def received(self):
        with self.lock:
            return self.data.decode(errors="replace")

    def add(self, b):
        with self.lock:
            self.data.extend(b)

    def close(self):
        pass


class TcpPeer(Peer):
    """A TCP listener keeping every byte of every connection."""

    def __init__(self):
        super().__init__()
        peer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                while True:
                    try:
                        b = self.request.recv(65536)
                    except OSError:
                        return
                    if not b:
                        return
                    peer.add(b)

        class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class UdpPeer(Peer):
    """A UDP socket keeping every datagram."""

    def __init__(self):
        super().__init__()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopping:
            try:
                b = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.add(b + b"\n")

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


class HttpPeer(Peer):
    """An HTTP server answering 200 to every POST, keeping the bodies."""

    def __init__(self, tls=None):
        super().__init__()
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                peer.add(self.rfile.read(n) + b"\n")
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket,
                                                 server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def resp(*args):
    """One Redis command in RESP."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def resp_read(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:].rstrip(b"\r\n")
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise OSError("redis: %s" % rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        b = f.read(n + 2)
        return b[:n]
    if kind == b"*":
        return [resp_read(f) for _ in range(int(rest))]
    raise OSError("redis: unexpected %r" % line)


class RedisPeer(Peer):
    """redis-server on a free port, nothing on disk; received() is the list."""

    KEY = "drainctl"

    def __init__(self, tmp):
        super().__init__()
        self.port = free_port()
        d = tmp / "redis"
        d.mkdir(exist_ok=True)
        self.log = open(d / "redis.log", "wb")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(d)],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

        def pong():
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited %s: %s" % (
                    self.proc.returncode, (d / "redis.log").read_text()))
            try:
                return self.command("PING") == "PONG"
            except OSError:
                return False
        wait_for(pong, 20, what="redis-server to answer PING")

    def command(self, *args):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(resp(*args))
            return resp_read(s.makefile("rb"))

    def received(self):
        try:
            items = self.command("LRANGE", self.KEY, 0, -1)
        except OSError:
            return ""
        return "\n".join(i.decode(errors="replace") for i in items)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


class FilePeer(Peer):
    def __init__(self, tmp):
        super().__init__()
        self.path = tmp / "drain-file" / "copy.log"
        self.path.parent.mkdir(exist_ok=True)

    def received(self):
        try:
            return self.path.read_text(errors="replace")
        except OSError:
            return ""


def make_cert(tmp):
    """A self-signed certificate for 127.0.0.1: (cert, key), or None."""
    if shutil.which("openssl") is None:
        return None
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return (cert, key) if r.returncode == 0 else None


# Each scheme: the peer it takes, and its drain URI for that peer.
SCHEMES = {
    "http": (lambda t, c: HttpPeer(),
             lambda p: "http://127.0.0.1:%d/api/v1/sink" % p.port),
    "https": (lambda t, c: HttpPeer(tls=c),
              lambda p: "https://127.0.0.1:%d/api/v1/sink" % p.port),
    "carbon": (lambda t, c: TcpPeer(),
               lambda p: "carbon://127.0.0.1:%d" % p.port),
    "tcp": (lambda t, c: TcpPeer(),
            lambda p: "tcp://127.0.0.1:%d" % p.port),
    "udp": (lambda t, c: UdpPeer(),
            lambda p: "udp://127.0.0.1:%d" % p.port),
    "syslog": (lambda t, c: TcpPeer(),
               lambda p: "syslog://127.0.0.1:%d" % p.port),
    "syslog+udp": (lambda t, c: UdpPeer(),
                   lambda p: "syslog+udp://127.0.0.1:%d" % p.port),
    "redis": (lambda t, c: RedisPeer(t),
              lambda p: "redis://127.0.0.1:%d/?key=%s" % (p.port, RedisPeer.KEY)),
    "file": (lambda t, c: FilePeer(t),
             lambda p: "file://%s" % p.path),
    "clickhouse": (lambda t, c: HttpPeer(),
                   lambda p: "clickhouse://127.0.0.1:%d/" % p.port),
}


# -- helpers -----------------------------------------------------------------

def drain(f, *args):
    return f.run("ferryctl", "-c", str(f.conf), "drain", *args)


def drain_list(f):
    """{name: output} of `drain list --json`, and its top-level object."""
    r = drain(f, "list", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    return {o["name"]: o for o in j["outputs"]}, j


def children(f):
    """{program: pid} of the supervisor's running children, from /proc."""
    out = {}
    for pid in children_of(f.proc.pid):
        name = proc_exe_name(pid)
        if name is not None and pid_alive(pid):
            out[name] = pid
            f.known_children.add(pid)
    return out


def others(pids):
    return {k: v for k, v in pids.items() if k != "ferry-forwarder"}


def assert_only_forwarder_restarted(f, before, old_fwd):
    """The forwarder has a new pid; every other process has its old one."""
    new_fwd = f.child_pid("forwarder", not_pid=old_fwd)
    now = children(f)
    assert others(now) == others(before), (before, now)
    assert f.proc.poll() is None
    assert int((f.var / "run/ferry-supervisor.pid").read_text().split()[0]) \
        == f.proc.pid
    return new_fwd


def db_rows(f, table, column, name):
    rows = ro_query(f.db_path, "SELECT count(*) FROM %s WHERE %s = ?"
                    % (table, column), (name,))
    return rows[0][0] if rows else 0


def receiver_segments(f):
    """Sequence numbers of the receiver's spool segments on disk, sorted."""
    return sorted(int(p.name.split(".")[1]) for p in f.spool.glob("receiver.*"))


def sink_cursor(f):
    rows = ro_query(f.db_path, "SELECT seq FROM cursor WHERE output = 'sink' "
                    "AND stream = 'receiver'")
    return rows[0][0] if rows else 0


def send_rotating(f, prefix, batches, per=120):
    """
    Send batches of records, each waited for at the sink, so each is its
    own write and (with a 4 KiB segment_size) its own segment.
    """
    ts = int(time.time())
    for b in range(batches):
        f.send_tcp(["%s.b%02d.m%03d %d %d" % (prefix, b, i, i, ts)
                    for i in range(per)])
        f.wait_sink_count(prefix, (b + 1) * per, timeout=ARRIVAL)


def dead_port():
    """A TCP port on 127.0.0.1 that nothing listens on (connect: refused)."""
    return free_port()


# -- a round trip per scheme ---------------------------------------------------

@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_drain_round_trip(start_ferry, tmp_path, scheme):
    require_programs("ferry-collectors", "ferry-periodic")
    if scheme == "redis" and shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    cert = None
    if scheme == "https":
        cert = make_cert(tmp_path)
        if cert is None:
            pytest.skip("openssl cannot make a test certificate")
    f = start_ferry(start=False)
    if cert is not None:
        # The forwarder trusts the test's certificate, for every output.
        text = f.conf.read_text().replace(
            "forwarder { batch_timeout = 0.1 }",
            'forwarder { batch_timeout = 0.1 ca_file = "%s" }' % cert[0])
        f.conf.write_text(text)
    f.start()
    make_peer, make_uri = SCHEMES[scheme]
    peer = make_peer(tmp_path, cert)
    try:
        round_trip(f, scheme, peer, make_uri(peer))
    finally:
        peer.close()


def round_trip(f, scheme, peer, uri):
    name = "to-" + scheme.replace("+", "-")
    path = f.etc / "conf.d" / ("50-drain-%s.conf" % name)
    before = children(f)
    fwd = f.child_pid("forwarder")
    for prog in ("ferry-receiver", "ferry-sink", "ferry-periodic",
                 "ferry-collectors"):
        assert prog in before, before

    r = drain(f, "add", name, uri)
    assert r.returncode == 0, r.stderr
    assert "drain %s added (%s)" % (name, path) in r.stdout
    assert path.read_text().startswith("# ferryctl drain:")
    assert 'uri = "%s"' % uri in path.read_text()
    fwd = assert_only_forwarder_restarted(f, before, fwd)

    # A metric sent after the add reaches the peer.
    metric = "drainctl.%s.probe" % scheme.replace("+", "_")
    f.send_tcp(["%s 42 %d" % (metric, int(time.time()))])
    wait_for(lambda: metric in peer.received(), ARRIVAL, interval=0.1,
             what="%s at the %s peer" % (metric, scheme))
    wait_for(lambda: db_rows(f, "cursor", "output", name) > 0, ARRIVAL,
             what="a cursor row of %s" % name)

    # The state is what the forwarder last published: up to a second old,
    # so a retry that just succeeded may still show.
    o = wait_for(lambda: drain_list(f)[0][name]["state"] == "sending" and
                 drain_list(f)[0][name], ARRIVAL, what="%s sending" % name)
    outs, top = drain_list(f)
    assert top["forwarder_running"] is True
    assert (o["uri"], o["file"], o["drain"]) == (uri, str(path), True)
    assert isinstance(o["since"], int)
    assert isinstance(o["backlog"]["records"], int) and \
        isinstance(o["backlog"]["bytes"], int), o
    assert (o["last_error"] is None) == (o["last_error_at"] is None), o
    assert outs["sink"]["state"] == "sending" and outs["sink"]["drain"] is False
    r = drain(f, "list")
    assert re.search(r"^%s +yes +%s +%s\n +sending; backlog \d+ records, "
                     r"[\d.]+ (B|KiB|MiB)(, oldest \S+ old)?; (no error|last error .*)$"
                     % (re.escape(name), re.escape(uri), re.escape(str(path))),
                     r.stdout, re.M), r.stdout
    # Nothing but the forwarder restarted, seconds later too.
    assert others(children(f)) == others(before)

    r = drain(f, "remove", name)
    assert r.returncode == 0, r.stderr
    assert not path.exists()
    assert_only_forwarder_restarted(f, before, fwd)
    assert name not in drain_list(f)[0]
    assert name not in drain(f, "list").stdout
    # The new forwarder forgets the removed drain's cursors and state.
    wait_for(lambda: db_rows(f, "cursor", "output", name) == 0 and
             db_rows(f, "output", "name", name) == 0, ARRIVAL,
             what="%s's rows gone from ferry.db" % name)


# -- what a drain holds in the spool -------------------------------------------

SMALL_SEGMENTS = "spool { segment_size = 4096 }\n"


def test_removed_drain_releases_its_segments(start_ferry):
    require_programs("ferry-collectors", "ferry-periodic")
    f = start_ferry(SMALL_SEGMENTS)
    before = children(f)
    fwd = f.child_pid("forwarder")
    r = drain(f, "add", "dead", "tcp://127.0.0.1:%d" % dead_port())
    assert r.returncode == 0, r.stderr
    fwd = assert_only_forwarder_restarted(f, before, fwd)

    send_rotating(f, "drainctl.held", 5)
    segs = receiver_segments(f)
    assert len(segs) >= 4, segs
    # The sink output has passed all but the newest; the dead drain holds them.
    wait_for(lambda: sink_cursor(f) >= segs[-1], ARRIVAL,
             what="the sink's cursor at receiver segment %d" % segs[-1])
    held = [s for s in receiver_segments(f) if s < sink_cursor(f)]
    assert len(held) >= 3, (held, sink_cursor(f))
    o = wait_for(lambda: drain_list(f)[0]["dead"]["state"] == "retrying" and
                 drain_list(f)[0]["dead"], ARRIVAL, what="dead retrying")
    assert o["backlog"]["records"] >= 5 * 120, o
    assert "refused" in o["last_error"].lower(), o
    assert isinstance(o["since"], int) and isinstance(o["last_error_at"], int)
    r = drain(f, "list")
    assert re.search(r"^ +retrying since \S+Z \(\S+ ago\); backlog \d+ records"
                     r".*; last error \S+Z \(\S+ ago\): ", r.stdout, re.M), \
        r.stdout

    r = drain(f, "remove", "dead")
    assert r.returncode == 0, r.stderr
    assert_only_forwarder_restarted(f, before, fwd)
    wait_for(lambda: not set(held) & set(receiver_segments(f)), ARRIVAL,
             what="segments %s, held by the removed drain only, deleted" % held)
    wait_for(lambda: db_rows(f, "cursor", "output", "dead") == 0, ARRIVAL,
             what="the removed drain's cursors gone")


def test_failed_drain_holds_no_segments(start_ferry):
    require_programs("ferry-collectors", "ferry-periodic")
    f = start_ferry(SMALL_SEGMENTS)
    fwd = f.child_pid("forwarder")
    uri = "tcp://127.0.0.1:%d/?fail_after=2" % dead_port()
    r = drain(f, "add", "gone", uri)
    assert r.returncode == 0, r.stderr
    f.child_pid("forwarder", not_pid=fwd)
    f.send_tcp(["drainctl.first.m%d %d %d" % (i, i, int(time.time()))
                for i in range(10)])

    o = wait_for(lambda: drain_list(f)[0]["gone"]["state"] == "failed" and
                 drain_list(f)[0]["gone"], FAILED_WITHIN,
                 what="the drain marked failed")
    assert o["uri"] == uri and isinstance(o["since"], int)
    r = drain(f, "list")
    assert re.search(r"^gone +yes .*\n +failed since \S+Z \(\S+ ago\); backlog",
                     r.stdout, re.M), r.stdout
    r = f.run("ferryctl", "status", "--json")
    st = json.loads(r.stdout)
    assert r.returncode == 1 and st["status"] == "degraded", r.stdout
    gone = [x for x in st["outputs"] if x["name"] == "gone"][0]
    assert gone["state"] == "failed", gone
    assert any("gone has failed" in x for x in st["reasons"]), st["reasons"]
    r = f.run("ferryctl", "status")
    assert re.search(r"^gone +failed for ", r.stdout, re.M), r.stdout

    # What the sink passed goes, though the failed drain never sent it.
    send_rotating(f, "drainctl.failed", 5)
    wait_for(lambda: sink_cursor(f) >= receiver_segments(f)[-1], ARRIVAL,
             what="the sink's cursor at the newest receiver segment")

    def released():
        cur = sink_cursor(f)
        return [s for s in receiver_segments(f) if s < cur] == [] and cur
    wait_for(released, ARRIVAL, what="passed segments deleted")

    def dropped():
        c = f.counters("forwarder")
        return c.get("output.gone.dropped", 0) > 0 and c
    c = wait_for(dropped, ARRIVAL, what="output.gone.dropped counted")
    assert c.get("output.sink.dropped", 0) == 0, c
    gone = [x for x in f.status()["outputs"] if x["name"] == "gone"][0]
    assert gone["state"] == "failed" and gone["dropped"] > 0, gone


def test_failed_drain_releases_what_was_passed_before(start_ferry):
    """
    Segments the sink passed while the drain was still only retrying go as
    soon as it is marked failed, not at the next segment some stream
    finishes (with 64 KiB segments and nothing sent, that is minutes away).
    """
    require_programs("ferry-collectors", "ferry-periodic")
    f = start_ferry("spool { segment_size = 65536 }\n")
    fwd = f.child_pid("forwarder")
    r = drain(f, "add", "late", "tcp://127.0.0.1:%d/?fail_after=12" % dead_port())
    assert r.returncode == 0, r.stderr
    f.child_pid("forwarder", not_pid=fwd)
    send_rotating(f, "drainctl.late", 4, per=1800)
    wait_for(lambda: sink_cursor(f) >= receiver_segments(f)[-1], ARRIVAL,
             what="the sink's cursor at the newest receiver segment")
    held = [s for s in receiver_segments(f) if s < sink_cursor(f)]
    assert len(held) >= 3, held
    assert drain_list(f)[0]["late"]["state"] == "retrying"

    wait_for(lambda: drain_list(f)[0]["late"]["state"] == "failed", 30,
             what="the drain marked failed")
    wait_for(lambda: not set(held) & set(receiver_segments(f)), 5,
             what="segments %s deleted once the drain failed" % held)


# -- secrets, and a forwarder that has never run ---------------------------------

def test_list_masks_secrets_and_says_not_running(start_ferry):
    f = start_ferry(start=False)
    drains = {
        "r1": ("redis://:hunter2@127.0.0.1:6379/?key=k",
               "redis://:***@127.0.0.1:6379/?key=k"),
        "r2": ("redis://hunter2@127.0.0.1:6379/",
               "redis://***@127.0.0.1:6379/"),
        "h1": ("http://user:hunter2@127.0.0.1:8080/api/v1/sink",
               "http://user:***@127.0.0.1:8080/api/v1/sink"),
        "c1": ("clickhouse://127.0.0.1:8123/?user=u&password=hunter2&database=d",
               "clickhouse://127.0.0.1:8123/?user=u&password=***&database=d"),
    }
    for name, (uri, _) in drains.items():
        r = drain(f, "add", name, uri)
        assert r.returncode == 0, r.stderr
        # A password in the URI is a secret: nothing for others.
        mode = (f.etc / "conf.d" / ("50-drain-%s.conf" % name)).stat().st_mode
        assert mode & 0o007 == 0, oct(mode)
    r = drain(f, "list")
    assert r.returncode == 0, r.stderr
    assert "hunter2" not in r.stdout
    for name, (_, masked) in drains.items():
        assert re.search(r"^%s +yes +%s +\S+\n +not running; backlog unknown; "
                         r"no error$" % (name, re.escape(masked)), r.stdout,
                         re.M), r.stdout
    assert "ferry-forwarder is not running" in r.stdout
    outs, top = drain_list(f)
    assert top["forwarder_running"] is False
    for name, (_, masked) in drains.items():
        o = outs[name]
        assert o["uri"] == masked and o["state"] == "not running", o
        assert o["since"] is None and o["backlog"] is None, o
        assert o["last_error"] is None and o["last_error_at"] is None, o
    r = f.run("ferryctl", "-c", str(f.conf), "check-config", "--effective")
    assert r.returncode == 0 and "hunter2" not in r.stdout, r.stdout

"""
Issue 3's connection tests for http(s) outputs: the fallback resolver
(dns_servers) delivers when the system resolver cannot resolve the output's
host; TLS peers are verified, against ca_file when one is given; and the
keepalive settings reach the forwarder's socket.

The peers are written here with the standard library: a DNS server on UDP
that answers A queries from a table, and a TLS-terminating HTTP proxy in
front of the sink with a self-signed certificate made by openssl. Nothing
sleeps for a fixed time where a condition can be polled.
"""
import ctypes
import http.client
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import free_port, wait_for

ARRIVAL_TIMEOUT = 60.0
HOST = "collector.ferry-test.invalid"    # .invalid: no system resolver knows it


def metric_lines(prefix, n, ts):
    return ["%sm%05d %d %d" % (prefix, i, i, ts) for i in range(n)]


def write_conf(f, outputs, forwarder=""):
    """The whole ferry.conf: conftest's suite, with these outputs only."""
    f.conf.write_text(
        'user = ""\n'
        'hostname = "systest"\n'
        'receiver { bind = "127.0.0.1" tcp_port = %d udp_port = %d }\n'
        'forwarder { batch_timeout = 0.1 %s }\n'
        'sink { enabled = true bind = "127.0.0.1" port = %d }\n'
        '%s\n' % (f.tcp_port, f.udp_port, forwarder, f.sink_port, outputs))


def make_suite(start_ferry, outputs, forwarder=""):
    """A started suite; outputs(f) gives its output sections (f.sink_port...)."""
    f = start_ferry(start=False)
    # Short backoffs, so a retried failure shows quickly.
    f.env["FERRY_FORWARDER_RETRY_MAX"] = "1"
    write_conf(f, outputs(f), forwarder)
    f.start()
    return f


# -- a DNS server ---------------------------------------------------------------

class DnsServer:
    """
    UDP DNS on 127.0.0.1 answering A queries for the names in `table` with
    their address and `ttl`; AAAA for those names gets an empty answer, any
    other name NXDOMAIN. `queries` lists (name, qtype) as they came.
    """

    def __init__(self, table, ttl=300):
        self.table = {k.lower(): v for k, v in table.items()}
        self.ttl = ttl
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            reply = self._answer(data)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def _answer(self, q):
        if len(q) < 12:
            return None
        qid, flags, qdcount = struct.unpack("!HHH", q[:6])
        if qdcount != 1:
            return None
        labels, i = [], 12
        while i < len(q) and q[i] != 0:
            n = q[i]
            labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        question_end = i + 5
        if question_end > len(q):
            return None
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
        name = ".".join(labels).lower()
        self.queries.append((name, qtype))
        question = q[12:question_end]
        rd = flags & 0x0100
        if name not in self.table:
            return struct.pack("!HHHHHH", qid, 0x8000 | rd | 0x0080 | 3,
                               1, 0, 0, 0) + question
        answers = b""
        count = 0
        if qtype == 1:      # A
            answers = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, self.ttl, 4) +
                       socket.inet_aton(self.table[name]))
            count = 1
        return struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | 0x0080,
                           1, count, 0, 0) + question + answers

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def dns():
    servers = []

    def make(table, ttl=300):
        d = DnsServer(table, ttl)
        servers.append(d)
        return d
    yield make
    for d in servers:
        d.close()


def closed_udp_port():
    """A UDP port nobody listens on (an ICMP port unreachable comes back)."""
    return free_port(socket.SOCK_DGRAM)


def test_fallback_resolver_delivers(start_ferry, dns):
    """
    The system resolver cannot resolve HOST; the fallback's first server is a
    closed port, its second our DNS server: every metric arrives, and the
    log says once that the fallback is used.
    """
    d = dns({HOST: "127.0.0.1"}, ttl=300)
    f = make_suite(start_ferry, lambda f:
                   'output "far" { uri = "http://%s:%d/api/v1/sink"\n'
                   '  dns_servers = {"127.0.0.1:%d", "127.0.0.1:%d"} }'
                   % (HOST, f.sink_port, closed_udp_port(), d.port))
    ts = int(time.time()) - 60
    lines = metric_lines("conn.dns.", 2000, ts)
    f.send_tcp(lines)
    f.wait_sink_count("conn.dns.", len(lines), timeout=ARRIVAL_TIMEOUT)
    assert f.sink_count("conn.dns.") == len(lines)
    assert (HOST, 1) in d.queries, d.queries
    log = f.log_text("forwarder")
    used = [l for l in log.splitlines() if "using the fallback resolver" in l]
    assert len(used) == 1, log
    assert HOST in used[0] and "127.0.0.1" in used[0], used
    # The forwarder asked once and kept the answer for its TTL.
    assert d.queries.count((HOST, 1)) == 1, d.queries
    assert f.counters("forwarder").get("output.far.sent", 0) >= len(lines)


def test_fallback_resolver_fails_too(start_ferry, dns):
    """When the fallback cannot resolve the host either, the output retries
    and says why; nothing is delivered and nothing else is held up."""
    d = dns({}, ttl=300)
    f = make_suite(start_ferry, lambda f:
                   'output "far" { uri = "http://%s:%d/api/v1/sink"\n'
                   '  dns_servers = {"127.0.0.1:%d"} }\n'
                   'output "near" { uri = "http://127.0.0.1:%d/api/v1/sink" }'
                   % (HOST, f.sink_port, d.port, f.sink_port))
    ts = int(time.time()) - 60
    lines = metric_lines("conn.nx.", 300, ts)
    f.send_tcp(lines)
    # "near" delivers everything while "far" keeps failing.
    f.wait_sink_count("conn.nx.", len(lines), timeout=ARRIVAL_TIMEOUT)
    wait_for(lambda: "fallback resolver: Domain name not found"
             in f.log_text("forwarder"), 30, what="the fallback's failure logged")
    wait_for(lambda: f.counters("forwarder").get("output.far.retries", 0) >= 2,
             30, what="output far retrying")
    assert f.counters("forwarder").get("output.far.sent", 0) == 0
    assert "using the fallback resolver" not in f.log_text("forwarder")
    assert (HOST, 1) in d.queries


class TcpRelay:
    """Listens on (addr, port) and relays each connection to the sink; counts them."""

    def __init__(self, addr, port, sink_port):
        self.sink_port = sink_port
        self.connections = 0
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((addr, port))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            try:
                u = socket.create_connection(("127.0.0.1", self.sink_port), timeout=10)
            except OSError:
                c.close()
                continue
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.lsock.close()


def hosts_namespace(f, tmp_path):
    """
    Run f's supervisor (and so the forwarder) in a mount namespace of its
    own where /etc/hosts is a file of ours: the test decides what the
    system resolver knows. Returns that file; skips when not permitted.
    """
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "--propagation", "private", "true"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        pytest.skip("no mount namespaces here (unshare -m)")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    wrap = tmp_path / "bin"
    wrap.mkdir()
    real = f.bin
    for name in os.listdir(real):
        os.symlink(real / name, wrap / name)
    os.unlink(wrap / "ferry-supervisor")
    # exec all the way: the supervisor keeps the pid the harness knows, and
    # finds its children beside its real executable.
    (wrap / "ferry-supervisor").write_text(
        '#!/bin/sh\n'
        'exec unshare -m --propagation private sh -c '
        '\'mount --bind "$0" /etc/hosts && exec "$@"\' "%s" "%s" "$@"\n'
        % (hosts, real / "ferry-supervisor"))
    os.chmod(wrap / "ferry-supervisor", 0o755)
    f.bin = wrap
    return hosts


def restart_sink(f):
    """SIGKILL the sink so the forwarder's connection dies; wait for the new one."""
    pid = f.child_pid("sink")
    os.kill(pid, signal.SIGKILL)
    f.child_pid("sink", timeout=30, not_pid=pid)
    wait_for(f.sink_ok, 30, what="the sink back")


def log_lines(f, needle):
    return [l for l in f.log_text("forwarder").splitlines() if needle in l]


@pytest.mark.long(70)
def test_fallback_episode(start_ferry, dns, tmp_path):
    """
    The whole episode, over two TTLs (about 70 s): the system resolver
    fails and the fallback's answer is pinned; when it expires the system
    resolver is asked first again, fails again, and the fallback answers
    again (not logged twice); then the system resolver knows the host (at
    another address, 127.0.0.2, a relay to the sink), and after the next
    expiry its answer is used and that is logged once.
    """
    d = dns({HOST: "127.0.0.1"}, ttl=1)     # below the 30 s floor
    f = start_ferry(start=False)
    f.env["FERRY_FORWARDER_RETRY_MAX"] = "1"
    hosts = hosts_namespace(f, tmp_path)
    write_conf(f, 'output "far" { uri = "http://%s:%d/api/v1/sink"\n'
               '  dns_servers = {"127.0.0.1:%d"} }' % (HOST, f.sink_port, d.port))
    try:
        relay = TcpRelay("127.0.0.2", f.sink_port, f.sink_port)
    except OSError as e:
        pytest.skip("cannot listen on 127.0.0.2: %s" % e)
    try:
        f.start()
        ts = int(time.time()) - 60

        # 1. The system resolver fails: the fallback answers, logged once.
        f.send_tcp(metric_lines("conn.ep1.", 200, ts))
        f.wait_sink_count("conn.ep1.", 200, timeout=ARRIVAL_TIMEOUT)
        pinned_at = time.monotonic()
        assert len(log_lines(f, "using the fallback resolver")) == 1
        assert "for 30 s" in log_lines(f, "using the fallback resolver")[0]
        assert d.queries.count((HOST, 1)) == 1

        # 2. Past the TTL floor, on a new connection: the system is asked
        # first, fails, and the fallback is asked again; not logged again.
        time.sleep(max(0.0, pinned_at + 31 - time.monotonic()))
        restart_sink(f)
        f.send_tcp(metric_lines("conn.ep2.", 200, ts))
        f.wait_sink_count("conn.ep2.", 200, timeout=ARRIVAL_TIMEOUT)
        wait_for(lambda: d.queries.count((HOST, 1)) >= 2, 20,
                 what="a second fallback lookup")
        pinned_at = time.monotonic()
        assert len(log_lines(f, "using the fallback resolver")) == 1
        assert relay.connections == 0

        # 3. The system resolver knows the host now (at 127.0.0.2): after
        # the next expiry its answer is used, and the log says so once.
        hosts.write_text("127.0.0.1 localhost\n127.0.0.2 %s\n" % HOST)
        time.sleep(max(0.0, pinned_at + 31 - time.monotonic()))
        restart_sink(f)
        f.send_tcp(metric_lines("conn.ep3.", 200, ts))
        f.wait_sink_count("conn.ep3.", 200, timeout=ARRIVAL_TIMEOUT)
        wait_for(lambda: log_lines(f, "system resolver resolves"), 20,
                 what="the system resolver's return logged")
        assert len(log_lines(f, "system resolver resolves")) == 1
        assert relay.connections >= 1
        assert d.queries.count((HOST, 1)) == 2
        assert len(log_lines(f, "using the fallback resolver")) == 1
    finally:
        f.stop()
        relay.close()


# -- TLS ------------------------------------------------------------------------

def make_cert(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip("openssl cannot make a certificate: %s" % r.stdout)
    return cert, key


class TlsProxy:
    """
    HTTPS on 127.0.0.1 with a certificate of ours, forwarding each POST to
    the sink over plain HTTP. Paths are /<tag>/<sink path>; `requests`
    counts the requests that got through the handshake, per tag.
    """

    def __init__(self, cert, key, sink_port):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.requests = {}
        self.handshake_failures = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                tag, _, rest = self.path.lstrip("/").partition("/")
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy.requests[tag] = proxy.requests.get(tag, 0) + 1
                c = http.client.HTTPConnection("127.0.0.1", sink_port, timeout=30)
                try:
                    c.request("POST", "/" + rest, body=body, headers={
                        "Content-Type": "text/plain"})
                    r = c.getresponse()
                    data, status = r.read(), r.status
                finally:
                    c.close()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                # The handshake runs in the handler's thread, at its first
                # read, so a client that refuses our certificate stalls no one.
                sock, addr = self.socket.accept()
                sock.settimeout(30)
                return ctx.wrap_socket(sock, server_side=True,
                                       do_handshake_on_connect=False), addr

            def handle_error(self, request, client_address):
                proxy.handshake_failures += 1

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_tls_verified(start_ferry, tmp_path):
    """
    Two https outputs to the same self-signed peer: without ca_file the
    certificate is refused (the output retries, no request gets through);
    with ca_file it is trusted and every metric arrives.
    """
    cert, key = make_cert(tmp_path)
    f = start_ferry(start=False)
    f.env["FERRY_FORWARDER_RETRY_MAX"] = "1"
    proxy = TlsProxy(cert, key, f.sink_port)
    try:
        write_conf(f,
                   'output "untrusted" { uri = "https://127.0.0.1:%d/untrusted/api/v1/sink" }\n'
                   'output "trusted" { uri = "https://127.0.0.1:%d/trusted/api/v1/sink"\n'
                   '  ca_file = "%s" }' % (proxy.port, proxy.port, cert))
        f.start()
        ts = int(time.time()) - 60
        lines = metric_lines("conn.tls.", 1000, ts)
        f.send_tcp(lines)
        f.wait_sink_count("conn.tls.", len(lines), timeout=ARRIVAL_TIMEOUT)
        wait_for(lambda: f.counters("forwarder").get("output.untrusted.retries", 0) >= 2,
                 30, what="output untrusted retrying")
        log = f.log_text("forwarder")
        assert "output untrusted: SSL certificate problem" in log, log
        assert "output trusted:" not in log or "SSL" not in "".join(
            l for l in log.splitlines() if "output trusted:" in l), log
        assert proxy.requests.get("untrusted", 0) == 0, proxy.requests
        assert proxy.requests.get("trusted", 0) >= 1, proxy.requests
        assert proxy.handshake_failures >= 1
        fc = f.counters("forwarder")
        assert fc.get("output.untrusted.sent", 0) == 0
        assert fc.get("output.trusted.sent", 0) >= len(lines)
    finally:
        f.stop()
        proxy.close()


# -- keepalive ------------------------------------------------------------------

SYS_pidfd_getfd = 438


def steal_fd(pid, fd):
    """A duplicate of another process's fd (pidfd_getfd, Linux 5.6); None if not allowed."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        got = libc.syscall(SYS_pidfd_getfd, pidfd, fd, 0)
        return got if got >= 0 else None
    finally:
        os.close(pidfd)


def sockets_to(pid, port):
    """The fds of pid that are established TCP connections to 127.0.0.1:port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if int(f[2].split(":")[1], 16) == port and f[3] == "01":
                inodes.add(f[9])
    fds = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            fds.append(int(fd))
    return fds


def test_keepalive_reaches_socket(start_ferry):
    """
    keepalive_* from forwarder { } are on the forwarder's connection to the
    sink, read back from the socket itself through pidfd_getfd(2); and
    TCP_USER_TIMEOUT is long enough for the configured probes.
    """
    f = make_suite(start_ferry, lambda f:
                   'output "ka" { uri = "http://127.0.0.1:%d/api/v1/sink" }'
                   % f.sink_port,
                   forwarder="keepalive_idle = 7 keepalive_interval = 4 "
                             "keepalive_probes = 6")
    ts = int(time.time()) - 60
    f.send_tcp(metric_lines("conn.ka.", 100, ts))
    f.wait_sink_count("conn.ka.", 100, timeout=ARRIVAL_TIMEOUT)
    pid = f.child_pid("forwarder")
    fds = wait_for(lambda: sockets_to(pid, f.sink_port), 20,
                   what="the forwarder's connection to the sink")
    dup = steal_fd(pid, fds[0])
    if dup is None:
        pytest.skip("pidfd_getfd(2) is not permitted here: cannot read "
                    "another process's socket options")
    s = socket.socket(fileno=dup)
    try:
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 7
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 4
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 6
        # Linux lets TCP_USER_TIMEOUT cut keepalive short: 7 + 4 * 6 s.
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 31000
    finally:
        s.detach()
        os.close(dup)


def test_keepalive_defaults_reach_socket(ferry):
    """The defaults: 1 s idle, 1 s interval, 3 probes, user timeout 10 s."""
    ts = int(time.time()) - 60
    ferry.send_tcp(metric_lines("conn.kd.", 50, ts))
    ferry.wait_sink_count("conn.kd.", 50, timeout=ARRIVAL_TIMEOUT)
    pid = ferry.child_pid("forwarder")
    fds = wait_for(lambda: sockets_to(pid, ferry.sink_port), 20,
                   what="the forwarder's connection to the sink")
    dup = steal_fd(pid, fds[0])
    if dup is None:
        pytest.skip("pidfd_getfd(2) is not permitted here")
    s = socket.socket(fileno=dup)
    try:
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 1
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 1
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 10000
    finally:
        s.detach()
        os.close(dup)

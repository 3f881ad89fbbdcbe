"""
Real peers for ferry's outputs, each started on 127.0.0.1 on free ports, in a
folder of its own under the test's tmp_path, with a configuration written
here (never the system's), and stopped by pid at the end:

  Redis            redis-server; RESP client in Python (lrange, command, ...)
  Rsyslog          rsyslogd -n: imtcp (RFC 5424, octet counting or LF) and
                   imudp, every message to a file (lines(), records())
  CarbonCRelay     carbon-c-relay: TCP+UDP listener to a file, or a relay in
                   front of other peers (forward_to)
  CarbonCache      carbon-cache (graphite-carbon): whisper files, read back
                   with python3-whisper (read_points(), metrics())
  VictoriaMetrics  victoria-metrics: Graphite listener, read back through
                   /api/v1/export after /internal/force_flush
  ClickHouse       clickhouse-server: HTTP query() / rows()
  Etcd             etcd (etcd-server): one member, or one of a cluster that
                   etcd_cluster() starts; put()/get()/delete()/compact()
                   through its v3 JSON gateway

Use one as a context manager (`with Redis(tmp_path) as r:`) or through the
start_peer fixture of conftest.py, which stops it and attaches its log to a
failing test's report. A peer whose program is not installed skips the test
(Peer.require()); any other failure to start fails it, with the peer's log.

Readiness is always a real check (a port that accepts, a PING that answers, a
query that works), polled under a deadline; nothing sleeps a fixed time. Only
the process a peer started is signalled, by its pid. Every peer runs as root
here (CI is root in a container) and touches no system path: each one's data,
logs, pid and work files live in its folder.
"""
import base64
import importlib.util
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, tail, wait_for

START_TIMEOUT = 60.0    # two shared cores, tests running in parallel
STOP_TIMEOUT = 20.0


def free_port_both():
    """A port free for TCP and for UDP (the peers that listen on both)."""
    return free_port(socket.SOCK_STREAM)    # free_port checks both kinds


def tcp_accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def udp_bound(port, host="127.0.0.1"):
    """True when some socket is bound to host:port for UDP (/proc/net/udp)."""
    want = "%s:%04X" % ("".join("%02X" % int(b) for b in reversed(host.split("."))),
                        port)
    try:
        rows = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(r.split()[1] == want for r in rows)


def send_tcp(port, data, host="127.0.0.1"):
    """Send bytes (or str) on one TCP connection, then close it cleanly."""
    if isinstance(data, str):
        data = data.encode()
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)


def send_udp(port, datagrams, host="127.0.0.1"):
    """Send each of datagrams (bytes or str) as one UDP datagram."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for d in datagrams:
            s.sendto(d.encode() if isinstance(d, str) else d, (host, port))


def graphite_lines(points):
    """'name value ts\\n' lines for [(name, value, ts)]."""
    return "".join("%s %s %d\n" % (n, v, ts) for n, v, ts in points)


def octet_frame(msg):
    """RFC 6587 octet counting: 'LEN MSG' for one syslog message."""
    if isinstance(msg, str):
        msg = msg.encode()
    return b"%d " % len(msg) + msg


class Peer:
    """
    One peer process. A subclass sets `name`, finds its program in
    `program()`, writes its configuration in `configure()`, gives its
    command line in `argv()` and says when it is up in `ready()`.
    """
    name = "peer"

    def __init__(self, tmp_path, name=None):
        self.name = name or self.name
        self.dir = Path(tmp_path) / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.out_path = self.dir / "peer.out"     # its stdout and stderr
        self.proc = None
        self.out = None
        self.start_seconds = None   # how long the last start() took to ready
        self.starts = 0

    # -- to override ------------------------------------------------------

    @classmethod
    def program(cls):
        """The path of the program, or None when it is not installed."""
        raise NotImplementedError

    def configure(self):
        """Write the configuration files (called before each start)."""

    def argv(self):
        raise NotImplementedError

    def env(self):
        return None

    def ready(self):
        """True once the peer answers."""
        raise NotImplementedError

    # -- life -------------------------------------------------------------

    @classmethod
    def require(cls):
        """Skip the test when the program is not installed; its path."""
        p = cls.program()
        if p is None:
            pytest.skip("%s is not installed" % cls.name)
        return p

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=START_TIMEOUT, wait=True):
        """
        Start the program and wait until ready(); wait=False only starts
        it (members of a cluster are ready only once a quorum runs).
        """
        self.require()
        assert not self.running(), "%s is already running" % self.name
        self.configure()
        if self.out is not None:
            self.out.close()
        self.out = open(self.out_path, "ab")    # appends across restarts
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv(), cwd=str(self.dir), env=self.env(),
                                     stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        self.starts += 1
        if not wait:
            return self

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("%s exited %s during start\n%s"
                                     % (self.name, self.proc.returncode,
                                        self.diagnostics()))
            return self.ready()
        try:
            wait_for(up, timeout, interval=0.05, what="%s to be ready" % self.name)
        except AssertionError:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM our process (SIGKILL past timeout); its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.out is not None:
            self.out.close()
            self.out = None
        return self.proc.returncode

    def kill(self):
        """SIGKILL our process: a peer that dies without a goodbye."""
        if self.running():
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self, timeout=START_TIMEOUT):
        """Stop, then start again on the same ports with the same data."""
        self.stop()
        return self.start(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- diagnostics ------------------------------------------------------

    def logs(self):
        """[(label, path)] of the files worth showing when a test fails."""
        return [("%s output" % self.name, self.out_path)]

    def diagnostics(self, n=40):
        parts = []
        for label, path in self.logs():
            try:
                text = Path(path).read_text(errors="replace")
            except OSError:
                continue
            parts.append("---- %s: %s (last %d lines)\n%s" % (label, path, n, tail(text, n)))
        return "\n".join(parts)


def _which(*names):
    for n in names:
        p = shutil.which(n)
        if p is None:
            for d in ("/usr/sbin", "/usr/bin", "/sbin"):
                if os.access(os.path.join(d, n), os.X_OK):
                    p = os.path.join(d, n)
                    break
        if p is not None:
            return p
    return None


# -- Redis ------------------------------------------------------------------

class RespError(Exception):
    """An error reply (-ERR ...) from Redis."""


def _resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _RespReader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ConnectionError("bad RESP reply: %r" % line)


class Redis(Peer):
    """
    redis-server on 127.0.0.1:port, no persistence (--save '', no AOF), its
    working folder in tmp. Redis(tmp_path, port=None, name="redis",
    extra_args=()).

    command(*args, db=0) -> the reply (bulk strings as bytes); lrange(key,
    db=0) -> [str] (LPUSH order: newest first); llen(key); keys(pattern);
    lpush(key, *values); flushall(); restart() keeps the port; kill().
    """
    name = "redis"

    def __init__(self, tmp_path, port=None, name=None, extra_args=()):
        super().__init__(tmp_path, name)
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.log_path = self.dir / "redis.log"

    @classmethod
    def program(cls):
        return _which("redis-server")

    def argv(self):
        # No config file: nothing of /etc/redis is read.
        return [self.program(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.dir), "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--logfile", str(self.log_path),
                "--unixsocket", "", *self.extra_args]

    def ready(self):
        try:
            return self.command("PING", timeout=1) == "PONG"
        except (OSError, RespError):
            return False

    def command(self, *args, db=0, timeout=10):
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            r = _RespReader(s)
            if db:
                s.sendall(_resp_encode(["SELECT", db]))
                r.reply()
            s.sendall(_resp_encode(args))
            return r.reply()

    def lrange(self, key, start=0, stop=-1, db=0):
        return [v.decode() for v in self.command("LRANGE", key, start, stop, db=db)]

    def llen(self, key, db=0):
        return self.command("LLEN", key, db=db)

    def lpush(self, key, *values, db=0):
        return self.command("LPUSH", key, *values, db=db)

    def keys(self, pattern="*", db=0):
        return sorted(k.decode() for k in self.command("KEYS", pattern, db=db))

    def flushall(self):
        return self.command("FLUSHALL")

    def wait_llen(self, key, n, timeout=30, db=0):
        """Wait until the list at key holds at least n items; its length."""
        return wait_for(lambda: (self.llen(key, db=db) >= n) and self.llen(key, db=db),
                        timeout, interval=0.1,
                        what="%d items in redis list %r" % (n, key))

    def logs(self):
        return super().logs() + [("redis log", self.log_path)]


# -- rsyslog ----------------------------------------------------------------

RSYSLOG_CONF = """\
# written by tests/system/peers.py
global(workDirectory="{dir}" maxMessageSize="{max_size}"
       processInternalMessages="on"
       parser.escapeControlCharactersOnReceive="off")
module(load="imtcp")
module(load="imudp")
input(type="imtcp" address="127.0.0.1" port="{tcp_port}")
input(type="imudp" address="127.0.0.1" port="{udp_port}" rcvbufSize="4m")
template(name="ferry_line" type="string" string="{template}")
template(name="ferry_json" type="list" option.jsonf="on") {{
  property(outname="input" name="inputname" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="facility" name="syslogfacility" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app_name" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="structured_data" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}}
if $inputname == "imtcp" or $inputname == "imudp" then {{
  action(type="omfile" file="{lines}" template="ferry_line")
  action(type="omfile" file="{records}" template="ferry_json")
  stop
}}
action(type="omfile" file="{internal}")
"""


class Rsyslog(Peer):
    """
    rsyslogd in the foreground with its own configuration: imtcp on tcp_port
    (RFC 5424 with octet counting, or LF-framed) and imudp on udp_port, both
    on 127.0.0.1; no /dev/log, no klog, work folder and pid file in tmp.
    Rsyslog(tmp_path, name="rsyslog", template=LINE_TEMPLATE).

    Every received message is one line of lines_path, by `template`
    (default "%HOSTNAME% %APP-NAME% %msg%\\n"; control characters are kept
    as sent, so a message with a newline spans lines), and one JSON object of
    records_path with every RFC 5424 field (input, pri, facility, severity,
    version, timestamp, hostname, app_name, procid, msgid,
    structured_data, msg). rsyslogd's own messages go to internal_path.

    lines(), wait_lines(n) -> [str]; records(), wait_records(n) -> [dict].
    """
    name = "rsyslog"
    LINE_TEMPLATE = "%HOSTNAME% %APP-NAME% %msg%\\n"

    def __init__(self, tmp_path, name=None, template=None, max_message_size="64k"):
        super().__init__(tmp_path, name)
        self.tcp_port = free_port(socket.SOCK_STREAM)
        self.udp_port = free_port(socket.SOCK_DGRAM)
        self.template = template or self.LINE_TEMPLATE
        self.max_message_size = max_message_size
        self.conf = self.dir / "rsyslog.conf"
        self.pidfile = self.dir / "rsyslogd.pid"
        self.lines_path = self.dir / "messages.log"
        self.records_path = self.dir / "messages.json"
        self.internal_path = self.dir / "rsyslogd.log"
        self.workdir = self.dir / "work"

    @classmethod
    def program(cls):
        return _which("rsyslogd")

    def configure(self):
        self.workdir.mkdir(exist_ok=True)
        self.conf.write_text(RSYSLOG_CONF.format(
            dir=self.workdir, max_size=self.max_message_size,
            tcp_port=self.tcp_port, udp_port=self.udp_port,
            template=self.template, lines=self.lines_path,
            records=self.records_path, internal=self.internal_path))
        # A pid file left by a killed run would stop the next start.
        if self.pidfile.exists() and not self.running():
            self.pidfile.unlink()

    def argv(self):
        return [self.program(), "-n", "-f", str(self.conf), "-i", str(self.pidfile)]

    def ready(self):
        # Both inputs bound, and rsyslogd said its "start" (after it ran
        # every input) in its own log.
        return (tcp_accepts(self.tcp_port) and udp_bound(self.udp_port)
                and "] start" in self._read(self.internal_path))

    @staticmethod
    def _read(path):
        try:
            return Path(path).read_text(errors="replace")
        except OSError:
            return ""

    def lines(self):
        """The output file's complete lines, in arrival order."""
        text = self._read(self.lines_path)
        return text.split("\n")[:-1]

    def records(self):
        """Every complete record: dicts of the RFC 5424 fields."""
        return [json.loads(line) for line in self._read(self.records_path).split("\n")[:-1]]

    def wait_lines(self, n, timeout=30):
        wait_for(lambda: len(self.lines()) >= n, timeout, interval=0.05,
                 what="%d lines from rsyslog (have %d)" % (n, len(self.lines())))
        return self.lines()

    def wait_records(self, n, timeout=30):
        wait_for(lambda: len(self.records()) >= n, timeout, interval=0.05,
                 what="%d records from rsyslog" % n)
        return self.records()

    def logs(self):
        return super().logs() + [("rsyslogd's own messages", self.internal_path)]


# -- carbon-c-relay ---------------------------------------------------------

class CarbonCRelay(Peer):
    """
    carbon-c-relay listening on 127.0.0.1:port (TCP and UDP, linemode), in
    submission mode (-s: no statistics of its own in the stream). By default
    it writes every metric to out_path (a `file` cluster); with forward_to
    [(host, port), ...] it relays to those instead (method "forward": each
    gets everything; "any_of" spreads them), e.g. in front of another peer.
    CarbonCRelay(tmp_path, name="carbon-c-relay", forward_to=None,
    method="forward", workers=2, extra_args=()).

    lines(), wait_lines(n) -> [str]; points() -> {name: [(ts, value)]}.
    """
    name = "carbon-c-relay"

    def __init__(self, tmp_path, name=None, forward_to=None, method="forward",
                 workers=2, extra_args=()):
        super().__init__(tmp_path, name)
        self.port = free_port_both()
        self.forward_to = forward_to
        self.method = method
        self.workers = workers
        self.extra_args = list(extra_args)
        self.conf = self.dir / "relay.conf"
        self.out_path = self.dir / "relay.out"
        self.log_path = self.dir / "relay.log"
        self.file_path = self.dir / "metrics.txt"

    @classmethod
    def program(cls):
        return _which("carbon-c-relay")

    def start(self, timeout=START_TIMEOUT, wait=True):
        """
        carbon-c-relay 3.7.3 now and then dies of SIGSEGV in its first
        moments (seen with two workers, and with one on a loaded machine):
        its bug, not what a test is about; it is started again, three times
        at most.
        """
        for attempt in range(3):
            try:
                return super().start(timeout, wait)
            except AssertionError as e:
                if "exited -11 during start" not in str(e) or attempt == 2:
                    raise
        return self

    def configure(self):
        if self.forward_to:
            members = " ".join("%s:%d" % (h, p) for h, p in self.forward_to)
            cluster = "cluster out %s %s;\n" % (self.method, members)
        else:
            cluster = "cluster out file %s;\n" % self.file_path
        # With a listen directive -p only names the default; nothing listens
        # beyond 127.0.0.1.
        self.conf.write_text(
            "listen type linemode 127.0.0.1:%d proto tcp 127.0.0.1:%d proto udp;\n"
            "%smatch * send to out stop;\n" % (self.port, self.port, cluster))
        # One startup per file, so ready() reads only this start's log.
        if self.log_path.exists():
            with open(self.dir / "relay.log.old", "ab") as old:
                old.write(self.log_path.read_bytes())
            self.log_path.unlink()

    def argv(self):
        return [self.program(), "-f", str(self.conf), "-p", str(self.port), "-s",
                "-w", str(self.workers), "-l", str(self.log_path), *self.extra_args]

    def ready(self):
        try:
            log = self.log_path.read_text(errors="replace")
        except OSError:
            return False
        return "startup sequence complete" in log and tcp_accepts(self.port)

    def lines(self):
        try:
            return self.file_path.read_text().split("\n")[:-1]
        except OSError:
            return []

    def wait_lines(self, n, timeout=30):
        wait_for(lambda: len(self.lines()) >= n, timeout, interval=0.05,
                 what="%d lines in %s (have %d)" % (n, self.file_path, len(self.lines())))
        return self.lines()

    def points(self):
        out = {}
        for line in self.lines():
            name, value, ts = line.split(" ")
            out.setdefault(name, []).append((int(ts), float(value)))
        return out

    def logs(self):
        return super().logs() + [("carbon-c-relay log", self.log_path)]


# -- carbon-cache -----------------------------------------------------------

CARBON_CONF = """\
# written by tests/system/peers.py
[cache]
STORAGE_DIR = {d}/storage/
LOCAL_DATA_DIR = {d}/storage/whisper/
WHITELISTS_DIR = {d}/storage/lists/
CONF_DIR = {d}/
LOG_DIR = {d}/log/
PID_DIR = {d}/run/
DATABASE = whisper
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_UPDATES_PER_SECOND_ON_SHUTDOWN = inf
MAX_CREATES_PER_MINUTE = inf
MIN_TIMESTAMP_RESOLUTION = 1
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {line_port}
ENABLE_UDP_LISTENER = {udp}
UDP_RECEIVER_INTERFACE = 127.0.0.1
UDP_RECEIVER_PORT = {line_port}
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = 0
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {query_port}
CARBON_METRIC_INTERVAL = 0
ENABLE_TAGS = False
USE_FLOW_CONTROL = True
LOG_UPDATES = False
LOG_CREATES = False
LOG_CACHE_HITS = False
LOG_LISTENER_CONN_SUCCESS = False
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = False
WHISPER_SPARSE_CREATE = True
WHISPER_FALLOCATE_CREATE = False
"""


class CarbonCache(Peer):
    """
    carbon-cache (graphite-carbon) in the foreground with its own carbon.conf:
    every directory under tmp, the line receiver on 127.0.0.1:port (UDP on
    the same port with udp=True), pickle off, cache-query on a free port,
    no self-metrics, no tag database, creates and updates unthrottled,
    whisper files sparse. CarbonCache(tmp_path, name="carbon-cache",
    retention="1s:1d", udp=False).

    metrics() -> sorted names with a whisper file; read_points(metric,
    since=None) -> [(ts, value)] (the finest archive; since=None reads the
    whole archive, since=ts only from ts on, which is much faster for many
    metrics); wait_points(metric, n); wait_metrics(n).
    """
    name = "carbon-cache"

    def __init__(self, tmp_path, name=None, retention="1s:1d", udp=False):
        super().__init__(tmp_path, name)
        self.port = free_port_both() if udp else free_port()
        self.query_port = free_port()
        self.retention = retention
        self.udp = udp
        self.conf = self.dir / "carbon.conf"
        self.whisper_dir = self.dir / "storage" / "whisper"
        self.pidfile = self.dir / "run" / "carbon-cache.pid"

    @classmethod
    def program(cls):
        p = _which("carbon-cache")
        if p is None:
            return None
        # python3-whisper reads the files back.
        return p if importlib.util.find_spec("whisper") is not None else None

    def configure(self):
        for sub in ("storage/whisper", "storage/lists", "log", "run"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(CARBON_CONF.format(
            d=self.dir, line_port=self.port, query_port=self.query_port,
            udp=self.udp))
        (self.dir / "storage-schemas.conf").write_text(
            "[all]\npattern = .*\nretentions = %s\n" % self.retention)
        (self.dir / "storage-aggregation.conf").write_text(
            "[all]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n")
        if self.pidfile.exists() and not self.running():
            self.pidfile.unlink()

    def argv(self):
        return [self.program(), "--config=%s" % self.conf, "--pidfile=%s" % self.pidfile,
                "--nodaemon", "--logdir=%s" % (self.dir / "log"), "start"]

    def env(self):
        env = dict(os.environ)
        env["PYTHONWARNINGS"] = "ignore"    # twisted's deprecation noise
        return env

    def ready(self):
        return tcp_accepts(self.port) and (not self.udp or udp_bound(self.port))

    def whisper_path(self, metric):
        return self.whisper_dir / (metric.replace(".", "/") + ".wsp")

    def metrics(self):
        out = []
        for root, _dirs, files in os.walk(self.whisper_dir):
            rel = os.path.relpath(root, self.whisper_dir)
            for f in files:
                if f.endswith(".wsp"):
                    parts = [] if rel == "." else rel.split(os.sep)
                    out.append(".".join(parts + [f[:-4]]))
        return sorted(out)

    def read_points(self, metric, since=None):
        """[(ts, value)] stored for metric, by ts; [] when no file yet."""
        import whisper
        path = self.whisper_path(metric)
        if not path.exists():
            return []
        if since is not None:
            (start, _end, step), values = whisper.fetch(str(path), since)
            return [(start + i * step, v) for i, v in enumerate(values) if v is not None]
        info = whisper.info(str(path))
        arch = info["archives"][0]
        with open(path, "rb") as f:
            f.seek(arch["offset"])
            raw = f.read(arch["points"] * whisper.pointSize)
        pts = {ts: v for ts, v in struct.iter_unpack(whisper.pointFormat, raw) if ts}
        return sorted(pts.items())

    def wait_points(self, metric, n, timeout=30, since=None):
        wait_for(lambda: len(self.read_points(metric, since)) >= n, timeout,
                 interval=0.1, what="%d points of %s in carbon-cache" % (n, metric))
        return self.read_points(metric, since)

    def wait_metrics(self, n, timeout=60):
        wait_for(lambda: len(self.metrics()) >= n, timeout, interval=0.2,
                 what="%d whisper files (have %d)" % (n, len(self.metrics())))
        return self.metrics()


# -- VictoriaMetrics --------------------------------------------------------

class VictoriaMetrics(Peer):
    """
    victoria-metrics (single node) with its data in tmp, HTTP on
    127.0.0.1:http_port and the Graphite plaintext listener (TCP and UDP) on
    127.0.0.1:graphite_port. -search.latencyOffset=0 and -search.disableCache
    make what was just written queryable; export() forces a flush first.
    VictoriaMetrics(tmp_path, name="victoria-metrics", extra_args=()).

    get(path, params) -> str; flush(); export(match='{__name__!=""}') ->
    [{"metric": {...}, "values": [...], "timestamps": [ms...]}]; points(match)
    -> {name: [(ts seconds, value)]} (name with ;tag=value labels, sorted);
    wait_points(match, n) -> that, once n points are there.
    """
    name = "victoria-metrics"

    def __init__(self, tmp_path, name=None, extra_args=()):
        super().__init__(tmp_path, name)
        self.http_port = free_port()
        self.graphite_port = free_port_both()
        self.extra_args = list(extra_args)
        self.data = self.dir / "data"

    @classmethod
    def program(cls):
        return _which("victoria-metrics", "victoria-metrics-prod")

    def argv(self):
        return [self.program(), "-storageDataPath", str(self.data),
                "-httpListenAddr", "127.0.0.1:%d" % self.http_port,
                "-graphiteListenAddr", "127.0.0.1:%d" % self.graphite_port,
                "-search.latencyOffset=0", "-search.disableCache",
                "-memory.allowedBytes=256MiB", "-loggerLevel=WARN",
                *self.extra_args]

    def ready(self):
        try:
            ok = self.get("/health", timeout=1).strip() == "OK"
        except (OSError, urllib.error.URLError):
            return False
        return ok and tcp_accepts(self.graphite_port)

    def get(self, path, params=None, timeout=10):
        url = "http://127.0.0.1:%d%s" % (self.http_port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode()

    def flush(self):
        """Make every sample received so far searchable."""
        self.get("/internal/force_flush")

    def export(self, match='{__name__!=""}', flush=True):
        if flush:
            self.flush()
        text = self.get("/api/v1/export", {"match[]": match})
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    @staticmethod
    def series_name(metric):
        labels = ";".join("%s=%s" % kv for kv in sorted(metric.items())
                          if kv[0] != "__name__")
        return metric.get("__name__", "") + (";" + labels if labels else "")

    def points(self, match='{__name__!=""}'):
        out = {}
        for s in self.export(match):
            pts = out.setdefault(self.series_name(s["metric"]), [])
            pts.extend((ts / 1000, v) for ts, v in zip(s["timestamps"], s["values"]))
        return {k: sorted(v) for k, v in out.items()}

    def wait_points(self, match, n, timeout=30):
        """
        Wait until the series matching `match` hold at least n points in
        all (Graphite lines go through a parse queue first); points(match).
        """
        def count():
            return sum(len(v) for v in self.points(match).values())
        wait_for(lambda: count() >= n, timeout, interval=0.1,
                 what="%d points matching %s in victoria-metrics" % (n, match))
        return self.points(match)


# -- ClickHouse -------------------------------------------------------------

CLICKHOUSE_CONFIG = """\
<?xml version="1.0"?>
<!-- written by tests/system/peers.py -->
<yandex>
  <logger>
    <level>information</level>
    <log>{d}/log/clickhouse-server.log</log>
    <errorlog>{d}/log/clickhouse-server.err.log</errorlog>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>32</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
</yandex>
"""

CLICKHOUSE_USERS = """\
<?xml version="1.0"?>
<!-- written by tests/system/peers.py -->
<yandex>
  <profiles><default><log_queries>0</log_queries></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
"""


class ClickHouseError(Exception):
    """ClickHouse answered a query with an error (the message is its body)."""


class ClickHouse(Peer):
    """
    clickhouse-server with a minimal config.xml/users.xml in tmp: data, tmp,
    logs under tmp; HTTP on 127.0.0.1:http_port, native TCP on tcp_port, no
    interserver port; user "default" without password from 127.0.0.1.
    ClickHouse(tmp_path, name="clickhouse").

    query(sql, data=None) -> the body (raises ClickHouseError);
    rows(sql) -> [dict] (appends FORMAT JSONEachRow); insert(table, rows)
    (INSERT ... FORMAT JSONEachRow); wait_rows(sql, n).
    """
    name = "clickhouse"

    def __init__(self, tmp_path, name=None):
        super().__init__(tmp_path, name)
        self.http_port = free_port()
        self.tcp_port = free_port()
        self.config = self.dir / "config.xml"
        self.users = self.dir / "users.xml"

    @classmethod
    def program(cls):
        p = _which("clickhouse-server")
        if p is not None:
            return [p]
        p = _which("clickhouse")
        return [p, "server"] if p is not None else None

    def configure(self):
        for sub in ("data", "tmp", "user_files", "format_schemas", "log"):
            (self.dir / sub).mkdir(exist_ok=True)
        self.config.write_text(CLICKHOUSE_CONFIG.format(
            d=self.dir, http_port=self.http_port, tcp_port=self.tcp_port))
        self.users.write_text(CLICKHOUSE_USERS)

    def argv(self):
        return [*self.program(), "--config-file=%s" % self.config]

    def ready(self):
        try:
            return self.query("SELECT 1", timeout=2).strip() == "1"
        except (OSError, urllib.error.URLError, ClickHouseError):
            return False

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.http_port

    def query(self, sql, data=None, timeout=30):
        """
        Run sql over HTTP. With data (bytes or str) the query goes in the URL
        and data is the body (INSERT ... FORMAT X with its rows).
        """
        if data is None:
            url, body = self.url, sql.encode()
        else:
            url = self.url + "?" + urllib.parse.urlencode({"query": sql})
            body = data.encode() if isinstance(data, str) else data
        req = urllib.request.Request(url, data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.read().decode()
        except urllib.error.HTTPError as e:
            raise ClickHouseError("%s: %s" % (e.code, e.read().decode(errors="replace")))

    def rows(self, sql):
        text = self.query(sql.rstrip().rstrip(";") + " FORMAT JSONEachRow")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def insert(self, table, rows):
        data = "".join(json.dumps(r) + "\n" for r in rows)
        return self.query("INSERT INTO %s FORMAT JSONEachRow" % table, data)

    def wait_rows(self, sql, n, timeout=30):
        wait_for(lambda: len(self.rows(sql)) >= n, timeout, interval=0.1,
                 what="%d rows of %s" % (n, sql))
        return self.rows(sql)

    def logs(self):
        return super().logs() + [
            ("clickhouse log", self.dir / "log" / "clickhouse-server.log"),
            ("clickhouse errors", self.dir / "log" / "clickhouse-server.err.log")]


ALL = (Redis, Rsyslog, CarbonCRelay, CarbonCache, VictoriaMetrics, ClickHouse)


# -- etcd -------------------------------------------------------------------

def _b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def _unb64(s):
    return base64.b64decode(s).decode(errors="replace")


class Etcd(Peer):
    """
    etcd (Debian's etcd-server) on 127.0.0.1: a client port and a peer
    port, its data in its folder, kept across restart() (a stop and start
    of the same member). Etcd(tmp_path, name="etcd", cluster=None,
    token=None, tls=None): with cluster, the "--initial-cluster" of every
    member (etcd_cluster() makes one); with tls (etcd_tls() makes one),
    https for its clients, who must show a certificate of its CA.

    endpoint; put(key, value, lease=0), get(key) -> str or None,
    get_prefix(prefix) -> {key: value}, delete(key) -> count, revision(),
    compact(revision), all through the v3 JSON gateway, as ferry talks.
    """
    name = "etcd"

    def __init__(self, tmp_path, name=None, cluster=None, token=None,
                 tls=None):
        super().__init__(tmp_path, name)
        self.tls = tls
        self.client_port = free_port()
        self.peer_port = free_port()
        while self.peer_port == self.client_port:
            self.peer_port = free_port()
        self.data_dir = self.dir / "data"
        self.cluster = cluster
        self.token = token or "ferry-test-%s" % self.name

    @classmethod
    def program(cls):
        return _which("etcd")

    @property
    def endpoint(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http",
                                      self.client_port)

    @property
    def peer_url(self):
        return "http://127.0.0.1:%d" % self.peer_port

    def argv(self):
        return [self.program(), "--name", self.name,
                "--data-dir", str(self.data_dir),
                "--listen-client-urls", self.endpoint,
                "--advertise-client-urls", self.endpoint,
                "--listen-peer-urls", self.peer_url,
                "--initial-advertise-peer-urls", self.peer_url,
                "--initial-cluster",
                self.cluster or "%s=%s" % (self.name, self.peer_url),
                "--initial-cluster-token", self.token,
                "--initial-cluster-state", "new"] + ([
                    "--cert-file", self.tls["server_cert"],
                    "--key-file", self.tls["server_key"],
                    "--client-cert-auth",
                    "--trusted-ca-file", self.tls["ca"]] if self.tls else [])

    def _open(self, req, timeout):
        ctx = None
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.tls["ca"])
            ctx.load_cert_chain(self.tls["client_cert"],
                                self.tls["client_key"])
        return urllib.request.urlopen(req, timeout=timeout, context=ctx)

    def env(self):
        env = dict(os.environ)
        # Nothing of the caller's etcd settings (ETCD_*) reaches it.
        for k in [k for k in env if k.startswith("ETCD")]:
            del env[k]
        return env

    def ready(self):
        # /health says true once the member is part of a cluster that has
        # a leader: then writes go through.
        try:
            with self._open(self.endpoint + "/health", 1) as r:
                return json.loads(r.read().decode()).get("health") == "true"
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def call(self, path, body, timeout=10):
        """POST body (a dict) to the gateway; the answer, parsed."""
        req = urllib.request.Request(self.endpoint + path,
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with self._open(req, timeout) as r:
            return json.loads(r.read().decode())

    def put(self, key, value, lease=0):
        body = {"key": _b64(key), "value": _b64(value)}
        if lease:
            body["lease"] = str(lease)
        return int(self.call("/v3/kv/put", body)["header"]["revision"])

    def get(self, key):
        kvs = self.call("/v3/kv/range", {"key": _b64(key)}).get("kvs", [])
        return _unb64(kvs[0].get("value", "")) if kvs else None

    def get_prefix(self, prefix):
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        kvs = self.call("/v3/kv/range", {"key": _b64(prefix),
                                         "range_end": _b64(end)}).get("kvs", [])
        return {_unb64(kv["key"]): _unb64(kv.get("value", "")) for kv in kvs}

    def delete(self, key):
        return int(self.call("/v3/kv/deleterange",
                             {"key": _b64(key)}).get("deleted", 0))

    def revision(self):
        return int(self.call("/v3/kv/range", {"key": _b64("\0")})["header"]["revision"])

    def compact(self, revision):
        return self.call("/v3/kv/compaction", {"revision": str(revision),
                                               "physical": True})


def etcd_tls(folder):
    """
    A CA and, signed by it, a certificate for 127.0.0.1 (etcd's) and one
    for a client, as files in folder: {"ca", "server_cert", "server_key",
    "client_cert", "client_key"}; None without openssl.
    """
    if shutil.which("openssl") is None:
        return None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    f = {k: str(folder / n) for k, n in (
        ("ca", "ca.pem"), ("ca_key", "ca.key"),
        ("server_cert", "server.pem"), ("server_key", "server.key"),
        ("client_cert", "client.pem"), ("client_key", "client.key"))}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    openssl("req", "-x509", *ec, "-keyout", f["ca_key"], "-out", f["ca"],
            "-days", "2", "-subj", "/CN=ferry test CA")
    for who, cn, ext in (("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1"),
                         ("client", "ferry", "extendedKeyUsage=clientAuth")):
        csr = str(folder / ("%s.csr" % who))
        extfile = folder / ("%s.ext" % who)
        extfile.write_text(ext + "\n")
        openssl("req", "-new", *ec, "-keyout", f[who + "_key"], "-out", csr,
                "-subj", "/CN=" + cn)
        openssl("x509", "-req", "-in", csr, "-CA", f["ca"], "-CAkey",
                f["ca_key"], "-CAcreateserial", "-out", f[who + "_cert"],
                "-days", "2", "-extfile", str(extfile))
    return f


def etcd_cluster(start_peer, n=3, timeout=START_TIMEOUT):
    """
    n etcd members on loopback that form one cluster, started together
    (a member is ready only once a quorum runs) through the start_peer
    fixture, which stops each at teardown. Returns the members.
    """
    members = [start_peer(Etcd, start=False, name="etcd%d" % i)
               for i in range(n)]
    cluster = ",".join("%s=%s" % (m.name, m.peer_url) for m in members)
    for m in members:
        m.cluster = cluster
        m.token = "ferry-test-cluster"
        m.start(wait=False)
    def up():
        for m in members:
            if not m.running():
                raise AssertionError("%s exited %s during start\n%s"
                                     % (m.name, m.proc.returncode,
                                        m.diagnostics()))
        return all(m.ready() for m in members)
    wait_for(up, timeout, interval=0.1,
             what="an etcd cluster of %d with a leader" % n)
    return members

"""
The harness of ferry's system tests: a temporary FERRY_ROOT, a config with
free ports, a real ferry-supervisor (and through it the receiver, the
forwarder and the sink) started from $FERRY_BIN, and helpers to feed it and
read back what arrived.

Every wait polls a condition under a deadline; nothing sleeps for a fixed
time where a readiness check is possible. Only processes this harness started
are signalled, always by pid.

On teardown the supervisor gets SIGTERM and must exit 0 with no child left
behind; any log holding a sanitizer report ("AddressSanitizer", "runtime
error:") fails the test and is printed.
"""
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = ("ferry-supervisor", "ferry-receiver", "ferry-forwarder",
            "ferry-sink", "ferryctl")
CHILDREN = ("receiver", "forwarder", "sink")
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")

START_TIMEOUT = 20.0    # ASan binaries on two shared cores
STOP_TIMEOUT = 20.0     # the supervisor itself SIGKILLs after 10 s


def ferry_bin():
    d = os.environ.get("FERRY_BIN")
    if d:
        return Path(d)
    return REPO / "build" / "asan" / "bin"


def require_programs(*names):
    """Skip the test when a program has not been built (yet)."""
    d = ferry_bin()
    missing = [n for n in (names or PROGRAMS) if not os.access(d / n, os.X_OK)]
    if missing:
        pytest.skip("not built in %s: %s" % (d, " ".join(missing)))


def sanitizer_env(env=None):
    env = dict(os.environ if env is None else env)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


# Ports. A port that free_port() found free is bound only later by the
# program under test (an ASan ferry takes a second or more to start). Under
# pytest-xdist several tests run at once, and two of them asking the kernel
# for "any free port" can be handed the same one in that window, as can any
# client's connect() (the kernel's ephemeral range). So each pytest process
# takes ports in turn from its own slice of PORT_LOW up to the ephemeral
# range, starting at a random point of it, and hands out only one that is
# free right now for both TCP and UDP.
PORT_LOW = 10000
_port_lock = threading.Lock()
_port_state = {}


def _port_slice():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    size = (ephemeral_low - PORT_LOW) // max(workers, 1)
    if size < 100:
        return None     # no room below the ephemeral range: ask the kernel
    lo = PORT_LOW + (index % workers) * size
    return lo, lo + size


def _bindable(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port(kind=socket.SOCK_STREAM):
    """A port on 127.0.0.1 that nothing uses, for TCP and UDP alike."""
    with _port_lock:
        if "slice" not in _port_state:
            _port_state["slice"] = _port_slice()
            if _port_state["slice"] is not None:
                lo, hi = _port_state["slice"]
                _port_state["next"] = random.SystemRandom().randrange(lo, hi)
        sl = _port_state["slice"]
        if sl is not None:
            lo, hi = sl
            for _ in range(hi - lo):
                port = _port_state["next"]
                _port_state["next"] = lo + (port + 1 - lo) % (hi - lo)
                if _bindable(port):
                    return port
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, interval=0.05, what=None):
    """
    Poll pred() until it returns something true; return that value. Raise
    AssertionError naming `what` (and pred's last value) past the deadline.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s (last: %r)"
                                 % (timeout, what or getattr(pred, "__name__", "?"),
                                    last))
        time.sleep(interval)


def proc_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    # The comm field may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[1])


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[0]


def pid_alive(pid):
    st = proc_state(pid)
    return st is not None and st not in ("Z", "X")


def proc_exe_name(pid):
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        return None


def children_of(ppid):
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit() and proc_ppid(int(e)) == ppid:
            out.append(int(e))
    return out


def tail(text, n=80):
    lines = text.splitlines()
    return "\n".join(lines[-n:])


CONFIG_TEMPLATE = """\
# written by tests/system/conftest.py
user = ""
hostname = "{hostname}"
receiver {{ bind = "127.0.0.1" tcp_port = {tcp_port} udp_port = {udp_port} }}
forwarder {{ batch_timeout = 0.1 }}
sink {{ enabled = true bind = "127.0.0.1" port = {sink_port} }}
output "sink" {{ uri = "http://127.0.0.1:{output_port}/api/v1/sink" }}
{extra}"""


def ro_query(path, sql, args=()):
    """Rows of sql on the SQLite file at path, read-only; None if not there."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return None     # not created yet, or busy
    finally:
        db.close()


def check_stored(points, expected, ts, allowed=None):
    """
    Problems (a list, empty when all is well) with points {name: [(ts, v)]}
    from the sink: every expected {name: value} stored exactly once at ts,
    and nothing stored outside allowed (default: expected).
    """
    allowed = expected if allowed is None else allowed
    problems = []
    missing = sorted(set(expected) - set(points))
    if missing:
        problems.append("%d of %d expected names missing, e.g. %s"
                        % (len(missing), len(expected), missing[:5]))
    extra = sorted(set(points) - set(allowed))
    if extra:
        problems.append("%d unexpected names, e.g. %s" % (len(extra), extra[:5]))
    wrong = [(n, p) for n, p in points.items()
             if n in allowed and p != [(ts, float(allowed[n]))]]
    if wrong:
        problems.append("%d names not stored exactly once at ts %d, e.g. %s"
                        % (len(wrong), ts, wrong[:5]))
    return problems


def deadletter_batches(f, output="sink"):
    """[(header fields, [lines])] from an output's dead-letter file."""
    path = f.var / "deadletter" / ("%s.log" % output)
    out = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        if line.startswith("# "):
            fields = dict(kv.split("=", 1) for kv in line[2:].split() if "=" in kv)
            out.append((fields, []))
        elif out:
            out[-1][1].append(line)
        else:
            raise AssertionError("dead-letter file starts without a header: %r" % line)
    return out


class Ferry:
    """One ferry suite under a temporary FERRY_ROOT."""

    def __init__(self, root, extra_conf="", hostname="systest"):
        self.root = Path(root)
        self.hostname = hostname
        self.bin = ferry_bin()
        self.tcp_port = free_port(socket.SOCK_STREAM)
        self.udp_port = free_port(socket.SOCK_DGRAM)
        self.sink_port = free_port(socket.SOCK_STREAM)
        while self.sink_port == self.tcp_port:
            self.sink_port = free_port(socket.SOCK_STREAM)
        self.etc = self.root / "etc/opt/ferry"
        self.conf = self.etc / "ferry.conf"
        self.var = self.root / "var/opt/ferry"
        self.spool = self.var / "spool"
        self.db_path = self.var / "ferry.db"
        self.sink_db_path = self.var / "sink.db"
        self.logdir = self.root / "var/log/ferry"
        self.pidfile = self.var / "run/ferry-supervisor.pid"
        self.out_path = self.root / "supervisor.out"
        self.proc = None
        # argv put before the supervisor's own (setpriv, to start it with
        # fewer capabilities); it must exec the supervisor in its place.
        self.launcher = []
        self.known_children = set()
        self.output_port = self.sink_port   # a test may put a proxy between
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "conf.d").mkdir(exist_ok=True)
        self.write_config(extra_conf)
        self.env = sanitizer_env()
        self.env["FERRY_ROOT"] = str(self.root)

    # -- setup ------------------------------------------------------------

    def write_config(self, extra="", output_port=None):
        """
        Write ferry.conf; output_port points the output "sink" elsewhere
        (a fault-injecting proxy in front of the sink) from now on.
        """
        if output_port is not None:
            self.output_port = output_port
        self.conf.write_text(CONFIG_TEMPLATE.format(
            tcp_port=self.tcp_port, udp_port=self.udp_port,
            sink_port=self.sink_port, output_port=self.output_port,
            hostname=self.hostname, extra=extra))

    def run(self, program, *args, timeout=30):
        """Run one of the programs to completion; a CompletedProcess."""
        return subprocess.run([str(self.bin / program), *args], env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=timeout)

    def start(self):
        # Appending: a test may stop and start the same suite again.
        if getattr(self, "out", None) is not None:
            self.out.close()
        self.out = open(self.out_path, "ab")
        self.proc = subprocess.Popen(
            [*self.launcher, str(self.bin / "ferry-supervisor"), "-f", "-c",
             str(self.conf)],
            env=self.env, stdin=subprocess.DEVNULL, stdout=self.out,
            stderr=subprocess.STDOUT)
        try:
            self.wait_ready()
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.diagnostics())) from None

    def wait_ready(self, timeout=START_TIMEOUT):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("ferry-supervisor exited %s during start"
                                     % self.proc.returncode)
            return self.receiver_up() and self.sink_ok()
        wait_for(ready, timeout, what="receiver port and sink /ruok")
        for name in CHILDREN:
            self.child_pid(name, timeout=timeout)

    def receiver_up(self):
        try:
            with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=1):
                return True
        except OSError:
            return False

    def sink_ok(self):
        try:
            return self.http_get("/ruok", timeout=1).strip() == "imok"
        except (OSError, urllib.error.URLError):
            return False

    # -- feeding ----------------------------------------------------------

    def send_tcp(self, lines, chunk=64 << 10):
        """Send lines (without newlines) over one TCP connection, then close."""
        data = "".join(l + "\n" for l in lines).encode()
        with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=10) as s:
            for i in range(0, len(data), chunk):
                s.sendall(data[i:i + chunk])
            s.shutdown(socket.SHUT_WR)
            # Wait for the receiver to close its side, so everything was read.
            s.settimeout(10)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass

    def send_udp(self, lines, per_datagram=20, pause=0.004):
        """
        Send lines over UDP, per_datagram lines per datagram, pausing between
        datagrams so the receiver's socket buffer is never overrun.
        """
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(0, len(lines), per_datagram):
                data = "".join(l + "\n" for l in lines[i:i + per_datagram])
                s.sendto(data.encode(), ("127.0.0.1", self.udp_port))
                time.sleep(pause)

    def udp_drops(self):
        """The kernel's drop count on the receiver's UDP socket(s)."""
        total = 0
        for path in ("/proc/net/udp", "/proc/net/udp6"):
            try:
                rows = Path(path).read_text().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                f = row.split()
                if int(f[1].split(":")[1], 16) == self.udp_port:
                    total += int(f[-1])
        return total

    # -- reading back -----------------------------------------------------

    def http_get(self, path, timeout=5):
        url = "http://127.0.0.1:%d%s" % (self.sink_port, path)
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode()

    def _sink_query(self, sql, args=()):
        return ro_query(self.sink_db_path, sql, args)

    def sink_count(self, prefix=""):
        rows = self._sink_query(
            "SELECT count(*) FROM points WHERE substr(name, 1, ?) = ?",
            (len(prefix), prefix))
        return rows[0][0] if rows else 0

    def sink_points(self, prefix=""):
        """{name: [(ts, value), ...]} for every stored name with prefix."""
        rows = self._sink_query(
            "SELECT name, ts, value FROM points WHERE substr(name, 1, ?) = ?"
            " ORDER BY name, ts", (len(prefix), prefix)) or []
        out = {}
        for name, ts, value in rows:
            out.setdefault(name, []).append((ts, value))
        return out

    def wait_sink_count(self, prefix, n, timeout=30):
        """Wait until at least n points under prefix are stored; the count."""
        return wait_for(lambda: self.sink_count(prefix) >= n and self.sink_count(prefix),
                        timeout, interval=0.1,
                        what="%d points under %r in the sink (have %d)"
                        % (n, prefix, self.sink_count(prefix)))

    def _db_query(self, sql, args=()):
        return ro_query(self.db_path, sql, args)

    def processes(self):
        """{name: {pid, state, restarts, ...}} from the process table."""
        rows = self._db_query(
            "SELECT name, pid, state, restarts, last_exit_str FROM process") or []
        return {r[0]: {"pid": r[1], "state": r[2], "restarts": r[3],
                       "last_exit_str": r[4]} for r in rows}

    def status(self):
        """`ferryctl status --json`, parsed; None when it fails to answer."""
        r = self.run("ferryctl", "status", "--json", timeout=30)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def counters(self, proc=None):
        """
        The counters processes publish (self-metrics, read back by
        `ferryctl status --json`): {(proc, name): value}, or {name: value}
        for one proc.
        """
        st = self.status() or {}
        rows = [(c.get("process"), c.get("name"), c.get("value"))
                for c in st.get("counters", [])]
        if proc is None:
            return {(p, n): v for p, n, v in rows}
        return {n: v for p, n, v in rows if p == proc}

    def child_pid(self, name, timeout=START_TIMEOUT, not_pid=None):
        """
        The pid of the running child ferry-<name> of the supervisor, found in
        /proc (the ground truth) by its executable; waits for it to exist
        (and to differ from not_pid).
        """
        exe = "ferry-" + name

        def find():
            for pid in children_of(self.proc.pid):
                if pid != not_pid and pid_alive(pid) and proc_exe_name(pid) == exe:
                    return pid
            return None
        pid = wait_for(find, timeout, what="a running %s child" % exe)
        self.known_children.add(pid)
        return pid

    def log_text(self, name):
        p = self.logdir / ("%s.log" % name)
        try:
            return p.read_text(errors="replace")
        except OSError:
            return ""

    def all_logs(self):
        """[(label, text)] for every log file and the supervisor's own output."""
        out = []
        if self.logdir.is_dir():
            for p in sorted(self.logdir.glob("*.log")):
                out.append((str(p), p.read_text(errors="replace")))
        if self.out_path.exists():
            out.append((str(self.out_path), self.out_path.read_text(errors="replace")))
        return out

    def diagnostics(self, n=60):
        return "\n".join("---- %s (last %d lines)\n%s" % (label, n, tail(text, n))
                         for label, text in self.all_logs())

    # -- teardown ---------------------------------------------------------

    def stop(self):
        """SIGTERM the supervisor; return its exit status (None if killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        for name in CHILDREN:
            try:
                self.child_pid(name, timeout=0)
            except AssertionError:
                pass
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return None

    def leftover_children(self):
        return sorted(p for p in self.known_children if pid_alive(p))

    def kill_leftovers(self):
        for pid in self.leftover_children():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def sanitizer_reports(self):
        return [(label, text) for label, text in self.all_logs()
                if any(m in text for m in SANITIZER_MARKS)]


# -- running in parallel ------------------------------------------------------
#
# `make system` runs this suite with pytest-xdist (-n), every test in its own
# FERRY_ROOT on its own ports, and then, one at a time, the tests marked
# `serial`. Two markers:
#
#   long(S) the test takes about S seconds, 10 or more (mostly waiting):
#           the long tests start first, longest first, so that no worker is
#           left with one at the end while the others idle
#   serial  a timing promise (a latency, "within 100 ms") that a test can
#           only measure on an otherwise idle machine; it runs after the
#           parallel part, alone

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "long(seconds): takes about that long (10 s or more); "
        "started first, longest first")
    config.addinivalue_line(
        "markers", "serial: measures a timing promise; `make system` runs it "
        "alone, after the parallel part")


def _expected_seconds(item):
    m = item.get_closest_marker("long")
    if m is None:
        return 0
    return m.args[0] if m.args else 10


def pytest_collection_modifyitems(config, items):
    # Stable: the long tests first, longest first; the rest as collected.
    items.sort(key=lambda item: -_expected_seconds(item))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """When a test fails, attach the tail of every log of its suites."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for f in getattr(item, "ferry_suites", ()):
            rep.sections.append(("ferry logs (%s)" % f.root, f.diagnostics()))
        for p in getattr(item, "peers", ()):
            rep.sections.append(("%s logs (%s)" % (p.name, p.dir), p.diagnostics()))


@pytest.fixture
def start_ferry(tmp_path, request):
    """
    A factory: start_ferry(extra_conf="", start=True, hostname="systest")
    -> Ferry; instances that must tell themselves apart (a fleet) each get
    a hostname. Teardown stops each one and checks the exit status,
    leftovers and sanitizers.
    """
    require_programs()
    made = []
    request.node.ferry_suites = made

    def make(extra_conf="", start=True, hostname="systest"):
        root = tmp_path / ("root%d" % len(made))
        f = Ferry(root, extra_conf, hostname)
        made.append(f)
        if start:
            f.start()
        return f

    yield make

    problems = []
    for f in made:
        started = f.proc is not None
        status = f.stop()
        if started and status != 0:
            problems.append("ferry-supervisor (%s) exited %r on SIGTERM, expected 0"
                            % (f.root, status))
        if started:
            try:
                wait_for(lambda: not f.leftover_children(), 5, what="children to exit")
            except AssertionError:
                problems.append("children still running after the supervisor "
                                "exited: %r" % f.leftover_children())
                f.kill_leftovers()
        for label, text in f.sanitizer_reports():
            problems.append("sanitizer report in %s:\n%s" % (label, text))
        if problems:
            problems.append(f.diagnostics())
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def ferry(start_ferry):
    """A running suite with the default test configuration."""
    return start_ferry()


@pytest.fixture
def start_peer(tmp_path, request):
    """
    A factory for the real peers of peers.py: start_peer(Redis, **kwargs)
    -> a started Redis(tmp_path, **kwargs) (skips when its program is not
    installed; start=False to start it later). Teardown stops each by pid; a
    failing test's report gets their logs.
    """
    made = []
    request.node.peers = made

    def make(cls, start=True, **kwargs):
        cls.require()
        if "name" not in kwargs:
            same = sum(1 for q in made if isinstance(q, cls))
            kwargs["name"] = cls.name + ("%d" % same if same else "")
        p = cls(tmp_path, **kwargs)
        made.append(p)
        if start:
            p.start()
        return p

    yield make
    for p in made:
        p.stop()

"""benchlib: what the Python benchmarks of bench/ share (catchup, latency,
outputs, tail, logmetrics).

Not executable, so bench/run.sh does not run it. It starts and stops
processes by pid only (every Popen is recorded in RUNNING and stopped by
stop_all()), lays out a temporary FERRY_ROOT, reads a process's CPU time and
peak RSS from /proc, talks to bench/nullsink, and prints the one table each
benchmark ends with. Standard library only.
"""

import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"
START_TIMEOUT = 10.0    # seconds for a server to accept connections
STOP_TIMEOUT = 5.0      # seconds between SIGTERM and SIGKILL

CLK_TCK = os.sysconf("SC_CLK_TCK")

RUNNING = []    # Popen objects still to stop: each is stopped by its own pid


class BenchError(Exception):
    """The benchmark could not measure: a process did not start, data lost."""


def logger(prog):
    def log(msg):
        print("%s: %s" % (prog, msg), file=sys.stderr, flush=True)
    return log


def bins():
    """(FERRY_BIN, BENCH_BIN): where the built programs are."""
    return (os.environ.get("FERRY_BIN") or os.path.join(REPO, "build/bin"),
            os.environ.get("BENCH_BIN") or os.path.join(REPO, "build/bench"))


def missing(paths):
    """The first of paths that is not an executable file, or None."""
    for p in paths:
        if not os.access(p, os.X_OK):
            return p
    return None


def free_port():
    """A TCP port free on 127.0.0.1 right now (the server binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_listening(proc, port, what):
    """Return once something accepts on port; raise if proc exits first."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise BenchError("%s exited with status %d before listening"
                             % (what, proc.returncode))
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise BenchError("%s not listening on %s:%d after %.0f s"
                             % (what, HOST, port, START_TIMEOUT))
        time.sleep(0.01)    # connect() answers at once; this only paces retries


def cpu_split(pid):
    """(utime, stime) of pid (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def cpu_seconds(pid):
    """utime + stime of pid (all its threads), in seconds."""
    return sum(cpu_split(pid))


def status_kb(pid, field):
    """A "Field:  N kB" line of /proc/PID/status, in bytes (0 when absent)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss(pid):
    """VmHWM of pid, in bytes: every resident page, shared libraries too."""
    return status_kb(pid, "VmHWM")


def anon_rss(pid):
    """RssAnon of pid now, in bytes: its own memory (heap, stacks), without
    the pages of shared libraries that VmHWM also counts."""
    return status_kb(pid, "RssAnon")


def stop_proc(proc):
    """SIGTERM proc (by its pid), SIGKILL it after STOP_TIMEOUT, reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in RUNNING:
        RUNNING.remove(proc)


def stop_all():
    for proc in list(reversed(RUNNING)):
        stop_proc(proc)


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def trap_signals():
    """SIGTERM and SIGINT unwind through the callers' finally blocks."""
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


class Proc:
    """A program of ours, started in tmp with its output in a log file."""

    def __init__(self, name, argv, tmp, env=None):
        self.name = name
        self.logpath = os.path.join(tmp, name + ".log")
        self.logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen(argv, env=env, cwd=tmp,
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        RUNNING.append(self.proc)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def check(self):
        if self.proc.poll() is not None:
            raise BenchError("%s exited with status %d during the run"
                             % (self.name, self.proc.returncode))

    def cpu(self):
        return cpu_seconds(self.pid)

    def rss(self):
        return peak_rss(self.pid)

    def anon(self):
        return anon_rss(self.pid)

    def log_tail(self, n=15):
        try:
            with open(self.logpath, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def stop(self):
        stop_proc(self.proc)
        self.logf.close()


class FerryRoot:
    """A temporary FERRY_ROOT with its config; removed by cleanup()."""

    def __init__(self, ferry_bin):
        self.bin = ferry_bin
        self.tmp = tempfile.mkdtemp(prefix="ferry-bench-")
        self.root = os.path.join(self.tmp, "root")
        for d in ("etc/opt/ferry/conf.d", "var/opt/ferry/spool",
                  "var/opt/ferry/drop", "var/opt/ferry/run", "var/log/ferry"):
            os.makedirs(os.path.join(self.root, d))
        self.spool = os.path.join(self.root, "var/opt/ferry/spool")
        self.sink_db = os.path.join(self.root, "var/opt/ferry/sink.db")
        self.procs = []

    def configure(self, text):
        """ferry.conf: the common lines plus text (outputs, sections)."""
        with open(os.path.join(self.root, "etc/opt/ferry/ferry.conf"), "w") as f:
            f.write('user = ""\n' + text)

    def env(self):
        # FERRY_* overrides from the caller's shell must not change the setup.
        env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
        env["FERRY_ROOT"] = self.root
        return env

    def start(self, program, port=None):
        """Start FERRY_BIN/program under this root; wait for port if given."""
        p = Proc(program, [os.path.join(self.bin, program)], self.tmp, self.env())
        self.procs.append(p)
        if port is not None:
            wait_listening(p.proc, port, program)
        return p

    def add(self, proc):
        self.procs.append(proc)
        return proc

    def log_tails(self, log):
        for p in self.procs:
            tail = p.log_tail()
            if tail:
                log("%s log, last lines:\n%s" % (p.name, tail))

    def cleanup(self):
        for p in reversed(self.procs):
            p.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class NullSink(Proc):
    """bench/nullsink on a port of 127.0.0.1, counting lines with prefix."""

    def __init__(self, bench_bin, tmp, port, prefix, trace=None):
        argv = [os.path.join(bench_bin, "nullsink"), "-p", str(port), "-m", prefix]
        if trace is not None:
            argv += ["-t", trace]
        super().__init__("nullsink", argv, tmp)
        self.port = port
        wait_listening(self.proc, port, "nullsink")

    def counts(self):
        """nullsink's counters: requests, lines, matched, bytes, last."""
        url = "http://%s:%d/count" % (HOST, self.port)
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
        return {k: float(v) for k, v in (kv.split("=") for kv in text.split())}


class LineCounter:
    """Counts newline bytes in the files of a folder whose name starts with
    prefix, reading only what is new (ferry's spool also holds the
    self-metrics streams, which are not a benchmark's input)."""

    def __init__(self, folder, prefix=""):
        self.folder = folder
        self.prefix = prefix
        self.seen = {}      # name -> (offset read up to, newlines in it)
        self.buf = bytearray(8 << 20)

    def count(self):
        total = 0
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return 0
        for name in names:
            if not name.startswith(self.prefix):
                continue
            off, lines = self.seen.get(name, (0, 0))
            try:
                with open(os.path.join(self.folder, name), "rb") as f:
                    if os.fstat(f.fileno()).st_size < off:
                        off, lines = 0, 0   # cut or replaced: count it again
                    f.seek(off)
                    while True:
                        n = f.readinto(self.buf)
                        if not n:
                            break
                        lines += self.buf.count(b"\n", 0, n)
                        off += n
            except (FileNotFoundError, IsADirectoryError):
                continue
            self.seen[name] = (off, lines)
            total += lines
        return total


class Db:
    """A read-only look at an SQLite file another process writes."""

    def __init__(self, path, query, args=()):
        self.path = path
        self.query = query
        self.args = args
        self.db = None

    def value(self):
        try:
            if self.db is None:
                if not os.path.exists(self.path):
                    return 0
                self.db = sqlite3.connect("file:%s?mode=ro" % self.path,
                                          uri=True, timeout=1.0)
            row = self.db.execute(self.query, self.args).fetchone()
            return row[0] if row and row[0] is not None else 0
        except sqlite3.Error:
            return 0    # not made yet, or a busy moment

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None


def find_fluent_bit():
    """A Fluent Bit to measure: FLUENT_BIT (a path; one that is not a
    program, e.g. "none", says there is none), ../shared/peers/fluent-bit,
    fluent-bit on PATH, /opt/fluent-bit; None when none is found."""
    env = os.environ.get("FLUENT_BIT")
    if env:     # "none", or any path that is not a program: quoted
        return env if os.access(env, os.X_OK) else None
    shared = os.path.join(os.path.dirname(REPO), "shared", "peers",
                          "fluent-bit")
    if os.access(shared, os.X_OK):
        return shared
    return shutil.which("fluent-bit") or (
        "/opt/fluent-bit/bin/fluent-bit"
        if os.access("/opt/fluent-bit/bin/fluent-bit", os.X_OK) else None)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_rate(v):
    if v is None:
        return "-"
    if v < 1e4:
        return "%.0f /s" % v
    return "%.2f M/s" % (v / 1e6) if v >= 1e6 else "%.0f k/s" % (v / 1e3)


def fmt_count(n):
    """1000000 -> "1M", 50000 -> "50k"."""
    if n >= 1e6 and n % 1e6 == 0:
        return "%dM" % (n // 1e6)
    if n >= 1e3 and n % 1e3 == 0:
        return "%dk" % (n // 1e3)
    return str(n)


def fmt_cpu(v):
    return "-" if v is None else "%.2f" % v


def fmt_rss(v):
    return "-" if v is None else "%.2f MiB" % (v / 1048576)


def fmt_ms(v):
    return "-" if v is None else "%.0f ms" % (v * 1000)


def print_table(head, body):
    """One table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]

    def line(r):
        return " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                          for i, (c, w) in enumerate(zip(r, widths)))

    print(line(head))
    print("-+-".join("-" * w for w in widths))
    for r in body:
        print(line(r))
    sys.stdout.flush()

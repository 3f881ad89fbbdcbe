"""
ferry-tail (SPEC.md "Log files", "The tail checkpoint"): every kind of
rotation, while an application writes, loses no line and duplicates none.

Each test plays the application with a writer thread that appends numbered,
unique lines to a log file (and reopens it by name when told, as an
application does on SIGHUP after a rename), rotates the file its own way,
and ends by comparing what the path's history should be (every line
written at it, in write order) with

  - the reference sink's rebuilt file (GET /store/log), and its rows: each
    record's line number follows from the one before, so no line was
    numbered twice or skipped;
  - the spool: the "tail" segments' records for that file, in spool order,
    each line once, line numbers rising.

So the spool keeps every segment until the test reads it, the suite has a
second output that can never deliver (a TCP port bound but not listening):
the forwarder deletes a segment only once every output has passed it.

Every wait polls a condition under a deadline; every load loop is bounded.
"""
import gzip
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import (children_of, pid_alive, proc_exe_name, ro_query,
                      wait_for)

HOST = "systest"
LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"
DRAIN_TIMEOUT = 120.0   # ASan binaries on two shared cores


# -- the application --------------------------------------------------------

class Writer(threading.Thread):
    """
    Appends unique numbered lines to path at rate lines a second, until
    stopped or count lines or seconds are done. reopen() makes it close and
    open the path again (after a rename rotation); until then it writes on
    into the file it holds, as an application does. O_APPEND, so after a
    truncation (copytruncate) it writes at the new end, not past a hole.
    """

    def __init__(self, path, rate, count=None, seconds=None, tag="line",
                 width=80):
        super().__init__(daemon=True)
        assert count is not None or seconds is not None
        self.path = Path(path)
        self.rate = rate
        self.count = count
        self.seconds = seconds
        self.tag = tag
        self.pad = "x" * max(0, width - len(tag) - 10)
        self.lines = []
        self.lock = threading.Lock()
        self.next_path = self.path
        self.want_reopen = threading.Event()
        self.reopened = threading.Event()
        self.halt = threading.Event()
        self.error = None

    def line(self, i):
        return "%s %08d %s" % (self.tag, i, self.pad)

    def reopen(self, path=None, timeout=10):
        """Close the file and open path (default: the same name) again."""
        if path is not None:
            self.next_path = Path(path)
        self.reopened.clear()
        self.want_reopen.set()
        if self.is_alive() and not self.reopened.wait(timeout):
            raise AssertionError("the writer did not reopen %s" % self.path)

    def written(self):
        with self.lock:
            return len(self.lines)

    def run(self):
        try:
            self._run()
        except Exception as e:     # reported by finish()
            self.error = e

    def _open(self):
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _run(self):
        fd = self._open()
        start = time.monotonic()
        i = 0
        try:
            while not self.halt.is_set():
                if self.want_reopen.is_set():
                    os.close(fd)
                    self.path = self.next_path
                    fd = self._open()
                    self.want_reopen.clear()
                    self.reopened.set()
                elapsed = time.monotonic() - start
                if self.seconds is not None and elapsed >= self.seconds:
                    break
                due = int(self.rate * elapsed) + 1
                if self.count is not None:
                    due = min(due, self.count)
                if due > i:
                    chunk = [self.line(k) for k in range(i, due)]
                    data = "".join(l + "\n" for l in chunk).encode()
                    # One write(2) of whole lines, as a logger does.
                    if os.write(fd, data) != len(data):
                        raise OSError("short write to %s" % self.path)
                    with self.lock:
                        self.lines.extend(chunk)
                    i = due
                if self.count is not None and i >= self.count:
                    break
                time.sleep(0.005)
        finally:
            os.close(fd)
            self.reopened.set()

    def finish(self, timeout=120):
        self.join(timeout)
        assert not self.is_alive(), "the writer did not stop"
        if self.error is not None:
            raise self.error
        return list(self.lines)

    def stop(self):
        self.halt.set()
        return self.finish()


# -- the suite ----------------------------------------------------------------

class Hold:
    """A TCP port bound but not listening: connections to it are refused."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


@pytest.fixture
def suite(start_ferry, tmp_path):
    """
    A factory: suite(log_conf, tail_conf=..., env=None, start=True) -> a
    Ferry with the log sections and tail section given, an output that
    holds the spool (see the top of this file), the forwarder's retries
    short, and env added to its environment; started, ferry-tail running.
    """
    holds = []

    def make(log_conf, tail_conf="rescan_interval = 1", env=None,
             start=True):
        hold = Hold()
        holds.append(hold)
        conf = ("%s\ntail { %s }\n"
                'output "hold" { uri = "tcp://127.0.0.1:%d/?filter=systail" }\n'
                "spool { max_size = 2G }\n" % (log_conf, tail_conf, hold.port))
        f = start_ferry(conf, start=False)
        f.env["FERRY_FORWARDER_RETRY_MAX"] = "1"
        f.env.update(env or {})
        if start:
            f.start()
            f.child_pid("tail")
        return f

    yield make
    for h in holds:
        h.close()


def log_section(name, glob, body=""):
    return 'log "%s" { path = "%s" %s }' % (name, glob, body)


def tail_started(f, name="app", timeout=60):
    """Wait until ferry-tail has run its first scan of log section name."""
    wait_for(lambda: "log.%s.files" % name in f.counters("tail"), timeout,
             interval=0.2, what="ferry-tail's first counters")


# -- what arrived ------------------------------------------------------------

def sink_rows(f, path):
    """[(line, content)] the sink stores for path, in line order."""
    return ro_query(f.sink_db_path, "SELECT line, content FROM logs WHERE "
                    "host = ? AND file = ? ORDER BY line", (HOST, str(path))) or []


def sink_line_count(f, path):
    rows = ro_query(f.sink_db_path, "SELECT sum(length(content) - "
                    "length(replace(content, char(10), '')) + 1) FROM logs "
                    "WHERE host = ? AND file = ?", (HOST, str(path)))
    return (rows[0][0] or 0) if rows else 0


def sink_last(f, path):
    """The last line of path's last record in the sink, or None."""
    rows = ro_query(f.sink_db_path, "SELECT content FROM logs WHERE host = ? "
                    "AND file = ? ORDER BY line DESC LIMIT 1", (HOST, str(path)))
    return rows[0][0].split("\n")[-1] if rows else None


def wait_sink_lines(f, path, n, last=None, timeout=DRAIN_TIMEOUT):
    """
    Wait until the sink holds at least n lines of path (counted in its rows)
    and, when given, last as the last line of its last record.
    """
    have = [0]

    def enough():
        have[0] = sink_line_count(f, path)
        return have[0] >= n and (last is None or sink_last(f, path) == last)
    try:
        wait_for(enough, timeout, interval=0.25,
                 what="%d lines of %s in the sink" % (n, path))
    except AssertionError:
        raise AssertionError("the sink holds %d of %d lines of %s (its last: "
                             "%r)" % (have[0], n, path,
                                      (sink_last(f, path) or "")[:80])) from None


def spool_records(f, path):
    """The log records for path in the spool's "tail" stream, in spool order."""
    out = []
    for seg in sorted(f.spool.glob("tail.*")):
        with open(seg, "rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break
                key, _, obj = raw.decode().partition(" ")
                rec = json.loads(obj)
                if rec["file"] == str(path) and rec["host"] == HOST:
                    out.append(rec)
    return out


def compare(what, got, want, may_miss):
    """
    got holds the lines of want, each once, in want's order; a line of want
    may be missing only when it is in may_miss.
    """
    index = {line: i for i, line in enumerate(want)}
    prev = -1
    for n, line in enumerate(got):
        i = index.get(line)
        assert i is not None, ("%s: line %d was never written: %r"
                               % (what, n + 1, line[:100]))
        assert i > prev, ("%s: line %d (%r) %s" % (
            what, n + 1, line[:60], "twice" if i == prev else
            "after %r" % want[prev][:60]))
        prev = i
    if len(got) < len(want):
        have = set(got)
        lost = [l for l in want if l not in have and l not in may_miss]
        assert not lost, ("%s: %d of %d lines missing, e.g. %r"
                          % (what, len(lost), len(want), lost[:3]))


def check_history(f, path, want, first_line=1, may_miss=(), positions=False,
                  timeout=DRAIN_TIMEOUT):
    """
    The sink and the spool hold path's history, want (the lines written at
    path, in order): none twice, in order, none missing but those of
    may_miss (lines that were never there to read: copytruncate's, sampled
    out). The sink's records are numbered on, each after the lines of the
    one before; positions: each record's number is the place of its first
    line in want (sampling leaves gaps).
    """
    may_miss = set(may_miss)
    wait_sink_lines(f, path, len(want) - len(may_miss), last=want[-1],
                    timeout=timeout)
    text = f.http_get("/store/log?host=%s&file=%s" % (HOST, path), timeout=60)
    got = text.split("\n")[:-1] if text else []
    compare("the sink's %s" % path, got, want, may_miss)
    rows = sink_rows(f, path)
    expect = first_line
    where = {line: i for i, line in enumerate(want)}
    for line, content in rows:
        if positions:
            expect = first_line + where[content.split("\n")[0]]
        assert line == expect, ("the sink's %s: the record %r at line %d, "
                                "expected %d" % (path, content[:60], line, expect))
        expect += content.count("\n") + 1
    recs = spool_records(f, path)
    spooled = []
    prev = 0
    for r in recs:
        assert r["line"] > prev, ("the spool's records of %s: line %d after "
                                  "line %d" % (path, r["line"], prev))
        prev = r["line"]
        spooled.extend(r["text"].split("\n"))
    compare("the spool's %s" % path, spooled, want, may_miss)
    return got


def wait_counters(f, pred, name="app", timeout=30):
    """ferry-tail's counters once pred holds of them (published each second)."""
    got = [None]

    def ok():
        got[0] = counters(f, name)
        return pred(got[0])
    try:
        wait_for(ok, timeout, interval=0.5, what="ferry-tail's counters")
    except AssertionError:
        raise AssertionError("ferry-tail's counters: %r" % got[0]) from None
    return got[0]


def counters(f, name="app"):
    """ferry-tail's counters of log section name: {what: value}."""
    pre = "log.%s." % name
    return {k[len(pre):]: v for k, v in f.counters("tail").items()
            if k.startswith(pre)}


def app_started(suite, tmp_path, tag, n, tail_conf="rescan_interval = 1"):
    """
    logs/app.log followed by log section "app" (*.log, from the start), n
    numbered lines (tag) written to it and in the sink: logs, app, the
    Ferry, the lines.
    """
    logs = logdir(tmp_path)
    app = logs / "app.log"
    f = suite(log_section("app", "%s/*.log" % logs, 'from = "start"'),
              tail_conf=tail_conf)
    want = numbered(tag, n)
    write_lines(app, want)
    wait_sink_lines(f, app, len(want), last=want[-1])
    return logs, app, f, want


# -- rotations ----------------------------------------------------------------

def rename_rotate(app, k, w=None):
    """Rename app to app.<k> (outside the glob *.log); the writer reopens."""
    os.rename(app, "%s.%d" % (app, k))
    if w is not None:
        w.reopen()


def logrotate(tmp_path, app, directives):
    """Run Debian's logrotate on app with directives, forced; its output."""
    if not Path(LOGROTATE).exists():
        pytest.skip("logrotate is not installed")
    conf = tmp_path / "logrotate.conf"
    conf.write_text("%s {\n%s\n}\n" % (app, "\n".join(directives)))
    conf.chmod(0o644)
    r = subprocess.run([LOGROTATE, "-f", "-s", str(tmp_path / "lr.state"),
                        str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    assert r.returncode == 0, r.stdout
    return r.stdout


class paused:
    """
    with paused(f): ferry-tail is stopped (SIGSTOP) inside, so what is done
    there happens at once from its point of view: a race it would usually
    win, lost on purpose.
    """

    def __init__(self, f):
        self.pid = f.child_pid("tail")

    def __enter__(self):
        os.kill(self.pid, signal.SIGSTOP)
        return self

    def __exit__(self, *exc):
        os.kill(self.pid, signal.SIGCONT)


def write_lines(path, lines, mode="a"):
    """Append lines to path in one write(2), as a logger does."""
    with open(path, mode) as fh:
        fh.write("".join(l + "\n" for l in lines))


def numbered(tag, n, start=0):
    return ["%s %06d" % (tag, i) for i in range(start, start + n)]


def logdir(tmp_path):
    d = tmp_path / "logs"
    d.mkdir(exist_ok=True)
    return d


# -- the tests ------------------------------------------------------------------

# 20,000 lines/s for 30 s (a 5 ms tick writes ~100 lines in one write(2)).
LOAD_RATE = int(os.environ.get("TAIL_LOAD_RATE", "20000"))
LOAD_SECONDS = float(os.environ.get("TAIL_LOAD_SECONDS", "30"))
# ferry-tail keeps up (on ASan binaries, ~0.1 core at this rate): once the
# writer stops, the rest reaches the sink within seconds. A rotated file
# that held its successor back until it was let go made that 100 s.
CATCH_UP = 30.0


def test_rename_rotation_every_second_under_load(suite, tmp_path):
    """
    A rename rotation every second while 20,000 lines/s are written, for
    30 s: the rotated files (renamed outside the glob) are read to their
    end before their successors, and the path's history arrives whole.
    """
    logs = logdir(tmp_path)
    app = logs / "app.log"
    f = suite(log_section("app", "%s/*.log" % logs, 'from = "start"'),
              env={"FERRY_FORWARDER_BATCH_SIZE": "2000"})
    w = Writer(app, LOAD_RATE, seconds=LOAD_SECONDS)
    w.start()
    k = 0
    while k < LOAD_SECONDS + 5:
        w.join(1.0)
        if not w.is_alive():
            break
        k += 1
        rename_rotate(app, k, w)
    lines = w.finish()
    stopped = time.monotonic()
    assert len(lines) >= LOAD_RATE * LOAD_SECONDS * 0.95, len(lines)
    wait_sink_lines(f, app, len(lines), last=lines[-1], timeout=CATCH_UP)
    late = time.monotonic() - stopped
    check_history(f, app, lines)
    print("rename rotation: %d lines, %d rotations; the last in the sink "
          "%.1f s after the writer stopped" % (len(lines), k, late))
    c = wait_counters(f, lambda c: c.get("lines") == len(lines))
    assert c["rotations"] >= k, c


LOGROTATE_MODES = {
    "create": ["create"],
    "copytruncate": ["copytruncate"],
    # The copy gzip'd at once: what was not read is read from the .gz.
    "copytruncate-compress": ["copytruncate", "compress"],
    # A date suffix with the second, so each rotation gets its own name.
    "dateext": ["create", "dateext", "dateformat -%Y%m%d-%s", "compress",
                "delaycompress"],
    # Compressed at once: the rotated file is renamed, gzip'd and deleted
    # while the application may still write into it; read through the
    # descriptor ferry-tail holds.
    "compress": ["create", "compress"],
    "dateext-create": ["create", "dateext", "dateformat .%Y%m%d-%s"],
    # Rotated into another directory (outside the glob and its watch).
    "olddir": ["create", "olddir old", "createolddir 0755"],
    # The rotated file deleted at once.
    "rotate0": ["create", "rotate 0"],
}


@pytest.mark.parametrize("mode", sorted(LOGROTATE_MODES))
def test_logrotate_while_writing(suite, tmp_path, mode):
    """
    Debian's logrotate, forced every second while 2,000 lines/s are
    written: with create (the application reopens after it), copytruncate
    (it never does), and dateext + compress + delaycompress. copytruncate
    itself loses what is written between its copy and its truncation; only
    those lines may be missing, and only when ferry-tail had not read them
    from the file in time.
    """
    logs = logdir(tmp_path)
    app = logs / "app.log"
    f = suite(log_section("app", "%s/*.log" % logs, 'from = "start"'))
    w = Writer(app, 2000, seconds=6)
    w.start()
    wait_for(app.exists, 10, what="the log file")
    k = 0
    while k < 10:
        w.join(1.0)
        if not w.is_alive():
            break
        logrotate(tmp_path, app, ["rotate 100", "missingok", "nomail"] +
                  LOGROTATE_MODES[mode])
        k += 1
        if not mode.startswith("copytruncate"):
            w.reopen()
    lines = w.finish()
    may_miss = ()
    if mode.startswith("copytruncate"):
        # What is left on disk: the copies, oldest first, then the file.
        on_disk = []
        for n in range(k, 0, -1):
            p = logs / ("app.log.%d" % n)
            if p.exists():
                on_disk.extend(p.read_text().splitlines())
            if p.with_name(p.name + ".gz").exists():
                with gzip.open(p.with_name(p.name + ".gz"), "rt") as z:
                    on_disk.extend(z.read().splitlines())
        on_disk.extend(app.read_text().splitlines())
        may_miss = set(lines) - set(on_disk)
    else:
        old = logs / "old" if mode == "olddir" else logs
        rotated = [p for p in old.iterdir() if p.is_file() and
                   p.name != "app.log"]
        assert len(rotated) == (0 if mode == "rotate0" else k), \
            sorted(p.name for p in rotated)
        if mode in ("dateext", "compress"):
            assert sum(p.name.endswith(".gz") for p in rotated) == \
                k - (mode == "dateext")
    got = check_history(f, app, lines, may_miss=may_miss)
    print("logrotate %s: %d rotations, %d lines written, %d in the sink; "
          "copytruncate lost %d" % (mode, k, len(lines), len(got),
                                    len(may_miss)))


def test_delete_and_recreate(suite, tmp_path):
    """
    The file is deleted and a new one made at its name: the old one is read
    to its end through the descriptor ferry-tail holds (lines written into
    it at the last moment included), the new one from its start, and the
    path's lines number on.
    """
    logs, app, f, want = app_started(suite, tmp_path, "first", 500)
    for k in range(3):
        last = numbered("last-words-%d" % k, 200)
        new = numbered("reborn-%d" % k, 300)
        with paused(f):
            with open(app, "a") as old:
                app.unlink()
                write_lines(app, new[:100])
                old.write("".join(l + "\n" for l in last))
        write_lines(app, new[100:])
        want += last + new
        wait_sink_lines(f, app, len(want), last=want[-1])
    check_history(f, app, want)


def test_shrink_then_write(suite, tmp_path):
    """
    A file truncated in place ("> file", or copytruncate without the copy)
    is read again from its start, and its new lines number on: when it is
    written again shorter than before, and when it is written again longer
    than what had been read (its size alone then cannot tell; its first
    bytes can).
    """
    logs, app, f, want = app_started(suite, tmp_path, "before", 100)
    # Shorter: ferry-tail sees the size fall.
    shorter = numbered("shorter", 50)
    write_lines(app, shorter, mode="w")
    want += shorter
    wait_sink_lines(f, app, len(want), last=want[-1])
    # Emptied, then written later.
    app.write_text("")
    wait_for(lambda: f.log_text("tail").count("was truncated") == 2, 30,
             what="ferry-tail to see the file emptied")
    later = numbered("later", 20)
    write_lines(app, later)
    want += later
    wait_sink_lines(f, app, len(want), last=want[-1])
    # Longer than what was read, before ferry-tail looks again.
    longer = numbered("longer-than-before", 300)
    with paused(f):
        write_lines(app, longer, mode="w")
    want += longer
    check_history(f, app, want)


def test_symlink_retarget(suite, tmp_path):
    """
    The glob matches a symlink whose target changes (a "current" link, as
    some servers keep): each target is read to its end, lines written into
    it after the switch included, and the link's history is whole.
    """
    logs = logdir(tmp_path)
    targets = tmp_path / "targets"
    targets.mkdir()
    link = logs / "current.log"
    (targets / "t0.log").touch()
    os.symlink(targets / "t0.log", link)
    f = suite(log_section("app", "%s/*.log" % logs, 'from = "start"'))
    w = Writer(targets / "t0.log", 2000, seconds=5)
    w.start()
    k = 0
    while k < 10:
        w.join(0.5)
        if not w.is_alive():
            break
        k += 1
        nxt = targets / ("t%d.log" % k)
        nxt.touch()
        tmp = logs / ".current.tmp"
        os.symlink(nxt, tmp)
        os.rename(tmp, link)
        w.reopen(nxt)
    lines = w.finish()
    check_history(f, link, lines)
    wait_counters(f, lambda c: c.get("rotations", 0) >= k)


def test_inode_reuse(suite, tmp_path):
    """
    A closed, idle file is deleted and a new file at its name gets the same
    inode: its first bytes tell it from the old one, so it is read from its
    start (not from the old file's offset) and numbered on. The file is
    closed by tail.max_open_files = 1 and a second file taking the one
    descriptor; the inode is made to be reused by creating files until one
    gets it.
    """
    logs = logdir(tmp_path)
    app = logs / "app.log"
    other = logs / "other.log"
    f = suite(log_section("app", "%s/*.log" % logs, 'from = "start"'),
              tail_conf="rescan_interval = 1 max_open_files = 1")
    want = numbered("old-inode", 10)
    write_lines(app, want)
    wait_sink_lines(f, app, len(want), last=want[-1])
    write_lines(other, ["the other file"])      # takes the descriptor
    wait_sink_lines(f, other, 1, last="the other file")
    ino = app.stat().st_ino
    spare = tmp_path / "spare"
    spare.mkdir()
    new = numbered("new-file-same-inode", 30)
    with paused(f):
        app.unlink()
        for i in range(5000):
            cand = logs / ("cand.%d" % i)
            fd = os.open(cand, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                if os.fstat(fd).st_ino == ino:
                    os.write(fd, "".join(l + "\n" for l in new[:10]).encode())
                    os.rename(cand, app)
                    break
            finally:
                os.close(fd)
        else:
            pytest.skip("the filesystem gave no file inode %d again" % ino)
    write_lines(app, new[10:])
    want += new
    check_history(f, app, want)


def tail_rows(f, ino=None):
    """ferry-tail's checkpoint rows in ferry.db: [(ino, path, offset, line)]."""
    rows = ro_query(f.db_path, "SELECT ino, path, off, line FROM tail")
    assert rows is not None, "no tail table in ferry.db"
    return [r for r in rows if ino is None or r[0] == ino]


def tail_running(f):
    """Is a ferry-tail child of the supervisor running?"""
    return any(pid_alive(p) and proc_exe_name(p) == "ferry-tail"
               for p in children_of(f.proc.pid))


def kill_tail(f):
    """kill -9 ferry-tail; the pid the supervisor starts next."""
    pid = f.child_pid("tail")
    os.kill(pid, signal.SIGKILL)
    return f.child_pid("tail", not_pid=pid, timeout=90)


def test_kill_9_between_rotations(suite, tmp_path):
    """
    ferry-tail killed (-9) between two rename rotations, three times, while
    the application writes on: each start resumes every file after the last
    line that reached the spool (the checkpoint, then the spool's own tail
    past it) and finds the file rotated while it was down.
    """
    logs = logdir(tmp_path)
    app = logs / "app.log"
    f = suite(log_section("app", "%s/*.log" % logs, 'from = "start"'))
    w = Writer(app, 2000, seconds=120)
    w.start()
    k = 0
    try:
        for _ in range(3):
            w.join(0.7)
            k += 1
            rename_rotate(app, k, w)
            w.join(0.3)
            pid = f.child_pid("tail")
            os.kill(pid, signal.SIGKILL)
            # The supervisor waits at least 1 s to start it again.
            k += 1
            rename_rotate(app, k, w)
            f.child_pid("tail", not_pid=pid, timeout=90)
        w.join(1.0)
    finally:
        lines = w.stop()
    check_history(f, app, lines)


def in_a_fragment(suite, logs, app):
    """
    A ferry whose log section "app" (*.log in logs) is a conf.d fragment,
    so it can be removed and put back; 300 lines in app, in the sink.
    f, the fragment, the section, the lines.
    """
    f = suite("", start=False)
    frag = f.etc / "conf.d" / "app.conf"
    section = log_section("app", "%s/*.log" % logs)
    frag.write_text(section + "\n")
    f.start()
    tail_started(f)
    want = numbered("before", 300)
    write_lines(app, want)
    wait_sink_lines(f, app, len(want), last=want[-1])
    return f, frag, section, want


def stop_tail(f, frag):
    """Stop ferry-tail for real: its log section (frag) removed, a reload."""
    frag.unlink()
    r = f.run("ferryctl", "reload")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: not tail_running(f), 30, what="ferry-tail to stop")


def start_tail(f, frag, section):
    """The log section back in frag, a reload: ferry-tail starts again."""
    frag.write_text(section + "\n")
    r = f.run("ferryctl", "reload")
    assert r.returncode == 0, r.stderr
    f.child_pid("tail", timeout=60)


def test_rotated_twice_while_stopped(suite, tmp_path):
    """
    ferry-tail is stopped for real (its log section removed, and a reload),
    the file is rotated twice (create-style renames, written between), and
    the section comes back: the checkpointed file is read on from its
    checkpoint, the file rotated in meanwhile whole, then the new one, in
    that order.
    """
    logs = logdir(tmp_path)
    app = logs / "app.log"
    f, frag, section, want = in_a_fragment(suite, logs, app)
    with open(app, "a") as fh:     # the application's descriptor
        fh.write("".join(l + "\n" for l in numbered("unread", 50)))
        want += numbered("unread", 50)
        stop_tail(f, frag)
        fh.write("".join(l + "\n" for l in numbered("while-down", 100)))
        want += numbered("while-down", 100)
    os.rename(app, logs / "app.log.1")
    second = numbered("second-file", 200)
    write_lines(app, second)
    want += second
    os.rename(logs / "app.log.1", logs / "app.log.2")
    os.rename(app, logs / "app.log.1")
    third = numbered("third-file", 100)
    write_lines(app, third)
    want += third
    start_tail(f, frag, section)
    more = numbered("after", 100)
    write_lines(app, more)
    want += more
    check_history(f, app, want)
    log = f.log_text("tail")
    assert "was rotated to %s.2 while ferry-tail was down" % app in log, log
    assert "%s.1 was rotated in while ferry-tail was down" % app in log, log


def restart_once_let_go(f, ino, other):
    """
    Wait until ferry-tail has let the file of inode ino go (deleted, 5 s
    after its last read; its row deleted) and another file (other, a line written to
    it now) has been checkpointed since, so the records the spool holds
    past the last commit no longer tell where the path stood; then kill -9
    ferry-tail and wait for its next start.
    """
    wait_for(lambda: not tail_rows(f, ino), 30, interval=0.2,
             what="the let-go file's checkpoint row to go")
    write_lines(other, ["another file"])
    wait_for(lambda: [r for r in tail_rows(f) if r[1] == str(other) and
                      r[3] == 2], 30, interval=0.2,
             what="the other file's checkpoint")
    kill_tail(f)


def test_restart_before_the_successor_is_written(suite, tmp_path):
    """
    A rename rotation (logrotate's create) while the application still
    writes into the old file; the new file stays empty until ferry-tail has
    let the old one go and restarted: the new file's lines number on after
    the old file's last, not from where the path stood when the new file
    appeared (the sink stores a line under host+file+line: a number given
    twice overwrites a line).
    """
    logs, app, f, want = app_started(suite, tmp_path, "old", 100)
    ino = app.stat().st_ino
    late = numbered("old-after-rename", 100)
    with paused(f):
        with open(app, "a") as old:
            os.rename(app, logs / "app.log.1")
            app.touch()
            old.write("".join(l + "\n" for l in late))
    want += late
    wait_sink_lines(f, app, len(want), last=want[-1])
    # Compressed away: a rotated file still at a name is kept a minute.
    (logs / "app.log.1").unlink()
    restart_once_let_go(f, ino, logs / "other.log")
    new = numbered("new", 100)
    write_lines(app, new)
    want += new
    check_history(f, app, want)


def test_delete_restart_recreate(suite, tmp_path):
    """
    The file is deleted, ferry-tail restarts while the path has no file,
    and a new file is made there: its lines number on after the deleted
    file's, so the sink's history of the path keeps both.
    """
    logs, app, f, want = app_started(suite, tmp_path, "deleted", 100)
    ino = app.stat().st_ino
    app.unlink()
    restart_once_let_go(f, ino, logs / "other.log")
    new = numbered("recreated", 100)
    write_lines(app, new)
    want += new
    check_history(f, app, want)


def test_kill_9_twice_while_the_rotated_file_is_written(suite, tmp_path):
    """
    The file is renamed (logrotate's create, before the application is told
    to reopen: it writes on into the renamed file) and ferry-tail is killed
    twice meanwhile: the renamed file's lines stay numbered under the path
    they were written at, across both starts.
    """
    logs = logdir(tmp_path)
    app = logs / "app.log"
    f = suite(log_section("app", "%s/*.log" % logs, 'from = "start"'))
    w = Writer(app, 1000, seconds=120)
    w.start()
    try:
        wait_for(lambda: sink_line_count(f, app) >= 200, 30, interval=0.1,
                 what="the first lines in the sink")
        os.rename(app, logs / "app.log.1")
        ino = (logs / "app.log.1").stat().st_ino
        kill_tail(f)
        # The restart found it beside its old name, and checkpointed it on.
        before = max([r[3] for r in tail_rows(f, ino)] or [0])
        wait_for(lambda: max([r[3] for r in tail_rows(f, ino)] or [0]) >
                 before + 100, 30, interval=0.2,
                 what="a later checkpoint of the renamed file")
        kill_tail(f)
        w.join(1.0)
        w.reopen()
        w.join(1.0)
    finally:
        lines = w.stop()
    check_history(f, app, lines)


def test_sink_down_for_30_s_during_rotations(suite, tmp_path):
    """
    The sink stops answering (SIGSTOP) for 30 s while the file is rotated
    every second: ferry-tail goes on into the spool, the forwarder holds
    the records, and once the sink is back the history arrives whole.
    """
    logs = logdir(tmp_path)
    app = logs / "app.log"
    f = suite(log_section("app", "%s/*.log" % logs, 'from = "start"'))
    sink = f.child_pid("sink")
    w = Writer(app, 1000, seconds=33)
    w.start()
    w.join(1.0)
    os.kill(sink, signal.SIGSTOP)
    k = 0
    try:
        while k < 30 and w.is_alive():
            w.join(1.0)
            k += 1
            rename_rotate(app, k, w)
        assert sink_line_count(f, app) < 2000
    finally:
        os.kill(sink, signal.SIGCONT)
    lines = w.finish()
    check_history(f, app, lines)


@pytest.mark.parametrize("nfiles,soft_limit", [(1000, None), (1100, 1024)])
def test_a_thousand_files_fifty_active(suite, tmp_path, nfiles, soft_limit):
    """
    One glob matches 1,000 files, 50 of them written on (20 lines a round
    each, for 20 rounds): every file's history arrives whole. And 1,100
    under a soft limit of 1,024 descriptors (systemd's default), with
    tail.max_open_files at its default (1024): ferry-tail makes room for
    its own descriptors rather than letting the spool, the database and
    glob() fail.
    """
    logs = logdir(tmp_path)
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft_limit is not None:
        if limit[1] != resource.RLIM_INFINITY and limit[1] < soft_limit:
            pytest.skip("the hard descriptor limit is below %d" % soft_limit)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft_limit, limit[1]))
    try:
        f = suite(log_section("app", "%s/*.log" % logs, 'from = "start"'))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, limit)
    files = [logs / ("f%04d.log" % i) for i in range(nfiles)]
    want = {}
    for p in files:
        want[p] = ["%s was made" % p.name]
        write_lines(p, want[p])
    active = files[::20]
    for r in range(20):
        for p in active:
            batch = ["%s round %02d line %02d" % (p.name, r, i)
                     for i in range(20)]
            write_lines(p, batch)
            want[p] += batch
        time.sleep(0.1)
    total = sum(len(v) for v in want.values())

    def stored():
        rows = ro_query(f.sink_db_path, "SELECT count(*) FROM logs WHERE "
                        "host = ?", (HOST,))
        return rows[0][0] if rows else 0
    wait_for(lambda: stored() >= total, DRAIN_TIMEOUT, interval=0.5,
             what="%d lines in the sink" % total)
    rows = ro_query(f.sink_db_path, "SELECT file, line, content FROM logs "
                    "WHERE host = ? ORDER BY file, line", (HOST,))
    got = {}
    for path, line, content in rows:
        got.setdefault(path, []).append((line, content))
    spooled = {}
    for seg in sorted(f.spool.glob("tail.*")):
        for raw in seg.read_text().splitlines():
            rec = json.loads(raw.partition(" ")[2])
            spooled.setdefault(rec["file"], []).append((rec["line"], rec["text"]))
    for p in files:
        expect = list(enumerate(want[p], 1))
        assert got.get(str(p)) == expect, "the sink's %s" % p
        assert spooled.get(str(p)) == expect, "the spool's %s" % p
    assert len(got) == len(files)
    # A few through the sink's rebuilt file too.
    for p in active[:3]:
        check_history(f, p, want[p])
    wait_counters(f, lambda c: c.get("files") == nfiles and
                  c.get("errors") == 0)


def test_long_line_and_last_line_without_newline(suite, tmp_path):
    """
    A 1 MiB line with log.max_line at its default (64 KiB) is cut: its
    record holds the first 64 KiB, the rest is skipped and counted, and the
    next line is whole with its own number. A last line without a newline
    goes after tail.partial_line_wait (1 s here).
    """
    logs = logdir(tmp_path)
    app = logs / "app.log"
    f = suite(log_section("app", "%s/*.log" % logs, 'from = "start"'),
              tail_conf="rescan_interval = 1 partial_line_wait = 1")
    big = "".join("%07d " % i for i in range(1 << 17))     # 1 MiB
    write_lines(app, ["before the long line", big, "after the long line"])
    want = ["before the long line", big[:64 << 10], "after the long line"]
    check_history(f, app, want)
    c = wait_counters(f, lambda c: c.get("lines") == 3)
    assert c["cut"] == 1, c
    with open(app, "a") as fh:
        fh.write("the last line, with no newline")
    t0 = time.monotonic()
    want.append("the last line, with no newline")
    check_history(f, app, want)
    assert time.monotonic() - t0 >= 0.9


def test_last_line_without_newline_then_rotation(suite, tmp_path):
    """
    The file ends in a line without a newline when it is rotated, and its
    successor has lines at once: that last line is numbered before them
    (the successor waits for it, tail.partial_line_wait at most).
    """
    logs, app, f, want = app_started(
        suite, tmp_path, "whole", 10,
        tail_conf="rescan_interval = 1 partial_line_wait = 1")
    new = numbered("successor", 10)
    with paused(f):
        with open(app, "a") as fh:
            fh.write("cut short by the rotation")
        os.rename(app, logs / "app.log.1")
        write_lines(app, new)
    want += ["cut short by the rotation"] + new
    check_history(f, app, want)


def test_multiline_stack_traces(suite, tmp_path):
    """
    multiline.start joins continuation lines (stack traces) into the record
    of the line before, up to multiline.max_lines (500): a 600-line trace
    is two records. The sink rebuilds the file as it was.
    """
    logs = logdir(tmp_path)
    app = logs / "app.log"
    f = suite(log_section("app", "%s/*.log" % logs,
                          'from = "start" multiline { start = "^[0-9]{4}-" }'),
              tail_conf="rescan_interval = 1 partial_line_wait = 1")
    want = []
    starts = 0
    for i in range(300):
        want.append("2026-12-03 10:%02d:%02d event %d" % (i // 60, i % 60, i))
        starts += 1
        if i % 10 == 3:
            want.append("java.lang.IllegalStateException: event %d" % i)
            want += ["\tat com.example.Foo.bar%d(Foo.java:%d)" % (i, n)
                     for n in range(8)]
        if i == 150:
            want += ["\tat deep.Recursion.level(R.java:%d)" % n
                     for n in range(600)]
    write_lines(app, want)
    check_history(f, app, want)
    rows = sink_rows(f, app)
    assert len(rows) == starts + 1, len(rows)
    # 30 traces, and the 600-line one in two records.
    traces = [c for _, c in rows if "\n" in c]
    assert len(traces) == 32, len(traces)
    assert max(c.count("\n") + 1 for _, c in rows) == 500


def test_redaction_and_sampling(suite, tmp_path):
    """
    Redaction rules apply in order (the second sees the first's output);
    sampling rules are first-match-wins: "GET /health" is kept at rate 0.1
    though the next rule (rate 1) matches it too; over 10,000 such lines
    the kept count is within 5 sigma of 1,000 and log.NAME.sampled_out
    counts the rest. Kept lines keep their own line numbers.
    """
    logs = logdir(tmp_path)
    app = logs / "app.log"
    body = ('from = "start" '
            'redact { match = "password=[^& ]*" replace = "password=***" } '
            'redact { match = "\\\\*\\\\*\\\\*" replace = "[redacted]" } '
            'redact { match = "user=([a-z]+)" replace = "user=<$1>" } '
            'sample { match = "GET /health" rate = 0.1 } '
            'sample { match = "GET /" rate = 1.0 }')
    f = suite(log_section("app", "%s/*.log" % logs, body))
    written, want, health = [], [], set()
    for i in range(11000):
        if i % 11 == 10:
            line = "GET /index?user=ann&password=hunter%d&x=%d 200" % (i, i)
            shown = "GET /index?user=<ann>&password=[redacted]&x=%d 200" % i
        else:
            line = shown = "GET /health %05d 200" % i
            health.add(line)
        written.append(line)
        want.append(shown)
    write_lines(app, written)
    got = check_history(f, app, want, may_miss=health, positions=True)
    kept = sum(1 for l in got if l in health)
    sigma = (10000 * 0.1 * 0.9) ** 0.5
    assert abs(kept - 1000) <= 5 * sigma, kept
    c = wait_counters(f, lambda c: c.get("lines") == 11000)
    assert c["sampled_out"] == 10000 - kept, (c, kept)
    assert c["records"] == 1000 + kept, c


# -- files ferry-tail had closed, compressed rotations, losses ----------------

def closed_by_the_cap(f, logs):
    """
    The files of logs followed so far are closed: tail.max_open_files = 1
    and a line written to another file takes the one descriptor.
    """
    other = logs / "other.log"
    write_lines(other, ["the other file"])
    wait_sink_lines(f, other, 1, last="the other file")


@pytest.mark.parametrize("how,unread", [("renamed", False),
                                        ("renamed", True),
                                        ("deleted", False),
                                        ("deleted", True)])
def test_rotation_of_a_closed_file(suite, tmp_path, how, unread):
    """
    A file ferry-tail had closed (idle, or for tail.max_open_files) is
    rotated and a new one made at its name. Renamed: the renamed one is
    found by its identity beside its old name and read to its end (lines
    written to it while it was closed included), then the new one, numbered
    on. Deleted: the new one is read at once; lines written to the old one
    while it was closed are lost, and that is said.
    """
    logs, app, f, want = app_started(
        suite, tmp_path, "first", 50,
        tail_conf="rescan_interval = 1 max_open_files = 1")
    closed_by_the_cap(f, logs)
    new = numbered("successor", 50)
    with paused(f):
        if unread:
            late = numbered("written-while-closed", 30)
            write_lines(app, late)
            if how == "renamed":
                want += late
        if how == "renamed":
            os.rename(app, logs / "app.log.1")
        else:
            app.unlink()
        write_lines(app, new)
    want += new
    check_history(f, app, want, timeout=20)
    said = "log app: %s went away while it was closed" % app
    if how == "deleted" and unread:
        wait_for(lambda: said in f.log_text("tail"), 10, what=said)
    else:
        assert said not in f.log_text("tail")


@pytest.mark.parametrize("fate", ["compressed", "xz", "deleted"])
def test_compressed_while_stopped(suite, tmp_path, fate):
    """
    ferry-tail is stopped with lines of its file unread; logrotate rotates
    the file with compress and no delaycompress (it is renamed, gzip'd and
    deleted), or the file is deleted, and a new file is written. At the
    next start the checkpointed file is found only compressed: its first
    bytes are ours, so its unread lines are read from the gzip'd copy, in
    their place before the new file's; compressed by xz (not read), or not
    found at all: its unread lines are lost, and that is said. Either way its row goes, and the new file
    numbers on after the old one's lines.
    """
    logs = logdir(tmp_path)
    app = logs / "app.log"
    f, frag, section, want = in_a_fragment(suite, logs, app)
    ino = app.stat().st_ino
    wait_for(lambda: [r for r in tail_rows(f, ino) if r[3] == 301], 30,
             interval=0.2, what="the file's checkpoint")
    stop_tail(f, frag)
    unread = numbered("unread", 50)
    write_lines(app, unread)
    new = numbered("after", 100)
    if fate != "deleted":
        ext = ".gz" if fate == "compressed" else ".xz"
        logrotate(tmp_path, app, ["rotate 5", "create", "compress",
                                  "nomail"] + ([] if ext == ".gz" else
                                  ["compresscmd /usr/bin/xz",
                                   "compressext .xz"]))
        assert sorted(p.name for p in logs.iterdir()) == ["app.log",
                                                          "app.log.1" + ext]
        write_lines(app, new)
        want += unread if fate == "compressed" else []
    else:
        # Made before the old one goes, so it cannot get its inode.
        write_lines(logs / "app.new", new)
        app.unlink()
        os.rename(logs / "app.new", app)
    start_tail(f, frag, section)
    want += new
    check_history(f, app, want)
    read = sum(len(l) + 1 for l in want[:300])
    if fate == "deleted":
        said = ("%s (read to byte %d) is not found beside its name: deleted "
                "or moved away while ferry-tail was down" % (app, read))
    elif fate == "xz":
        said = ("%s (read to byte %d) is not found: compressed to "
                "app.log.1.xz while ferry-tail was down; what it held past "
                "that is lost" % (app, read))
    else:
        said = ("%s was compressed to app.log.1.gz while ferry-tail was "
                "down: its %d unread bytes read from there"
                % (app, sum(len(l) + 1 for l in unread)))
    wait_for(lambda: said in f.log_text("tail"), 10, what=said)
    wait_for(lambda: not tail_rows(f, ino), 10, interval=0.2,
             what="the old file's checkpoint row to go")
    assert counters(f).get("lost_bytes") == 0


def test_symlink_target_rotated_in_an_unwatched_directory(suite, tmp_path):
    """
    The glob matches a symlink to a file in a directory the glob does not
    reach (logs/current.log -> targets/app.log), and the target is rotated
    there: renamed, a new file made at its name. Nothing changes in the
    link's directory, so only a watch on the target's directory sees it:
    the new file's lines arrive within seconds, not at the next rescan
    (60 s here), after the renamed file's last lines.
    """
    logs = logdir(tmp_path)
    targets = tmp_path / "targets"
    targets.mkdir()
    link = logs / "current.log"
    target = targets / "app.log"
    want = numbered("first-target", 100)
    write_lines(target, want)
    os.symlink(target, link)
    f = suite(log_section("app", "%s/*.log" % logs, 'from = "start"'),
              tail_conf="rescan_interval = 60")
    wait_sink_lines(f, link, len(want), last=want[-1])
    for k in range(3):
        new = numbered("target-%d" % k, 100)
        late = numbered("late-%d" % k, 20)
        # At once for ferry-tail, so the old file has the lines before.
        with paused(f), open(target, "a") as old:
            os.rename(target, targets / ("app.log.%d" % k))
            write_lines(target, new[:50])
            old.write("".join(l + "\n" for l in late))
        write_lines(target, new[50:])
        want += late + new
        wait_sink_lines(f, link, len(want), last=want[-1], timeout=10)
    check_history(f, link, want)


@pytest.mark.long(12)
def test_writer_on_the_old_descriptor_after_rename(suite, tmp_path):
    """
    logrotate's create renames the file and makes a new one, and the
    application (nginx before its USR1) writes on into the renamed file,
    quiet for longer than a few seconds between two writes, before it
    reopens: the renamed file is still followed, each line once, in order.
    """
    logs, app, f, want = app_started(suite, tmp_path, "before", 100)
    with open(app, "a") as old:
        os.rename(app, logs / "app.log.1")
        app.touch()
        for k in range(2):
            if k > 0:
                time.sleep(7)       # the application is quiet meanwhile
            burst = numbered("old-descriptor-%d" % k, 50)
            old.write("".join(l + "\n" for l in burst))
            old.flush()
            want += burst
            wait_sink_lines(f, app, len(want), last=want[-1], timeout=20)
    new = numbered("reopened", 100)
    write_lines(app, new)
    want += new
    check_history(f, app, want)


def test_a_file_matched_by_two_sections(suite, tmp_path):
    """
    Two log sections whose globs both match a file: it is followed once,
    by the first section (in the configuration's order), and said so;
    every line arrives once, under that section's key.
    """
    logs = logdir(tmp_path)
    app = logs / "app.log"
    f = suite(log_section("first", "%s/*.log" % logs, 'from = "start"') +
              "\n" + log_section("second", "%s/app*" % logs,
                                 'from = "start"'))
    want = numbered("shared", 200)
    write_lines(app, want)
    check_history(f, app, want)
    keys = {r["name"] for r in spool_records(f, app)}
    assert keys == {"first"}, keys
    log = f.log_text("tail")
    assert 'log second: %s is followed by log "first" already' % app in log


def read_bytes(pid):
    """Bytes the process has read (rchar of /proc/PID/io)."""
    for line in Path("/proc/%d/io" % pid).read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def test_truncated_before_it_was_read(suite, tmp_path):
    """
    A large file is truncated (no copy beside it) while ferry-tail is still
    reading it: what it had seen of the file and not read yet is lost, said
    once with its size and counted in lost_bytes; the lines written after
    the truncation follow the ones read, numbered on, none twice.
    """
    logs, app, f, want = app_started(suite, tmp_path, "small", 10)
    pid = f.child_pid("tail")
    big = ["big %06d %s" % (i, "y" * 2000) for i in range(16000)]
    before = read_bytes(pid)
    write_lines(app, big)
    wait_for(lambda: read_bytes(pid) - before > (4 << 20), 30, interval=0.01,
             what="ferry-tail to read into the large file")
    after = numbered("after-truncation", 20)
    with paused(f):
        write_lines(app, after, mode="w")
    c = wait_counters(f, lambda c: c.get("lost_bytes", 0) > 0 and
                      c.get("records", 0) >= 10 + len(after))
    wait_for(lambda: after[-1] in {r["text"] for r in spool_records(f, app)},
             30, interval=1, what="the last line in the spool")
    shipped = [r["text"] for r in spool_records(f, app)]
    # The line being read when the file was truncated goes as it was.
    whole = set(big)
    cut = [i for i, l in enumerate(shipped) if l.startswith("big ") and
           l not in whole]
    assert len(cut) <= 1 and all(big[int(shipped[i].split()[1])].startswith(
        shipped[i]) for i in cut), cut
    for i in cut:
        del shipped[i]
    have = set(shipped)
    unread = [l for l in big if l not in have]
    assert unread, "ferry-tail read the whole file before it was truncated"
    compare("the spool's %s" % app, shipped, want + big + after,
            may_miss=set(unread))
    assert c["lost_bytes"] <= sum(len(l) + 1 for l in unread), c
    log = f.log_text("tail")
    said = ("%s was truncated before it was read to its end, and no copy of "
            "it was found: %d bytes unread, lost" % (app, c["lost_bytes"]))
    assert log.count(said) == 1, log
    status = f.run("ferryctl", "status").stdout
    assert "of its files went unread" in status, status


def test_copytruncate_compressed_at_once(suite, tmp_path):
    """
    logrotate's copytruncate with compress and no delaycompress, done while
    ferry-tail has lines of the file unread: the copy is gzip'd (and the
    plain copy deleted) before ferry-tail sees the truncation, so what it
    had not read is read from the .gz, whose first bytes are the file's;
    nothing is lost, nothing sent twice.
    """
    logs, app, f, want = app_started(suite, tmp_path, "before", 100)
    unread = numbered("unread", 60)
    new = numbered("after", 40)
    with paused(f):
        write_lines(app, unread)
        logrotate(tmp_path, app, ["rotate 5", "copytruncate", "compress",
                                  "nomail"])
        assert sorted(p.name for p in logs.iterdir()) == ["app.log",
                                                          "app.log.1.gz"]
        write_lines(app, new)
    want += unread + new
    check_history(f, app, want)
    assert "read from the compressed copy %s.1.gz" % app in f.log_text("tail")
    assert counters(f).get("lost_bytes") == 0


def hand_made_segment(spool, seq, first, n, path="/hold/app.log"):
    """spool/tail.<seq>: n log records of path, lines first.. first+n-1."""
    recs = []
    for i in range(first, first + n):
        rec = {"name": "app", "host": HOST, "file": path, "line": i,
               "offset": (i - 1) * 10, "end": i * 10, "fid": "1:2",
               "time": 1796000000.0, "attrs": {}, "text": "held %06d" % i}
        recs.append("systail.app.%s %s\n" % (HOST, json.dumps(rec)))
    (spool / ("tail.%016d" % seq)).write_text("".join(recs))


def set_hold(f, seq):
    import sqlite3
    db = sqlite3.connect(str(f.db_path), timeout=10)
    try:
        db.execute("CREATE TABLE IF NOT EXISTS spool_hold (stream TEXT "
                   "PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID")
        db.execute("INSERT OR REPLACE INTO spool_hold (stream, seq) "
                   "VALUES ('tail', ?)", (seq,))
        db.commit()
    finally:
        db.close()


def test_the_forwarder_keeps_the_segments_a_hold_names(start_ferry):
    """
    ferry-tail reads back, at a start, what it wrote after its last
    checkpoint, so each commit holds the "tail" stream from its segment on
    (spool_hold in ferry.db): the forwarder deletes none of those segments,
    delivered or not, and deletes them once the hold moves past them. The
    segments and the hold are made by hand here (no log section, so no
    ferry-tail), so what the forwarder does is seen alone.
    """
    f = start_ferry(start=False)
    f.spool.mkdir(parents=True, exist_ok=True)
    for seq in range(1, 5):
        hand_made_segment(f.spool, seq, (seq - 1) * 10 + 1, 10)
    set_hold(f, 2)
    f.start()
    wait_sink_lines(f, "/hold/app.log", 40, last="held 000040")
    seg = lambda seq: f.spool / ("tail.%016d" % seq)  # noqa: E731
    wait_for(lambda: not seg(1).exists(), 30, what="tail.1 (passed, not "
             "held) to be deleted")
    assert seg(2).exists() and seg(3).exists(), \
        "a segment the hold names was deleted"

    # The hold moves on; the next segment passed makes the forwarder look.
    set_hold(f, 4)
    hand_made_segment(f.spool, 5, 41, 10)
    wait_sink_lines(f, "/hold/app.log", 50, last="held 000050")
    wait_for(lambda: not seg(2).exists() and not seg(3).exists(), 30,
             what="tail.2 and tail.3, no longer held, to be deleted")
    assert seg(4).exists(), "tail.4, still held, was deleted"


def test_each_commit_holds_the_tail_stream_from_its_segment(suite, tmp_path):
    """
    Each ferry-tail commit writes its hold: the segment of the newest
    checkpoint's position, so the records after it are still in the spool
    at the next start.
    """
    logs, app, f, want = app_started(suite, tmp_path, "hold", 300)

    def hold_is_newest_position():
        rows = ro_query(f.db_path, "SELECT (SELECT seq FROM spool_hold WHERE "
                        "stream = 'tail'), (SELECT max(spool_seq) FROM tail)")
        return rows and rows[0][0] is not None and rows[0][0] == rows[0][1]
    wait_for(hold_is_newest_position, 30, what="ferry-tail's hold at its "
             "newest checkpoint's segment")

"""
The log sections in `ferryctl status` and in the heartbeat: for each
configured log "NAME" section, what ferry-tail last published of it (files
followed, lines and bytes read, lag behind the files' ends, lines cut,
sampled out, rotations, lost bytes, errors), and a status that is degraded
while a section has errors, pointing at ferry-tail's log for which file and
why.

A file that appears after ferry-tail's first scan is read from its
beginning, so each test waits for ferry-tail to have published its
counters (its first scan is done by then) before it makes files. The tests
run as root, which reads a file whatever its mode; the unreadable file is
made so by starting ferry without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
(setpriv), so that its mode is obeyed as it would be for the ferry user.
"""
import json
import os
import re
import shutil

import pytest

from conftest import wait_for

ARRIVAL = 60.0      # ASan builds on two shared cores


def status(f):
    """(exit status, parsed JSON) of `ferryctl status --json`."""
    r = f.run("ferryctl", "status", "--json")
    assert "AddressSanitizer" not in r.stderr, r.stderr
    return r.returncode, json.loads(r.stdout)


def log_entry(st, name):
    for e in st["logs"] or []:
        if e["name"] == name:
            return e
    return None


def log_conf(name, logdir, extra=""):
    return 'log "%s" { path = "%s/*.log" %s }\n' % (name, logdir, extra)


def wait_published(f, name):
    """ferry-tail runs and has published the section (its first scan is done)."""
    f.child_pid("tail")
    return wait_for(lambda: (lambda e: e is not None and e["published"] and e)(
        log_entry(status(f)[1], name)), ARRIVAL, interval=0.2,
        what="ferry-tail's counters for log %s" % name)


def wait_entry(f, name, pred, what):
    """The section's entry once pred(entry) holds."""
    def check():
        e = log_entry(status(f)[1], name)
        return e is not None and e["published"] and pred(e) and e
    return wait_for(check, ARRIVAL, interval=0.2, what=what)


def put_file(path, data, mode=0o644):
    """Make path whole at once (written beside it, then renamed in)."""
    tmp = path.parent / (".%s.tmp" % path.name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def test_status_shows_a_log_section(start_ferry, tmp_path):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    # A line over max_line is cut; DEBUG lines are all sampled out.
    f = start_ferry(start=False)
    f.write_config(
        log_conf("app", logdir, 'max_line = 256 '
                 'sample { match = "DEBUG" rate = 0 }') +
        log_conf("idle", tmp_path / "none") +
        'periodic { heartbeat_url = "http://127.0.0.1:%d/beat" '
        'heartbeat_interval = 1 }\n' % f.sink_port)
    f.start()
    e = wait_published(f, "app")
    assert e["files"] == 0 and e["lines"] == 0 and e["errors"] == 0

    lines = ["line %d of app" % i for i in range(40)]
    lines += ["DEBUG %d" % i for i in range(5)] + ["y" * 1000]
    data = "".join(l + "\n" for l in lines).encode()
    put_file(logdir / "a.log", data)
    e = wait_entry(f, "app", lambda e: e["lines"] == len(lines),
                   "every line of a.log read")
    assert e["files"] == 1
    assert e["bytes"] == len(data)
    assert e["records"] == len(lines) - 5
    assert e["sampled_out"] == 5
    assert e["cut"] == 1
    assert e["lag_bytes"] == 0
    assert e["errors"] == 0 and e["lost_bytes"] == 0
    assert e["path"] == "%s/*.log" % logdir
    idle = log_entry(status(f)[1], "idle")
    assert idle["published"] and idle["files"] == 0 and idle["lines"] == 0

    # A rename rotation: the old file is read to its end, the new one too.
    os.rename(logdir / "a.log", logdir / "a.log.1")
    put_file(logdir / "a.log", b"after rotation\n")
    e = wait_entry(f, "app", lambda e: e["lines"] == len(lines) + 1 and
                   e["rotations"] >= 1, "the rotation seen")

    rc, st = status(f)
    assert not any(r.startswith("log ") for r in st["reasons"]), st["reasons"]
    r = f.run("ferryctl", "status")
    assert re.search(r"^LOG +FILES +LINES +BYTES +LAG +CUT +SAMPLED +"
                     r"ROTATIONS +LOST +ERRORS +PATH$", r.stdout, re.M), r.stdout
    assert re.search(r"^app +\d+ +%d +" % (len(lines) + 1), r.stdout,
                     re.M), r.stdout
    assert re.search(r"^idle +0 +0 +0 B +0 B ", r.stdout, re.M), r.stdout
    assert "errors: ferry-tail's log" not in r.stdout

    # The heartbeat carries the same object for each section.
    def beat_logs():
        try:
            beat = json.loads(f.http_get("/beat?host=systest"))[0]["beat"]
        except (OSError, ValueError, IndexError, KeyError):
            return None
        logs = {e["name"]: e for e in beat.get("logs", [])}
        a = logs.get("app")
        return a is not None and a["lines"] == len(lines) + 1 and logs
    logs = wait_for(beat_logs, ARRIVAL, interval=0.2,
                    what="a heartbeat with the log section's counters")
    assert set(logs) == {"app", "idle"}
    assert logs["app"]["sampled_out"] == 5 and logs["app"]["cut"] == 1
    assert logs["app"]["errors"] == 0 and logs["app"]["published"] is True

    # Down: the counters ferry-tail last published, and it says so.
    assert f.stop() == 0
    rc, st = status(f)
    assert rc == 2
    assert log_entry(st, "app")["lines"] == len(lines) + 1
    r = f.run("ferryctl", "status")
    assert "ferry-tail is not running: the counters are the last it " \
        "published" in r.stdout, r.stdout


def test_status_before_ferry_tail_published(start_ferry, tmp_path):
    # Never started: each configured section, with nothing counted yet.
    f = start_ferry(log_conf("app", tmp_path), start=False)
    rc, st = status(f)
    assert rc == 2
    e = log_entry(st, "app")
    assert e["published"] is False and e["lines"] is None
    assert e["errors"] is None
    r = f.run("ferryctl", "status")
    assert re.search(r"^app +- +- +- ", r.stdout, re.M), r.stdout
    assert "ferry-tail is not running: it has published no counters" in r.stdout


def test_unreadable_file_is_one_error_and_degrades(start_ferry, tmp_path):
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("root reads any file, and setpriv is not there to stop it")
    logdir = tmp_path / "logs"
    logdir.mkdir()
    f = start_ferry(log_conf("app", logdir), start=False)
    if os.geteuid() == 0:
        f.launcher = [shutil.which("setpriv"),
                      "--bounding-set=-dac_override,-dac_read_search"]
    f.start()
    wait_published(f, "app")
    rc, st = status(f)
    assert not any(r.startswith("log ") for r in st["reasons"]), st["reasons"]

    # Mode 0 from its first byte on: never readable, not even for a moment.
    secret = logdir / "secret.log"
    put_file(secret, b"hidden line\n", mode=0)
    e = wait_entry(f, "app", lambda e: e["errors"] > 0, "the error counted")
    assert e["errors"] == 1
    assert e["lag_bytes"] == len(b"hidden line\n")     # unread, and known

    def degraded():
        rc, st = status(f)
        return rc == 1 and st["status"] == "degraded" and st
    st = wait_for(degraded, ARRIVAL, interval=0.2, what="status degraded")
    tail_log = f.logdir / "tail.log"
    (why,) = [r for r in st["reasons"] if r.startswith("log app:")]
    assert why == "log app: 1 error reading its files (see %s)" % tail_log
    r = f.run("ferryctl", "status")
    assert r.returncode == 1
    assert "errors: ferry-tail's log says which file and why: %s" % tail_log \
        in r.stdout, r.stdout
    assert re.search(r"^app +1 +0 +.* 1 +%s$" % re.escape("%s/*.log" % logdir),
                     r.stdout, re.M), r.stdout

    # ferry-tail keeps trying it; a readable file's line, read after that,
    # shows the error was said and counted once, not at every try.
    put_file(logdir / "open.log", b"plain line\n")
    e = wait_entry(f, "app", lambda e: e["lines"] == 1, "open.log read")
    assert e["errors"] == 1 and e["files"] == 2
    said = [l for l in f.log_text("tail").splitlines() if "cannot read" in l]
    assert len(said) == 1 and str(secret) in said[0], said

    # Readable again: read whole, and said so. The count is a total since
    # ferry-tail started, so status stays degraded until it restarts.
    os.chmod(secret, 0o644)
    e = wait_entry(f, "app", lambda e: e["lines"] == 2, "secret.log read")
    assert e["lag_bytes"] == 0 and e["errors"] == 1
    assert "%s is readable again" % secret in f.log_text("tail")
    assert status(f)[0] == 1


def test_lag_while_a_big_file_is_read(start_ferry, tmp_path):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    # Every line sampled out: ferry-tail reads and counts them all, and
    # nothing reaches the spool, so the forwarder and the sink stay idle.
    f = start_ferry(log_conf("app", logdir, 'sample { match = "z" rate = 0 }'))
    wait_published(f, "app")
    # 32 MiB in a million lines: seconds for an ASan ferry-tail, which
    # publishes its counters every second while it reads.
    line = b"z" * 31 + b"\n"
    data = line * (1 << 20)
    put_file(logdir / "big.log", data)
    lags = []

    def done():
        e = log_entry(status(f)[1], "app")
        if e is None or not e["published"] or e["files"] == 0:
            return False
        lags.append(e["lag_bytes"])
        return e["bytes"] == len(data) and e
    e = wait_for(done, ARRIVAL, interval=0.1, what="big.log read whole")
    assert e["lag_bytes"] == 0 and e["lines"] == 1 << 20
    assert e["sampled_out"] == 1 << 20 and e["records"] == 0
    # What is left of a file that does not grow only shrinks.
    assert all(0 <= l <= len(data) for l in lags), lags
    assert lags == sorted(lags, reverse=True), lags
    if max(lags) == 0:
        pytest.skip("ferry-tail read the file within a second, before it "
                    "published a lag (a fast build): nothing to see")

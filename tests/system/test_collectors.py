"""
ferry-collectors under a real supervisor: executables dropped into
collectors.d, run on a short interval, their metrics followed to the sink.

Each collector here is a small /bin/sh script written into the suite's
collectors.d (under a temporary name, then renamed into place, as an
operator's package manager would). Timing claims are checked on what the
runner itself stamps: a metric without a timestamp gets the wall-clock
second at which its line was read, so the sink's timestamps say when a
collector ran, whatever the delivery latency of an ASan build on shared
cores. Counters come from `ferryctl status --json` (the self-metrics of
the "collectors" process).
"""
import os
import signal
import time
from pathlib import Path

import pytest

from conftest import ferry_bin, pid_alive, wait_for

PREFIX = "servers.systest."
ARRIVAL = 30.0          # delivery through forwarder and sink, ASan, 2 cores


def require_runner():
    if not os.access(ferry_bin() / "ferry-collectors", os.X_OK):
        pytest.skip("not built in %s: ferry-collectors" % ferry_bin())


def collectors_d(f):
    return f.etc / "collectors.d"


def write_collector(f, name, body, mode=0o755):
    """Write an executable script into collectors.d, renamed into place."""
    d = collectors_d(f)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / (".%s.tmp" % name)
    tmp.write_text("#!/bin/sh\n" + body)
    os.chmod(tmp, mode)
    os.rename(tmp, d / name)
    return d / name


def suite(start_ferry, conf=""):
    """A suite whose collectors.d exists before ferry-collectors starts."""
    require_runner()
    f = start_ferry(conf, start=False)
    collectors_d(f).mkdir(parents=True, exist_ok=True)
    f.start()
    f.child_pid("collectors")
    return f


def counters(f):
    return f.counters("collectors")


def timestamps(f, name):
    """The sorted timestamps stored in the sink for one metric name."""
    return [ts for ts, _ in f.sink_points(PREFIX + name).get(PREFIX + name, [])]


def log(f):
    return f.log_text("collectors")


@pytest.mark.long(12)
def test_dropped_in_script_runs_within_two_intervals_and_stops_when_removed(
        start_ferry):
    interval = 2
    f = suite(start_ferry, "collectors { interval = %d timeout = 1 }\n" % interval)
    dropped = time.time()
    write_collector(f, "hello", 'echo "coll.hello.value 42"\n')

    f.wait_sink_count(PREFIX + "coll.hello.value", 1, timeout=ARRIVAL)
    first = timestamps(f, "coll.hello.value")[0]
    # Its first run: within two intervals of the drop (whole seconds).
    assert first <= int(dropped) + 2 * interval + 1, (first, dropped)
    points = f.sink_points(PREFIX + "coll.hello.value")
    assert points[PREFIX + "coll.hello.value"][0][1] == 42

    # It keeps running every interval.
    f.wait_sink_count(PREFIX + "coll.hello.value", 3, timeout=ARRIVAL)

    (collectors_d(f) / "hello").unlink()
    removed = time.time()
    wait_for(lambda: "collector hello: its file is gone" in log(f), 10,
             what="the removal in collectors.log")
    # Three intervals later nothing newer than the removal has arrived
    # (a run already under way may still land in the second it ended).
    time.sleep(3 * interval)
    f.send_tcp(["sys.collectors.marker 1"])
    f.wait_sink_count("sys.collectors.marker", 1, timeout=ARRIVAL)
    late = [ts for ts in timestamps(f, "coll.hello.value") if ts > removed + 1]
    assert late == [], late


@pytest.mark.long(10)
def test_timeout_kills_the_group_while_a_neighbour_keeps_reporting(
        start_ferry, tmp_path):
    pids = tmp_path / "sleeper.pids"
    f = suite(start_ferry,
              "collectors { interval = 1 timeout = 5 }\n"
              'collector "sleeper" { interval = 2 timeout = 1 }\n')
    write_collector(f, "tick", 'echo "coll.tick.alive 1"\n')
    # A helper in the background and a main process, both asleep for good.
    write_collector(f, "sleeper",
                    'sleep 1000 &\n'
                    'echo $$ $! >> %s\n'
                    'echo "coll.sleeper.started 1"\n'
                    'exec sleep 1000\n' % pids)

    wait_for(lambda: counters(f).get("sleeper.timeouts", 0) >= 2, ARRIVAL,
             interval=0.5, what="two timeouts of sleeper")
    text = log(f)
    assert "collector sleeper timed out after 1 s; killed its process group" in text
    # Logged when the streak starts, not at every run.
    assert text.count("collector sleeper timed out") == 1

    # Every process of every timed-out run is gone, helper included.
    runs = [tuple(int(p) for p in l.split()) for l in pids.read_text().splitlines()]
    assert len(runs) >= 2
    for pid_pair in runs[:-1]:
        for pid in pid_pair:
            wait_for(lambda: not pid_alive(pid), 5,
                     what="pid %d of a timed-out run to be gone" % pid)

    # What the sleeper printed before it hung still counts.
    f.wait_sink_count(PREFIX + "coll.sleeper.started", 1, timeout=ARRIVAL)

    # The neighbour reported every interval all along: no gap in its
    # seconds beyond an interval (and one for rounding).
    t0 = time.time()
    f.wait_sink_count(PREFIX + "coll.tick.alive", 8, timeout=ARRIVAL)
    ts = timestamps(f, "coll.tick.alive")
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    assert max(gaps) <= 2, ts

    # Stopping ferry leaves no collector process behind.
    assert f.stop() == 0
    for pid_pair in runs:
        for pid in pid_pair:
            wait_for(lambda: not pid_alive(pid), 5,
                     what="pid %d gone after stop" % pid)
    assert time.time() - t0 < ARRIVAL + 30


def test_a_million_lines_are_cut_at_max_lines_and_counted(start_ferry):
    f = suite(start_ferry,
              "collectors { interval = 1 }\n"
              'collector "flood" { interval = 3 timeout = 2.5 max_lines = 1000\n'
              '  max_bytes_per_second = 64M }\n')
    write_collector(f, "tick", 'echo "coll.tick.alive 1"\n')
    write_collector(f, "flood",
                    "awk 'BEGIN { for (i = 0; i < 1000000; i++) "
                    "printf \"coll.flood.l%d 1\\n\", i }'\n")

    # Each run: exactly max_lines taken, the rest cut, nothing rejected.
    # (A snapshot taken in the middle of a run is waited past.)
    def whole_runs():
        c = counters(f)
        cut, lines = c.get("flood.cut", 0), c.get("flood.lines", 0)
        return (cut >= 999000 and cut % 999000 == 0 and
                lines == cut // 999 and c)
    c = wait_for(whole_runs, ARRIVAL, interval=0.5,
                 what="flood.cut a multiple of 999000")
    assert not any(k.startswith("flood.rejected") for k in c)
    assert c.get("flood.timeouts", 0) == 0, c
    assert c["flood.runs"] >= c["flood.lines"] // 1000
    # The first 1000 names of a run reach the sink, none past them.
    f.wait_sink_count(PREFIX + "coll.flood.l", 1000, timeout=ARRIVAL)
    names = f.sink_points(PREFIX + "coll.flood.l")
    assert PREFIX + "coll.flood.l999" in names
    assert PREFIX + "coll.flood.l1000" not in names
    assert "lines cut (max_lines = 1000 per run)" in log(f)
    # The neighbour was not held up.
    f.wait_sink_count(PREFIX + "coll.tick.alive", 5, timeout=ARRIVAL)
    ts = timestamps(f, "coll.tick.alive")
    assert max(b - a for a, b in zip(ts, ts[1:])) <= 2, ts


def test_garbage_and_invalid_lines_are_rejected_and_counted(start_ferry):
    f = suite(start_ferry, "collectors { interval = 1 }\n")
    write_collector(f, "garbage",
                    # binary noise, with and without newlines
                    r"printf '\001\002\377\376 3\n\000\033[2J\n'" "\n"
                    r"head -c 300 /dev/urandom | tr -d '\n'; echo" "\n"
                    'echo "just-one-field"\n'
                    'echo "coll.garbage.bad notanumber"\n'
                    'echo "coll.garbage.badts 1 yesterday"\n'
                    'echo "a b c d"\n'
                    'echo ""\n'
                    "printf 'coll.garbage.%05000d 1\\n' 0\n"
                    'echo "coll.garbage.good 7"\n'
                    'echo "an error message" >&2\n'
                    'exit 3\n')

    want = ("bad_name", "bad_format", "bad_value", "bad_timestamp", "too_long")
    c = wait_for(lambda: (lambda c: all(c.get("garbage.rejected." + r, 0) >= 1
                                        for r in want) and c)(counters(f)),
                 ARRIVAL, interval=0.5, what="each reject reason counted")
    assert c["garbage.failures"] >= 1
    # The valid line among them still arrives.
    f.wait_sink_count(PREFIX + "coll.garbage.good", 1, timeout=ARRIVAL)
    assert set(f.sink_points(PREFIX + "coll.garbage.")) == {
        PREFIX + "coll.garbage.good"}
    text = log(f)
    assert 'collector garbage: rejected (bad_value): "coll.garbage.bad notanumber"' in text
    assert "collector garbage: an error message" in text
    assert "collector garbage exited with status 3" in text


def test_world_writable_collector_is_refused_with_a_clear_log_line(start_ferry):
    f = suite(start_ferry, "collectors { interval = 1 scan_interval = 1 }\n")
    path = write_collector(f, "unsafe", 'echo "coll.unsafe.ran 1"\n', mode=0o777)
    os.chmod(path, 0o777)       # past the umask
    write_collector(f, "tick", 'echo "coll.tick.alive 1"\n')

    line = "refusing to run collector %s: it is world-writable" % path
    wait_for(lambda: line in log(f), 15, what="the refusal in collectors.log")
    f.wait_sink_count(PREFIX + "coll.tick.alive", 3, timeout=ARRIVAL)
    assert f.sink_count(PREFIX + "coll.unsafe.") == 0
    # Once, not at every scan.
    assert log(f).count(line) == 1

    # Fixed, it runs.
    os.chmod(path, 0o755)
    f.wait_sink_count(PREFIX + "coll.unsafe.ran", 1, timeout=ARRIVAL)


def test_daemon_killed_by_hand_is_restarted(start_ferry, tmp_path):
    pidfile = tmp_path / "daemon.pid"
    f = suite(start_ferry,
              'collector "beater" { mode = "daemon" interval = 1 }\n')
    write_collector(f, "beater",
                    'echo $$ > %s.new && mv %s.new %s\n'
                    'while :; do echo "coll.beater.beat $$"; sleep 0.3; done\n'
                    % (pidfile, pidfile, pidfile))

    first = wait_for(lambda: pidfile.exists() and int(pidfile.read_text()),
                     ARRIVAL, what="the daemon's pid")
    f.wait_sink_count(PREFIX + "coll.beater.beat", 2, timeout=ARRIVAL)
    wait_for(lambda: counters(f).get("beater.runs") == 1, 10, interval=0.5,
             what="beater.runs == 1")
    # A daemon's last run is its last batch; a run that never ends has no
    # duration.
    c = wait_for(lambda: (lambda c: c.get("beater.last_run") and c)(
        counters(f)), 10, interval=0.5, what="beater.last_run")
    assert time.time() - 20 <= c["beater.last_run"] <= time.time() + 1, c
    assert "beater.duration_ms" not in c

    os.kill(first, signal.SIGKILL)
    killed = time.time()
    second = wait_for(lambda: (lambda p: p != first and p)(
        int(pidfile.read_text() or 0)), 15, what="a new daemon pid")
    assert pid_alive(second) and not pid_alive(first)
    assert "collector beater (daemon, pid %d) was killed by signal 9" % first in log(f)
    assert "restarting in 1 s" in log(f)

    # Its beats continue, from the new process.
    def new_beats():
        pts = f.sink_points(PREFIX + "coll.beater.beat").get(
            PREFIX + "coll.beater.beat", [])
        return [ts for ts, v in pts if v == second and ts > killed]
    wait_for(new_beats, ARRIVAL, what="beats from the restarted daemon")
    # The counters travel in a stream of their own, written within a second.
    c = wait_for(lambda: (lambda c: c.get("beater.restarts", 0) >= 1 and c)(
        counters(f)), 10, interval=0.5, what="beater.restarts >= 1")
    assert c.get("beater.failures", 0) >= 1

    # An upgrade of its file restarts it too, at once, and not as a failure.
    failures = c["beater.failures"]
    write_collector(f, "beater",
                    'echo $$ > %s.new && mv %s.new %s\n'
                    'while :; do echo "coll.beater.v2 1"; sleep 0.3; done\n'
                    % (pidfile, pidfile, pidfile))
    third = wait_for(lambda: (lambda p: p not in (first, second) and p)(
        int(pidfile.read_text() or 0)), 15, what="the upgraded daemon's pid")
    wait_for(lambda: not pid_alive(second), 5, what="the old daemon gone")
    assert "collector beater changed on disk; restarting it" in log(f)
    f.wait_sink_count(PREFIX + "coll.beater.v2", 1, timeout=ARRIVAL)
    assert pid_alive(third)
    assert counters(f)["beater.failures"] == failures


def test_drop_dir_file_is_ingested_once_then_removed(start_ferry):
    f = suite(start_ferry)
    drop = f.var / "drop"
    drop.mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    lines = ["drop.test.m%d %d %d" % (i, i, now - i) for i in range(50)]
    tmp = drop / ".batch.tmp"
    tmp.write_text("\n".join(lines) + "\nnot a metric line\n")
    os.rename(tmp, drop / "batch")
    # A file still being written under a dot name is not touched.
    (drop / ".partial").write_text("drop.partial.x 1\n")

    f.wait_sink_count("drop.test.m", 50, timeout=ARRIVAL)
    wait_for(lambda: not (drop / "batch").exists(), 10, what="the file removed")
    c = wait_for(lambda: (lambda c: c.get("dropdir.files") == 1 and c)(
        counters(f)), 15, interval=0.5, what="dropdir.files == 1")
    assert c["dropdir.lines"] == 50
    assert c["dropdir.rejected.bad_format"] == 1
    # A file written in place (no rename) is taken once its size is stable.
    (drop / "plain").write_text("drop.plain.x 5 %d\n" % now)
    f.wait_sink_count("drop.plain.x", 1, timeout=ARRIVAL)
    # Once: a while later, nothing more was ingested.
    time.sleep(3)
    c = counters(f)
    assert c["dropdir.files"] == 2 and c["dropdir.lines"] == 51
    assert (drop / ".partial").exists()
    assert f.sink_count("drop.partial") == 0
    assert sorted(p.name for p in drop.iterdir()) == [".partial"]
    assert f.sink_points("drop.test.m7")["drop.test.m7"] == [(now - 7, 7)]


def test_drop_dir_burst_and_a_recreated_dir_are_taken_promptly(start_ferry):
    """
    The drop directory is read on inotify events, not on a clock: more
    files renamed in at once than the runner queues (32) are all taken
    soon, and so is a file in a drop directory removed and made again
    (its watch is set up anew). "Soon" is well under the 30 s safety
    sweep that would otherwise find them.
    """
    f = suite(start_ferry)
    drop = f.var / "drop"
    drop.mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    n = 40
    for i in range(n):
        tmp = drop / (".burst%d.tmp" % i)
        tmp.write_text("drop.burst.m%d %d %d\n" % (i, i, now))
        os.rename(tmp, drop / ("burst%d" % i))
    t0 = time.monotonic()
    wait_for(lambda: not [p for p in drop.iterdir() if p.name.startswith("burst")],
             10, what="all %d burst files taken" % n)
    print("drop burst: %d files taken in %.1f s" % (n, time.monotonic() - t0))
    f.wait_sink_count("drop.burst.m", n, timeout=ARRIVAL)

    drop.rmdir()
    wait_for(lambda: "drop directory" in log(f), 10, what="the missing directory")
    drop.mkdir()
    tmp = drop / ".again.tmp"
    tmp.write_text("drop.again.x 1 %d\n" % now)
    os.rename(tmp, drop / "again")
    wait_for(lambda: not (drop / "again").exists(), 10,
             what="a file in the recreated drop directory taken")
    f.wait_sink_count("drop.again.x", 1, timeout=ARRIVAL)


def spool_text(f, stream="collectors."):
    """What the spool segments of a stream hold now."""
    out = []
    for p in sorted(f.spool.glob(stream + "*")):
        try:
            out.append(p.read_bytes())
        except FileNotFoundError:
            continue
    return b"".join(out)


@pytest.mark.serial
def test_daemon_lines_reach_the_spool_file_within_100ms(start_ferry, tmp_path):
    """
    The receiver's promise holds for collectors too: a line a collector
    prints is in the spool file within 100 ms (the runner writes what it
    holds after 50 ms). The daemon is cat on a FIFO this test writes to,
    so the test knows to the millisecond when each line was printed.
    """
    fifo = tmp_path / "lines.fifo"
    os.mkfifo(str(fifo))
    f = suite(start_ferry, 'collector "relay" { mode = "daemon" }\n')
    write_collector(f, "relay", "exec cat %s\n" % fifo)
    fd = os.open(str(fifo), os.O_WRONLY)     # until the daemon opened it
    delays = []
    try:
        for i in range(10):
            mark = ("coll.relay.m%d %d" % (i, i)).encode()
            t0 = time.monotonic()
            os.write(fd, mark + b"\n")
            wait_for(lambda: (PREFIX.encode() + mark) in spool_text(f), 5,
                     interval=0.002, what="line %d in the spool file" % i)
            delays.append(time.monotonic() - t0)
            time.sleep(0.05)
    finally:
        os.close(fd)
    delays.sort()
    print("collector line -> spool file: median %.0f ms, max %.0f ms"
          % (delays[len(delays) // 2] * 1000, delays[-1] * 1000))
    assert delays[len(delays) // 2] <= 0.1, delays
    assert delays[-1] <= 0.3, delays     # ASan builds on two shared cores


def test_archive_log_gets_every_collector_metric(start_ferry):
    f = suite(start_ferry, "collectors { interval = 1 archive = true }\n")
    write_collector(f, "tick", 'echo "coll.tick.alive 1"\n')
    archive = f.logdir / "archive.log"
    wait_for(lambda: archive.exists() and archive.read_text().count(
        PREFIX + "coll.tick.alive 1 ") >= 2, ARRIVAL, what="archive.log lines")
    for line in archive.read_text().splitlines():
        name, value, ts = line.split(" ")
        assert name.startswith(PREFIX) and int(ts) > 0


def test_state_dir_and_environment(start_ferry, tmp_path):
    out = tmp_path / "env.txt"
    f = suite(start_ferry,
              'collector "envdump" { interval = 1.5 args = {"one", "two words"} }\n')
    write_collector(f, "envdump",
                    'env | sort > %s.new; echo "args=$#:$1:$2" >> %s.new; '
                    'pwd >> %s.new; mv %s.new %s\n' % (out, out, out, out, out))
    wait_for(out.exists, ARRIVAL, what="the environment dump")
    env = out.read_text().splitlines()
    assert "PATH=/usr/bin:/bin" in env
    assert "FERRY_HOSTNAME=systest" in env
    assert "FERRY_INTERVAL=1.5" in env
    assert "FERRY_MODE=interval" in env
    state = f.root / "var/opt/ferry/collectors-state"
    assert "FERRY_STATE_DIR=%s" % state in env
    assert "args=2:one:two words" in env
    assert str(state) in env            # its working directory
    # Their stderr is timestamped on its way (no second timestamp).
    assert "FERRY_SUPERVISED=1" in env
    # Nothing else of ferry's own environment leaks through.
    assert not any(l.startswith(("ASAN_OPTIONS=", "UBSAN_OPTIONS="))
                   for l in env)

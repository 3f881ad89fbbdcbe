"""
One round trip under valgrind's memcheck (issue 12): the plain build (no
ASan: the two cannot share a process) of the whole suite, the supervisor
and every child it starts traced, takes lines over TCP and UDP into the
spool, the forwarder sends them to the sink, which stores them; then the
suite stops, and every process's report must show no invalid access, no
use of an uninitialised value and no leak (definitely or indirectly lost).

ASan and LeakSanitizer watch every other system test; memcheck sees what
they cannot (reads of uninitialised memory, and code built without them:
the programs exactly as installed).
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, children_of, pid_alive, wait_for

VALGRIND = shutil.which("valgrind")
PLAIN = Path(os.environ.get("FERRY_PLAIN_BIN") or REPO / "build" / "bin")
PROGRAMS = ("ferry-supervisor", "ferry-receiver", "ferry-forwarder",
            "ferry-sink")
START = 120.0   # seven processes under memcheck, on two shared cores


@pytest.mark.long(30)
def test_round_trip_under_memcheck(start_ferry, tmp_path):
    if VALGRIND is None:
        pytest.skip("valgrind is not installed (.ci/deps.sh installs it)")
    missing = [p for p in PROGRAMS if not os.access(PLAIN / p, os.X_OK)]
    if missing:
        pytest.skip("not built in %s: %s" % (PLAIN, " ".join(missing)))
    vg = tmp_path / "valgrind"
    vg.mkdir()
    f = start_ferry(start=False)
    f.bin = PLAIN
    # The children are found by pid below: under valgrind their
    # executable is valgrind's, so conftest's lookup by name cannot work.
    f.out = open(f.out_path, "ab")
    f.proc = subprocess.Popen(
        [VALGRIND, "--trace-children=yes", "--child-silent-after-fork=yes",
         "--leak-check=full", "--show-leak-kinds=definite,indirect",
         "--errors-for-leak-kinds=definite,indirect", "--track-origins=no",
         "--log-file=%s/vg.%%p" % vg,
         str(PLAIN / "ferry-supervisor"), "-f", "-c", str(f.conf)],
        env=f.env, stdin=subprocess.DEVNULL, stdout=f.out,
        stderr=subprocess.STDOUT)
    wait_for(lambda: f.proc.poll() is None and f.receiver_up() and
             f.sink_ok(), START, interval=0.5,
             what="receiver port and sink /ruok under valgrind")

    n = 200
    f.send_tcp(["vg.tcp.m%d %d 1700000000" % (i, i) for i in range(n)])
    f.send_udp(["vg.udp.m%d %d 1700000000" % (i, i) for i in range(n)])
    f.wait_sink_count("vg.tcp.", n, timeout=START)
    # UDP may lose a datagram to a full socket buffer: most, not all.
    wait_for(lambda: f.sink_count("vg.udp.") >= n * 0.9, START,
             what="the UDP lines in the sink")

    kids = [p for p in children_of(f.proc.pid) if pid_alive(p)]
    assert f.stop() == 0
    wait_for(lambda: not any(pid_alive(p) for p in kids), 30,
             what="the children to exit")

    reports = {}
    for p in sorted(vg.glob("vg.*")):
        text = p.read_text(errors="replace")
        m = re.search(r"^==\d+== Command: (\S+)", text, re.M)
        reports[p.name] = (os.path.basename(m.group(1)) if m else "?", text)
    seen = {prog for prog, _ in reports.values()}
    assert set(PROGRAMS) <= seen, "no valgrind report for %s" % (
        set(PROGRAMS) - seen)
    problems = []
    for name, (prog, text) in reports.items():
        if "ERROR SUMMARY:" not in text:
            problems.append("%s (%s) did not finish under valgrind" % (
                name, prog))
        elif not re.search(r"ERROR SUMMARY: 0 errors", text):
            problems.append("%s (%s):\n%s" % (name, prog, text[-4000:]))
    print("valgrind: %d processes, %s" % (len(reports), sorted(seen)))
    assert problems == [], "\n\n".join(problems)

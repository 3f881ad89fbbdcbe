"""
Log rotation with the real logrotate and the logrotate configuration ferry
ships (etc/logrotate.d/ferry, its paths moved under the test's FERRY_ROOT):
the rotated file keeps what was written before, and the supervisor, told
by SIGUSR1, writes what comes after into a new file, losing no line.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import wait_for

REPO = Path(__file__).resolve().parents[2]


def rotate_config(f, tmp_path):
    text = (REPO / "etc/logrotate.d/ferry").read_text()
    text = text.replace("/var/log/ferry", str(f.logdir))
    text = text.replace("/var/opt/ferry/run/ferry-supervisor.pid", str(f.pidfile))
    # The test's tree is the current user's, and this machine may have no
    # ferry user: rotate as whoever runs the test.
    text = "\n".join(l for l in text.splitlines()
                     if not l.strip().startswith("su ")) + "\n"
    conf = tmp_path / "logrotate.conf"
    conf.write_text(text)
    conf.chmod(0o644)
    return conf


def test_logrotate_rotates_without_losing_lines(start_ferry, tmp_path):
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not Path(logrotate).exists():
        pytest.skip("logrotate is not installed")
    f = start_ferry()
    log = f.logdir / "receiver.log"
    # A rejected line is logged by the receiver: a marker we can find.
    f.send_tcp(["before..rotation 1"])
    wait_for(lambda: "before..rotation" in log.read_text(), 10,
             what="the first marker in receiver.log")

    conf = rotate_config(f, tmp_path)
    r = subprocess.run([logrotate, "-f", "-s", str(tmp_path / "state"), str(conf)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout
    rotated = f.logdir / "receiver.log.1"
    assert rotated.exists(), sorted(p.name for p in f.logdir.iterdir())
    assert "before..rotation" in rotated.read_text()

    f.send_tcp(["after..rotation 1"])
    wait_for(lambda: log.exists() and "after..rotation" in log.read_text(), 10,
             what="the second marker in the new receiver.log")
    assert "after..rotation" not in rotated.read_text()
    assert "before..rotation" not in log.read_text()
    # The supervisor's own log was rotated and reopened too.
    wait_for(lambda: (f.logdir / "supervisor.log").exists(), 10,
             what="a new supervisor.log")

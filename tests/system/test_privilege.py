"""
Least privilege (SPEC.md "Security", issue 12), what it promises:

  - listeners bind to loopback unless configured otherwise;
  - the children run as the unprivileged user (the supervisor too: it
    keeps no root after start-up, ARCHITECTURE.md names nothing that needs
    it), with no capability and no root uid or gid left, saved ones
    included; and nothing ferry makes is world-writable;
  - a collector owned by someone other than root or ferry's user is refused,
    and no shell runs a collector (a name with "; echo" in it stays a name);
  - a configuration file that sets a secret and that others may read draws
    a warning (ferryctl check-config, ferry-supervisor -n and at start).

The sink's refusal to listen beyond loopback without an API key is
test_ctl.py's (check-config, -n and ferry-sink alike); secrets kept out of
logs and ferryctl's output are test_secrets.py's.

The run as another user needs root (to switch users) and a suite another
user can reach: its FERRY_ROOT is made under /tmp, 0755, not under pytest's
0700 folder.
"""
import os
import shutil
import socket
import stat
import tempfile
import time
from pathlib import Path

import pytest

from conftest import Ferry, wait_for

ARRIVAL = 30.0
PREFIX = "servers.systest."


def check(f):
    return f.run("ferryctl", "-c", str(f.conf), "check-config")


def test_a_readable_secret_draws_a_warning(start_ferry):
    f = start_ferry('api_key = "k3y"\n', start=False)
    frags = f.etc / "conf.d"
    (frags / "10-plain.conf").write_text("forwarder { batch_size = 100 }\n")
    (frags / "20-redis.conf").write_text(
        'output "r" { uri = "redis://:pw@127.0.0.1:6379/?key=k" }\n')
    for p in (f.conf, frags / "10-plain.conf", frags / "20-redis.conf"):
        os.chmod(p, 0o644)

    def warned(text):
        return sorted(os.path.basename(l.split(" (mode ")[0].split()[-1])
                      for l in text.splitlines()
                      if "sets a secret and others may read it" in l)
    r = check(f)
    assert r.returncode == 0 and r.stdout == "configuration OK\n", r
    assert warned(r.stderr) == ["20-redis.conf", "ferry.conf"], r.stderr
    assert "k3y" not in r.stderr and ":pw@" not in r.stderr
    r = f.run("ferry-supervisor", "-n", "-c", str(f.conf))
    assert r.returncode == 0
    assert warned(r.stderr) == ["20-redis.conf", "ferry.conf"], r.stderr

    # As the packages install it (0640), or the fragment as ferryctl drain
    # add writes one: nothing to say.
    os.chmod(f.conf, 0o640)
    os.chmod(frags / "20-redis.conf", 0o600)
    r = check(f)
    assert r.returncode == 0 and warned(r.stderr) == [], r.stderr

    # At start, into the supervisor's log, for an operator to see.
    os.chmod(f.conf, 0o604)
    f.start()
    wait_for(lambda: warned(f.log_text("supervisor")) == ["ferry.conf"], 10,
             what="the warning in supervisor.log")


# -- running as another user -----------------------------------------------------

UNPRIVILEGED = "nobody"


def ids(pid):
    """(uids, gids, groups, CapPrm, CapEff, CapAmb) of a process."""
    with open("/proc/%d/status" % pid) as fh:
        st = dict(l.rstrip("\n").split(":\t", 1) for l in fh if ":\t" in l)
    return (tuple(int(x) for x in st["Uid"].split()),
            tuple(int(x) for x in st["Gid"].split()),
            tuple(int(x) for x in st["Groups"].split()),
            int(st["CapPrm"], 16), int(st["CapEff"], 16),
            int(st.get("CapAmb", "0"), 16))


def listeners(port, udp=False):
    """Local addresses of the sockets bound to port (IPv4 and IPv6)."""
    out = []
    for name in (("udp", "udp6") if udp else ("tcp", "tcp6")):
        try:
            with open("/proc/net/%s" % name) as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            addr, p = f[1].split(":")
            # TCP: only listening sockets (state 0A); UDP: all bound.
            if int(p, 16) == port and (udp or f[3] == "0A"):
                out.append(socket.inet_ntop(
                    socket.AF_INET if len(addr) == 8 else socket.AF_INET6,
                    bytes.fromhex(addr)[::-1] if len(addr) == 8 else
                    b"".join(bytes.fromhex(addr[i:i + 8])[::-1]
                             for i in range(0, 32, 8))))
    return out


@pytest.fixture
def open_root():
    """A FERRY_ROOT every user can reach, removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix="ferry-priv-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.long(20)
def test_everything_runs_unprivileged(open_root):
    if os.geteuid() != 0:
        pytest.skip("only root can switch to another user")
    import pwd
    try:
        pw = pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        pytest.skip("no user %s" % UNPRIVILEGED)
    f = Ferry(open_root / "root")
    # Binds left to their defaults; the collectors each second.
    sink_port = f.sink_port
    f.conf.write_text(
        'user = "%s"\nhostname = "systest"\n'
        "receiver { tcp_port = %d udp_port = %d }\n"
        "forwarder { batch_timeout = 0.1 }\n"
        "sink { enabled = true port = %d }\n"
        'output "sink" { uri = "http://127.0.0.1:%d/api/v1/sink" }\n'
        "collectors { interval = 1 scan_interval = 1 }\n"
        % (UNPRIVILEGED, f.tcp_port, f.udp_port, sink_port, sink_port))
    os.chmod(f.conf, 0o644)
    cd = f.etc / "collectors.d"
    cd.mkdir(mode=0o755)
    ok = cd / "noshell; echo coll.shell.ran 1"
    ok.write_text('#!/bin/sh\necho "coll.noshell.ran 1"\n')
    os.chmod(ok, 0o755)
    foreign = cd / "foreign"
    foreign.write_text('#!/bin/sh\necho "coll.foreign.ran 1"\n')
    os.chmod(foreign, 0o755)
    os.chown(foreign, 12345, 12345)
    try:
        f.start()
        procs = {"supervisor": f.proc.pid}
        for name in ("receiver", "forwarder", "sink", "periodic", "collectors"):
            procs[name] = f.child_pid(name)
        for name, pid in procs.items():
            uids, gids, groups, prm, eff, amb = ids(pid)
            assert uids == (pw.pw_uid,) * 4, (name, uids)
            assert gids == (pw.pw_gid,) * 4, (name, gids)
            # The user's own groups (initgroups), never root's.
            assert set(groups) == set(os.getgrouplist(UNPRIVILEGED,
                                                      pw.pw_gid)), (name, groups)
            assert (prm, eff, amb) == (0, 0, 0), (name, prm, eff, amb)

        # Defaults bind to loopback, and only there.
        for port, udp in ((f.tcp_port, False), (f.udp_port, True),
                          (sink_port, False)):
            where = listeners(port, udp)
            assert where and all(a in ("127.0.0.1", "::1") for a in where), \
                (port, where)

        # It works, as that user: lines through the spool to the sink.
        ts = int(time.time())
        f.send_tcp(["priv.m%d %d %d" % (i, i, ts) for i in range(10)])
        f.wait_sink_count("priv.", 10, timeout=ARRIVAL)
        f.wait_sink_count(PREFIX + "coll.noshell.ran", 1, timeout=ARRIVAL)
        line = ("refusing to run collector %s: it is owned by uid 12345"
                % foreign)
        wait_for(lambda: line in f.log_text("collectors"), 15,
                 what="the refusal of the foreign collector")
        assert f.sink_count(PREFIX + "coll.foreign.") == 0
        assert f.sink_count(PREFIX + "coll.shell.") == 0

        # Nothing ferry made may be written by anyone.
        made = [f.var, f.logdir]
        for top in made:
            assert top.stat().st_uid == pw.pw_uid, top
            for dirpath, dirnames, filenames in os.walk(top):
                for n in dirnames + filenames:
                    p = os.path.join(dirpath, n)
                    st = os.lstat(p)
                    assert st.st_mode & stat.S_IWOTH == 0, \
                        "%s is world-writable (%o)" % (p, st.st_mode)
    finally:
        status = f.stop()
    assert status == 0
    assert not f.sanitizer_reports(), f.sanitizer_reports()

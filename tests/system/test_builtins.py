"""
The built-in collectors (collectors/builtin/*.c), run directly as
ferry-collectors would run them, each checked against an independent
reading of the same source: loadavg against /proc/loadavg, memory against
/proc/meminfo, diskspace against os.statvfs(), network, diskio and vmstat
against their /proc counters read around the two runs that make a rate, cpu
by its percentages adding up, self against /proc and a real suite.

Rates are checked with brackets rather than guesses: a counter read by the
test just before the collector's first sample (A0) and just after it (A1),
then just before its second sample (A2) and just after it (A3). Counters
only grow, so the collector's delta lies in [A2 - A1, A3 - A0], and its
elapsed time in [t2 - t1, t3 - t0]. That holds however busy the machine
is, with no tolerance to tune.

The binaries come from $FERRY_COLLECTORS_BIN (make system passes the
sanitized build), else build/asan/collectors; a test is skipped when its
binary is missing. None of them needs ferry-collectors.
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, SANITIZER_MARKS, sanitizer_env, wait_for

LINE_RE = re.compile(r"^([A-Za-z0-9_.-]+) (-?[0-9]+(?:\.[0-9]+)?) ([0-9]+)$")
SKIP_TYPES = {
    "autofs", "binfmt_misc", "bpf", "configfs", "debugfs", "devpts",
    "devtmpfs", "efivarfs", "fusectl", "hugetlbfs", "iso9660", "mqueue",
    "nsfs", "overlay", "proc", "pstore", "ramfs", "rootfs", "rpc_pipefs",
    "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs",
    "nfsd", "binder", "none", "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph",
    "glusterfs", "9p", "afs", "lustre", "fuse",
}


def collectors_bin():
    d = os.environ.get("FERRY_COLLECTORS_BIN")
    return Path(d) if d else REPO / "build" / "asan" / "collectors"


def binary(name):
    path = collectors_bin() / name
    if not os.access(path, os.X_OK):
        pytest.skip("not built: %s" % path)
    return path


class Runner:
    """Runs built-ins one-shot under a temporary root and state folder."""

    def __init__(self, tmp_path):
        self.root = tmp_path / "root"
        self.state = tmp_path / "state"
        self.root.mkdir()
        self.env = sanitizer_env()
        self.env["FERRY_ROOT"] = str(self.root)
        self.env["FERRY_STATE_DIR"] = str(self.state)
        self.env.pop("FERRY_INTERVAL", None)

    def run(self, name, *args, env=None, status=0):
        """One run; {metric: value}. Checks the status, the line format,
        the timestamps and that the sanitizers stayed quiet."""
        before = time.time()
        r = subprocess.run([str(binary(name)), *args], env=env or self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        after = time.time()
        for mark in SANITIZER_MARKS:
            assert mark not in r.stderr, r.stderr
        assert r.returncode == status, "%s exited %d: %s" % (name, r.returncode,
                                                             r.stderr)
        return parse(r.stdout, before, after)


def parse(out, before=None, after=None):
    values = {}
    for line in out.splitlines():
        m = LINE_RE.match(line)
        assert m, "not a Graphite plaintext line: %r" % line
        name, value, ts = m.group(1), float(m.group(2)), int(m.group(3))
        assert name not in values, "%s printed twice" % name
        if before is not None:
            assert int(before) <= ts <= int(after) + 1, line
        values[name] = value
    return values


@pytest.fixture
def runner(tmp_path):
    return Runner(tmp_path)


def read_kv(path):
    """{key: int} of a "key value" or "Key: value kB" file."""
    out = {}
    for line in Path(path).read_text().splitlines():
        f = line.replace(":", " ").split()
        if len(f) >= 2 and f[1].isdigit():
            out[f[0]] = int(f[1]) * (1024 if f[-1] == "kB" else 1)
    return out


def bracket(lo_delta, hi_delta, lo_dt, hi_dt):
    """The range a per-second rate must lie in, from the test's readings."""
    return lo_delta / hi_dt, hi_delta / lo_dt


def assert_in(value, lo, hi, what, slack=0.01):
    assert lo - slack <= value <= hi + slack, "%s = %r not in [%r, %r]" % (
        what, value, lo, hi)


class Bracket:
    """Readings A0..A3 and t0..t3 around two runs of a collector."""

    def __init__(self, read):
        self.read = read
        self.a = []
        self.t = []

    def mark(self):
        self.t.append(time.monotonic())
        self.a.append(self.read())

    def delta(self, key):
        """(lowest, highest) possible increase of key seen by the collector."""
        a = self.a
        return a[2][key] - a[1][key], a[3][key] - a[0][key]

    def rate(self, key, scale=1):
        lo, hi = self.delta(key)
        t = self.t
        # The collector's clock has millisecond steps: 1 ms either way.
        return bracket(lo * scale, hi * scale, t[2] - t[1] - 0.002,
                       t[3] - t[0] + 0.002)


# -- gauges --------------------------------------------------------------

def test_loadavg(runner):
    before = Path("/proc/loadavg").read_text().split()
    got = runner.run("loadavg")
    after = Path("/proc/loadavg").read_text().split()
    assert set(got) == {"loadavg.01", "loadavg.05", "loadavg.15",
                        "loadavg.processes_running", "loadavg.processes_total"}
    for i, name in enumerate(("01", "05", "15")):
        lo = min(float(before[i]), float(after[i]))
        hi = max(float(before[i]), float(after[i]))
        assert_in(got["loadavg." + name], lo, hi, "loadavg." + name)
    totals = [int(before[3].split("/")[1]), int(after[3].split("/")[1])]
    # Threads come and go between the three reads; the collector adds one.
    assert_in(got["loadavg.processes_total"], min(totals) - 50,
              max(totals) + 50, "processes_total")
    assert got["loadavg.processes_running"] >= 1   # the collector itself


def test_memory(runner):
    before = read_kv("/proc/meminfo")
    got = runner.run("memory")
    after = read_kv("/proc/meminfo")
    want = {"MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached",
            "Active", "Inactive", "Dirty", "Shmem", "SwapTotal", "SwapFree",
            "SwapCached", "VmallocTotal", "VmallocUsed", "VmallocChunk"}
    want &= set(before)     # an old kernel may lack MemAvailable
    assert set(got) == {"memory." + k for k in want}
    assert got["memory.MemTotal"] == before["MemTotal"]
    assert got["memory.SwapTotal"] == before["SwapTotal"]
    for k in want:
        lo, hi = sorted((before[k], after[k]))
        slack = max(64 << 20, hi * 0.05)    # memory moves while we look
        assert_in(got["memory." + k], lo, hi, k, slack=slack)


def test_memory_all_fields(runner):
    got = runner.run("memory", "-a")
    fields = read_kv("/proc/meminfo")
    assert len(got) >= len(fields) - 2
    assert got["memory.MemTotal"] == fields["MemTotal"]
    if "Active(anon)" in Path("/proc/meminfo").read_text():
        assert "memory.Active_anon_" in got     # made Graphite-safe


# Serial: it compares the machine's own TCP counters read by the collector
# and by the test, which tests running beside it move by hundreds of pages.
@pytest.mark.serial
def test_sockstat(runner):
    def read():
        out = {}
        for path in ("/proc/net/sockstat", "/proc/net/sockstat6"):
            if not os.path.exists(path):
                continue
            for line in Path(path).read_text().splitlines():
                f = line.split()
                proto = f[0].rstrip(":").lower()
                for k, v in zip(f[1::2], f[2::2]):
                    out["sockets.%s" % k if proto == "sockets"
                        else "sockets.%s_%s" % (proto, k)] = int(v)
        return out
    before = read()
    got = runner.run("sockstat")
    after = read()
    for k in ("sockets.used", "sockets.tcp_inuse", "sockets.tcp_orphan",
              "sockets.tcp_tw", "sockets.tcp_alloc", "sockets.tcp_mem",
              "sockets.udp_inuse", "sockets.udp_mem"):
        assert k in got, k
    assert set(got) == set(before)
    for k, v in got.items():
        lo, hi = sorted((before[k], after[k]))
        assert_in(v, lo, hi, k, slack=50)   # sockets open and close meanwhile


def mounts():
    """[(mount point, fstype)] of /proc/self/mountinfo, unescaped."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        f = line.split()
        i = f.index("-")
        mnt = re.sub(r"\\([0-3][0-7][0-7])", lambda m: chr(int(m.group(1), 8)), f[4])
        out.append((mnt, f[i + 1]))
    return out


def safe(name):
    """A kernel name as one component of a metric name."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def diamond_name(mnt):
    return "root" if mnt == "/" else safe(mnt)


def under(path, d):
    return path == d or path.startswith(d + "/")


def test_diskspace(runner):
    got = runner.run("diskspace")
    reported = {k.split(".")[1] for k in got}
    by_name = {}
    for mnt, fstype in mounts():
        by_name.setdefault(diamond_name(mnt), (mnt, fstype))
    for name in reported:
        mnt, fstype = by_name[name]
        assert fstype not in SKIP_TYPES and not fstype.startswith(("cgroup", "fuse.")), \
            "%s (%s) should be skipped" % (mnt, fstype)
        assert not any(under(mnt, d) for d in ("/proc", "/sys", "/dev")), mnt
        v = os.statvfs(mnt)
        bs = v.f_frsize
        slack = max(256 << 20, v.f_blocks * bs * 0.01)  # others write meanwhile
        pre = "diskspace.%s." % name
        assert_in(got[pre + "byte_free"], v.f_bfree * bs, v.f_bfree * bs, mnt,
                  slack=slack)
        assert_in(got[pre + "byte_avail"], v.f_bavail * bs, v.f_bavail * bs, mnt,
                  slack=slack)
        assert_in(got[pre + "byte_used"], (v.f_blocks - v.f_bfree) * bs,
                  (v.f_blocks - v.f_bfree) * bs, mnt, slack=slack)
        assert_in(got[pre + "byte_percentfree"], 100.0 * v.f_bfree / v.f_blocks,
                  100.0 * v.f_bfree / v.f_blocks, mnt, slack=1.0)
        if v.f_files:
            assert_in(got[pre + "inodes_free"], v.f_ffree, v.f_ffree, mnt,
                      slack=100000)
            assert_in(got[pre + "inodes_used"], v.f_files - v.f_ffree,
                      v.f_files - v.f_ffree, mnt, slack=100000)
    root_type = [t for m, t in mounts() if m == "/"][-1]
    if root_type not in SKIP_TYPES:
        assert "root" in reported, got


def test_diskspace_extra_type(runner):
    """-t reports a type that is skipped by default (tmpfs, overlay)."""
    candidates = [(m, t) for m, t in mounts() if t in ("tmpfs", "overlay")
                  and not any(under(m, d) for d in ("/proc", "/sys", "/dev"))]
    if not candidates:
        pytest.skip("no tmpfs or overlay mount outside /proc, /sys, /dev")
    mnt, fstype = candidates[0]
    plain = runner.run("diskspace")
    extra = runner.run("diskspace", "-t", fstype)
    key = "diskspace.%s.byte_free" % diamond_name(mnt)
    assert key not in plain
    assert key in extra or any(  # a bind mount of an earlier one is skipped
        os.stat(m).st_dev == os.stat(mnt).st_dev for m, t in mounts()
        if m != mnt and t == fstype)


# -- rates -------------------------------------------------------------

def test_cpu(runner):
    def ncpu():
        return sum(1 for l in Path("/proc/stat").read_text().splitlines()
                   if re.match(r"cpu\d+ ", l))
    first = runner.run("cpu")
    # No previous sample: only the count.
    assert first == {"cpu.cpu_count": ncpu()}
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:    # keep one core busy meanwhile
        pass
    got = runner.run("cpu")
    n = int(got["cpu.cpu_count"])
    assert n == ncpu()
    states = ("user", "nice", "system", "idle", "iowait", "irq", "softirq",
              "steal")
    for c in ["cpu%d" % i for i in range(n)]:
        total = sum(got["cpu.%s.%s" % (c, s)] for s in states)
        assert abs(total - 100) <= 0.1, (c, total)
        for s in states + ("guest", "guest_nice"):
            assert 0 <= got["cpu.%s.%s" % (c, s)] <= 100
    total = sum(got["cpu.total.%s" % s] for s in states)
    assert abs(total - 100 * n) <= 0.1 * n, total     # Diamond: summed over CPUs
    # About half a second of one core busy in a window not much longer.
    assert got["cpu.total.user"] + got["cpu.total.system"] >= 20, got


def test_cpu_normalized(runner):
    runner.run("cpu", "-n")
    # Percentages need a tick of /proc/stat between the two samples; runs
    # back to back can fall within one, and then print only cpu_count.
    got = wait_for(lambda: (lambda g: any(k.startswith("cpu.total.") for k in g)
                            and g)(runner.run("cpu", "-n")), 5, interval=0.01,
                   what="a second sample with percentages")
    total = sum(v for k, v in got.items() if k.startswith("cpu.total.")
                and not k.endswith(("guest", "guest_nice")))
    assert abs(total - 100) <= 0.1, total


def netdev():
    out = {}
    for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
        iface, data = line.split(":", 1)
        f = [int(x) for x in data.split()]
        out[iface.strip()] = {"rx_byte": f[0], "rx_packets": f[1],
                              "tx_byte": f[8], "tx_packets": f[9]}
    return out


def loopback_traffic(nbytes):
    """Send nbytes over a TCP connection on 127.0.0.1."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def drain():
        c, _ = srv.accept()
        while c.recv(1 << 16):
            pass
        c.close()
    t = threading.Thread(target=drain)
    t.start()
    with socket.create_connection(srv.getsockname()) as s:
        s.sendall(b"x" * nbytes)
    t.join()
    srv.close()


def test_network(runner):
    b = Bracket(lambda: netdev()["lo"])
    b.mark()
    first = runner.run("network", "-I", "lo")
    b.mark()
    assert first == {}      # no previous sample yet
    loopback_traffic(8 << 20)
    b.mark()
    got = runner.run("network", "-I", "lo")
    b.mark()
    for key in ("rx_byte", "tx_byte", "rx_packets", "tx_packets"):
        lo, hi = b.rate(key)
        assert_in(got["network.lo.%s" % key], lo, hi, key)
    assert got["network.lo.rx_byte"] >= (8 << 20) / (b.t[3] - b.t[0])
    assert abs(got["network.lo.rx_bit"] - 8 * got["network.lo.rx_byte"]) <= 0.1
    assert abs(got["network.lo.tx_bit"] - 8 * got["network.lo.tx_byte"]) <= 0.1
    for key in ("rx_errors", "rx_drop", "rx_fifo", "rx_frame", "rx_multicast",
                "tx_errors", "tx_drop", "tx_fifo", "tx_colls", "tx_carrier"):
        assert "network.lo.%s" % key in got


def test_network_default_interfaces(runner):
    runner.run("network")
    got = runner.run("network")
    ifaces = {k.split(".")[1] for k in got}
    want = {safe(i) for i in netdev() if i != "lo" and not i.startswith("veth")}
    assert ifaces == want


def diskstats():
    out = {}
    for line in Path("/proc/diskstats").read_text().splitlines():
        f = line.split()
        if len(f) < 14:
            continue
        v = [int(x) for x in f[3:14]]
        out[f[2]] = {"reads": v[0], "reads_byte": v[2] * 512, "writes": v[4],
                     "writes_byte": v[6] * 512, "io_milliseconds": v[9]}
    return out


def test_diskio(runner, tmp_path):
    b = Bracket(diskstats)
    b.mark()
    assert runner.run("diskio", "-z") == {}
    b.mark()
    with open(tmp_path / "blob", "wb") as f:  # some I/O on the test's disk
        f.write(os.urandom(4 << 20))
        f.flush()
        os.fsync(f.fileno())
    b.mark()
    got = runner.run("diskio", "-z")
    b.mark()
    devs = {k.split(".")[1] for k in got}
    want = {safe(d) for d in b.a[0] if not d.startswith(("ram", "loop"))}
    assert devs == want
    for dev in devs:
        raw = [d for d in b.a[0] if safe(d) == dev][0]
        for key in ("reads", "writes", "reads_byte", "writes_byte",
                    "io_milliseconds"):
            a = b.a
            lo = a[2][raw][key] - a[1][raw][key]
            hi = a[3][raw][key] - a[0][raw][key]
            assert_in(got["iostat.%s.%s" % (dev, key)], lo, hi, dev + " " + key)
        t = b.t
        lo = got["iostat.%s.writes_byte" % dev] / (t[3] - t[0] + 0.002)
        hi = got["iostat.%s.writes_byte" % dev] / (t[2] - t[1] - 0.002)
        assert_in(got["iostat.%s.write_byte_per_second" % dev], lo, hi, dev)
        assert 0 <= got["iostat.%s.util_percentage" % dev] <= 100.5
    # Without -z a device that did nothing is left out, like Diamond does.
    quiet = runner.run("diskio")
    for k in quiet:
        if k.endswith(".io"):
            assert quiet[k] > 0


def test_vmstat(runner, tmp_path):
    keys = ("pgpgin", "pgpgout", "pswpin", "pswpout", "pgfault", "pgmajfault")
    b = Bracket(lambda: read_kv("/proc/vmstat"))
    b.mark()
    assert runner.run("vmstat") == {}
    b.mark()
    bytearray(32 << 20)     # some page faults
    b.mark()
    got = runner.run("vmstat")
    b.mark()
    assert set(got) == {"vmstat." + k for k in keys}
    for k in keys:
        lo, hi = b.rate(k)
        assert_in(got["vmstat." + k], lo, hi, k)


# -- the frame: state file, daemon mode -------------------------------------

def test_state_file_default_place(runner):
    """Without FERRY_STATE_DIR the state lives under $FERRY_ROOT/var/opt/ferry."""
    env = dict(runner.env)
    del env["FERRY_STATE_DIR"]
    runner.run("vmstat", env=env)
    state = runner.root / "var/opt/ferry/collectors-state/vmstat.state"
    assert state.read_text().startswith("ferry-rate 1\n")
    assert len(runner.run("vmstat", env=env)) == 6


def test_state_file_from_another_boot(runner):
    runner.run("vmstat")
    state = runner.state / "vmstat.state"
    text = state.read_text().splitlines()
    text[1] = "boot 00000000-0000-0000-0000-000000000000"
    state.write_text("\n".join(text) + "\n")
    assert runner.run("vmstat") == {}    # counters restarted: no rate
    assert len(runner.run("vmstat")) == 6


def test_state_unwritable_still_reports_gauges(runner):
    env = dict(runner.env)
    env["FERRY_STATE_DIR"] = "/proc/ferry-cannot-exist"
    r = subprocess.run([str(binary("cpu"))], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "cpu.cpu_count" in parse(r.stdout)
    assert "/proc/ferry-cannot-exist" in r.stderr


def test_bad_option(runner):
    r = subprocess.run([str(binary("cpu")), "-x"], env=runner.env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert "usage: cpu" in r.stderr
    assert r.stdout == ""


def read_batches(proc, n, timeout=20):
    """The first n batches a daemon printed: lists of lines, split where the
    first name comes round again."""
    batches, first = [], None
    deadline = time.monotonic() + timeout
    while len(batches) <= n and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        name = line.split()[0]
        if first is None:
            first = name
        if name == first:
            batches.append([])
        batches[-1].append(line.rstrip("\n"))
    return batches[:n]


def test_daemon_mode(runner):
    proc = subprocess.Popen([str(binary("network")), "--daemon", "-i", "0.3",
                             "-I", "lo"], env=runner.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        start = time.monotonic()
        # The first sample has no previous one: it prints nothing, so the
        # first batch seen is the second sample's.
        batches = read_batches(proc, 4)
        elapsed = time.monotonic() - start
        assert len(batches) == 4, batches
        for batch in batches:
            names = [l.split()[0] for l in batch]
            assert "network.lo.rx_byte" in names
            parse("\n".join(batch))
        assert elapsed >= 0.3 * 4 - 0.2     # one sample per interval
        assert not (runner.state / "network.state").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    err = proc.stderr.read()
    for mark in SANITIZER_MARKS:
        assert mark not in err, err


def test_daemon_interval_argument(runner):
    """`--daemon 0.2` (the interval as the argument), FERRY_INTERVAL, and
    FERRY_MODE=daemon, which is how ferry-collectors asks for daemon mode."""
    for args, env in ((["--daemon", "0.2"], {}), (["-d"], {"FERRY_INTERVAL": "0.2"}),
                      ([], {"FERRY_MODE": "daemon", "FERRY_INTERVAL": "0.2"})):
        e = dict(runner.env)
        e.update(env)
        proc = subprocess.Popen([str(binary("loadavg")), *args], env=e,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            start = time.monotonic()
            assert len(read_batches(proc, 3)) == 3
            assert time.monotonic() - start < 5
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)


def test_daemon_ends_when_reader_goes(runner):
    proc = subprocess.Popen([str(binary("loadavg")), "-d", "-i", "0.1"],
                            env=runner.env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout.readline().startswith(b"loadavg.01 ")
        proc.stdout.close()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- self --------------------------------------------------------------

def vm_rss(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def test_self(start_ferry):
    binary("self")
    f = start_ferry()
    env = dict(f.env)
    env["FERRY_STATE_DIR"] = str(f.root / "self-state")

    def run_self():
        r = subprocess.run([str(binary("self"))], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        for mark in SANITIZER_MARKS:
            assert mark not in r.stderr, r.stderr
        return parse(r.stdout)

    f.send_tcp(["self.test.m %d %d" % (i, int(time.time())) for i in range(10)])
    pids = {"supervisor": f.proc.pid}
    for name in ("receiver", "forwarder", "sink"):
        pids[name] = f.child_pid(name)

    def fds_of(pid):
        return len(os.listdir("/proc/%d/fd" % pid))
    # A process opens and closes files while it works (the forwarder its
    # spool readers and connections): count just before and just after
    # the collector's own reading, and hold it to what lies between.
    before = {name: fds_of(pid) for name, pid in pids.items()}
    got = run_self()
    after = {name: fds_of(pid) for name, pid in pids.items()}
    for name, pid in pids.items():
        rss = got["ferry.%s.process.rss_byte" % name]
        assert abs(rss - vm_rss(pid)) <= max(8 << 20, vm_rss(pid) * 0.25), name
        low = min(before[name], after[name]) - 2
        high = max(before[name], after[name]) + 2
        assert low <= got["ferry.%s.process.fds" % name] <= high, \
            (name, before[name], got["ferry.%s.process.fds" % name], after[name])
    spool = sum(p.stat().st_size for p in f.spool.iterdir() if p.is_file()
                and not p.name.startswith("."))
    assert got["ferry.spool.byte"] > 0
    assert abs(got["ferry.spool.byte"] - spool) <= 64 << 10
    assert got["ferry.receiver.process.restarts"] == 0
    assert "ferry.output.sink.spool_byte" in wait_for(
        lambda: (lambda g: "ferry.output.sink.spool_byte" in g and g)(run_self()),
        30, interval=0.5, what="the output's backlog in self's output")

    # A second run has a previous sample: CPU use appears.
    got = run_self()
    assert 0 <= got["ferry.receiver.process.cpu_percent"] <= 200

    # A crashed child is restarted; self reports the restart.
    os.kill(pids["receiver"], signal.SIGKILL)
    f.child_pid("receiver", not_pid=pids["receiver"])
    wait_for(lambda: run_self().get("ferry.receiver.process.restarts") == 1,
             30, interval=0.5, what="receiver restarts = 1 in self's output")

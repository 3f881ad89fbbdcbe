"""
The packages' lifecycle (issue 11), as an operator meets it, in a throwaway
Debian 12 root that debootstrap makes from the machine's own Debian mirror
(apt's sources) with the libraries the package says it depends on, and
nothing of ferry's:

- .deb: `make deb`; lintian (no error, no warning); dpkg -i, and the
  postinst makes the ferry user, the folders and their modes, and starts
  ferry as it does on a machine without systemd (update-rc.d, invoke-rc.d,
  the SysV script; the supervisor drops to the ferry user); an operator's
  edit of ferry.conf, a reload, metrics to a local ferry-sink; an upgrade to
  a rebuilt package of a higher version while it runs, with records still
  waiting in the spool for an output that is down: the edit is kept, the
  spool and the database are kept, and once the output is up every record
  arrives; `dpkg -r` (stopped, data kept), `dpkg -P` (data gone, the user
  kept as Debian does); the installed size, beside Hosted Graphite's
  agent's 13 MiB; `systemd-analyze verify` on the installed unit.
- .rpm: `make rpm`; rpmlint (no error, no warning, with the reasons of
  pkg/rpm/rpmlint.toml); `rpm -qlp` layout; the same lifecycle with
  `rpm --root` (-i, -U, -e) into a copy of the root, scriptlets and all.

Isolation: each root runs in mount, PID and network namespaces of its own
(unshare): its ferry listens on the default ports on a loopback of its
own, /proc, /dev and /run are mounted in the namespace only, and killing
the namespace's first process ends every process in it. The machine's own
users, packages and paths are never touched, which the test checks at its
end; the roots are deleted.

The root is debootstrapped once (3.5 to 5 minutes on a busy machine, in
parallel with the builds and the linters) into build/pkgroot/ (about 230
MB; FERRY_PKG_CACHE names another folder), under a name made of the suite,
the mirror and the package's Depends, and each run works on copies of it:
a rerun from the same tree needs no network. A clean clone (CI) makes it
once; `make clean` deletes it. It is never changed after debootstrap.
"""
import ctypes
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, ro_query, wait_for

# 2 to 3.5 minutes with the root cached, about 6 when debootstrap makes it (CI).
pytestmark = pytest.mark.long(360)

HG_AGENT_MIB = 13           # Hosted Graphite's agent, as published
TARGET_KIB = 2048
N = 100                     # metrics per phase
SUITE = "bookworm"

# The first process of a jail's namespaces: pid 1 there, it reaps what is
# reparented to it (a daemon's parent exits) and otherwise waits.
INIT = r"""
import os, sys, time
print("ready", flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.2)
"""

# What a booted machine has and a bare root lacks, mounted in the jail's
# mount namespace only (private propagation: the machine never sees them).
MOUNTS = r"""
set -e
R=$1
mount -t proc proc "$R/proc"
mount -t sysfs -o ro sysfs "$R/sys" 2>/dev/null || true
mount -t tmpfs -o mode=0755 tmpfs "$R/dev"
for n in null zero full random urandom tty; do
	touch "$R/dev/$n"
	mount --bind "/dev/$n" "$R/dev/$n"
done
mkdir -p "$R/dev/shm" "$R/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
mount -t tmpfs -o mode=0755 tmpfs "$R/run"
ip link set lo up
exec /usr/bin/python3 -c "$2"
"""

# A machine booted by SysV init in runlevel 2 has its runlevel in utmp,
# where init wrote it and where runlevel(8), and so invoke-rc.d, reads it:
# the RUN_LVL record (glibc's struct utmp, 384 bytes), as sysvinit writes it.
UTMP = r"""
import struct, sys, time
rec = struct.pack("hxxi32s4s32s256shhiii16s20s", 1, ord("2") + 256 * ord("N"),
                  b"~", b"~~", b"runlevel", b"", 0, 0, 0, int(time.time()), 0,
                  b"", b"")
assert len(rec) == 384
open(sys.argv[1], "wb").write(rec)
"""

SENDER = r"""
import socket, sys
data = sys.stdin.buffer.read()
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as s:
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):     # the receiver closes once it has read it all
        pass
"""

LISTENER = r"""
import socket, sys, threading
out = open(sys.argv[2], "ab", buffering=0)
lock = threading.Lock()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
def serve(c):
    with c:
        while True:
            b = c.recv(65536)
            if not b:
                return
            with lock:
                out.write(b)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

EDITED_CONF = """\
# Edited by the operator (tests/system/test_packages.py).
hostname = "pkgtest"
forwarder { batch_timeout = 0.1 }
sink { enabled = true }
output "sink" { uri = "http://127.0.0.1:8080/api/v1/sink" }
# Down until after the upgrade: its records wait in the spool.
output "late" { uri = "tcp://127.0.0.1:2103/" }
periodic { heartbeat_url = "http://127.0.0.1:8080/beat"  heartbeat_interval = 1 }
"""

PR_SET_PDEATHSIG = 1


def _die_with_parent():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG,
                                                   signal.SIGKILL)


def run(argv, timeout=300, check=True, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s" % (" ".join(map(str, argv)),
                                                   r.returncode, r.stdout[-6000:]))
    return r


class Jail:
    """
    A root with mount, PID and network namespaces of its own, that looks
    booted by SysV init in runlevel 2 (it has sysvinit-core, and its utmp
    says so): what invoke-rc.d needs to start a service.
    """

    ENV = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
           "/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8",
           "DEBIAN_FRONTEND=noninteractive"]

    def __init__(self, root):
        self.root = Path(root)
        self.unshare = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--pid",
             "--net", "--fork", "--kill-child", "sh", "-c", MOUNTS, "sh",
             str(self.root), INIT],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=_die_with_parent)
        line = self.unshare.stdout.readline()
        assert line.strip() == "ready", "the jail did not start: %r %s" % (
            line, self.unshare.stdout.read() if self.unshare.poll() is not None
            else "")
        self.init = wait_for(self._init_pid, 10, what="the jail's pid 1")
        self.pidns = os.readlink("/proc/%d/ns/pid" % self.init)
        self.host("/usr/bin/python3", "-c", UTMP, str(self.root / "run/utmp"))
        assert self.run("runlevel").stdout.split() == ["N", "2"]

    def _init_pid(self):
        for e in os.listdir("/proc"):
            if e.isdigit():
                try:
                    with open("/proc/%s/stat" % e) as f:
                        stat = f.read()
                except OSError:
                    continue
                if int(stat[stat.rindex(")") + 2:].split()[1]) == self.unshare.pid:
                    return int(e)
        return None

    def enter(self):
        return ["nsenter", "-t", str(self.init), "-m", "-p", "-n"]

    def run(self, *argv, timeout=300, check=True, stdin=None):
        """argv in the root, as root, with a clean environment."""
        return run([*self.enter(), "chroot", str(self.root), *self.ENV, *argv],
                   timeout=timeout, check=check, input=stdin)

    def host(self, *argv, timeout=300, check=True, stdin=None):
        """argv from the machine's own files, in the jail's namespaces."""
        return run([*self.enter(), *argv], timeout=timeout, check=check,
                   input=stdin)

    def spawn(self, *argv):
        """A host program in the jail's namespaces; it dies with the jail."""
        return subprocess.Popen([*self.enter(), *argv],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def send(self, lines, port=2003):
        self.host("/usr/bin/python3", "-c", SENDER, str(port),
                  stdin="".join(l + "\n" for l in lines), timeout=30)

    def processes(self):
        """
        {pid in the jail: (program, uid, groups)} of the jail's processes
        that run one of ferry's programs (or a built-in collector) from
        /opt/ferry; groups: the set of its supplementary group ids.
        """
        out = {}
        prefix = str(self.root / "opt/ferry") + "/"
        for e in os.listdir("/proc"):
            if not e.isdigit():
                continue
            try:
                if os.readlink("/proc/%s/ns/pid" % e) != self.pidns:
                    continue
                exe = os.readlink("/proc/%s/exe" % e)
                with open("/proc/%s/status" % e) as f:
                    status = f.read()
                uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
                groups = {int(g) for g in re.search(
                    r"^Groups:(.*)$", status, re.M).group(1).split()}
                # Its pid in the jail, as its pid file has it.
                pid = int(re.search(r"^NSpid:.*\s(\d+)$", status, re.M).group(1))
            except (OSError, AttributeError):
                continue
            if exe.startswith(prefix):
                name = os.path.basename(exe).replace(" (deleted)", "")
                out[pid] = (name, uid, groups)
        return out

    def close(self):
        if self.unshare.poll() is None:
            self.unshare.kill()     # --kill-child: the pid namespace goes
            self.unshare.wait(timeout=30)
        wait_for(lambda: not os.path.exists("/proc/%d" % self.init), 30,
                 what="the jail's processes to end")


# -- the root ------------------------------------------------------------------

def debian_mirror():
    """The Debian archive apt uses here (deb822 or one-line sources)."""
    for f in sorted(Path("/etc/apt").glob("sources.list.d/*.sources")):
        for para in f.read_text().split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", para, re.M))
            if SUITE in fields.get("Suites", "").split() and \
                    "main" in fields.get("Components", "").split():
                return fields["URIs"].split()[0]
    for f in [Path("/etc/apt/sources.list"),
              *sorted(Path("/etc/apt").glob("sources.list.d/*.list"))]:
        if f.exists():
            m = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+%s\s" % SUITE,
                          f.read_text(), re.M)
            if m:
                return m.group(1)
    return "http://deb.debian.org/debian"


def depends_of(deb):
    """
    A .deb's Depends: the field, and the package names in it (the first of
    alternatives).
    """
    field = run(["dpkg-deb", "-f", str(deb), "Depends"]).stdout.strip()
    return field, [re.split(r"[\s(:]", alt.split("|")[0].strip())[0]
                   for alt in field.split(",") if alt.strip()]


class Root:
    """
    The pristine Debian 12 root with the packages include, from the cache
    or, when it is not there, debootstrapped into it in the background
    (start() returns at once; finish() waits): in a mount namespace of its
    own, so that no mount it makes can outlive it, even killed.
    """

    def __init__(self, include, depends):
        mirror = debian_mirror()
        self.mirror = mirror
        # The versions too: a library newer on the build machine than in
        # the root (a point release since) makes the package ask for it.
        key = hashlib.sha256(json.dumps([SUITE, mirror, sorted(include), depends])
                             .encode()).hexdigest()[:12]
        self.cache = Path(os.environ.get("FERRY_PKG_CACHE",
                                         REPO / "build" / "pkgroot"))
        self.path = self.cache / ("%s-%s" % (SUITE, key))
        self.include = include
        self.proc = None
        self.cached = self.path.is_dir()

    def start(self):
        if self.cached:
            return
        try:
            urllib.request.urlopen("%s/dists/%s/InRelease" % (self.mirror, SUITE),
                                   timeout=20).close()
        except OSError as e:
            pytest.skip("Debian's mirror %s cannot be reached here (%s) and "
                        "%s has no root: nothing to install into"
                        % (self.mirror, e, self.cache))
        self.cache.mkdir(parents=True, exist_ok=True)
        # Roots of other package lists, and what a killed run left.
        for old in self.cache.iterdir():
            m = re.fullmatch(r"\.new-(\d+)", old.name)
            if old != self.path and not (m and os.path.exists("/proc/" + m[1])):
                shutil.rmtree(old, ignore_errors=True)
        self.tmp = self.cache / (".new-%d" % os.getpid())
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private",
             "debootstrap", "--variant=minbase",
             "--include=" + ",".join(self.include), SUITE, str(self.tmp),
             self.mirror],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=_die_with_parent, start_new_session=True)

    def finish(self, timeout=900):
        if self.proc is None:
            return
        out, _ = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, "no root: %s" % out[-6000:]
        self.tmp.rename(self.path)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its group: debootstrap's
            self.proc.wait()
        if self.proc is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def copy(self, to):
        run(["cp", "-a", "--reflink=auto", str(self.path), str(to)])


# -- the machine, before and after --------------------------------------------

def machine_state(tmp_path):
    """
    What the test must leave as it found: users, packages, paths, and the
    mounts where its own could leak (under its folder, /opt); the rest of
    the machine's mount table is not the test's (other programs mount).
    """
    h = hashlib.sha256()
    for f in ("/etc/passwd", "/etc/group", "/etc/shadow", "/var/lib/dpkg/status"):
        h.update(Path(f).read_bytes())
    paths = [p for p in ("/opt/ferry", "/etc/opt/ferry", "/var/opt/ferry",
                         "/var/log/ferry", "/dev/shm/ferry", "/usr/bin/ferryctl",
                         "/etc/init.d/ferry", "/lib/systemd/system/ferry.service")
             if os.path.lexists(p)]
    mounts = sorted(l for l in open("/proc/mounts").read().splitlines()
                    if l.split()[1].startswith((str(tmp_path), "/opt")))
    return h.hexdigest(), paths, mounts


# -- what both lifecycles check -------------------------------------------------

class Installed:
    """ferry as a package installed it in a jail."""

    def __init__(self, jail):
        self.jail = jail
        self.root = jail.root
        self.conf = self.root / "etc/opt/ferry/ferry.conf"
        self.var = self.root / "var/opt/ferry"
        self.pidfile = self.var / "run/ferry-supervisor.pid"

    def user(self):
        for line in (self.root / "etc/passwd").read_text().splitlines():
            f = line.split(":")
            if f[0] == "ferry":
                return int(f[2]), int(f[3]), f[5], f[6]
        return None

    def group(self):
        for line in (self.root / "etc/group").read_text().splitlines():
            f = line.split(":")
            if f[0] == "ferry":
                return int(f[2])
        return None

    def gid_of(self, group):
        for line in (self.root / "etc/group").read_text().splitlines():
            f = line.split(":")
            if f[0] == group:
                return int(f[2])
        raise AssertionError("no group %s" % group)

    def groups_of_ferry(self):
        """The groups that list ferry as a member, and whether adm exists."""
        names, adm = [], False
        for line in (self.root / "etc/group").read_text().splitlines():
            f = line.split(":")
            adm |= f[0] == "adm"
            if "ferry" in f[3].split(","):
                names.append(f[0])
        return names, adm

    def check_modes(self):
        uid, gid = self.user()[:2]
        assert self.group() == gid
        st = self.conf.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, gid, 0o640)
        for d in ("var/opt/ferry", "var/log/ferry", "etc/opt/ferry/conf.d/fleet"):
            st = (self.root / d).stat()
            assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == \
                (uid, gid, 0o750), d

    def supervisor(self):
        try:
            pid = int(self.pidfile.read_text())
        except (OSError, ValueError):
            return None
        procs = self.jail.processes()
        return pid if procs.get(pid, ("",))[0] == "ferry-supervisor" else None

    def check_running(self, children=("ferry-receiver", "ferry-forwarder",
                                      "ferry-periodic", "ferry-collectors")):
        """Running, every process as the ferry user; the supervisor's pid."""
        uid = self.user()[0]

        def up():
            procs = self.jail.processes()
            names = {n for n, _, _ in procs.values()}
            return self.supervisor() and set(children) <= names and procs
        procs = wait_for(up, 60, what="ferry and its children running")
        # The user's groups as /etc/group has them (adm too): initgroups.
        want = {self.user()[1]} | {self.gid_of(g)
                                   for g in self.groups_of_ferry()[0]}
        for pid, (name, puid, groups) in procs.items():
            assert puid == uid, "%s (pid %d) runs as uid %d" % (name, pid, puid)
            assert groups == want, "%s (pid %d) has the groups %r, not %r" % (
                name, pid, sorted(groups), sorted(want))
        return self.supervisor()

    def check_stopped(self):
        wait_for(lambda: not self.jail.processes(), 60,
                 what="no ferry process left")
        assert not self.pidfile.exists()

    def version(self):
        return self.jail.run("ferryctl", "version").stdout.strip()

    def edit_and_reload(self, reload_argv):
        self.conf.write_text(EDITED_CONF)
        self.jail.run(*reload_argv)
        self.check_running(children=("ferry-receiver", "ferry-forwarder",
                                     "ferry-periodic", "ferry-sink"))
        wait_for(lambda: self.sink_count("pkg.") is not None, 60,
                 what="the sink's database")

    def sink_count(self, prefix):
        rows = ro_query(self.var / "sink.db",
                        "SELECT count(*) FROM points WHERE substr(name, 1, ?) = ?",
                        (len(prefix), prefix))
        return rows[0][0] if rows else None

    def wait_sink(self, prefix, n):
        wait_for(lambda: (self.sink_count(prefix) or 0) >= n, 90,
                 what="%d points under %s in the sink" % (n, prefix))

    def send_phase(self, phase, ts):
        lines = ["pkg.%s.m%d %d %d" % (phase, i, i, ts) for i in range(N)]
        self.jail.send(lines)
        return lines

    def spooled(self, line):
        for seg in (self.var / "spool").glob("receiver.*"):
            if line in seg.read_text(errors="replace"):
                return True
        return False

    def beat_version(self):
        rows = ro_query(self.var / "sink.db",
                        "SELECT json FROM beats WHERE host = 'pkgtest'")
        return json.loads(rows[0][0]).get("version") if rows else None


def lifecycle(jail, tmp_path, install, upgrade, v1, v2, reload_argv):
    """Install, edit, send, upgrade while running; the Installed for the end."""
    ferry = Installed(jail)
    install()
    uid, gid, home, shell = ferry.user()
    assert 100 <= uid < 1000 and home == "/var/opt/ferry" and \
        shell.endswith("nologin"), ferry.user()
    # It reads /var/log as Debian's monitoring group does (pkg/user.sh).
    groups, adm = ferry.groups_of_ferry()
    assert groups == (["adm"] if adm else []), groups
    ferry.check_modes()
    first = ferry.check_running()
    assert ferry.version() == v1
    # Every program shipped says the one version.
    for f in sorted([*(jail.root / "opt/ferry/bin").iterdir(),
                     *(jail.root / "opt/ferry/collectors").iterdir()]):
        r = jail.run("/opt/ferry/%s/%s" % (f.parent.name, f.name), "-V")
        assert r.stdout == "%s %s\n" % (f.name, v1), r.stdout

    # The operator's edit, applied by a reload; metrics to the sink.
    ferry.edit_and_reload(reload_argv)
    assert ferry.supervisor() == first, "a reload does not restart"
    ts = int(time.time()) - 60
    a = ferry.send_phase("a", ts)
    ferry.wait_sink("pkg.a.", N)
    wait_for(lambda: ferry.beat_version() == v1, 30, what="a heartbeat of v1")

    # Records the upgrade must carry: in the spool, not yet sent to "late".
    b = ferry.send_phase("b", ts)
    wait_for(lambda: ferry.spooled(b[-1]), 10, what="phase b in the spool")
    db = (ferry.var / "ferry.db").stat().st_ino
    conf = ferry.conf.read_bytes()

    upgrade()
    assert ferry.conf.read_bytes() == conf, "the edited configuration is kept"
    assert (ferry.var / "ferry.db").stat().st_ino == db, "the database is kept"
    second = ferry.check_running(children=("ferry-receiver", "ferry-forwarder",
                                           "ferry-periodic", "ferry-sink"))
    assert second != first, "the upgrade restarted ferry"
    assert ferry.version() == v2
    wait_for(lambda: ferry.beat_version() == v2, 30, what="a heartbeat of v2")
    ferry.check_modes()

    # After the upgrade: more records, then the output that was down.
    c = ferry.send_phase("c", ts)
    late = tmp_path / ("late-%d.txt" % jail.init)
    late.touch()
    listener = jail.spawn("/usr/bin/python3", "-c", LISTENER, "2103", str(late))
    want = set(a + b + c)

    def arrived():
        got = set(late.read_text(errors="replace").splitlines())
        return want <= got or len(want - got)
    wait_for(lambda: arrived() is True, 90,
             what="every record at the output that was down (missing: %s)"
             % arrived())
    for phase in "abc":
        ferry.wait_sink("pkg.%s." % phase, N)
    listener.kill()
    listener.wait()
    return ferry


def logs(root):
    """The tail of each of ferry's logs in a root, for a failure's report."""
    out = []
    for f in sorted((Path(root) / "var/log/ferry").glob("*.log")):
        lines = f.read_text(errors="replace").splitlines()[-30:]
        out.append("== %s\n%s" % (f.name, "\n".join(lines)))
    return "\n".join(out)


# -- the test -----------------------------------------------------------------

def require_tools(*names):
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.skip("not installed: %s (make deps installs them)" % " ".join(missing))


def build(tmp_path, fmt, version):
    """`make deb` or `make rpm` of this tree at version, in a build folder
    of the test's own (the suite's binaries stay as they are); the path."""
    b = tmp_path / "build"
    if not b.exists():
        b.mkdir()
        # Start from the suite's objects, when there: only the version's
        # object is compiled again, and every program linked.
        for part in ("obj", "libferry.a"):
            if (REPO / "build" / part).exists():
                run(["cp", "-a", str(REPO / "build" / part), str(b)])
    r = run(["make", "-C", str(REPO), "--no-print-directory", "-j2",
             "B=%s" % b, "VERSION=%s" % version, fmt], timeout=600)
    path = Path([l for l in r.stdout.splitlines()
                 if l.endswith("." + fmt)][-1])
    assert path.is_file(), r.stdout[-3000:]
    return path


def prepare(tmp_path, deb1, v1, v2):
    """The other packages, the linters, the rpm's layout; (debs, rpms)."""
    rpm1 = build(tmp_path, "rpm", v1)
    deb2 = build(tmp_path, "deb", v2)
    rpm2 = build(tmp_path, "rpm", v2)
    assert deb1.name == "ferry_%s_%s.deb" % (
        v1, run(["dpkg", "--print-architecture"]).stdout.strip())
    assert rpm1.name == "ferry-%s-1.%s.rpm" % (v1, os.uname().machine)

    # The linters: nothing but what the overrides explain.
    r = run(["lintian", "--fail-on", "error,warning", str(deb1)], check=False)
    assert r.returncode == 0 and not re.search(r"^[EW]: ", r.stdout, re.M), r.stdout
    r = run(["rpmlint", "-c", str(REPO / "pkg/rpm/rpmlint.toml"), str(rpm1)],
            check=False)
    assert re.search(r"\b0 errors, 0 warnings\b", r.stdout), r.stdout

    # The rpm's layout: SPEC.md's tree, Red Hat's places for the rest.
    files = set(run(["rpm", "-qlp", str(rpm1)]).stdout.split())
    for p in ("/opt/ferry/bin/ferry-supervisor", "/opt/ferry/bin/ferryctl",
              "/opt/ferry/collectors/cpu", "/etc/opt/ferry/ferry.conf",
              "/etc/opt/ferry/conf.d", "/etc/opt/ferry/collectors.d",
              "/var/opt/ferry", "/var/log/ferry", "/usr/bin/ferryctl",
              "/usr/lib/systemd/system/ferry.service", "/etc/rc.d/init.d/ferry",
              "/etc/logrotate.d/ferry", "/usr/share/man/man8/ferry.8.gz",
              "/usr/share/man/man5/ferry.conf.5.gz",
              "/usr/share/man/man8/ferryctl.8.gz"):
        assert p in files, p
    # Every page of man/, compressed, in both packages.
    pages = {"/usr/share/man/man%s/%s.gz" % (p.suffix[1:], p.name)
             for p in (REPO / "man").iterdir() if p.suffix in (".5", ".8")}
    assert len(pages) >= 9 and pages <= files, pages - files
    debfiles = {l.split()[-1].lstrip(".") for l in
                run(["dpkg-deb", "-c", str(deb1)]).stdout.splitlines()}
    assert pages <= debfiles, pages - debfiles
    configs = set(run(["rpm", "-qcp", str(rpm1)]).stdout.split())
    assert "/etc/opt/ferry/ferry.conf" in configs

    return (deb1, deb2), (rpm1, rpm2)


@pytest.fixture
def roots(tmp_path):
    """The two roots; deleted however the test ends (a root is 250 MB)."""
    paths = (tmp_path / "base", tmp_path / "rpmroot")
    yield paths
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)


def test_packages_install_upgrade_remove(tmp_path, roots):
    if os.geteuid() != 0:
        pytest.skip("installing a package into a root takes root")
    require_tools("dpkg-deb", "dpkg-shlibdeps", "debootstrap", "lintian",
                  "rpmbuild", "rpmlint", "systemd-analyze", "unshare", "nsenter")
    r = run(["unshare", "--mount", "--pid", "--net", "--fork", "true"],
            check=False)
    if r.returncode != 0:
        pytest.skip("no namespaces here (%s): a container needs "
                    "CAP_SYS_ADMIN and no seccomp filter on unshare(2) "
                    "(docker run --privileged) to isolate the package's "
                    "root" % r.stdout.strip())
    before = machine_state(tmp_path)
    started = time.monotonic()

    v1 = run(["sh", str(REPO / "tools/version.sh")]).stdout.strip()
    v2 = v1 + ".1"
    assert run(["dpkg", "--compare-versions", v2, "gt", v1], check=False).returncode == 0
    deb1 = build(tmp_path, "deb", v1)
    # The root, while the rest is built and checked: sysvinit-core, for a
    # machine without systemd (the package starts ferry with its SysV
    # script there), and what the package depends on.
    base, rpmroot = roots
    depends, names = depends_of(deb1)
    root = Root(["sysvinit-core", *names], depends)
    root.start()
    try:
        debs, rpms = prepare(tmp_path, deb1, v1, v2)
        built = time.monotonic()
        root.finish()
    except BaseException:
        root.kill()
        raise
    root_done = time.monotonic()
    deb1, deb2 = debs
    rpm1, rpm2 = rpms
    root.copy(base)
    root.copy(rpmroot)
    prepared = time.monotonic()

    # -- .deb --------------------------------------------------------------
    jail = Jail(base)
    try:
        shutil.copy(deb1, base / "tmp")
        shutil.copy(deb2, base / "tmp")
        ferry = lifecycle(
            jail, tmp_path,
            install=lambda: jail.run("dpkg", "-i", "/tmp/" + deb1.name),
            upgrade=lambda: jail.run("dpkg", "-i", "/tmp/" + deb2.name),
            v1=v1, v2=v2, reload_argv=("/etc/init.d/ferry", "reload"))
        assert not list(base.glob("etc/opt/ferry/ferry.conf.dpkg-*"))
        assert list(base.glob("etc/rc2.d/S*ferry"))
        assert (base / "etc/systemd/system/multi-user.target.wants/"
                "ferry.service").is_symlink()

        size = int(jail.run("dpkg-query", "-W", "-f=${Installed-Size}",
                            "ferry").stdout)
        print("\ninstalled size: %d KiB (%.2f MiB); Hosted Graphite's agent: "
              "%d MiB (published); target: under %d MiB"
              % (size, size / 1024, HG_AGENT_MIB, TARGET_KIB // 1024))
        assert size < TARGET_KIB

        # The installed unit, with the installed programs and pages in
        # their places (in the jail's mount namespace only).
        r = jail.host("sh", "-c",
                      "mount -t tmpfs tmpfs /opt && mkdir /opt/ferry && "
                      "mount --bind \"$1/opt/ferry\" /opt/ferry && "
                      "MANPATH=\"$1/usr/share/man\" systemd-analyze verify "
                      "\"$1/lib/systemd/system/ferry.service\"",
                      "sh", str(base), check=False)
        bad = [l for l in r.stdout.splitlines() if l.startswith("ferry.service")]
        assert r.returncode == 0 and not bad, r.stdout

        jail.run("dpkg", "-r", "ferry")
        ferry.check_stopped()
        assert not (base / "opt/ferry/bin").exists()
        assert ferry.conf.read_text() == EDITED_CONF
        assert (ferry.var / "ferry.db").is_file() and (base / "var/log/ferry").is_dir()
        assert list((ferry.var / "spool").iterdir())
        assert "deinstall ok config-files" in jail.run(
            "dpkg-query", "-W", "-f=${Status}", "ferry").stdout

        jail.run("dpkg", "-P", "ferry")
        for p in ("var/opt/ferry", "var/log/ferry", "etc/opt/ferry",
                  "etc/init.d/ferry", "etc/logrotate.d/ferry",
                  "etc/systemd/system/multi-user.target.wants/ferry.service"):
            assert not os.path.lexists(base / p), p
        assert not list(base.glob("etc/rc*.d/*ferry"))
        assert jail.run("dpkg-query", "-W", "ferry", check=False).returncode != 0
        # Debian keeps a package's system user after a purge.
        assert ferry.user() is not None and ferry.group() is not None
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, logs(base))) from None
    finally:
        jail.close()
    deb_done = time.monotonic()

    # -- .rpm --------------------------------------------------------------
    jail = Jail(rpmroot)
    try:
        # rpm runs from the machine, with --root: its scriptlets run
        # chrooted there; its database where Red Hat keeps it. --nodeps:
        # the libraries are there, but as Debian's packages, which rpm's
        # database does not know.
        rpm = ("rpm", "--root", str(rpmroot), "--dbpath", "/var/lib/rpm")
        jail.host(*rpm, "--initdb")
        ferry = lifecycle(
            jail, tmp_path,
            install=lambda: jail.host(*rpm, "-i", "--nodeps", str(rpm1)),
            upgrade=lambda: jail.host(*rpm, "-U", "--nodeps", str(rpm2)),
            v1=v1, v2=v2, reload_argv=("/etc/rc.d/init.d/ferry", "reload"))
        assert not list(rpmroot.glob("etc/opt/ferry/ferry.conf.rpm*"))
        q = jail.host(*rpm, "-q", "ferry").stdout.strip()
        assert q == "ferry-%s-1.%s" % (v2, os.uname().machine)

        jail.host(*rpm, "-e", "--nodeps", "ferry")
        ferry.check_stopped()
        assert not (rpmroot / "opt/ferry/bin").exists()
        # rpm has no purge: the edited configuration is saved aside, the
        # state, the logs and the user stay.
        assert (rpmroot / "etc/opt/ferry/ferry.conf.rpmsave").read_text() == EDITED_CONF
        assert (ferry.var / "ferry.db").is_file()
        assert (rpmroot / "var/log/ferry").is_dir()
        assert ferry.user() is not None
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, logs(rpmroot))) from None
    finally:
        jail.close()
    end = time.monotonic()
    print("times: builds and linters %.0f s; the root (%s) %.0f s more, "
          "copied twice in %.0f s; .deb lifecycle %.0f s, .rpm lifecycle %.0f s"
          % (built - started, "cached" if root.cached else "debootstrap",
             root_done - built, prepared - root_done, deb_done - prepared,
             end - deb_done))

    shutil.rmtree(base)
    shutil.rmtree(rpmroot)
    assert machine_state(tmp_path) == before, "the machine is not as it was found"

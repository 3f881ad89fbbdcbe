"""
The fleet: drains kept in etcd (Debian's etcd-server, started here on
loopback with its data in the test's folder) and applied by ferry-fleet on
several ferry instances on this one machine, each under its own FERRY_ROOT
with a hostname (and a group) of its own.

  - a drain added once with `ferryctl drain add --fleet` is a fragment of
    conf.d/fleet on every instance within 2 s, and each instance delivers
    its stream of metrics to it completely; a group drain and a host drain
    reach only their hosts; removed once, it leaves every instance, its
    cursors with it, and the spool segments only it still held are deleted;
  - etcd stopped for 30 s: every instance goes on delivering to its fleet
    drain, and what changed in etcd once it is back (a drain removed, one
    added) is applied when the watch resumes;
  - one host cut off (a TCP proxy that drops and refuses) while a drain is
    deleted and etcd compacts its history: it keeps the drain while cut
    off, and loses it (reading everything again) when it comes back;
  - a three-member etcd with one member killed: drains still propagate;
    and with one hung (SIGSTOP: connections open, no answers), once the
    lease renewal's timeout finds it;
  - an invalid drain value is refused by every host, shown under its
    status key and by `ferryctl fleet status`, never with its secret, and
    the drain's previous value keeps running; a file:// drain runs only on
    the host whose fleet.allow_file is true;
  - `ferryctl fleet status` lists every instance; one that stops leaves at
    once (its lease is revoked), one that hangs leaves when its lease ends
    and comes back when it wakes;
  - etcd with authentication: ferry-fleet logs in, and the password shows
    nowhere;
  - etcd over https that wants a client certificate: with fleet.ca_file,
    cert_file and key_file ferry-fleet and ferryctl reach it; without the
    CA, the server is not trusted and nothing is applied.

The destination of the drains is an HTTP server of this file that keeps
what every path received; drains filter on "fleettest." so each stream is
exactly what a test sent.
"""
import http.server
import json
import os
import signal
import socket
import socketserver
import subprocess
import threading
import time

import pytest

from conftest import ro_query, require_programs, wait_for
from peers import Etcd, etcd_cluster, etcd_tls
from test_drainctl import (SMALL_SEGMENTS, db_rows, dead_port,
                           receiver_segments, send_rotating, sink_cursor)

HEARTBEAT = 1           # fleet.heartbeat_interval: leases of 3 s
APPEAR = 2.0            # a fleet drain reaches every instance within this
ARRIVAL = 60.0          # metrics through an ASan forwarder on 2 shared cores
RESUME = 40.0           # backoff up to 10 s, then a watch and a reload
PROGRAMS = ("ferry-supervisor", "ferry-receiver", "ferry-forwarder",
            "ferry-sink", "ferry-fleet", "ferryctl")


# -- the destination, and a cable to cut ----------------------------------------

class Hub:
    """An HTTP server answering 200 to every POST, keeping lines by path."""

    def __init__(self):
        self.lock = threading.Lock()
        self.paths = {}
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode(errors="replace")
                path = self.path.split("?")[0]
                with hub.lock:
                    hub.paths.setdefault(path, []).extend(
                        l for l in body.split("\n") if l)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def uri(self, path):
        return "http://127.0.0.1:%d%s?filter=fleettest." % (self.port, path)

    def lines(self, path):
        with self.lock:
            return set(self.paths.get(path, []))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Cable:
    """
    A TCP relay on loopback in front of one port. cut() closes every
    connection through it and refuses new ones (a host cut off from the
    network); mend() lets them through again.
    """

    def __init__(self, port):
        self.upstream = port
        self.lock = threading.Lock()
        self.socks = []
        self.cutoff = False
        self.done = False
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.done:
            try:
                c, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self.cutoff:
                c.close()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.upstream), 5)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.socks += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b),
                                 daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.cutoff = True
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def mend(self):
        self.cutoff = False

    def close(self):
        self.done = True
        self.cut()
        self.listener.close()


@pytest.fixture
def hub():
    h = Hub()
    yield h
    h.close()


# -- ferry instances of a fleet ---------------------------------------------------

def fleet_conf(endpoints, group="", extra=""):
    return ('fleet { etcd = {%s} heartbeat_interval = %d group = "%s" %s }\n'
            % (", ".join('"%s"' % e for e in endpoints), HEARTBEAT, group,
               extra))


def start_host(start_ferry, endpoints, host, group="", extra=""):
    """One instance of the fleet, with its ferry-fleet running."""
    f = start_ferry(fleet_conf(endpoints, group, extra), hostname=host)
    f.child_pid("fleet")
    return f


def ctl(f, *args, ok=True):
    r = f.run("ferryctl", "-c", str(f.conf), *args)
    if ok:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def fragments(f):
    """The drains of conf.d/fleet: {name: text}."""
    d = f.etc / "conf.d" / "fleet"
    if not d.is_dir():
        return {}
    return {p.stem: p.read_text() for p in d.glob("*.conf")}


def wait_fragments(hosts, want, timeout, what):
    """Every host's fragments are want[host] (a set of names)."""
    def check():
        return all(set(fragments(f)) == want[f.hostname] for f in hosts)
    wait_for(check, timeout, interval=0.05,
             what="%s (have %s)" % (what, {f.hostname: sorted(fragments(f))
                                           for f in hosts}))


def status_key(etcd, host):
    v = etcd.get("/ferry/status/%s" % host)
    return json.loads(v) if v is not None else None


def fleet_status(f):
    r = ctl(f, "fleet", "status", "--json", ok=False)
    assert r.returncode in (0, 1), (r.stdout, r.stderr)
    return {h["host"]: h for h in json.loads(r.stdout)["hosts"]}


def cursor_rows(f, output):
    rows = ro_query(f.db_path, "SELECT count(*) FROM cursor WHERE output = ?",
                    (output,))
    return rows[0][0] if rows else 0


def send_stream(f, tag, n, ts=None):
    """n metrics fleettest.<tag>.<host>.mI from f; the lines as the hub keeps them."""
    ts = ts or int(time.time())
    lines = ["fleettest.%s.%s.m%d %d %d" % (tag, f.hostname, i, i, ts)
             for i in range(n)]
    f.send_tcp(lines)
    return set(lines)


def wait_arrived(hub, path, lines, timeout=ARRIVAL):
    wait_for(lambda: lines <= hub.lines(path), timeout, interval=0.1,
             what="%d lines at %s (missing %d)"
             % (len(lines), path, len(lines - hub.lines(path))))


def all_text(f):
    """Every log, and what ferryctl shows of the fleet and the drains."""
    parts = [text for _, text in f.all_logs()]
    for args in (("fleet", "status", "--json"), ("drain", "list", "--fleet"),
                 ("drain", "list", "--json"),
                 ("check-config", "--effective")):
        r = ctl(f, *args, ok=False)
        parts += [r.stdout, r.stderr]
    return "\n".join(parts)


# -- every host, a group, a host ----------------------------------------------------

@pytest.mark.long(20)
def test_drains_reach_their_hosts_and_leave_them(start_ferry, start_peer, hub):
    require_programs(*PROGRAMS)
    etcd = start_peer(Etcd)
    a = start_host(start_ferry, [etcd.endpoint], "alpha", "web")
    b = start_host(start_ferry, [etcd.endpoint], "beta", "web")
    c = start_host(start_ferry, [etcd.endpoint], "gamma", "db")
    hosts = (a, b, c)
    # Without a fleet section there is no ferry-fleet at all.
    loner = start_ferry(hostname="loner")
    assert loner.processes().get("fleet", {}).get("state",
                                                  "stopped") == "stopped"

    # Added once the put is acknowledged, when ferryctl ends (an ASan
    # ferryctl takes most of a second to get there on a loaded machine).
    t0 = time.monotonic()
    ctl(a, "drain", "add", "--fleet", "all", hub.uri("/all"))
    t_put = time.monotonic() - t0
    wait_fragments(hosts, {"alpha": {"all"}, "beta": {"all"},
                           "gamma": {"all"}}, APPEAR,
                   "the drain on every host within %g s" % APPEAR)
    print("drain on 3 hosts %.2f s after ferryctl started (%.2f s after it "
          "ended)" % (time.monotonic() - t0, time.monotonic() - t0 - t_put))
    assert 'uri = "%s"' % hub.uri("/all") in fragments(a)["all"]

    sent = {f.hostname: send_stream(f, "one", 300) for f in hosts}
    wait_arrived(hub, "/all", set().union(*sent.values()))

    ctl(a, "drain", "add", "--fleet", "--group", "web", "grp", hub.uri("/grp"))
    ctl(b, "drain", "add", "--fleet", "--host", "gamma", "own", hub.uri("/own"))
    wait_fragments(hosts, {"alpha": {"all", "grp"}, "beta": {"all", "grp"},
                           "gamma": {"all", "own"}}, APPEAR,
                   "the group drain on web, the host drain on gamma")
    more = {f.hostname: send_stream(f, "two", 200) for f in hosts}
    wait_arrived(hub, "/all", set().union(*more.values()))
    wait_arrived(hub, "/grp", more["alpha"] | more["beta"])
    wait_arrived(hub, "/own", more["gamma"])
    assert not any(".gamma." in l for l in hub.lines("/grp"))
    assert not any(".gamma." not in l for l in hub.lines("/own"))

    # What the fleet holds, and who reports what of it.
    r = ctl(a, "drain", "list", "--fleet", "--json")
    drains = {d["key"]: d for d in json.loads(r.stdout)["drains"]}
    assert set(drains) == {"/ferry/drains/all", "/ferry/groups/web/drains/grp",
                           "/ferry/hosts/gamma/drains/own"}
    assert drains["/ferry/groups/web/drains/grp"]["scope"] == "group"
    wait_for(lambda: json.loads(ctl(a, "drain", "list", "--fleet", "--json")
                                .stdout)["drains"][0]["hosts"] == {"sending": 3},
             ARRIVAL, what="all three hosts sending to the drain of all")

    # Metrics flowing for several heartbeats, nothing else happening: no
    # status put (a put is a revision of the whole store, for each host).
    def settled():
        sts = {f.hostname: status_key(etcd, f.hostname) for f in hosts}
        return all(st and all(d["state"] == "sending" for d in st["drains"])
                   for st in sts.values()) and sts
    quiet = wait_for(settled, ARRIVAL, what="every fleet drain sending")
    n, until = 0, time.monotonic() + 5 * HEARTBEAT
    while time.monotonic() < until:
        for f in hosts:
            send_stream(f, "flow%d" % n, 20)
        n += 1
        time.sleep(0.2)     # the pace of the flow, not a wait for anything
    assert {f.hostname: status_key(etcd, f.hostname) for f in hosts} == quiet
    local = {o["name"]: o for o in json.loads(
        ctl(c, "drain", "list", "--json").stdout)["outputs"]}
    assert local["own"]["fleet"] is True and local["own"]["drain"] is False
    r = ctl(c, "drain", "remove", "own", ok=False)
    assert r.returncode == 1 and "--fleet" in r.stderr

    # Removed once, gone everywhere, and its cursors with it.
    ctl(b, "drain", "remove", "--fleet", "all")
    wait_fragments(hosts, {"alpha": {"grp"}, "beta": {"grp"}, "gamma": {"own"}},
                   APPEAR, "the drain of all gone from every host")
    for f in hosts:
        wait_for(lambda: cursor_rows(f, "all") == 0, ARRIVAL,
                 what="the cursors of the removed drain gone on %s" % f.hostname)
        assert "all" not in {o["name"] for o in json.loads(
            ctl(f, "drain", "list", "--json").stdout)["outputs"]}
    r = ctl(a, "drain", "remove", "--fleet", "all", ok=False)
    assert r.returncode == 1 and "no fleet drain all" in r.stderr


@pytest.mark.long(10)
def test_removed_fleet_drain_releases_its_backlog(start_ferry, start_peer):
    require_programs(*PROGRAMS)
    etcd = start_peer(Etcd)
    f = start_ferry(SMALL_SEGMENTS + fleet_conf([etcd.endpoint]),
                    hostname="alpha")
    f.child_pid("fleet")
    ctl(f, "drain", "add", "--fleet", "stuck",
        "tcp://127.0.0.1:%d" % dead_port())
    wait_fragments((f,), {"alpha": {"stuck"}}, APPEAR, "stuck on alpha")
    wait_for(lambda: db_rows(f, "output", "name", "stuck") == 1, ARRIVAL,
             what="the forwarder running stuck")

    # The sink takes every segment but the newest; the dead drain holds them.
    send_rotating(f, "fleettest.held", 4)
    segs = receiver_segments(f)
    wait_for(lambda: sink_cursor(f) >= segs[-1], ARRIVAL,
             what="the sink's cursor at receiver segment %d" % segs[-1])
    held = [s for s in receiver_segments(f) if s < sink_cursor(f)]
    assert len(held) >= 3, (held, sink_cursor(f))

    ctl(f, "drain", "remove", "--fleet", "stuck")
    wait_fragments((f,), {"alpha": set()}, APPEAR, "stuck gone")
    wait_for(lambda: not set(held) & set(receiver_segments(f)), ARRIVAL,
             what="segments %s, held by the removed drain only, deleted" % held)
    wait_for(lambda: cursor_rows(f, "stuck") == 0 and
             db_rows(f, "output", "name", "stuck") == 0, ARRIVAL,
             what="stuck's cursors and state gone")


# -- partitions ---------------------------------------------------------------------

@pytest.mark.long(45)
def test_etcd_away_for_30_s(start_ferry, start_peer, hub):
    require_programs(*PROGRAMS)
    etcd = start_peer(Etcd)
    hosts = [start_host(start_ferry, [etcd.endpoint], h)
             for h in ("alpha", "beta")]
    ctl(hosts[0], "drain", "add", "--fleet", "d1", hub.uri("/d1"))
    wait_fragments(hosts, {"alpha": {"d1"}, "beta": {"d1"}}, APPEAR,
                   "d1 everywhere")
    for f in hosts:
        wait_arrived(hub, "/d1", send_stream(f, "before", 100))

    etcd.stop()
    t_away = time.monotonic()
    n = 0
    # Every few seconds of the outage: each host still delivers.
    while time.monotonic() - t_away < 30:
        n += 1
        for f in hosts:
            wait_arrived(hub, "/d1", send_stream(f, "away%d" % n, 50))
        assert all(set(fragments(f)) == {"d1"} for f in hosts)
        time.sleep(max(0, min(5, 30 - (time.monotonic() - t_away))))
    for f in hosts:
        assert "the drains received keep running" in f.log_text("fleet")
    etcd.start()

    # Changed once etcd is back: applied when the watch resumes.
    ctl(hosts[1], "drain", "remove", "--fleet", "d1")
    ctl(hosts[1], "drain", "add", "--fleet", "d2", hub.uri("/d2"))
    wait_fragments(hosts, {"alpha": {"d2"}, "beta": {"d2"}}, RESUME,
                   "d1 gone and d2 there once the watch resumed")
    for f in hosts:
        assert "etcd answers again" in f.log_text("fleet")
        wait_arrived(hub, "/d2", send_stream(f, "after", 100))
        wait_for(lambda: cursor_rows(f, "d1") == 0, ARRIVAL,
                 what="d1's cursors gone on %s" % f.hostname)


@pytest.mark.long(10)
def test_host_cut_off_while_a_drain_goes_and_history_is_compacted(
        start_ferry, start_peer, hub):
    require_programs(*PROGRAMS)
    etcd = start_peer(Etcd)
    cable = Cable(etcd.client_port)
    try:
        a = start_host(start_ferry, [etcd.endpoint], "alpha")
        b = start_host(start_ferry, ["http://127.0.0.1:%d" % cable.port],
                       "beta")
        ctl(a, "drain", "add", "--fleet", "d1", hub.uri("/d1"))
        ctl(a, "drain", "add", "--fleet", "d2", hub.uri("/d2"))
        wait_fragments((a, b), {"alpha": {"d1", "d2"}, "beta": {"d1", "d2"}},
                       APPEAR * 2, "d1 and d2 everywhere")

        cable.cut()
        wait_for(lambda: "the drains received keep running" in
                 b.log_text("fleet"), 30, what="beta noticing it is cut off")
        ctl(a, "drain", "remove", "--fleet", "d1")
        ctl(a, "drain", "add", "--fleet", "d3", hub.uri("/d3"))
        etcd.compact(etcd.revision())
        wait_fragments((a,), {"alpha": {"d2", "d3"}}, APPEAR, "alpha follows")
        # Cut off, beta keeps what it had, and delivers to it.
        assert set(fragments(b)) == {"d1", "d2"}
        wait_arrived(hub, "/d1", send_stream(b, "cut", 50))

        cable.mend()
        wait_fragments((b,), {"beta": {"d2", "d3"}}, RESUME,
                       "beta losing d1 and taking d3 once back")
        assert "reading every drain again" in b.log_text("fleet")
        wait_arrived(hub, "/d3", send_stream(b, "back", 50))
    finally:
        cable.close()


def three_members_two_hosts(start_ferry, start_peer, hub):
    """
    A cluster of three etcd members, alpha and beta with all three as
    endpoints (the first one first), and d1 on both: (members, hosts).
    """
    require_programs(*PROGRAMS)
    members = etcd_cluster(start_peer, 3)
    endpoints = [m.endpoint for m in members]
    hosts = [start_host(start_ferry, endpoints, h) for h in ("alpha", "beta")]
    ctl(hosts[0], "drain", "add", "--fleet", "d1", hub.uri("/d1"))
    wait_fragments(hosts, {"alpha": {"d1"}, "beta": {"d1"}}, APPEAR,
                   "d1 everywhere")
    return members, hosts


@pytest.mark.long(15)
def test_three_member_etcd_with_one_member_killed(start_ferry, start_peer, hub):
    members, hosts = three_members_two_hosts(start_ferry, start_peer, hub)

    members[0].kill()
    # ferryctl tries the endpoints in turn; the hosts' watches move on.
    ctl(hosts[1], "drain", "add", "--fleet", "d2", hub.uri("/d2"))
    ctl(hosts[1], "drain", "remove", "--fleet", "d1")
    wait_fragments(hosts, {"alpha": {"d2"}, "beta": {"d2"}}, RESUME,
                   "d2 in and d1 out through the two members left")
    for f in hosts:
        wait_arrived(hub, "/d2", send_stream(f, "quorum", 50))
    wait_for(lambda: set(fleet_status(hosts[0])) == {"alpha", "beta"}, RESUME,
             what="both hosts in the fleet's view")
    # Each moved on from the member killed, its first endpoint.
    for f in hosts:
        wait_for(lambda: fleet_status(hosts[0])[f.hostname]["status"]["etcd"]
                 in [m.endpoint for m in members[1:]], RESUME,
                 what="%s's status from another member" % f.hostname)


@pytest.mark.long(20)
def test_three_member_etcd_with_one_member_hung(start_ferry, start_peer, hub):
    members, hosts = three_members_two_hosts(start_ferry, start_peer, hub)

    # Hung, the first endpoint keeps its connections open and says nothing:
    # the lease renewal's timeout (10 s) finds it, the watch moves on.
    os.kill(members[0].pid, signal.SIGSTOP)
    try:
        # Through another member, once the two left have a leader (the
        # hung one may have been it).
        def put():
            try:
                return members[1].put("/ferry/drains/d2", hub.uri("/d2"))
            except OSError:
                return None
        wait_for(put, 30, interval=0.2, what="a put through member 1")
        t0 = time.monotonic()
        wait_fragments(hosts, {"alpha": {"d1", "d2"}, "beta": {"d1", "d2"}},
                       RESUME, "d2 everywhere with the first member hung")
        print("d2 on both hosts %.1f s after the put"
              % (time.monotonic() - t0))
        for f in hosts:
            wait_arrived(hub, "/d2", send_stream(f, "hung", 50))
    finally:
        os.kill(members[0].pid, signal.SIGCONT)

# -- refusals -------------------------------------------------------------------------

@pytest.mark.long(10)
def test_invalid_values_are_refused_and_reported(start_ferry, start_peer, hub,
                                                 tmp_path):
    require_programs(*PROGRAMS)
    etcd = start_peer(Etcd)
    # beta's operator allows file:// drains from the fleet; alpha's not.
    hosts = [start_host(start_ferry, [etcd.endpoint], "alpha"),
             start_host(start_ferry, [etcd.endpoint], "beta",
                        extra="allow_file = true")]
    out = tmp_path / "fleet-file-drain.txt"
    ctl(hosts[0], "drain", "add", "--fleet", "d", hub.uri("/d"))
    wait_fragments(hosts, {"alpha": {"d"}, "beta": {"d"}}, APPEAR,
                   "d everywhere")
    before = {f.hostname: fragments(f)["d"] for f in hosts}

    # ferryctl refuses them itself; etcd can hold anything.
    r = ctl(hosts[0], "drain", "add", "--fleet", "x", "gopher://h/", ok=False)
    assert r.returncode == 1 and "unknown scheme" in r.stderr
    etcd.put("/ferry/drains/d", "gopher://127.0.0.1/")
    etcd.put("/ferry/drains/f", "file://%s?filter=fleettest." % out)
    etcd.put("/ferry/drains/k", json.dumps({
        "uri": "http://127.0.0.1:9/", "api_key": "SECRETKEY42", "exec": "x"}))
    etcd.put("/ferry/drains/bad name", "http://127.0.0.1:9/")

    bad = {"alpha": ("d", "f", "k", "bad name"), "beta": ("d", "k", "bad name")}

    def refused(host):
        st = status_key(etcd, host)
        if st is None:
            return False
        ds = {d["name"]: d for d in st["drains"]}
        return (not st["healthy"] and all(
            ds.get(n, {}).get("state") == "refused" for n in bad[host]) and
            "f" in ds and ds)
    for f in hosts:
        ds = wait_for(lambda: refused(f.hostname), 30,
                      what="the refusals under %s's status key" % f.hostname)
        assert "unknown scheme" in ds["d"]["error"]
        assert "unknown member" in ds["k"]["error"]
        # The previous value of d runs on; k never ran, f only on beta.
        assert fragments(f)["d"] == before[f.hostname]
        if f.hostname == "alpha":
            assert "allow_file" in ds["f"]["error"]
            assert set(fragments(f)) == {"d"}
        else:
            assert ds["f"]["state"] != "refused", ds["f"]
            assert set(fragments(f)) == {"d", "f"}
    st = fleet_status(hosts[0])
    assert set(st) == {"alpha", "beta"}
    assert not st["alpha"]["healthy"] and not st["beta"]["healthy"]
    r = ctl(hosts[0], "fleet", "status", ok=False)
    assert r.returncode == 1 and "unhealthy" in r.stdout, r.stdout
    for f in hosts:
        lines = send_stream(f, "stillgoing", 50)
        wait_arrived(hub, "/d", lines)
    names = {l.split()[0] for l in lines}
    wait_for(lambda: out.exists() and names <= {
        l.split()[0] for l in out.read_text().splitlines() if l},
        ARRIVAL, what="beta's stream in its file:// fleet drain")

    # The secret is nowhere: logs, status keys, ferryctl's words.
    for f in hosts:
        assert "SECRETKEY42" not in all_text(f)
        assert "SECRETKEY42" not in json.dumps(status_key(etcd, f.hostname))

    # Fixed in etcd: every host healthy again.
    for k in ("/ferry/drains/f", "/ferry/drains/k", "/ferry/drains/bad name"):
        etcd.delete(k)
    etcd.put("/ferry/drains/d", hub.uri("/d2"))
    for f in hosts:
        wait_for(lambda: (status_key(etcd, f.hostname) or {}).get("healthy"),
                 30, what="%s healthy again" % f.hostname)
        assert hub.uri("/d2") in fragments(f)["d"]
        assert set(fragments(f)) == {"d"}


# -- the fleet's view ------------------------------------------------------------------

@pytest.mark.long(10)
def test_fleet_status_and_leases(start_ferry, start_peer):
    require_programs(*PROGRAMS)
    etcd = start_peer(Etcd)
    hosts = {h: start_host(start_ferry, [etcd.endpoint], h, "g")
             for h in ("alpha", "beta", "gamma")}
    st = wait_for(lambda: len(fleet_status(hosts["alpha"])) == 3 and
                  fleet_status(hosts["alpha"]), 30, what="three hosts")
    for h, v in st.items():
        assert v["healthy"] and v["status"]["host"] == h
        assert v["status"]["group"] == "g" and v["age"] >= 0
    r = ctl(hosts["beta"], "fleet", "status")
    assert r.stdout.splitlines()[0].split() == ["HOST", "HEALTH", "AGE",
                                               "DRAINS", "LAST", "ERROR"]

    # Stopped: its lease is revoked, it leaves at once.
    hosts["gamma"].stop()
    wait_for(lambda: set(fleet_status(hosts["alpha"])) == {"alpha", "beta"},
             2 * HEARTBEAT, what="gamma gone at once")

    # Hung: it leaves when its lease ends, and comes back when it wakes.
    pid = hosts["beta"].child_pid("fleet")
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        wait_for(lambda: set(fleet_status(hosts["alpha"])) == {"alpha"},
                 3 * HEARTBEAT + 10, what="beta gone when its lease ended")
        assert time.monotonic() - t0 >= 1.5
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: set(fleet_status(hosts["alpha"])) == {"alpha", "beta"},
             30, what="beta back once it woke")
    assert "the status lease ended" in hosts["beta"].log_text("fleet")


def etcdctl(etcd, *args, user=None):
    cmd = ["etcdctl", "--endpoints", etcd.endpoint]
    if user:
        cmd += ["--user", user]
    env = dict(os.environ, ETCDCTL_API="3")
    r = subprocess.run(cmd + list(args), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    assert r.returncode == 0, (args, r.stdout)
    return r.stdout


@pytest.mark.long(10)
def test_etcd_with_authentication(start_ferry, start_peer, hub):
    require_programs(*PROGRAMS)
    if subprocess.run(["sh", "-c", "command -v etcdctl"],
                      stdout=subprocess.DEVNULL).returncode != 0:
        pytest.skip("etcdctl (etcd-client) is not installed")
    etcd = start_peer(Etcd)
    etcdctl(etcd, "user", "add", "root:ROOTPW31")
    etcdctl(etcd, "user", "grant-role", "root", "root")
    etcdctl(etcd, "role", "add", "fleet")
    etcdctl(etcd, "role", "grant-permission", "fleet", "--prefix=true",
            "readwrite", "/ferry/")
    etcdctl(etcd, "user", "add", "ferry:PASSWORD37")
    etcdctl(etcd, "user", "grant-role", "ferry", "fleet")
    etcdctl(etcd, "auth", "enable")
    f = start_host(start_ferry, [etcd.endpoint], "alpha",
                   extra='username = "ferry" password = "PASSWORD37"')
    ctl(f, "drain", "add", "--fleet", "d", hub.uri("/d"))
    wait_fragments((f,), {"alpha": {"d"}}, APPEAR, "d through authentication")
    wait_for(lambda: "alpha" in fleet_status(f), 30, what="alpha's status")
    assert "PASSWORD37" not in all_text(f)
    assert "PASSWORD37" not in etcdctl(etcd, "get", "--prefix", "/ferry/",
                                       user="root:ROOTPW31")


@pytest.mark.long(10)
def test_etcd_over_tls_with_a_client_certificate(start_ferry, start_peer,
                                                 hub, tmp_path):
    require_programs(*PROGRAMS)
    Etcd.require()
    tls = etcd_tls(tmp_path / "tls")
    if tls is None:
        pytest.skip("openssl is not installed")
    etcd = start_peer(Etcd, tls=tls)
    files = 'ca_file = "%s" cert_file = "%s" key_file = "%s"' % (
        tls["ca"], tls["client_cert"], tls["client_key"])
    a = start_host(start_ferry, [etcd.endpoint], "alpha", extra=files)
    # Without the CA the server's certificate is not trusted: never applied.
    b = start_host(start_ferry, [etcd.endpoint], "beta", extra=(
        'cert_file = "%s" key_file = "%s"' % (tls["client_cert"],
                                              tls["client_key"])))
    ctl(a, "drain", "add", "--fleet", "d", hub.uri("/d"))
    wait_fragments((a,), {"alpha": {"d"}}, APPEAR, "d over TLS")
    wait_arrived(hub, "/d", send_stream(a, "tls", 50))
    assert set(fleet_status(a)) == {"alpha"}
    wait_for(lambda: "the drains received keep running" in b.log_text("fleet"),
             30, what="beta refusing etcd's certificate")
    assert "certificate" in b.log_text("fleet"), b.log_text("fleet")
    assert fragments(b) == {}
    assert "https://" in a.log_text("fleet")

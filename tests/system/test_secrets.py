"""
Secrets stay secret (SPEC.md "Security", issue 12): a suite configured with
every kind of secret ferry knows runs, fails to reach some of its outputs
(so it logs about them), sends heartbeats, takes a drain with a password,
and is asked everything ferryctl can say; then no log file, no ferryctl
output and no heartbeat body holds any of the secrets.

The secrets: the top-level api_key (also the sink's, so the forwarder's
output authenticates with it), an output's own api_key, a password in a
redis:// URI, user:password in an http:// URI, a password in a
clickhouse:// URI's query, user:password in the heartbeat URL, the etcd
password of the fleet section, and a drain added by ferryctl with a
password in its URI and an API key of its own.
"""
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import free_port, wait_for

SECRETS = {
    "top": "TopKey7f3a",
    "output": "OutKey91c2",
    "redis": "RedisPw5d1e",
    "http": "HttpPw4c4b8",
    "clickhouse": "ChPw2b7d",
    "beat": "BeatPw2e6f",
    "etcd": "EtcdPw8a07",
    "drain": "DrainPw33d9",
    "drainkey": "DrainKey6e51",
}


class BeatCatcher(ThreadingHTTPServer):
    """An HTTP endpoint on 127.0.0.1 that keeps every request's body."""

    daemon_threads = True

    def __init__(self):
        self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def take(h):
                n = int(h.headers.get("Content-Length") or 0)
                h.server.bodies.append(h.rfile.read(n))
                h.send_response(200)
                h.send_header("Content-Length", "0")
                h.end_headers()
            do_PUT = do_POST = take

            def log_message(h, *args):
                pass
        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


def closed_port():
    """A port on 127.0.0.1 nothing listens on (connections are refused)."""
    return free_port(socket.SOCK_STREAM)


def test_no_secret_in_logs_ctl_output_or_heartbeat(start_ferry):
    beats = BeatCatcher()
    s = SECRETS
    extra = (
        'api_key = "{top}"\n'
        'output "redis" {{ uri = "redis://:{redis}@127.0.0.1:{p1}/?key=k" }}\n'
        'output "web" {{ uri = "http://webuser:{http}@127.0.0.1:{p2}/in" '
        'api_key = "{output}" }}\n'
        'output "ch" {{ uri = "clickhouse://127.0.0.1:{p3}/?user=u&'
        'password={clickhouse}&database=d" }}\n'
        'periodic {{ heartbeat_url = "http://beat:{beat}@127.0.0.1:{pb}/beat" '
        'heartbeat_interval = 1 }}\n'
        'fleet {{ etcd = {{ "http://127.0.0.1:{p4}" }} username = "ferry" '
        'password = "{etcd}" }}\n'
    ).format(p1=closed_port(), p2=closed_port(), p3=closed_port(),
             p4=closed_port(), pb=beats.port, **s)
    f = start_ferry(extra, start=False)
    # The sink wants the key the outputs send (api_key, top level).
    f.env["FERRY_SINK_API_KEY"] = s["top"]
    f.start()
    try:
        said = []

        def ctl(*args):
            r = f.run("ferryctl", "-c", str(f.conf), *args)
            said.append(("ferryctl %s" % " ".join(args), r.stdout + r.stderr))
            return r

        r = ctl("drain", "add", "copy",
                "redis://:%s@127.0.0.1:%d/?key=d" % (s["drain"], closed_port()),
                "--api-key", s["drainkey"])
        assert r.returncode == 0, r.stderr
        # Lines flow to the sink, authenticated; the others fail and say so.
        ts = int(time.time())
        f.send_tcp(["secrets.test.m%d %d %d" % (i, i, ts) for i in range(20)])
        f.wait_sink_count("secrets.test.", 20)
        wait_for(lambda: len(beats.bodies) >= 2, 30, what="two heartbeats")
        for out in ("redis", "web", "ch"):
            wait_for(lambda: out in f.log_text("forwarder"), 20,
                     what="the forwarder's words on output %s" % out)
        wait_for(lambda: f.log_text("fleet") != "", 20, what="ferry-fleet's log")

        for args in (("status",), ("--json", "status"),
                     ("check-config", "--effective"),
                     ("--json", "check-config", "--effective"),
                     ("drain", "list"), ("--json", "drain", "list"),
                     ("fleet", "status")):
            ctl(*args)
        assert json.loads(said[2][1]), said[2]      # --json status
        assert "***" in said[3][1], said[3]         # check-config --effective
        assert "copy" in said[5][1], said[5]        # drain list
        for b in beats.bodies:
            json.loads(b)       # a heartbeat is one JSON object
    finally:
        assert f.stop() == 0
        beats.shutdown()

    texts = said + [("heartbeat %d" % i, b.decode(errors="replace"))
                    for i, b in enumerate(beats.bodies)] + f.all_logs()
    leaks = ["%s holds the %s secret:\n%s" % (
                 label, kind,
                 "\n".join(l for l in text.splitlines() if secret in l)[:600])
             for label, text in texts for kind, secret in s.items()
             if secret in text]
    assert leaks == [], "\n\n".join(leaks)

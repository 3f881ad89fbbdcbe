"""
Routing (SPEC.md "Outputs"): a record goes to the outputs whose filters
match its key; ferry's own URI options are not sent to the peer, the
peer's own query parameters are.
"""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import wait_for


class Recorder(BaseHTTPRequestHandler):
    """An HTTP peer that keeps every POSTed line and the paths asked for."""
    lines = []
    paths = []
    lock = threading.Lock()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        with self.lock:
            self.paths.append(self.path)
            self.lines.extend(l for l in body.split("\n") if l)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_filters_route_records(start_ferry):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        port = server.server_address[1]
        f = start_ferry(extra_conf=(
            'output "picky" { uri = "http://127.0.0.1:%d/ingest?token=1'
            '&filter=keep.&filter=also%%2Ekept" }\n' % port))
        lines = ["keep.m%d %d 1700000000" % (i, i) for i in range(50)]
        lines += ["drop.m%d %d 1700000000" % (i, i) for i in range(50)]
        lines += ["also.kept.m%d %d 1700000000" % (i, i) for i in range(10)]
        f.send_tcp(lines)
        # The unfiltered output gets everything.
        f.wait_sink_count("", 110)

        def picky_done():
            with Recorder.lock:
                return len([l for l in Recorder.lines if not l.startswith("systest")
                            and ".ferry." not in l]) >= 60
        wait_for(picky_done, 30, what="the filtered output's records")
        with Recorder.lock:
            got = [l for l in Recorder.lines if ".ferry." not in l]
            paths = set(Recorder.paths)
        assert sorted(l.split()[0] for l in got) == sorted(
            ["keep.m%d" % i for i in range(50)] + ["also.kept.m%d" % i for i in range(10)])
        assert paths == {"/ingest?token=1"}, paths
    finally:
        server.shutdown()
        server.server_close()


def test_bad_output_uri_refused_with_its_file(start_ferry):
    f = start_ferry(start=False)
    (f.etc / "conf.d" / "10-bad.conf").write_text(
        'output "bad" { uri = "gopher://example/" }\n')
    r = f.run("ferryctl", "-c", str(f.conf), "check-config")
    assert r.returncode == 1
    out = r.stdout + r.stderr
    assert "unknown scheme" in out
    assert "10-bad.conf:1:" in out, out

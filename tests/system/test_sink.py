"""
The reference sink's HTTP API (SPEC.md "The reference sink"), spoken to
directly: points stored once under (name, timestamp), the Graphite read
API, heartbeats (latest per host), log batches stored under host+file+line
and rebuilt in order (and followed, as the page does), Basic auth with the
sink's API key, and the page at / with its files.
"""
import base64
import json
import re
import time
import urllib.error
import urllib.request

from conftest import REPO, ro_query


def request(f, method, path, body=None, key=None, ctype="text/plain"):
    url = "http://127.0.0.1:%d%s" % (f.sink_port, path)
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    if key is not None:
        token = base64.b64encode(("%s:" % key).encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_points_stored_once_and_read_back(start_ferry):
    f = start_ferry()
    body = "sink.a 1 1700000000\nsink.a 2 1700000060\nsink.b.c 3.5 1700000000\n"
    for _ in range(2):      # a resent batch changes nothing
        status, _ = request(f, "POST", "/api/v1/sink", body)
        assert status == 200
    status, text = request(f, "GET", "/render?target=sink.a&from=1699999999"
                           "&until=1700000100&format=json")
    assert status == 200
    series = json.loads(text)
    assert series == [{"target": "sink.a",
                       "datapoints": [[1, 1700000000], [2, 1700000060]]}]
    status, text = request(f, "GET", "/metrics/find?query=sink.*")
    found = {e["id"]: e for e in json.loads(text)}
    assert found["sink.a"]["leaf"] == 1
    assert found["sink.b"]["leaf"] == 0 and found["sink.b"]["expandable"] == 1
    assert request(f, "GET", "/ruok") == (200, "imok")


def test_heartbeat_latest_per_host(start_ferry):
    f = start_ferry()
    for n in (1, 2):
        beat = json.dumps({"hostname": "web1", "timestamp": 1700000000 + n,
                           "ok": n == 2})
        status, _ = request(f, "PUT", "/beat", beat, ctype="application/json")
        assert status in (200, 201, 204)
    status, text = request(f, "GET", "/beat?host=web1")
    assert status == 200
    assert '"timestamp": 1700000002' in text or '"timestamp":1700000002' in text, text


def test_log_batches_stored_by_host_file_line(start_ferry):
    f = start_ferry()
    batch = {"batch": [
        {"host": "web1", "file": "/var/log/app.log", "line-num": 2, "content": "second"},
        {"host": "web1", "file": "/var/log/app.log", "line-num": 1, "content": "first \"q\""},
        {"host": "web1", "file": "/var/log/app.log", "line-num": 3, "content": "third"},
    ]}
    for _ in range(2):      # resent: changes nothing
        status, _ = request(f, "POST", "/store/batch", json.dumps(batch),
                            ctype="application/json")
        assert status == 200
    status, text = request(f, "GET", "/store/log?host=web1&file=/var/log/app.log")
    assert status == 200
    assert text.splitlines() == ['first "q"', "second", "third"]


def test_resent_log_batch_leaves_rows_unchanged(start_ferry):
    """
    A /store/batch sent again (the forwarder's at-least-once window) leaves
    the sink's stored rows exactly as they were, and one that overlaps the
    first only adds its new lines.
    """
    f = start_ferry()

    def item(line, content):
        return {"host": "web1", "file": "/var/log/r.log", "line-num": line,
                "content": content}

    def rows():
        return ro_query(f.sink_db_path, "SELECT host, file, line, content "
                        "FROM logs ORDER BY host, file, line")

    first = {"batch": [item(n, "line %d" % n) for n in range(1, 501)]}
    assert request(f, "POST", "/store/batch", json.dumps(first),
                   ctype="application/json")[0] == 200
    before = rows()
    assert len(before) == 500
    for _ in range(2):
        assert request(f, "POST", "/store/batch", json.dumps(first),
                       ctype="application/json")[0] == 200
        assert rows() == before
    overlap = {"batch": [item(n, "line %d" % n) for n in range(401, 601)]}
    assert request(f, "POST", "/store/batch", json.dumps(overlap),
                   ctype="application/json")[0] == 200
    after = rows()
    assert after[:500] == before
    assert after[500:] == [("web1", "/var/log/r.log", n, "line %d" % n)
                           for n in range(501, 601)]
    status, text = request(f, "GET", "/store/log?host=web1&file=/var/log/r.log")
    assert text.splitlines() == ["line %d" % n for n in range(1, 601)]


def test_api_key_required_when_set(start_ferry):
    f = start_ferry(start=False)
    # The sink section and output "sink" of the test config, given the key.
    text = f.conf.read_text()
    sink = 'sink { enabled = true bind = "127.0.0.1" port = %d }' % f.sink_port
    out = ('output "sink" { uri = "http://127.0.0.1:%d/api/v1/sink" }'
           % f.output_port)
    assert sink in text and out in text, text
    f.conf.write_text(text.replace(sink, sink[:-1] + 'api_key = "s3cret" }')
                      .replace(out, out[:-1] + 'api_key = "s3cret" }'))
    f.start()
    assert request(f, "POST", "/api/v1/sink", "k.a 1 1700000000\n")[0] == 401
    assert request(f, "POST", "/api/v1/sink", "k.a 1 1700000000\n", key="wrong")[0] == 401
    assert request(f, "POST", "/api/v1/sink", "k.a 1 1700000000\n", key="s3cret")[0] == 200
    # The forwarder sends the key as the Basic user: delivery goes on.
    f.send_tcp(["k.b 2 1700000000"])
    f.wait_sink_count("k.b", 1)
    # The page too: a browser is asked for the key, then sends it with
    # every request of the page.
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/" % f.sink_port, timeout=10)
        raise AssertionError("the page without the key")
    except urllib.error.HTTPError as e:
        assert e.code == 401 and e.headers["WWW-Authenticate"].startswith("Basic ")
    for path in ("/", "/ui/app.js", "/changes", "/store/files"):
        assert request(f, "GET", path, key="s3cret")[0] == 200, path


def test_lines_files_and_changes(start_ferry):
    """What the page follows a file with: /store/files, /store/lines, /changes."""
    f = start_ferry()
    status, text = request(f, "GET", "/changes")
    gen0 = json.loads(text)["gen"]
    batch = {"batch": [{"host": h, "file": "/var/log/%s.log" % n,
                        "line-num": i, "content": "%s %s %d" % (h, n, i)}
                       for h, n in (("web2", "a"), ("web1", "b"), ("web1", "a"))
                       for i in range(1, 8)]}
    assert request(f, "POST", "/store/batch", json.dumps(batch),
                   ctype="application/json")[0] == 200
    changes = json.loads(request(f, "GET", "/changes")[1])
    assert changes["gen"] > gen0 and abs(changes["now"] - time.time()) < 60
    assert json.loads(request(f, "GET", "/store/files")[1]) == [
        {"host": "web1", "file": "/var/log/a.log", "last": 7},
        {"host": "web1", "file": "/var/log/b.log", "last": 7},
        {"host": "web2", "file": "/var/log/a.log", "last": 7}]

    def lines(q):
        status, text = request(f, "GET", "/store/lines?host=web1&file=/var/log/a.log" + q)
        assert status == 200, text
        return json.loads(text)

    every = [[i, "web1 a %d" % i] for i in range(1, 8)]
    assert lines("") == {"lines": every, "last": 7, "more": False}
    assert lines("&after=4") == {"lines": every[4:], "last": 7, "more": False}
    assert lines("&after=7") == {"lines": [], "last": 7, "more": False}
    assert lines("&tail=2") == {"lines": every[5:], "last": 7, "more": False}
    assert lines("&tail=100") == {"lines": every, "last": 7, "more": False}
    # A short page says there is more, and where to go on from.
    assert lines("&after=1&limit=3") == {"lines": every[1:4], "last": 4, "more": True}
    status, text = request(f, "GET", "/store/lines?host=nobody&file=x")
    assert json.loads(text) == {"lines": [], "last": 0, "more": False}
    for q in ("", "?host=web1", "?host=web1&file=x&after=x",
              "?host=web1&file=x&tail=0", "?host=web1&file=x&limit=-1"):
        assert request(f, "GET", "/store/lines" + q)[0] == 400, q


def test_page_served_from_the_binary(start_ferry):
    """GET / and its /ui/ files: types, revalidation, nothing from elsewhere."""
    f = start_ferry()
    base = "http://127.0.0.1:%d" % f.sink_port
    with urllib.request.urlopen(base + "/", timeout=10) as r:
        html = r.read().decode()
        assert r.headers["Content-Type"].startswith("text/html")
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    # tools/embed's copy is byte for byte the source's.
    assert html == (REPO / "sink/ui/index.html").read_text()
    refs = [r for r in re.findall(r'(?:src|href)="([^"]+)"', html) if r != "#"]
    assert sorted(refs) == ["/ui/app.css", "/ui/app.js"], refs
    for ref, ctype in (("/ui/app.css", "text/css"), ("/ui/app.js", "text/javascript")):
        with urllib.request.urlopen(base + ref, timeout=10) as r:
            body = r.read().decode()
            assert r.headers["Content-Type"].startswith(ctype)
            etag = r.headers["ETag"]
        assert body == (REPO / "sink" / ref.lstrip("/")).read_text()
        # Nothing the page loads comes from another host (SVG's namespace
        # is a name, not a load).
        body = body.replace("http://www.w3.org/2000/svg", "")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", body), ref
        req = urllib.request.Request(base + ref, headers={"If-None-Match": etag})
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("no 304 for an unchanged " + ref)
        except urllib.error.HTTPError as e:
            assert e.code == 304 and e.read() == b""
    for path in ("/ui/nothing.js", "/ui/../sink.db", "/ui/a/b", "/nothing"):
        assert request(f, "GET", path)[0] == 404, path
    assert request(f, "POST", "/", "x")[0] == 405

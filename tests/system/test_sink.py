"""
The reference sink's HTTP API (SPEC.md "The reference sink"), spoken to
directly: points stored once under (name, timestamp), the Graphite read
API, heartbeats (latest per host), log batches stored under host+file+line
and rebuilt in order, Basic auth with the sink's API key.
"""
import base64
import json
import urllib.error
import urllib.request

from conftest import ro_query


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

"""
Records derived from log lines by ferry-tail (SPEC.md "Log files", issue
16): event rules publish a matching line's named groups under a key of
their own, logmetric rules count matching lines every interval (split by a
field, capped), keep gauges and summaries of numeric fields.

The suite is test_tail.py's (a hold output keeps every spool segment, the
reference sink is the peer); each test plays the application, writing
lines it knows, and compares what arrived with what it wrote:

  - events: only from matching lines, with their fields and origin, routed
    to an output whose filter names them, each line's event once even
    when ferry-tail is killed -9 while lines are written;
  - counters: per-interval counts (1 s intervals) read back with the
    sink's /render sum to what was written, per split value too, sampled
    out lines included;
  - summaries: count, sum, min, max exact, p50/p90/p99 within 1% of the
    values at their rank in what was written;
  - a flood of 10,000 distinct split values: max_split series and the
    overflow counter, which counts the rest.

Every wait polls a condition under a deadline; every load loop is bounded.
"""
import json
import math
import os
import signal
import time

from conftest import wait_for
from test_tail import (HOST, Writer, log_section, logdir, spool_records,  # noqa: F401
                       suite, tail_started, write_lines)

ARRIVAL = 90.0      # ASan binaries on two shared cores


def derived_suite(suite, tmp_path, rules, log_body='from = "start"',
                  outputs=""):
    """logs/app.log followed by log "app", with rules; the Ferry and path."""
    logs = logdir(tmp_path)
    app = logs / "app.log"
    app.touch()
    f = suite("%s\n%s\n%s" % (log_section("app", "%s/*.log" % logs, log_body),
                              rules, outputs))
    tail_started(f)
    return f, app


def render(f, *targets):
    """{name: [(ts, value)]} of every stored series the targets match."""
    q = "&".join("target=%s" % t for t in targets)
    got = json.loads(f.http_get("/render?%s&from=0&until=9999999999"
                                "&format=json" % q, timeout=30))
    return {s["target"]: [(ts, v) for v, ts in s["datapoints"]
                          if v is not None] for s in got}


def sums(series):
    return {name: sum(v for _, v in pts) for name, pts in series.items()}


def tail_counters(f, prefix):
    return {k[len(prefix):]: v for k, v in f.counters("tail").items()
            if k.startswith(prefix)}


def wait_counters(f, prefix, want, timeout=30):
    """ferry-tail's counters under prefix once they hold want's values."""
    got = [None]

    def ok():
        got[0] = tail_counters(f, prefix)
        return all(got[0].get(k) == v for k, v in want.items())
    try:
        wait_for(ok, timeout, interval=0.5, what="ferry-tail's counters")
    except AssertionError:
        raise AssertionError("counters %s*: %r, want %r"
                             % (prefix, got[0], want)) from None
    return got[0]


# -- events -------------------------------------------------------------------

def events_in(path):
    """The records of a json-format file output, parsed."""
    if not path.exists():
        return []
    with open(path) as fh:
        return [json.loads(l) for l in fh if l.endswith("\n")]


def test_events_from_matching_lines_routed_by_filter(suite, tmp_path):
    """
    An event rule publishes the named groups of each matching line, with
    the line's origin, under event.NAME; an output filtering on "event."
    gets those and nothing else; the log's own lines all reach the sink,
    none replaced by the event made of it.
    """
    out = tmp_path / "events.log"
    rules = ('event "denied" { filter = "systail.app" '
             'match = "^DENY user=(?<user>\\\\w+) code=(?<code>\\\\d+)'
             '(?: why=(?<why>\\\\S+))?" }\n'
             # A rule whose filter names another log: never fires here.
             'event "other" { filter = "systail.nope" match = "DENY" }\n')
    f, app = derived_suite(
        suite, tmp_path, rules,
        outputs='output "ev" { uri = "file://%s?filter=event.&format=json" }'
        % out)
    lines, want = [], []
    for i in range(300):
        if i % 3 == 0:
            why = " why=quota" if i % 2 == 0 else ""
            lines.append("DENY user=u%d code=%d%s" % (i, 400 + i % 7, why))
            want.append((i + 1, "u%d" % i, str(400 + i % 7),
                         "quota" if why else None))
        else:
            lines.append("ALLOW user=u%d code=200 DENY" % i)
    write_lines(app, lines)
    wait_for(lambda: len(events_in(out)) >= len(want), ARRIVAL, interval=0.25,
             what="%d events in %s" % (len(want), out))
    got = events_in(out)
    assert len(got) == len(want)
    for ev, (line, user, code, why) in zip(got, want):
        assert ev["key"] == "event.denied"
        assert ev["host"] == HOST and ev["file"] == str(app)
        assert ev["name"] == "app" and ev["line"] == line
        assert ev["text"] == lines[line - 1]
        expect = {"user": user, "code": code}
        if why is not None:
            expect["why"] = why
        assert ev["fields"] == expect
    # The sink holds every line of the log, and the events beside it.
    text = wait_for(lambda: (lambda t: t if t.count("\n") >= 300 else None)(
        f.http_get("/store/log?host=%s&file=%s" % (HOST, app))), ARRIVAL,
        interval=0.25, what="the log's 300 lines in the sink")
    assert text.split("\n")[:-1] == lines
    evlog = f.http_get("/store/log?host=%s&file=%s%%23event.denied"
                       % (HOST, app))
    assert evlog.split("\n")[:-1] == [lines[l - 1] for l, *_ in want]
    wait_counters(f, "event.", {"denied.records": len(want),
                                "other.records": 0})


def kill_tail(f):
    pid = f.child_pid("tail")
    os.kill(pid, signal.SIGKILL)
    return f.child_pid("tail", not_pid=pid, timeout=90)


def test_kill_9_loses_and_duplicates_no_event(suite, tmp_path):
    """
    ferry-tail killed -9 three times while an application writes: in the
    spool, every matching line has exactly one event after it, and every
    line exactly one record: an event shares its line's checkpoint.
    """
    rules = ('event "odd" { filter = "systail.app" '
             'match = "^line (?<n>\\\\d*[13579]) " }\n')
    f, app = derived_suite(suite, tmp_path, rules)
    w = Writer(app, 1500, seconds=60, tag="line")
    w.start()
    try:
        for _ in range(3):
            w.join(1.0)
            kill_tail(f)
        w.join(1.0)
    finally:
        lines = w.stop()
    odd = [l for l in lines if int(l.split()[1]) % 2 == 1]

    def spooled():
        recs, evs = [], []
        for seg in sorted(f.spool.glob("tail.*")):
            with open(seg, "rb") as fh:
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        break
                    key, _, obj = raw.decode().partition(" ")
                    if not obj.startswith("{"):
                        continue
                    r = json.loads(obj)
                    if r.get("file") != str(app):
                        continue
                    (evs if key == "event.odd" else recs).append(r)
        return recs, evs

    def complete():
        recs, evs = spooled()
        return len(recs) >= len(lines) and len(evs) >= len(odd) and (recs, evs)
    recs, evs = wait_for(complete, ARRIVAL, interval=0.5,
                         what="%d lines and %d events in the spool"
                         % (len(lines), len(odd)))
    assert [r["text"] for r in recs] == lines
    assert [e["text"] for e in evs] == odd
    assert [e["fields"]["n"] for e in evs] == [l.split()[1] for l in odd]
    by_line = {r["line"]: r for r in recs}
    for e in evs:
        r = by_line[e["line"]]
        assert (e["offset"], e["end"], e["fid"]) == \
            (r["offset"], r["end"], r["fid"])


# -- counters ----------------------------------------------------------------

STATUS_MIX = {"200": 5, "201": 1, "301": 2, "404": 3, "500": 1, "503": 1}


def test_split_counts_equal_what_was_written(suite, tmp_path):
    """
    A logmetric split by status class, 1 s intervals, over a known mix of
    lines written over several seconds (some of them sampled out): per
    class, the counts of all intervals sum to what was written; so does the
    total; lines the rule does not match count nowhere.
    """
    rules = ('logmetric "web" { filter = "systail.app" interval = 1 '
             'match = "^GET \\\\S+ (?<class>\\\\d)\\\\d\\\\d " '
             'split = "class" counter = "requests" }\n')
    f, app = derived_suite(
        suite, tmp_path, rules,
        log_body='from = "start" sample { match = " 200 " rate = 0.5 }')
    want = {}
    total = 0
    for second in range(4):
        batch = []
        for status, n in STATUS_MIX.items():
            for k in range(n * (second + 1)):
                batch.append("GET /p%d %s %d" % (k, status, second))
                want[status[0]] = want.get(status[0], 0) + 1
        batch.append("POST junk")      # matches nothing
        total += len(batch) - 1
        write_lines(app, batch)
        time.sleep(0.7)     # the writes spread over several intervals
    base = "servers.%s.web.requests" % HOST

    def arrived():
        s = sums(render(f, base, base + ".*"))
        return s.get(base) == total and s
    got = wait_for(arrived, ARRIVAL, interval=0.5,
                   what="%d requests counted in the sink" % total)
    for cls, n in want.items():
        assert got["%s.%s" % (base, cls)] == n, cls
    assert set(got) == {base} | {"%s.%s" % (base, c) for c in want}
    pts = render(f, base)[base]
    assert len(pts) >= 3, "one point an interval: %r" % pts
    # A quiet interval still says 0, for every class seen.
    wait_for(lambda: all(p[-1][1] == 0 for p in render(f, base, base + ".*")
                         .values()), 30, interval=0.5,
             what="a quiet interval's zeros")
    wait_counters(f, "logmetric.web.", {"lines": total, "capped": 0,
                                        "split_values": len(want)})
    sampled = tail_counters(f, "log.app.")["sampled_out"]
    assert sampled > 0, "the sample rule took none out"


def test_flood_of_split_values_stays_capped(suite, tmp_path):
    """
    10,000 distinct values of the split field: max_split series and the
    overflow counter, which holds the rest, counted as capped.
    """
    rules = ('logmetric "ids" { filter = "systail.app" interval = 1 '
             'match = "^id=(?<id>\\\\S+)" split = "id" max_split = 100 }\n')
    f, app = derived_suite(suite, tmp_path, rules)
    n = 10000
    write_lines(app, ["id=v%05d.x" % i for i in range(n)])
    base = "servers.%s.ids.count" % HOST

    def arrived():
        s = sums(render(f, base, base + ".*"))
        return s.get(base) == n and s
    got = wait_for(arrived, ARRIVAL, interval=0.5, what="%d lines counted" % n)
    split = {k: v for k, v in got.items() if k != base}
    assert len(split) == 101
    assert got[base + "._other"] == n - 100
    assert sum(split.values()) == n
    # '.' is no part of a metric name's part: v00001.x is v00001_x.
    assert all(k.endswith("_x") for k in split if not k.endswith("_other"))
    wait_counters(f, "logmetric.ids.", {"capped": n - 100,
                                        "split_values": 100})
    # ferryctl status says so, in its table of rules.
    out = f.run("ferryctl", "status", timeout=30).stdout
    rows = [l.split() for l in out.splitlines() if l.startswith("ids ")]
    assert rows == [["ids", "logmetric", str(n), "100", str(n - 100), "0"]], out


# -- summaries -----------------------------------------------------------------

def nearest_rank(values, q):
    s = sorted(values)
    return s[max(1, math.ceil(q * len(s))) - 1]


def test_summary_within_bounds(suite, tmp_path):
    """
    A summary of a numeric field over one interval: count, sum, min and
    max exact, p50/p90/p99 within 1% of the values at their rank; values
    that are not numbers skipped and counted; a gauge, the last value.
    Intervals end on multiples of 3 s of the wall clock, so the lines are
    written just after one ends; should an interval still cut the batch,
    another batch is written (at most three).
    """
    rules = ('logmetric "rt" { filter = "systail.app" interval = 3 '
             'match = "t=(?<t>\\\\S+)" summary = {"t"} gauge = {"t"} }\n')
    f, app = derived_suite(suite, tmp_path, rules)
    base = "servers.%s.rt.t" % HOST
    seen = 0
    for attempt in range(3):
        vals = [round(0.001 * (1 + (i * 7919) % 5000) ** 1.3, 6)
                for i in range(2000 + attempt)]
        while not 0.2 < time.time() % 3 < 1.0:
            time.sleep(0.05)
        write_lines(app, ["t=%s" % v for v in vals] + ["t=-"])
        seen += 1

        def counted():
            pts = render(f, base + ".count").get(base + ".count", [])
            return sum(v for _, v in pts) == sum(
                2000 + a for a in range(seen)) and pts
        pts = wait_for(counted, ARRIVAL, interval=0.5,
                       what="the batch's values counted")
        mine = [(ts, v) for ts, v in pts if v > 0]
        if mine[-1][1] == len(vals):
            break
    else:
        raise AssertionError("every batch was cut by an interval's end")
    ts = mine[-1][0]
    at = {k: dict(v).get(ts) for k, v in render(f, base + ".*", base).items()}
    assert at[base + ".count"] == len(vals)
    assert abs(at[base + ".sum"] - sum(vals)) <= 1e-6 * sum(vals)
    assert at[base + ".min"] == min(vals) and at[base + ".max"] == max(vals)
    for q, name in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
        exact = nearest_rank(vals, q)
        assert abs(at["%s.%s" % (base, name)] - exact) <= 0.01 * exact, name
    assert at[base] == vals[-1]        # the gauge: the last number
    wait_for(lambda: tail_counters(f, "logmetric.rt.").get("skipped", 0) >=
             2 * seen, 30, interval=0.5, what="\"t=-\" skipped")


# -- configuration --------------------------------------------------------------

BAD_RULES = {
    # name: (the rule, the line it is on, what the error says)
    "bad expression": ('event "e" { match = "(?<user>\\\\w+" }',
                       "missing closing parenthesis"),
    "no parser": ('event "e" { filter = "systail.app" }',
                  'event "e": set either match'),
    "unknown group": ('logmetric "m" { match = "(?<s>\\\\d+)" split = "status" }',
                      'its match has no group named "status"'),
    "summary of nothing": ('logmetric "m" { match = "(?<s>x)" summary = {"t"} }',
                           'no group named "t"'),
    "twice": ('logmetric "m" { match = "x" }\nlogmetric "m" { match = "y" }',
              'logmetric "m" is defined twice'),
}


def test_check_config_refuses_bad_rules(start_ferry):
    """
    ferryctl check-config refuses a rule ferry-tail could not run, with the
    file and the line (and so does the reload's check, the same parser).
    """
    f = start_ferry(start=False)
    base = f.conf.read_text()
    for case, (rule, says) in sorted(BAD_RULES.items()):
        text = base + 'log "app" { path = "/nonexistent/*.log" }\n'
        line = text.count("\n") + 1 + rule.count("\n")
        f.conf.write_text(text + rule + "\n")
        r = f.run("ferryctl", "check-config")
        out = r.stdout + r.stderr
        assert r.returncode == 1, (case, out)
        assert "%s:%d:" % (f.conf, line) in out and says in out, (case, out)

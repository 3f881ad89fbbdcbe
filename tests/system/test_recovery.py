"""
Crash consistency of what ferry keeps on disk (issue 3): a progress database
that is corrupt or missing is rebuilt loudly and every output re-sends the
spool from its oldest segment (duplicates, never gaps); a spool segment that
cannot be read is moved aside instead of stopping its stream for good.
"""
import os

from conftest import wait_for


def metric_lines(prefix, n, ts=1700000000):
    return ["%s.m%d %d %d" % (prefix, i, i, ts) for i in range(n)]


def test_corrupt_database_rebuilt_and_spool_resent(start_ferry):
    f = start_ferry()
    f.send_tcp(metric_lines("before", 500))
    f.wait_sink_count("before.", 500)
    # Keep the delivered segment: the next start must find it still there.
    assert f.stop() == 0
    segments = sorted(p.name for p in f.spool.iterdir()
                      if p.name.startswith("receiver."))
    assert segments, "the receiver's segment is kept until passed and rotated"

    with open(f.db_path, "r+b") as db:
        db.write(b"not a database any more " * 8)
    for suffix in ("-wal", "-shm"):
        try:
            os.unlink(str(f.db_path) + suffix)
        except FileNotFoundError:
            pass
    # Empty the sink so a re-send shows: the sink stores each point once.
    os.unlink(f.sink_db_path)

    f.start()
    f.wait_sink_count("before.", 500)
    aside = [p.name for p in f.var.iterdir() if p.name.startswith("ferry.db.corrupt-")]
    assert aside, "the corrupt database is kept aside for the operator"
    logs = f.log_text("supervisor") + f.log_text("forwarder")
    assert "was corrupt" in logs
    # And delivery goes on as usual.
    f.send_tcp(metric_lines("after", 100))
    f.wait_sink_count("after.", 100)


def test_unreadable_segment_moved_aside(start_ferry):
    f = start_ferry()
    f.send_tcp(metric_lines("first", 100))
    f.wait_sink_count("first.", 100)
    assert f.stop() == 0
    # A "segment" that cannot be read: a directory under a segment's name,
    # older than anything the receiver writes next.
    segs = sorted(p.name for p in f.spool.iterdir() if p.name.startswith("receiver."))
    last = int(segs[-1].split(".")[1])
    bad = f.spool / ("receiver.%016d" % (last + 1))
    bad.mkdir()
    (f.spool / ("receiver.%016d" % (last + 2))).write_text("between.m0 1 1700000000\n")

    f.start()
    f.send_tcp(metric_lines("second", 100))
    f.wait_sink_count("second.", 100)
    f.wait_sink_count("between.", 1)
    wait_for(lambda: (f.spool / "corrupt" / bad.name).exists(), 10,
             what="the unreadable segment moved to spool/corrupt")
    assert "could not be read" in f.log_text("forwarder")

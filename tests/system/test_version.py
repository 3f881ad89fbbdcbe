"""
One version (issue 11): every program's -V, `ferryctl version` (text and
--json) and the built-in collectors all say the same, in the form
tools/version.sh gives: a release X.Y.Z, or X.Y.Z+N.gHASH between two, with
.dirty for uncommitted changes. The heartbeat's "version" is compared with
`ferryctl version` in test_reload.py.
"""
import json
import os
import re
import subprocess

import pytest

from conftest import REPO, ferry_bin, sanitizer_env
from test_builtins import collectors_bin

VERSION_RE = re.compile(r"^[0-9]+(\.[0-9]+)*(\+[0-9]+\.g[0-9a-f]+)?(\.dirty)?$")


def run(path, *args):
    return subprocess.run([str(path), *args], capture_output=True, text=True,
                          timeout=30, env=sanitizer_env())


def programs():
    out = []
    for d in (ferry_bin(), collectors_bin()):
        if d.is_dir():
            out += sorted(p for p in d.iterdir() if os.access(p, os.X_OK))
    return out


def test_every_program_says_one_version():
    ctl = ferry_bin() / "ferryctl"
    if not os.access(ctl, os.X_OK):
        pytest.skip("not built: %s" % ctl)
    version = run(ctl, "version").stdout.strip()
    assert VERSION_RE.match(version), version
    assert json.loads(run(ctl, "--json", "version").stdout) == {"version": version}

    seen = []
    for path in programs():
        r = run(path, "-V")
        assert r.returncode == 0, (path, r.stderr)
        assert r.stdout == "%s %s\n" % (path.name, version), path
        seen.append(path.name)
    assert "ferry-supervisor" in seen and "cpu" in seen, seen


def test_version_script_matches_its_own_rules():
    # Outside git (a tarball) the VERSION file alone; inside, built on it.
    base = (REPO / "VERSION").read_text().strip()
    v = subprocess.run(["sh", str(REPO / "tools" / "version.sh")],
                       capture_output=True, text=True, check=True).stdout.strip()
    assert VERSION_RE.match(v), v
    if not (REPO / ".git").exists():
        assert v == base

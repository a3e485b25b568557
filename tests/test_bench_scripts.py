"""The benchmark scripts start: they import what the project is today (a
module split or a renamed function breaks them before anyone runs a
benchmark) and parse their arguments. Their figures come from `make bench*`."""

import subprocess
import sys

import pytest

from tests.fixtures import REPO_ROOT

SCRIPTS = sorted(p.name for p in (REPO_ROOT / "bench").glob("*.py") if p.name != "cluster_bench.py")


def test_every_benchmark_is_listed():
    assert SCRIPTS == ["backup_round.py", "dashboard.py", "monitoring.py", "provision.py", "teardown.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_it_starts_and_explains_its_arguments(script, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "LOCALCLUSTER_DIR": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: {script}")

"""`pytest --database-tests-only` (the PostgreSQL pass of `make test`) keeps
every test that can reach the database and only those."""

from __future__ import annotations

import subprocess
import sys

from tests.platform import REPO_ROOT

FILES = ["stores/tests/test_limits.py", "stores/cluster/tests/test_readiness.py", "tests/test_platform.py"]


def _collected(*options: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *options, *FILES],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return {line for line in out.splitlines() if "::" in line}


def test_it_keeps_the_tests_that_use_the_database_and_drops_the_others():
    everything = _collected()
    selected = _collected("--database-tests-only")

    assert selected < everything
    # Marked django_db, and a fixture (alice) that needs it.
    assert "stores/tests/test_limits.py::test_it_never_has_more_than_two_provisioning_across_two_processes" in selected
    assert "tests/test_platform.py::test_it_starts_processes_on_the_test_database" in selected
    assert not [t for t in selected if t.startswith("stores/cluster/tests/test_readiness.py")]
    assert "tests/test_platform.py::test_it_gives_a_sqlite_file_as_a_url" not in selected

"""`pytest --database-tests-only` (`make test-postgres`) keeps every test that
can reach the database and only those; `--database-or-realnode-tests-only`
(the SQLite pass of `make test`) keeps the real-node tests as well."""

from __future__ import annotations

import subprocess
import sys

from tests.platform import REPO_ROOT

FILES = [
    "stores/tests/test_limits.py",
    "stores/cluster/tests/test_readiness.py",
    "tests/test_platform.py",
    "tests/realnode/test_cluster_dns.py",
]


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


def test_the_sqlite_pass_keeps_the_database_and_real_node_tests_and_leaves_the_rest_to_the_other():
    everything = _collected("-m", "")
    database = _collected("-m", "", "--database-tests-only")
    sqlite_pass = _collected("-m", "", "--database-or-realnode-tests-only")
    postgres_pass = _collected("-m", "not realnode")
    realnode = {t for t in everything if t.startswith("tests/realnode/")}

    assert realnode and not realnode & database
    assert sqlite_pass == database | realnode
    # Every test runs in one pass at least; the database-free ones in the PostgreSQL pass.
    assert sqlite_pass | postgres_pass == everything
    assert (
        "stores/cluster/tests/test_readiness.py::test_it_returns_at_once_when_everything_is_ready"
        in postgres_pass - sqlite_pass
    )

"""A test that hangs fails with a timeout instead of hanging the run (pytest-timeout)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.platform import REPO_ROOT

HANGING = """
import time

import pytest


@pytest.fixture
def cleanup(tmp_path_factory):
    yield
    (tmp_path_factory.getbasetemp().parent / "cleaned-up").write_text("yes")


def test_hangs(cleanup):
    time.sleep(3600)
"""


def test_it_sets_a_default_timeout_for_every_test(pytestconfig):
    timeout = float(pytestconfig.getini("timeout"))

    assert 0 < timeout <= 300


@pytest.mark.timeout(120)
def test_it_fails_a_hanging_test_and_still_tears_down_its_fixtures(tmp_path):
    (tmp_path / "test_hanging.py").write_text(HANGING)
    base = tmp_path / "base"
    # The project's pytest.ini, with the default shortened so this test is quick.
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(REPO_ROOT / "pytest.ini"),
        "--rootdir",
        str(tmp_path),
        "-p",
        "no:cacheprovider",
        "-o",
        "timeout=2",
        "--basetemp",
        str(base),
        str(tmp_path / "test_hanging.py"),
    ]

    try:
        run = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("the hanging test was not stopped")

    assert run.returncode == 1, run.stdout + run.stderr
    assert "Timeout (>2.0s)" in run.stdout
    # The signal method fails the test in place, so fixtures (stopping
    # workers, deleting stores) still run their teardown.
    assert (tmp_path / "cleaned-up").read_text() == "yes"

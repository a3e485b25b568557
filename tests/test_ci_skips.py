"""In CI a skip is a failure, but for the other database's pass."""

import pytest

pytest_plugins = ("pytester",)

TESTS = """
import pytest

def test_without_its_tool():
    pytest.skip("no helm binary")

@pytest.fixture
def tool():
    pytest.skip("no kube-score binary")

def test_with_a_fixture_that_skips(tool):
    pass

def test_of_the_other_database():
    pytest.skip("the suite runs on another database")
"""


@pytest.mark.parametrize(("ci", "outcomes"), [("true", {"failed": 1, "errors": 1, "skipped": 1}), ("", {"skipped": 3})])
def test_a_skip_fails_in_ci_only(pytester, monkeypatch, ci, outcomes):
    monkeypatch.setenv("CI", ci)
    pytester.makepyfile(TESTS)

    result = pytester.runpytest("-p", "tests.ci_skips", "-p", "no:cacheprovider", "-p", "no:django")

    result.assert_outcomes(**outcomes)
    if ci:
        result.stdout.fnmatch_lines(["*skipped in CI, where every test must run*no helm binary*"])

"""What each requirements file holds, and what the image installs.

requirements.txt is what the platform runs (the image, `make run`);
requirements-dev.txt adds the test runners, the browser driver and the
checkers (`make test`, `make lint`).
"""

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_AND_LINT_TOOLS = {"pytest", "pytest-django", "pytest-timeout", "playwright", "ruff", "mypy", "django-stubs"}


def _requirements(name: str) -> list[str]:
    lines = (REPO_ROOT / name).read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def _names(lines: list[str]) -> set[str]:
    return {re.split(r"[\[=<>~!]", line, maxsplit=1)[0].lower() for line in lines if not line.startswith("-")}


def test_it_keeps_test_and_lint_tools_out_of_the_runtime_requirements():
    assert not _names(_requirements("requirements.txt")) & TEST_AND_LINT_TOOLS


def test_the_dev_requirements_add_the_tools_to_the_runtime_ones():
    dev = _requirements("requirements-dev.txt")
    assert dev[0] == "-r requirements.txt"
    assert TEST_AND_LINT_TOOLS | {"types-pyyaml"} <= _names(dev)


def test_every_requirement_is_pinned():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in _requirements(name):
            assert line.startswith("-r ") or re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.]+", line), f"{name}: {line}"


def test_the_image_installs_the_runtime_requirements_as_they_are():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "COPY requirements.txt .\nRUN pip install -r requirements.txt\n" in dockerfile
    instructions = "\n".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#"))
    assert "requirements-dev" not in instructions
    assert "grep" not in instructions

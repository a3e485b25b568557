"""Helm and kube-score for the chart tests: finding the binaries, running them, reading
what they say. Registered by the root conftest, so the `helm` and `kube_score` fixtures
are every test's (by name); the helpers are imported.

A missing binary skips the test that asks for it, with the reason; in CI a skip is a
failure (tests/ci_skips.py), so a missing install step cannot pass unnoticed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
# kube-score grades 0-10; below this a check found something.
GRADE_OK = 10


def _executable(*candidates: object) -> str | None:
    for candidate in candidates:
        if candidate and os.path.isfile(str(candidate)) and os.access(str(candidate), os.X_OK):
            return str(candidate)
    return None


def pinned(name: str) -> str:
    """A version pinned in localcluster/versions.env."""
    versions = (REPO_ROOT / "localcluster" / "versions.env").read_text().splitlines()
    pins = dict(line.split("#")[0].strip().split("=", 1) for line in versions if "=" in line.split("#")[0])
    return pins[name]


def _cache_bin() -> Path:
    return Path(os.environ.get("STORE_PROVISIONER_CACHE", Path.home() / ".cache" / "store-provisioner")) / "bin"


def _state_bin() -> Path:
    return Path(os.environ.get("LOCALCLUSTER_DIR", REPO_ROOT / ".localcluster")) / "bin"


def find_helm() -> str | None:
    """HELM_BIN, else the local cluster's helm, else helm on PATH."""
    return _executable(os.environ.get("HELM_BIN"), _state_bin() / "helm", shutil.which("helm"))


def find_kube_score() -> str | None:
    """KUBE_SCORE_BIN, else the local cluster's link, else the versioned cache, else PATH."""
    return _executable(
        os.environ.get("KUBE_SCORE_BIN"),
        _state_bin() / "kube-score",
        _cache_bin() / f"kube-score-{pinned('KUBE_SCORE_VERSION')}",
        shutil.which("kube-score"),
    )


@pytest.fixture(scope="session")
def helm() -> str:
    path = find_helm()
    if path is None:
        pytest.skip("no helm binary (HELM_BIN, .localcluster/bin/helm or PATH)")
    return path


@pytest.fixture(scope="session")
def kube_score() -> str:
    path = find_kube_score()
    if path is None:
        pytest.skip("no kube-score binary: make kube-score builds it")
    return path


def run_helm(helm: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # Keep helm away from any user configuration or cache.
    env.setdefault("HELM_CONFIG_HOME", "/tmp/store-provisioner-chart-tests/helm-config")
    env.setdefault("HELM_CACHE_HOME", "/tmp/store-provisioner-chart-tests/helm-cache")
    env.setdefault("HELM_DATA_HOME", "/tmp/store-provisioner-chart-tests/helm-data")
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120, env=env, check=False)


def template(helm: str, release: str, chart: Path, *args: str) -> list[dict]:
    """`helm template` the chart and return the rendered objects."""
    result = run_helm(helm, "template", release, str(chart), *args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def kube_score_findings(kube_score: str, objects: list[dict], tmp_path: Path) -> dict[tuple[str, str], list[str]]:
    """(check id, "Kind/name") -> what kube-score says, for every check graded below OK."""
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    result = subprocess.run(
        [kube_score, "score", "-o", "json", "--kubernetes-version", "v1.36", str(manifest)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Exit status 1 only says that something was graded critical; the JSON says what.
    assert result.stdout.strip(), result.stderr
    found: dict[tuple[str, str], list[str]] = {}
    for scored in json.loads(result.stdout):
        name = f"{scored['type_meta']['kind']}/{scored['object_meta']['name']}"
        for check in scored["checks"]:
            if check["skipped"] or check["grade"] >= GRADE_OK:
                continue
            comments = [f"{c.get('path', '')}: {c.get('summary', '')}" for c in check.get("comments") or []]
            found[(check["check"]["id"], name)] = comments
    return found

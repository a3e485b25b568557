"""Fixtures for the integration and browser tests (a real Kubernetes API server, Chromium),
registered for every test by the root conftest.

The cluster is the local test cluster from ``localcluster/`` (real
kube-apiserver, kube-controller-manager, kube-scheduler and etcd; nodes and
pods simulated by kwok). ``localcluster/up.sh`` is idempotent: it reuses a
running cluster in well under a second and is never torn down by the tests.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.chromium import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS
from tests.platform import delete_live_stores

REPO_ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = Path(os.environ.get("LOCALCLUSTER_DIR", REPO_ROOT / ".localcluster"))


@dataclass(frozen=True)
class LocalCluster:
    kubeconfig: Path
    helm: Path
    bin_dir: Path


@pytest.fixture(scope="session")
def local_cluster() -> LocalCluster:
    """Bring up (or reuse) the local cluster; export KUBECONFIG and HELM_BIN."""
    # The first run on a machine builds the binaries from source (minutes).
    subprocess.run(["bash", str(REPO_ROOT / "localcluster" / "up.sh")], check=True, cwd=REPO_ROOT)
    cluster = LocalCluster(
        kubeconfig=STATE_DIR / "kubeconfig",
        helm=STATE_DIR / "bin" / "helm",
        bin_dir=STATE_DIR / "bin",
    )
    os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
    os.environ["HELM_BIN"] = str(cluster.helm)
    yield cluster


@pytest.fixture
def store_settings(settings, local_cluster):
    """Settings for provisioning in this process against the local cluster (its pods serve no HTTP)."""
    settings.KUBECONFIG = str(local_cluster.kubeconfig)
    settings.HELM_BIN = str(local_cluster.helm)
    settings.CHECK_STORE_URL = False
    settings.STORE_VALUES_FILES = []
    return settings


@pytest.fixture
def cleanup(store_settings):
    """Delete every store a test left behind, so namespaces never pile up on the shared cluster."""
    yield
    delete_live_stores()


@pytest.fixture
def chromium(monkeypatch):
    """Debian's Chromium through Playwright. A missing browser fails the test, never skips it."""
    # Playwright's sync API keeps an event loop on this thread; the ORM calls
    # the tests make beside it are plain synchronous ones, so allow them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make system-packages` installs Debian's package")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()

"""Fixtures for the integration and browser tests, which need a real Kubernetes API server.

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

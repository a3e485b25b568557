"""Fixtures for the tests on the local cluster's real node (localcluster/node.sh).

The node runs pods for real (containerd + runc), kube-proxy programs Services
and kube-router enforces NetworkPolicies. Where it cannot run (not root, not
Linux) the tests are skipped with the reason, except in CI (CI=true), where
that is a failure: CI machines can run it.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from kubernetes import config as k8s_config

from tests.fixtures import REPO_ROOT
from tests.realnode.support import RealNode

NODE_SCRIPT = REPO_ROOT / "localcluster" / "node.sh"
UNAVAILABLE = 3  # node.sh's exit code when the machine cannot run the node


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(REPO_ROOT / "tests" / "realnode"):
            item.add_marker(pytest.mark.realnode)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def real_node(local_cluster) -> RealNode:
    """Bring up (or reuse) the real node; skip, or fail in CI, where it cannot run."""
    result = subprocess.run(["bash", str(NODE_SCRIPT), "up"], capture_output=True, text=True, cwd=REPO_ROOT)
    if result.returncode == UNAVAILABLE:
        reason = f"no real node on this machine: {result.stdout.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI must run the real-node tests)")
        pytest.skip(reason)
    if result.returncode != 0:
        pytest.fail(f"localcluster/node.sh up failed:\n{result.stdout}\n{result.stderr}")
    api = k8s_config.new_client_from_config(config_file=str(local_cluster.kubeconfig))
    return RealNode(cluster=local_cluster, api=api)


@pytest.fixture
def node(real_node, request):
    """The real node, with the namespaces a test made through it removed afterwards."""
    yield real_node
    real_node.delete_namespaces()

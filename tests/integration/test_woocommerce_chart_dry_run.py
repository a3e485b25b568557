"""charts/woocommerce installed for real on the local control plane.

The server-side dry run of every object, for every engine, is the engines'
conformance suite's (tests/engines/test_conformance_dry_run.py). Here the chart
is installed into a namespace labelled and guarded as a WooCommerce store's,
to show that all of it fits the quota together, that the setup pod lands next
to WordPress, and how Helm treats the setup Job's immutable pod template.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import yaml
from kubernetes.dynamic.exceptions import NotFoundError

from stores.cluster import connect
from stores.engines.contract import RELEASE_NAME, SECRET_NAME, SETUP_JOB_SELECTOR
from stores.engines.woocommerce import WOOCOMMERCE
from tests.engines.support import SPEC, chart_dir, store_namespace

pytestmark = pytest.mark.integration

CHART_DIR = chart_dir(WOOCOMMERCE)


def helm(local_cluster, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KUBECONFIG": str(local_cluster.kubeconfig)}
    for name in ("HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"):
        env.setdefault(name, f"/tmp/store-provisioner-chart-tests/{name.lower()}")
    return subprocess.run(
        [str(local_cluster.helm), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_chart_installs_within_the_namespace_quota(local_cluster, tmp_path):
    kube = connect(kubeconfig=str(local_cluster.kubeconfig))
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(WOOCOMMERCE.build_values(SPEC)))
    install = ["upgrade", "--install", RELEASE_NAME, str(CHART_DIR), "-f", str(values)]
    # Not waited for at the end: with a release in it the namespace takes two controller passes (10 s).
    with store_namespace(kube, WOOCOMMERCE, prefix="wc-install", wait=False) as ns:
        kube.ensure_secret(ns, SECRET_NAME, WOOCOMMERCE.build_secret(SPEC))
        result = helm(local_cluster, *install, "-n", ns)
        assert result.returncode == 0, result.stderr

        # The store comes up on the simulated nodes (the platform's own wait): nothing was
        # refused by the quota, the claims bind and the setup pod is scheduled next to WordPress.
        deadline = time.monotonic() + 120
        kube.wait_until_ready(ns, should_stop=lambda: "timed out" if time.monotonic() > deadline else None)
        messages = [event.message for event in kube.list_events(ns)]
        assert not [m for m in messages if "exceeded quota" in m or "forbidden" in m.lower()], messages
        used = {line.resource: line.used for line in kube.quota_usage(ns)}
        assert int(used["persistentvolumeclaims"]) == 2
        assert used["requests.storage"] == "4Gi"
        # Every pod states its ephemeral storage, and the simulated nodes have room for it
        # (WordPress and MariaDB; the setup pod has finished and no longer counts).
        assert used["requests.ephemeral-storage"] == "512Mi"
        assert used["limits.ephemeral-storage"] == "2Gi"
        claims = kube.api.core.list_namespaced_persistent_volume_claim(ns).items
        assert [claim.status.phase for claim in claims] == ["Bound", "Bound"]
        nodes = {
            (pod.metadata.labels or {}).get("app.kubernetes.io/component"): pod.spec.node_name
            for pod in kube.api.core.list_namespaced_pod(ns).items
        }
        assert nodes["setup"] and nodes["setup"] == nodes["wordpress"], nodes

        # Upgrading with unchanged values leaves the (immutable) Job alone.
        result = helm(local_cluster, *install, "-n", ns)
        assert result.returncode == 0, result.stderr

        # A changed Job needs the finished Job deleted first; then it is recreated.
        changed = ["--set-string", "setup.podAnnotations.example\\.com/run=2"]
        result = helm(local_cluster, *install, "-n", ns, *changed)
        assert result.returncode != 0
        assert "immutable" in result.stderr
        assert kube.delete_jobs(ns, SETUP_JOB_SELECTOR) == [f"{RELEASE_NAME}-setup"]
        jobs = kube.api.dynamic.resources.get(api_version="batch/v1", kind="Job")
        deadline = time.monotonic() + 60
        while True:
            try:
                jobs.get(name=f"{RELEASE_NAME}-setup", namespace=ns)
            except NotFoundError:
                break
            assert time.monotonic() < deadline, "setup Job was not deleted"
            time.sleep(0.5)
        result = helm(local_cluster, *install, "-n", ns, *changed)
        assert result.returncode == 0, result.stderr
        job = jobs.get(name=f"{RELEASE_NAME}-setup", namespace=ns).to_dict()
        assert job["spec"]["template"]["metadata"]["annotations"]["example.com/run"] == "2"

"""charts/medusa against a real API server (the local test cluster).

Every rendered object goes through a server-side dry run (strict field
validation) in a namespace set up as the platform sets up a Medusa store's:
Pod Security `baseline` enforced (`restricted` warned), and the guardrails'
ResourceQuota and LimitRange with the MedusaJS engine's overrides. Pods
built from the pod templates must also be admitted where `restricted` is
enforced, and by the LimitRange (the setup Job's 3Gi for the build).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from kubernetes import config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

from stores.cluster.guardrails import GuardrailSpec, limit_range, resource_quota
from stores.engines import StoreSpec
from stores.engines.medusa import MEDUSA
from tests.integration.test_woocommerce_chart_dry_run import dry_run_create, probe_pods

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "medusa"
STORE_PSA = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}
RESTRICTED_PSA = {"pod-security.kubernetes.io/enforce": "restricted"}


def medusa_guardrails() -> GuardrailSpec:
    spec = GuardrailSpec()
    spec.quota.update(MEDUSA.quota_overrides)
    spec.container_max.update(MEDUSA.container_max_overrides)
    return spec


@pytest.fixture(scope="module")
def dyn(local_cluster) -> Iterator[DynamicClient]:
    api = config.new_client_from_config(config_file=str(local_cluster.kubeconfig))
    try:
        yield DynamicClient(api)
    finally:
        api.close()


@pytest.fixture(scope="module")
def values_file(tmp_path_factory) -> Path:
    host = "store-medusa-dry.127.0.0.1.nip.io"
    spec = StoreSpec(
        slug="medusa-dry",
        store_id=1,
        owner="alice",
        owner_email="alice@example.org",
        host=host,
        url=f"http://{host}",
        ingress_class="nginx",
    )
    path = tmp_path_factory.mktemp("medusa") / "values.yaml"
    path.write_text(yaml.safe_dump(MEDUSA.build_values(spec)))
    return path


def render(local_cluster, values_file: Path, namespace: str) -> list[dict]:
    env = {**os.environ, "KUBECONFIG": str(local_cluster.kubeconfig)}
    for name in ("HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"):
        env.setdefault(name, f"/tmp/medusa-chart-tests/{name.lower()}")
    result = subprocess.run(
        [str(local_cluster.helm), "template", "store", str(CHART_DIR), "-n", namespace, "-f", str(values_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@contextmanager
def namespace(dyn: DynamicClient, labels: dict, guardrails: bool = True) -> Iterator[str]:
    name = f"medusa-chart-test-{secrets.token_hex(3)}"
    namespaces = dyn.resources.get(api_version="v1", kind="Namespace")
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    try:
        if guardrails:
            spec = medusa_guardrails()
            dyn.resources.get(api_version="v1", kind="LimitRange").create(namespace=name, body=limit_range(spec))
            quotas = dyn.resources.get(api_version="v1", kind="ResourceQuota")
            quotas.create(namespace=name, body=resource_quota(spec))
            # Admission needs the quota's status computed by the controller first.
            deadline = time.monotonic() + 60
            while not (quotas.get(name="store-quota", namespace=name).to_dict().get("status") or {}).get("hard"):
                assert time.monotonic() < deadline, "ResourceQuota status was never computed"
                time.sleep(0.5)
        yield name
    finally:
        try:
            namespaces.delete(name=name)
        except NotFoundError:
            pass


def test_every_medusa_object_passes_a_server_side_dry_run(local_cluster, dyn, values_file):
    with namespace(dyn, STORE_PSA) as ns:
        objects = render(local_cluster, values_file, ns)
        kinds = {obj["kind"] for obj in objects}
        assert kinds >= {
            "Deployment",
            "StatefulSet",
            "Job",
            "Ingress",
            "Service",
            "NetworkPolicy",
            "ConfigMap",
            "PersistentVolumeClaim",
        }
        warnings = {}
        for obj in objects + probe_pods(objects):
            found = [w for w in dry_run_create(dyn, obj, ns) if w]
            if found:
                warnings[f"{obj['kind']}/{obj['metadata']['name']}"] = found
        # `restricted` is only warned about here; the chart should not even trigger that.
        assert warnings == {}


def test_medusa_pods_are_admitted_where_restricted_is_enforced(local_cluster, dyn, values_file):
    with namespace(dyn, RESTRICTED_PSA, guardrails=False) as ns:
        pods = probe_pods(render(local_cluster, values_file, ns))
        assert len(pods) == 5
        for pod in pods:
            dry_run_create(dyn, pod, ns)

"""charts/woocommerce against a real API server (the local test cluster).

Every rendered object goes through a server-side dry run (strict field
validation) in a namespace set up like a store namespace: Pod Security
`baseline` enforced (`restricted` warned/audited) and the platform's
ResourceQuota. Pods built from the pod templates must also be admitted where
`restricted` is enforced. Finally the chart is installed for real into such a
namespace to show that all of it fits the quota together.
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

from stores.cluster.guardrails import DEFAULT_QUOTA
from tests.charts.woocommerce_chart_support import platform_values

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "woocommerce"

# What the platform sets on every store namespace.
QUOTA_HARD = DEFAULT_QUOTA
STORE_PSA = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}
RESTRICTED_PSA = {"pod-security.kubernetes.io/enforce": "restricted"}

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job"}


# --- fixtures and helpers ------------------------------------------------------


@pytest.fixture(scope="module")
def dyn(local_cluster) -> Iterator[DynamicClient]:
    api = config.new_client_from_config(config_file=str(local_cluster.kubeconfig))
    try:
        yield DynamicClient(api)
    finally:
        api.close()


@pytest.fixture(scope="module")
def values_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("woocommerce") / "values.yaml"
    path.write_text(yaml.safe_dump(platform_values("store-acme")))
    return path


def helm(local_cluster, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KUBECONFIG": str(local_cluster.kubeconfig)}
    for name in ("HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"):
        env.setdefault(name, f"/tmp/woocommerce-chart-tests/{name.lower()}")
    return subprocess.run(
        [str(local_cluster.helm), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def render(local_cluster, values_file: Path, namespace: str, release: str = "store-acme") -> list[dict]:
    result = helm(local_cluster, "template", release, str(CHART_DIR), "-n", namespace, "-f", str(values_file))
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def resource(dyn: DynamicClient, obj: dict):
    return dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])


def dry_run_create(dyn: DynamicClient, obj: dict, namespace: str) -> list[str]:
    """Create `obj` with dryRun=All and strict field validation; return the API warnings."""
    response = resource(dyn, obj).create(
        body=obj,
        namespace=namespace,
        query_params=[("dryRun", "All"), ("fieldValidation", "Strict")],
        serialize=False,
    )
    headers = response.headers
    return list(headers.getlist("Warning")) if hasattr(headers, "getlist") else [headers.get("Warning", "")]


@contextmanager
def namespace(dyn: DynamicClient, labels: dict, quota: bool = True) -> Iterator[str]:
    name = f"wc-chart-test-{secrets.token_hex(3)}"
    namespaces = dyn.resources.get(api_version="v1", kind="Namespace")
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    try:
        if quota:
            quotas = dyn.resources.get(api_version="v1", kind="ResourceQuota")
            quotas.create(
                namespace=name,
                body={
                    "apiVersion": "v1",
                    "kind": "ResourceQuota",
                    "metadata": {"name": "store-quota"},
                    "spec": {"hard": QUOTA_HARD},
                },
            )
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


def probe_pods(objects: list[dict]) -> list[dict]:
    """A bare Pod for every pod template, as its controller would create it."""
    pods = []
    for obj in objects:
        if obj["kind"] not in WORKLOAD_KINDS:
            continue
        template = obj["spec"]["template"]
        spec = dict(template["spec"])
        if obj["kind"] == "StatefulSet":
            spec["volumes"] = list(spec.get("volumes", [])) + [
                {
                    "name": claim["metadata"]["name"],
                    "persistentVolumeClaim": {"claimName": f"{claim['metadata']['name']}-{obj['metadata']['name']}-0"},
                }
                for claim in obj["spec"]["volumeClaimTemplates"]
            ]
        pods.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {**template["metadata"], "name": f"{obj['metadata']['name']}-probe"},
                "spec": spec,
            }
        )
    return pods


# --- tests ---------------------------------------------------------------------


def test_every_object_passes_a_server_side_dry_run(local_cluster, dyn, values_file):
    with namespace(dyn, STORE_PSA) as ns:
        objects = render(local_cluster, values_file, ns)
        assert {obj["kind"] for obj in objects} >= {"Deployment", "StatefulSet", "Job", "Ingress", "Service"}
        warnings = {}
        for obj in objects + probe_pods(objects):
            found = [w for w in dry_run_create(dyn, obj, ns) if w]
            if found:
                warnings[f"{obj['kind']}/{obj['metadata']['name']}"] = found
        # `restricted` is only warned about here; the chart should not even trigger that.
        assert warnings == {}


def test_pods_are_admitted_where_restricted_is_enforced(local_cluster, dyn, values_file):
    with namespace(dyn, RESTRICTED_PSA, quota=False) as ns:
        objects = render(local_cluster, values_file, ns)
        pods = probe_pods(objects)
        assert len(pods) == 3
        for pod in pods:
            dry_run_create(dyn, pod, ns)


def test_chart_installs_within_the_namespace_quota(local_cluster, dyn, tmp_path):
    release = "store-quota-check"
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(platform_values(release)))
    with namespace(dyn, STORE_PSA) as ns:
        secrets_api = dyn.resources.get(api_version="v1", kind="Secret")
        secrets_api.create(
            namespace=ns,
            body={
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "store-secret"},
                "stringData": {
                    "admin-user": "acme-admin",
                    "admin-password": secrets.token_urlsafe(16),
                    "admin-email": "owner@acme.example",
                    "db-password": secrets.token_urlsafe(16),
                    "db-root-password": secrets.token_urlsafe(16),
                },
            },
        )
        result = helm(local_cluster, "upgrade", "--install", release, str(CHART_DIR), "-n", ns, "-f", str(values))
        assert result.returncode == 0, result.stderr

        jobs = dyn.resources.get(api_version="batch/v1", kind="Job")
        pods = dyn.resources.get(api_version="v1", kind="Pod")
        pvcs = dyn.resources.get(api_version="v1", kind="PersistentVolumeClaim")
        events = dyn.resources.get(api_version="v1", kind="Event")
        deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
        statefulsets = dyn.resources.get(api_version="apps/v1", kind="StatefulSet")

        # The store comes up on the simulated nodes: nothing was refused by the
        # quota, the claims bind and the setup pod can be scheduled next to WordPress.
        deadline = time.monotonic() + 120
        while True:
            job = jobs.get(name=f"{release}-setup", namespace=ns).to_dict()
            deployment = deployments.get(name=f"{release}-wordpress", namespace=ns).to_dict()
            sts = statefulsets.get(name=f"{release}-mariadb", namespace=ns).to_dict()
            claims = pvcs.get(namespace=ns).to_dict()["items"]
            if (
                (job.get("status") or {}).get("succeeded", 0) >= 1
                and (deployment.get("status") or {}).get("availableReplicas", 0) == 1
                and (sts.get("status") or {}).get("readyReplicas", 0) == 1
                and len(claims) == 2
                and all((claim.get("status") or {}).get("phase") == "Bound" for claim in claims)
            ):
                break
            if time.monotonic() > deadline:
                messages = [e["message"] for e in events.get(namespace=ns).to_dict()["items"]]
                pytest.fail(f"store did not come up: job={job.get('status')} events={messages}")
            time.sleep(1)
        messages = [e["message"] for e in events.get(namespace=ns).to_dict()["items"]]
        assert not [m for m in messages if "exceeded quota" in m or "forbidden" in m.lower()], messages
        quota = dyn.resources.get(api_version="v1", kind="ResourceQuota").get(name="store-quota", namespace=ns)
        used = quota.to_dict()["status"]["used"]
        assert int(used["persistentvolumeclaims"]) == 2
        assert used["requests.storage"] == "4Gi"
        # Every pod states its ephemeral storage, and the simulated nodes have room for it
        # (WordPress and MariaDB; the setup pod has finished and no longer counts).
        assert used["requests.ephemeral-storage"] == "512Mi"
        assert used["limits.ephemeral-storage"] == "2Gi"
        nodes = {
            (p["metadata"]["labels"] or {}).get("app.kubernetes.io/component"): p["spec"].get("nodeName")
            for p in pods.get(namespace=ns).to_dict()["items"]
        }
        assert nodes["setup"] and nodes["setup"] == nodes["wordpress"], nodes

        # Upgrading with unchanged values leaves the (immutable) Job alone.
        result = helm(local_cluster, "upgrade", "--install", release, str(CHART_DIR), "-n", ns, "-f", str(values))
        assert result.returncode == 0, result.stderr

        # A changed Job needs the finished Job deleted first; then it is recreated.
        changed = ["--set-string", "setup.podAnnotations.example\\.com/run=2"]
        result = helm(local_cluster, "upgrade", release, str(CHART_DIR), "-n", ns, "-f", str(values), *changed)
        assert result.returncode != 0
        assert "immutable" in result.stderr
        jobs.delete(name=f"{release}-setup", namespace=ns, propagation_policy="Background")
        deadline = time.monotonic() + 60
        while True:
            try:
                jobs.get(name=f"{release}-setup", namespace=ns)
            except NotFoundError:
                break
            assert time.monotonic() < deadline, "setup Job was not deleted"
            time.sleep(0.5)
        result = helm(local_cluster, "upgrade", release, str(CHART_DIR), "-n", ns, "-f", str(values), *changed)
        assert result.returncode == 0, result.stderr
        job = jobs.get(name=f"{release}-setup", namespace=ns).to_dict()
        assert job["spec"]["template"]["metadata"]["annotations"]["example.com/run"] == "2"

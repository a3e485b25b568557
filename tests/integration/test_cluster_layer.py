"""The cluster layer (stores.cluster) against the local control plane.

Nodes and pods are simulated by kwok: pods become Ready at once, Job pods
succeed, PVCs bind, and the localcluster.store-provisioner.io/simulate
annotation (or an image on unpullable.invalid) produces the failure paths.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from stores.cluster import (
    ClusterError,
    GuardrailSpec,
    HelmCli,
    NamespaceStuck,
    Stopped,
    WorkloadFailed,
    connect,
)

pytestmark = pytest.mark.integration

TINY_CHART = Path(__file__).resolve().parent / "charts" / "tiny"
SIMULATE = "localcluster.store-provisioner.io/simulate"
LABELS = {"app.kubernetes.io/managed-by": "store-provisioner", "store-provisioner.io/test": "cluster-layer"}


@pytest.fixture(scope="module")
def cluster(local_cluster):
    return connect(str(local_cluster.kubeconfig))


@pytest.fixture(scope="module")
def helm(local_cluster):
    return HelmCli(str(local_cluster.helm), str(local_cluster.kubeconfig))


@pytest.fixture
def namespace(cluster):
    """A fresh store-like namespace, removed (without waiting) afterwards."""
    name = f"clt-{uuid.uuid4().hex[:8]}"
    cluster.ensure_namespace(name, LABELS)
    yield name
    try:
        cluster.api.core.delete_namespace(name, _request_timeout=cluster.api.timeout)
    except ApiException as exc:
        if exc.status != 404:
            raise


def never_stop():
    return None


def stop_after(seconds: float, reason: str = "stopped by the test"):
    started = time.monotonic()
    return lambda: reason if time.monotonic() - started > seconds else None


def wait_ready(cluster, namespace, timeout=60, **kwargs):
    """wait_until_ready with a test deadline; returns (seconds, progress lines)."""
    lines: list[str] = []
    started = time.monotonic()
    cluster.wait_until_ready(
        namespace, should_stop=stop_after(timeout, "test deadline passed"), on_progress=lines.append, **kwargs
    )
    return time.monotonic() - started, lines


# ---------------------------------------------------------------- manifests


def deployment(name, image="registry.example.com/app:1", annotations=None, containers=None):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations or {}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": containers or [{"name": "app", "image": image}],
                },
            },
        },
    }


def statefulset(name):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "db", "image": "registry.example.com/db:1"}],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    }


def job(name, annotations=None):
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/component": "setup"}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"annotations": annotations or {}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "setup", "image": "registry.example.com/setup:1"}],
                },
            },
        },
    }


def create(cluster, namespace, *manifests):
    api = cluster.api
    creators = {
        "Deployment": api.apps.create_namespaced_deployment,
        "StatefulSet": api.apps.create_namespaced_stateful_set,
        "Job": api.batch.create_namespaced_job,
    }
    for manifest in manifests:
        creators[manifest["kind"]](namespace, body=manifest, _request_timeout=api.timeout)


# ---------------------------------------------------------------- basics


def test_it_reports_the_server_version(cluster):
    assert cluster.version().startswith("v1.")


def test_it_creates_and_relabels_namespaces(cluster, namespace):
    assert cluster.namespace_phase(namespace) == "Active"
    cluster.ensure_namespace(namespace, {**LABELS, "store-provisioner.io/plan": "small"}, {"note": "hello"})

    listed = {ns["name"]: ns for ns in cluster.list_namespaces("store-provisioner.io/test=cluster-layer")}
    assert listed[namespace]["phase"] == "Active"
    assert listed[namespace]["labels"]["store-provisioner.io/plan"] == "small"
    assert listed[namespace]["annotations"]["note"] == "hello"
    # reconcile leaves namespaces younger than a grace period alone: it needs their age.
    created = listed[namespace]["created_at"]
    assert created.tzinfo is not None and created <= datetime.now(UTC)
    assert cluster.namespace_phase(f"clt-absent-{uuid.uuid4().hex[:8]}") is None


def test_it_applies_guardrails_idempotently(cluster, namespace):
    spec = GuardrailSpec()
    cluster.apply_guardrails(namespace, spec)
    cluster.apply_guardrails(namespace, spec)

    api = cluster.api
    quota = api.core.read_namespaced_resource_quota("store-quota", namespace)
    assert quota.spec.hard == spec.quota
    limits = api.core.read_namespaced_limit_range("store-limits", namespace).spec.limits[0]
    assert limits.default == spec.container_default
    assert limits.default_request == spec.container_default_request
    policies = {p.metadata.name: p for p in api.networking.list_namespaced_network_policy(namespace).items}
    assert sorted(policies) == [
        "allow-dns",
        "allow-ingress-controller",
        "allow-internet-egress",
        "default-deny",
    ]
    internet_rule = policies["allow-internet-egress"].spec.egress[0]
    internet = internet_rule.to[0].ip_block
    assert internet.cidr == "0.0.0.0/0" and internet.var_except[: len(spec.private_cidrs)] == spec.private_cidrs
    assert [(port.protocol, port.port) for port in internet_rule.ports] == [("TCP", 80), ("TCP", 443)]

    # With no private range denied, the cluster's own addresses still are: each
    # node's and the API server's, as this API server reports them.
    cluster.apply_guardrails(namespace, GuardrailSpec(private_cidrs=[]))
    own = {
        address.address
        for node in api.core.list_node().items
        for address in node.status.addresses or []
        if address.type in ("InternalIP", "ExternalIP")
    }
    api_endpoints = api.core.read_namespaced_endpoints("kubernetes", "default")
    own |= {address.ip for subset in api_endpoints.subsets for address in subset.addresses}
    assert own, "the cluster reports no node or API server address"
    blocks = api.networking.read_namespaced_network_policy("allow-internet-egress", namespace).spec.egress[0].to
    denied = {cidr for block in blocks for cidr in block.ip_block.var_except or []}
    # IPv4 only: with no IPv6 range denied, the policy lets no IPv6 out at all.
    assert denied == {
        str(ipaddress.ip_network(address)) for address in own if ipaddress.ip_address(address).version == 4
    }

    # A changed spec converges on the next run.
    cluster.apply_guardrails(namespace, GuardrailSpec(quota={**spec.quota, "pods": "12"}))
    assert api.core.read_namespaced_resource_quota("store-quota", namespace).spec.hard["pods"] == "12"


def test_it_does_not_regenerate_secrets(cluster, namespace):
    first = cluster.ensure_secret(namespace, "store-db", {"password": "first"})
    again = cluster.ensure_secret(namespace, "store-db", {"password": "second", "root-password": "root"})
    assert first == {"password": "first"}
    assert again == {"password": "first", "root-password": "root"}
    assert cluster.read_secret(namespace, "store-db") == again
    assert cluster.read_secret(namespace, "absent") is None


# ---------------------------------------------------------------- readiness


def test_it_waits_until_deployment_statefulset_and_job_are_ready(cluster, namespace):
    cluster.apply_guardrails(namespace, GuardrailSpec())
    create(cluster, namespace, deployment("web"), statefulset("db"), job("setup"))
    seconds, lines = wait_ready(cluster, namespace)

    assert {"web 1/1 ready", "db 1/1 ready", "job setup 1/1 succeeded"} <= set(lines)
    print(f"wait_until_ready: {seconds:.2f}s, progress: {lines}")
    assert seconds < 30

    # Already ready: returns after one look.
    seconds, _ = wait_ready(cluster, namespace)
    assert seconds < 2


def test_it_fails_fast_on_an_unpullable_image(cluster, namespace):
    create(cluster, namespace, deployment("wordpress", image="unpullable.invalid/wordpress:1"))
    started = time.monotonic()
    with pytest.raises(WorkloadFailed) as failure:
        cluster.wait_until_ready(namespace, should_stop=stop_after(60))
    assert str(failure.value).startswith("pod wordpress-")
    assert ": ErrImagePull: " in str(failure.value)
    assert "unpullable.invalid/wordpress:1" in str(failure.value)
    assert time.monotonic() - started < 30


def test_it_fails_fast_on_a_crash_loop(cluster, namespace):
    create(cluster, namespace, deployment("wordpress", annotations={SIMULATE: "crash-loop"}))
    with pytest.raises(WorkloadFailed, match=r"^pod wordpress-\S+: CrashLoopBackOff"):
        cluster.wait_until_ready(namespace, should_stop=stop_after(60))


def test_it_fails_fast_on_an_unschedulable_pod(cluster, namespace):
    unplaceable = deployment("web")
    unplaceable["spec"]["template"]["spec"]["nodeSelector"] = {"store-provisioner.io/no-such-node": "true"}
    create(cluster, namespace, unplaceable)
    with pytest.raises(WorkloadFailed, match=r"^pod web-\S+: FailedScheduling: 0/\d+ nodes are available"):
        cluster.wait_until_ready(namespace, should_stop=stop_after(60))


def test_it_fails_fast_on_a_failed_job_and_clears_it_for_a_retry(cluster, namespace):
    create(cluster, namespace, deployment("web"), job("store-setup", annotations={SIMULATE: "fail"}))
    with pytest.raises(WorkloadFailed) as failure:
        cluster.wait_until_ready(namespace, should_stop=stop_after(90))
    # The reason is what the failed pod said (its termination message), not the Job's bare
    # BackoffLimitExceeded.
    assert str(failure.value) == (
        "job store-setup failed: simulated failure (localcluster.store-provisioner.io/simulate=fail)"
    )

    assert cluster.delete_unfinished_jobs(namespace, "app.kubernetes.io/component=setup") == ["store-setup"]
    assert not cluster.api.batch.list_namespaced_job(namespace).items
    assert cluster.delete_unfinished_jobs(namespace) == []


def test_it_keeps_a_job_that_succeeded(cluster, namespace):
    create(cluster, namespace, job("store-setup"))
    cluster.wait_until_ready(namespace, should_stop=stop_after(60))
    assert cluster.delete_unfinished_jobs(namespace) == []
    assert [j.metadata.name for j in cluster.api.batch.list_namespaced_job(namespace).items] == ["store-setup"]


def test_it_fails_fast_when_the_quota_is_exceeded(cluster, namespace):
    cluster.apply_guardrails(namespace, GuardrailSpec())
    # Each container fits the LimitRange maximum; together they exceed requests.cpu=2.
    greedy = {"requests": {"cpu": "1500m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "512Mi"}}
    containers = [{"name": name, "image": "registry.example.com/app:1", "resources": greedy} for name in ("a", "b")]
    create(cluster, namespace, deployment("greedy", containers=containers))
    started = time.monotonic()
    with pytest.raises(WorkloadFailed) as failure:
        cluster.wait_until_ready(namespace, should_stop=stop_after(60))
    message = str(failure.value)
    assert message.startswith("quota exceeded: ")
    assert "store-quota" in message and "requests.cpu" in message
    assert time.monotonic() - started < 30


def test_it_stops_when_asked(cluster, namespace):
    create(cluster, namespace, deployment("slow", annotations={SIMULATE: "never-ready"}))
    lines: list[str] = []
    started = time.monotonic()
    with pytest.raises(Stopped) as stopped:
        cluster.wait_until_ready(
            namespace, should_stop=stop_after(3, "owner cancelled"), on_progress=lines.append, poll_seconds=0.5
        )
    elapsed = time.monotonic() - started
    assert stopped.value.reason == "owner cancelled"
    assert 3 <= elapsed < 5
    assert "slow 0/1 ready" in lines


# ---------------------------------------------------------------- helm


def test_it_installs_and_uninstalls_a_chart(cluster, helm, namespace):
    release = helm.upgrade_install(
        "tiny", str(TINY_CHART), namespace, {"storage": "2Gi"}, timeout_seconds=120, should_stop=never_stop
    )
    assert release["name"] == "tiny" and release["version"] == 1
    assert release["info"]["status"] == "deployed"

    seconds, lines = wait_ready(cluster, namespace)
    print(f"wait_until_ready after helm: {seconds:.2f}s, progress: {lines}")
    assert {"tiny-web 1/1 ready", "tiny-db 1/1 ready", "job tiny-setup 1/1 succeeded"} <= set(lines)

    assert helm.status("tiny", namespace)["info"]["status"] == "deployed"
    listed = [r for r in helm.list_releases() if r["namespace"] == namespace]
    assert [(r["name"], r["status"]) for r in listed] == [("tiny", "deployed")]

    # Upgrading again is fine (same values: the Job is unchanged).
    again = helm.upgrade_install(
        "tiny", str(TINY_CHART), namespace, {"storage": "2Gi"}, timeout_seconds=120, should_stop=never_stop
    )
    assert again["version"] == 2

    assert helm.uninstall("tiny", namespace) is True
    assert helm.uninstall("tiny", namespace) is False
    assert helm.status("tiny", namespace) is None


def test_it_reports_helm_errors_and_retries_a_failed_first_install(cluster, helm, namespace):
    cluster.apply_guardrails(namespace, GuardrailSpec())
    refused = {"serviceType": "LoadBalancer"}  # the quota allows no load balancers
    with pytest.raises(ClusterError, match=r"^helm upgrade tiny failed: .*exceeded quota"):
        helm.upgrade_install("tiny", str(TINY_CHART), namespace, refused, timeout_seconds=60, should_stop=never_stop)
    assert helm.status("tiny", namespace)["info"]["status"] == "failed"

    # Never deployed, so the retry starts from scratch instead of upgrading a wreck.
    release = helm.upgrade_install("tiny", str(TINY_CHART), namespace, {}, timeout_seconds=60, should_stop=never_stop)
    assert release["version"] == 1 and release["info"]["status"] == "deployed"
    wait_ready(cluster, namespace)


def test_it_reports_a_chart_that_does_not_render(helm, namespace, tmp_path):
    chart = tmp_path / "broken"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text("kind: ConfigMap\nmetadata:\n  name: {{ .Values.nope.deeper }}\n")
    with pytest.raises(ClusterError, match=r"helm upgrade broken failed: .*nil pointer"):
        helm.upgrade_install("broken", str(chart), namespace, {}, timeout_seconds=60, should_stop=never_stop)
    assert helm.status("broken", namespace) is None  # nothing was recorded


# ---------------------------------------------------------------- dry run and deletion


def test_it_dry_runs_manifests_on_the_server(cluster, namespace):
    cluster.server_dry_run([deployment("dry"), job("dry-setup")], namespace)
    assert not cluster.api.apps.list_namespaced_deployment(namespace).items

    invalid = deployment("dry")
    invalid["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ClusterError, match=r"^Deployment dry rejected: .*selector"):
        cluster.server_dry_run([invalid], namespace)

    with pytest.raises(ClusterError, match=r"does not know example.com/v1 Gadget"):
        cluster.server_dry_run(
            [{"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}], namespace
        )


def test_it_deletes_a_namespace_and_waits_until_it_is_gone(cluster):
    name = f"clt-del-{uuid.uuid4().hex[:8]}"
    cluster.ensure_namespace(name, LABELS)
    cluster.apply_guardrails(name, GuardrailSpec())
    create(cluster, name, deployment("web"), statefulset("db"))
    wait_ready(cluster, name)

    started = time.monotonic()
    cluster.delete_namespace(name, timeout=120)
    print(f"delete_namespace: {time.monotonic() - started:.2f}s")
    assert cluster.namespace_phase(name) is None
    cluster.delete_namespace(name)  # already gone: fine


def test_it_refuses_a_terminating_namespace_and_stops_waiting_on_request(cluster):
    name = f"clt-term-{uuid.uuid4().hex[:8]}"
    cluster.ensure_namespace(name, LABELS)
    # A finalizer nobody removes keeps the namespace Terminating.
    cluster.api.core.create_namespaced_config_map(
        name, body={"metadata": {"name": "held", "finalizers": ["store-provisioner.io/test-hold"]}}
    )
    try:
        with pytest.raises(Stopped):
            cluster.delete_namespace(name, should_stop=stop_after(1), timeout=60)
        assert cluster.namespace_phase(name) == "Terminating"
        with pytest.raises(ClusterError, match=f"^namespace {name} is still terminating$"):
            cluster.ensure_namespace(name, LABELS)

        with pytest.raises(NamespaceStuck) as stuck:
            cluster.delete_namespace(name, timeout=8)  # conditions appear after ~5 s
        assert f"namespace {name} is still terminating" in str(stuck.value)
        assert "store-provisioner.io/test-hold" in str(stuck.value)
    finally:
        cluster.api.core.patch_namespaced_config_map("held", name, body={"metadata": {"finalizers": None}})
    cluster.delete_namespace(name, timeout=60)
    assert cluster.namespace_phase(name) is None

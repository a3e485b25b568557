"""The store page's reads (pods, Events, quota usage) against the local control plane.

The API server enforces the quota for real: a Job asking for more CPU than
the namespace's quota allows is refused, and the Job controller says so in a
FailedCreate Event. kwok fakes the pods: an image on unpullable.invalid gives
ErrImagePull.
"""

from __future__ import annotations

import uuid

import pytest
from kubernetes.client.exceptions import ApiException

from stores.cluster import GuardrailSpec, connect
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

LABELS = {"app.kubernetes.io/managed-by": "store-provisioner", "store-provisioner.io/test": "cluster-reads"}
GREEDY = {"requests": {"cpu": "3", "memory": "256Mi"}, "limits": {"cpu": "3", "memory": "512Mi"}}
SMALL = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}


@pytest.fixture(scope="module")
def cluster(local_cluster):
    return connect(str(local_cluster.kubeconfig), request_timeout=2)


@pytest.fixture
def namespace(cluster):
    name = f"reads-{uuid.uuid4().hex[:8]}"
    cluster.ensure_namespace(name, LABELS)
    # Per-container maximum 4 CPU, so only the namespace's quota (requests.cpu=2) refuses the greedy Job.
    cluster.apply_guardrails(name, GuardrailSpec(container_max={"cpu": "4", "memory": "2Gi"}))
    yield name
    try:
        cluster.api.core.delete_namespace(name, _request_timeout=cluster.api.timeout)
    except ApiException as exc:
        if exc.status != 404:
            raise


def _job(name, resources, image="registry.example.com/setup:1"):
    return {
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "setup", "image": image, "resources": resources}],
                }
            },
        },
    }


def _pod(name, image):
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "web", "image": image, "resources": SMALL}]}}


def _quota_counted(cluster, namespace):
    return {line.resource: line for line in cluster.quota_usage(namespace) if line.used}


def test_it_reads_a_quota_refusal_the_pods_and_the_usage(cluster, namespace):
    # Quota admission refuses pods until the quota controller has counted once.
    wait_for(lambda: _quota_counted(cluster, namespace), timeout=30, what="the quota's first count")
    cluster.api.core.create_namespaced_pod(namespace, _pod("web", "unpullable.invalid/wordpress:1"))
    cluster.api.batch.create_namespaced_job(namespace, _job("greedy", GREEDY))

    refusal = wait_for(
        lambda: [e for e in cluster.list_events(namespace) if e.reason == "FailedCreate"],
        timeout=60,
        what="the Job controller's FailedCreate event",
    )[0]
    assert refusal.warning
    assert refusal.object == "Job/greedy"
    assert "exceeded quota: store-quota" in refusal.message and "requests.cpu" in refusal.message
    assert refusal.time is not None and refusal.count >= 1

    (pod,) = wait_for(
        lambda: [p for p in cluster.list_pods(namespace) if p.reason == "ErrImagePull"],
        timeout=60,
        what="the pod's pull error",
    )
    assert (pod.name, pod.ready, pod.containers, pod.phase) == ("web", 0, 1, "Pending")
    assert not pod.healthy

    usage = wait_for(
        lambda: (u := _quota_counted(cluster, namespace)).get("pods") and u["pods"].used == "1" and u,
        timeout=60,
        what="the quota to count the pod",
    )
    assert (usage["requests.cpu"].used, usage["requests.cpu"].hard) == ("100m", "2")
    assert usage["requests.cpu"].fraction == pytest.approx(0.05)
    assert usage["pods"].hard == "10"


def test_it_reads_an_empty_or_missing_namespace_as_empty(cluster):
    missing = f"reads-missing-{uuid.uuid4().hex[:6]}"

    assert cluster.list_pods(missing) == []
    assert cluster.list_events(missing) == []
    assert cluster.quota_usage(missing) == []

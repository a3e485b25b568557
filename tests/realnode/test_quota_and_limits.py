"""Quota and limits, enforced on the real node: the platform's guardrails
refuse pods over the LimitRange or the ResourceQuota, the kernel kills a
container over its memory limit, and the platform's own readiness wait
reports each with the reason a user sees."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from stores.cluster import WorkloadFailed, connect
from tests.realnode.support import BUSYBOX, on_node

RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def deployment(name: str, memory_limit: str, replicas: int = 1, command: list[str] | None = None) -> dict:
    """A Deployment on the real node; ready once its command has written /tmp/ready."""
    command = command or ["sh", "-c", "touch /tmp/ready && exec sleep 86400"]
    return on_node(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": [
                            {
                                "name": "main",
                                "image": BUSYBOX,
                                "imagePullPolicy": "Never",
                                "command": command,
                                "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1},
                                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                                "resources": {
                                    "requests": {"memory": "16Mi", "cpu": "10m"},
                                    "limits": {"memory": memory_limit, "cpu": "100m"},
                                },
                                "securityContext": RESTRICTED,
                            }
                        ],
                        "volumes": [{"name": "tmp", "emptyDir": {}}],
                    },
                },
            },
        }
    )


def platform_diagnosis(namespace: str) -> str:
    """What the platform's readiness wait says about the namespace's workloads."""
    cluster = connect(settings.KUBECONFIG)
    deadline = time.monotonic() + 90
    with pytest.raises(WorkloadFailed) as excinfo:
        cluster.wait_until_ready(
            namespace,
            should_stop=lambda: "gave up waiting" if time.monotonic() > deadline else None,
            poll_seconds=0.5,
        )
    return str(excinfo.value)


def test_it_refuses_a_container_over_the_limit_range_and_says_why(node, store_settings):
    ns = node.store_namespace("store-limits-real")
    node.apply([deployment("too-big", memory_limit="64Gi")], ns)

    reason = platform_diagnosis(ns)

    assert "maximum memory usage per Container" in reason, reason
    assert not node.json("pods", "-n", ns)["items"]


def test_it_refuses_pods_over_the_quota_and_says_why(node, store_settings):
    ns = node.store_namespace("store-quota-real")
    pods_allowed = int(node.json("resourcequota", "-n", ns, "store-quota")["spec"]["hard"]["pods"])
    node.apply([deployment("crowd", memory_limit="32Mi", replicas=pods_allowed + 2)], ns)

    reason = platform_diagnosis(ns)

    assert "exceeded quota" in reason, reason
    running = node.wait_running(ns)
    # The real node runs what the quota admitted, and the quota counts them.
    assert 0 < len(running) < pods_allowed + 2
    assert int(node.json("resourcequota", "-n", ns, "store-quota")["status"]["used"]["pods"]) == len(running)


def test_it_reports_a_container_killed_for_memory(node, store_settings):
    ns = node.store_namespace("store-oom-real")
    # dd's block is one buffer in memory: 64 MiB against a 24 MiB limit.
    hog = ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1 && touch /tmp/ready && exec sleep 86400"]
    node.apply([deployment("hog", memory_limit="24Mi", command=hog)], ns)

    reason = platform_diagnosis(ns)

    assert "OOMKilled" in reason, reason
    (pod,) = node.json("pods", "-n", ns)["items"]
    (status,) = pod["status"]["containerStatuses"]
    terminated = status.get("lastState", {}).get("terminated") or status["state"].get("terminated")
    assert terminated["reason"] == "OOMKilled"
    assert pod["spec"]["nodeName"] == "10.201.0.2"

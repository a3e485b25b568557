"""Volumes on the real node (StorageClass local-path, served by the node's
local-path stand-in, localcluster/localpath): a directory of the node's disk,
mode 0777 as local-path-provisioner makes it, so that a database running as
uid 999 can write it; kept across pods; and gone from the disk once its claim
is, whether the claim is deleted on its own or with the store's namespace."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.realnode.support import BUSYBOX, NODE_NAME, RealNode, on_node

CLASS = "local-path"
UID = 999  # the official PostgreSQL and MariaDB images' user
NON_ROOT = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "runAsUser": UID,
    "runAsGroup": UID,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def claim(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {
            "storageClassName": CLASS,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "64Mi"}},
        },
    }


def pod_spec(command: str, claim_name: str) -> dict:
    return {
        "containers": [
            {
                "name": "main",
                "image": BUSYBOX,
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", command],
                "securityContext": NON_ROOT,
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            }
        ],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}],
        # sleep, as PID 1, ignores SIGTERM: no 30 s wait on the way out.
        "terminationGracePeriodSeconds": 1,
    }


def pod(name: str, command: str, claim_name: str = "data") -> dict:
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": pod_spec(command, claim_name)}
    return on_node(manifest)


def volume_dir(node: RealNode, namespace: str, claim_name: str) -> tuple[str, Path]:
    """The claim's PV and its directory on this machine's disk."""
    pv = node.json("pvc", "-n", namespace, claim_name)["spec"]["volumeName"]
    return pv, Path(node.json("pv", pv)["spec"]["hostPath"]["path"])


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Seconds until condition() held; fails after `seconds`."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, f"{what}: not within {seconds} s"
        time.sleep(0.25)
    return time.monotonic() - start


def pv_gone(node: RealNode, pv: str) -> bool:
    return node.kubectl("get", "pv", pv, check=False).returncode != 0


def test_it_keeps_a_non_root_pods_writes_and_removes_them_with_the_claim(node, store_settings):
    ns = node.store_namespace("store-volume-real")
    writer = "echo order 1 for a customer > /data/order.txt && exec sleep 86400"
    node.apply([claim("data"), pod("writer", writer)], ns)
    node.wait_running(ns)

    pv, path = volume_dir(node, ns, "data")
    volume = node.json("pv", pv)
    assert volume["spec"]["hostPath"]["type"] == "Directory"
    assert volume["spec"]["claimRef"]["name"] == "data"
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    (term,) = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert term["matchExpressions"][0]["values"] == [NODE_NAME]
    assert path.stat().st_mode & 0o777 == 0o777
    written = path / "order.txt"
    assert written.stat().st_uid == UID
    assert written.read_text() == "order 1 for a customer\n"

    # Another pod on the same claim reads what the first wrote.
    node.kubectl("delete", "pod", "-n", ns, "writer", "--wait=true")
    node.apply([pod("reader", "exec sleep 86400")], ns)
    node.wait_running(ns)
    read = node.kubectl("exec", "-n", ns, "reader", "--", "cat", "/data/order.txt").stdout
    assert read == "order 1 for a customer\n"

    node.kubectl("delete", "pod", "-n", ns, "reader", "--wait=true")
    node.kubectl("delete", "pvc", "-n", ns, "data", "--wait=true")
    wait_for(lambda: not path.exists(), 30, f"{path} removed after its claim was deleted")
    wait_for(lambda: pv_gone(node, pv), 30, f"PV {pv} deleted")


def test_it_removes_a_statefulsets_data_with_its_namespace(node, store_settings):
    """A StatefulSet's claim outlives the workload (as a store's database's
    does after helm uninstall) and goes with the namespace."""
    ns = node.store_namespace("store-volume-ns-real")
    statefulset = on_node(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "serviceName": "db",
                "replicas": 1,
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": pod_spec("echo a row > /data/table && exec sleep 86400", "data"),
                },
                "volumeClaimTemplates": [claim("data")],
            },
        }
    )
    # The template's volume is the claim template's, not a named claim.
    del statefulset["spec"]["template"]["spec"]["volumes"]
    node.apply([statefulset], ns)
    node.wait_running(ns)
    pv, path = volume_dir(node, ns, "data-db-0")
    assert (path / "table").read_text() == "a row\n"

    node.kubectl("delete", "namespace", ns, "--wait=false")
    seconds = wait_for(lambda: not path.exists(), 90, f"{path} removed with namespace {ns}")
    wait_for(lambda: pv_gone(node, pv), 30, f"PV {pv} deleted")
    print(f"{path.name} removed {seconds:.1f} s after its namespace was deleted")


def test_it_gives_a_claim_on_a_simulated_node_a_pv_record_only(node, store_settings):
    ns = node.store_namespace("store-volume-fake")
    fake_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "simulated"},
        "spec": pod_spec("exec sleep 86400", "data"),  # no nodeSelector: a kwok node takes it
    }
    node.apply([claim("data"), fake_pod], ns)
    # The scheduler binds the pod once the PV it waited for is bound.
    wait_for(lambda: "nodeName" in node.json("pod", "-n", ns, "simulated")["spec"], 30, "pod scheduled")
    assert node.json("pvc", "-n", ns, "data")["status"]["phase"] == "Bound"
    pv, path = volume_dir(node, ns, "data")
    (term,) = node.json("pv", pv)["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    simulated = node.json("pod", "-n", ns, "simulated")["spec"]["nodeName"]
    assert simulated != NODE_NAME
    assert term["matchExpressions"][0]["values"] == [simulated]
    assert not path.exists()

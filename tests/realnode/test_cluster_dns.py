"""Cluster DNS on the real node (localcluster/dns, a stand-in for CoreDNS's
kubernetes plugin): pods in a namespace guarded like a store's, so under the
platform's default-deny and allow-dns NetworkPolicies, reach a Service and a
StatefulSet's pod by name, as a store's web pods reach its database.

Two resolvers are in play inside busybox. `wget` resolves through the C
library, which tries the search domains of the pod's resolv.conf first
(ndots:5), so "db" and "db-0.db-pods" work as they do for PHP or Node.
busybox's own `nslookup` applies the search domains only to a name without a
dot and asks each of them (A and AAAA) and prints every answer, so a dotted
name is given in full."""

from __future__ import annotations

import ipaddress
import socket
import struct

from tests.realnode.support import BUSYBOX, RealNode, on_node

CLUSTER_DNS = "10.0.0.10"  # the kubelet's clusterDNS (localcluster/node.sh)
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def manifests() -> list[dict]:
    """A StatefulSet answering HTTP with its pod's name, behind a ClusterIP
    Service ("db") and a headless one ("db-pods"), a client pod, and the
    one grant the test adds to the guardrails: traffic within the namespace
    (a store's chart grants its own paths, e.g. web -> database)."""
    serve = "mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"
    container = {"image": BUSYBOX, "imagePullPolicy": "Never", "securityContext": RESTRICTED}
    # httpd and sleep, as PID 1, ignore SIGTERM: no 30 s wait on the way out.
    quick_exit = {"terminationGracePeriodSeconds": 1}
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "allow-within-namespace"},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
                "egress": [{"to": [{"podSelector": {}}]}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db"},
            "spec": {"selector": {"app": "db"}, "ports": [{"port": 8080}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db-pods"},
            "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 8080}]},
        },
        on_node(
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "db"},
                "spec": {
                    "serviceName": "db-pods",
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "db"}},
                    "template": {
                        "metadata": {"labels": {"app": "db"}},
                        "spec": {
                            "containers": [{"name": "db", "command": ["sh", "-c", serve], **container}],
                            **quick_exit,
                        },
                    },
                },
            }
        ),
        on_node(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "client", "labels": {"app": "client"}},
                "spec": {
                    "containers": [{"name": "client", "command": ["sleep", "86400"], **container}],
                    **quick_exit,
                },
            }
        ),
    ]


def in_pod(node: RealNode, namespace: str, *command: str) -> str:
    """What the command prints (stdout and stderr), whatever its exit code."""
    result = node.kubectl("exec", "-n", namespace, "client", "--", "timeout", "10", *command, check=False)
    return result.stdout + result.stderr


def ask_over_tcp(name: str) -> tuple[int, list[str]]:
    """An A query over TCP from the host (which routes the Service range to
    the node): the response code and the addresses."""
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    query = struct.pack(">HHHHHH", 0x5350, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    with socket.create_connection((CLUSTER_DNS, 53), timeout=5) as conn:
        conn.sendall(struct.pack(">H", len(query)) + query)
        reply = b""
        while len(reply) < 2 or len(reply) < 2 + struct.unpack(">H", reply[:2])[0]:
            chunk = conn.recv(4096)
            assert chunk, "connection closed mid-answer"
            reply += chunk
    msg = reply[2:]
    _, flags, _, answers, _, _ = struct.unpack(">HHHHHH", msg[:12])
    pos = 12 + len(question) + 4
    addresses = []
    for _ in range(answers):
        pos += 2  # the name: a pointer to the question's
        rtype, _, _, length = struct.unpack(">HHIH", msg[pos : pos + 10])
        pos += 10
        if rtype == 1:
            addresses.append(str(ipaddress.IPv4Address(msg[pos : pos + length])))
        pos += length
    return flags & 0xF, addresses


def test_it_resolves_a_stores_services_and_pods_by_name_under_its_policies(node, store_settings):
    ns = node.store_namespace("store-dns-real")
    node.apply(manifests(), ns)
    pods = {p["metadata"]["name"]: p for p in node.wait_running(ns)}
    assert set(pods) == {"db-0", "client"}
    db_ip = node.json("service", "-n", ns, "db")["spec"]["clusterIP"]
    pod_ip = pods["db-0"]["status"]["podIP"]

    # The C library's resolver, with the search domains: a Service by its
    # short name, a StatefulSet's pod by <pod>.<headless service>.
    assert in_pod(node, ns, "wget", "-O", "-", "http://db:8080/").startswith("db-0")
    fetched = in_pod(node, ns, "wget", "-O", "-", "http://db-0.db-pods:8080/")
    assert f"Connecting to db-0.db-pods:8080 ({pod_ip}:8080)" in fetched, fetched
    assert fetched.startswith("db-0"), fetched

    # busybox's nslookup asks every search domain for A and AAAA: the
    # namespace's one answers the ClusterIP (and AAAA with no error: the name
    # exists), the other two NXDOMAIN.
    answer = in_pod(node, ns, "nslookup", "db")
    assert f"Name:\tdb.{ns}.svc.cluster.local\nAddress: {db_ip}\n" in answer, answer
    assert f"can't find db.{ns}.svc.cluster.local" not in answer, answer
    assert "can't find db.svc.cluster.local: NXDOMAIN" in answer, answer

    fqdn = f"db-0.db-pods.{ns}.svc.cluster.local"
    answer = in_pod(node, ns, "nslookup", fqdn)
    assert f"Name:\t{fqdn}\nAddress: {pod_ip}\n" in answer, answer
    # The headless Service itself: its ready pods.
    answer = in_pod(node, ns, "nslookup", f"db-pods.{ns}.svc.cluster.local")
    assert f"Address: {pod_ip}\n" in answer, answer

    answer = in_pod(node, ns, "nslookup", "nothing-here")
    assert f"can't find nothing-here.{ns}.svc.cluster.local: NXDOMAIN" in answer, answer
    assert "Name:" not in answer, answer

    # Over TCP as well (a truncated UDP answer is asked again over TCP).
    assert ask_over_tcp(f"db.{ns}.svc.cluster.local") == (0, [db_ip])
    assert ask_over_tcp(f"nothing-here.{ns}.svc.cluster.local") == (3, [])

"""Working with the real node: namespaces guarded as the platform guards a
store's, workloads placed on the node, and probes run inside real pods."""

from __future__ import annotations

import copy
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.conf import settings

from stores import isolation
from stores.cluster import connect
from stores.cluster.guardrails import MANAGED_BY_VALUE
from tests.waiting import wait_for

# Fixed by localcluster/node.sh.
NODE_NAME = "10.201.0.2"
HOST_IP = "10.201.0.1"  # the host's end of the node's veth pair
INGRESS_PROXY = "http://10.0.0.80:80"  # the ingress stand-in's Service
BUSYBOX = "localhost/store-provisioner/busybox:1.35"
NODE_SELECTOR = {"store-provisioner.io/node": "real"}
TOLERATIONS = [{"key": "store-provisioner.io/node", "operator": "Exists", "effect": "NoSchedule"}]
# Every engine's pods land on the node with this file; charts with volumes
# also take VOLUMES_FILE.
VALUES_FILE = Path(__file__).resolve().parent / "real-node-values.yaml"
VOLUMES_FILE = Path(__file__).resolve().parent / "real-node-volumes.yaml"

WORKLOADS = ("Deployment", "StatefulSet", "Job")


def pod_spec(manifest: dict) -> dict:
    return manifest["spec"]["template"]["spec"]


def on_node(manifest: dict) -> dict:
    """The workload, scheduled onto the real node (and nowhere else)."""
    manifest = copy.deepcopy(manifest)
    spec = pod_spec(manifest) if manifest["kind"] in WORKLOADS else manifest["spec"]
    spec["nodeSelector"] = dict(NODE_SELECTOR)
    spec["tolerations"] = list(TOLERATIONS)
    # The probes' `sleep` and `httpd` run as PID 1 and ignore SIGTERM: a pod
    # would wait out the default 30 s grace period every time it is deleted.
    spec["terminationGracePeriodSeconds"] = 1
    return manifest


def as_listeners(manifests: list[dict]) -> list[dict]:
    """A chart's objects with every container replaced by busybox answering HTTP
    on the container's own ports, so that reachability between the chart's
    components can be probed under the chart's own labels and policies.

    Labels, ports, security contexts and resources stay as rendered; what
    needs the real images goes (probes, init containers, env, volumes: an
    emptyDir serves the page), and so do PersistentVolumeClaims."""
    out = []
    for manifest in manifests:
        if manifest["kind"] == "PersistentVolumeClaim":
            continue
        manifest = copy.deepcopy(manifest)
        if manifest["kind"] in WORKLOADS:
            manifest["spec"].pop("volumeClaimTemplates", None)
            if manifest["kind"] == "Job":
                manifest["spec"]["backoffLimit"] = 0
            spec = pod_spec(manifest)
            spec.pop("initContainers", None)
            spec["volumes"] = [{"name": "www", "emptyDir": {}}]
            for container in spec["containers"]:
                ports = [p["containerPort"] for p in container.get("ports", [])]
                name = manifest["metadata"]["name"]
                script = [f"echo {name} > /www/index.html"]
                script += [f"httpd -p {port} -h /www" for port in ports]
                script.append("exec sleep 86400")
                container.update(
                    image=BUSYBOX,
                    imagePullPolicy="Never",
                    command=["/bin/sh", "-c", " && ".join(script)],
                    volumeMounts=[{"name": "www", "mountPath": "/www"}],
                )
                container.pop("args", None)
                for key in (
                    "env",
                    "envFrom",
                    "livenessProbe",
                    "readinessProbe",
                    "startupProbe",
                    "lifecycle",
                    "workingDir",
                ):
                    container.pop(key, None)
            manifest = on_node(manifest)
        out.append(manifest)
    return out


@dataclass
class RealNode:
    cluster: object  # tests.fixtures.LocalCluster
    api: object  # kubernetes ApiClient
    namespaces: list[str] = field(default_factory=list)

    # --- kubectl ---------------------------------------------------------------
    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.cluster.bin_dir / "kubectl"), "--kubeconfig", str(self.cluster.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def apply(self, manifests: list[dict], namespace: str) -> None:
        self.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(manifests))

    def json(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)

    # --- namespaces ----------------------------------------------------------------
    def store_namespace(self, name: str) -> str:
        """A namespace with the platform's labels and guardrails, as a store's gets them."""
        cluster = connect(settings.KUBECONFIG)
        labels = {
            "app.kubernetes.io/managed-by": MANAGED_BY_VALUE,
            "pod-security.kubernetes.io/enforce": "baseline",
        }
        cluster.ensure_namespace(name, labels)
        cluster.apply_guardrails(name, isolation.guardrail_spec())
        self.namespaces.append(name)
        return name

    def plain_namespace(self, name: str) -> str:
        self.kubectl("create", "namespace", name)
        self.namespaces.append(name)
        return name

    def delete_namespaces(self) -> None:
        for name in self.namespaces:
            self.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false", check=False)
        for name in self.namespaces:
            self.kubectl("wait", "--for=delete", f"namespace/{name}", "--timeout=90s", check=False)
        self.namespaces.clear()

    # --- pods ----------------------------------------------------------------------
    def wait_running(self, namespace: str, selector: str = "", timeout: int = 90) -> list[dict]:
        """Every pod of the namespace (matching selector) Running on the real node."""
        args = ["pods", "-n", namespace] + (["-l", selector] if selector else [])
        seen: list[dict] = []

        def running() -> list[dict] | None:
            seen[:] = self.json(*args)["items"]
            return list(seen) if seen and all(p["status"].get("phase") == "Running" for p in seen) else None

        try:
            pods = wait_for(running, timeout=timeout, interval=0.5, what=f"the pods in {namespace} to run")
        except AssertionError:
            states = {p["metadata"]["name"]: p["status"] for p in seen}
            raise AssertionError(f"pods in {namespace} not running: {json.dumps(states)[:2000]}") from None
        assert {p["spec"]["nodeName"] for p in pods} == {NODE_NAME}
        return pods

    def pod_named(self, namespace: str, selector: str) -> str:
        (pod,) = self.json("pods", "-n", namespace, "-l", selector)["items"]
        return pod["metadata"]["name"]

    def fetch(self, namespace: str, pod: str, url: str, seconds: int = 3) -> str | None:
        """What `wget url` prints inside the pod, or None when it gets no answer in time."""
        result = self.kubectl(
            "exec",
            "-n",
            namespace,
            pod,
            "--",
            "timeout",
            str(seconds),
            "wget",
            "-q",
            "-O",
            "-",
            url,
            check=False,
            timeout=seconds + 30,
        )
        return result.stdout.strip() if result.returncode == 0 else None

    def service_url(self, namespace: str, name: str, port: int) -> str:
        ip = self.json("service", "-n", namespace, name)["spec"]["clusterIP"]
        return f"http://{ip}:{port}/"

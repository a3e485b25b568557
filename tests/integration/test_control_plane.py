"""The local test cluster behaves like a real control plane.

Proves what product tests rely on: the pinned version, ready nodes, real
admission (ResourceQuota, LimitRange, Pod Security), real controllers driven
through helm, server-side dry run, and the failure-path simulations of
``localcluster/stages.yaml``.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tests.waiting import wait_for

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CHART = Path(__file__).resolve().parent / "charts" / "sample"
SIMULATE = "localcluster.store-provisioner.io/simulate"

RESTRICTED_CONTAINER = {
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}


def pinned_kube_version() -> str:
    for line in (REPO_ROOT / "localcluster" / "versions.env").read_text().splitlines():
        if line.startswith("KUBE_VERSION="):
            return line.split("=", 1)[1].split("#", 1)[0].strip()
    raise AssertionError("KUBE_VERSION not found in localcluster/versions.env")


def stays(predicate, duration: float = 3.0, interval: float = 0.25) -> bool:
    """True if ``predicate`` holds during the whole ``duration``."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(interval)
    return True


@pytest.fixture(scope="module")
def api(local_cluster):
    return config.new_client_from_config(config_file=str(local_cluster.kubeconfig))


@pytest.fixture(scope="module")
def core(api):
    return client.CoreV1Api(api)


@pytest.fixture
def make_namespace(core):
    """Create uniquely named namespaces; delete them after the test."""
    created: list[str] = []

    def make(prefix: str, labels: dict[str, str] | None = None) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        core.create_namespace({"metadata": {"name": name, "labels": labels or {}}})
        created.append(name)
        # Pods are admitted only once the namespace's default ServiceAccount exists.
        wait_for(
            lambda: core.list_namespaced_service_account(name, field_selector="metadata.name=default").items,
            what=f"default ServiceAccount in {name}",
        )
        return name

    yield make
    for name in created:
        try:
            core.delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise


def pod_manifest(name: str, image: str = "registry.example.com/app:1", annotations=None, **container) -> dict:
    return {
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "containers": [{"name": "app", "image": image, **RESTRICTED_CONTAINER, **container}],
            "terminationGracePeriodSeconds": 0,
        },
    }


def condition(obj, type_: str):
    for cond in (obj.status.conditions or []) if obj.status else []:
        if cond.type == type_:
            return cond
    return None


# --- control plane -----------------------------------------------------------------


def test_version_and_nodes(api, core):
    info = client.VersionApi(api).get_code()
    assert info.git_version == pinned_kube_version()
    assert f"v{info.major}.{info.minor}." in info.git_version

    ready = [n.metadata.name for n in core.list_node().items if (c := condition(n, "Ready")) and c.status == "True"]
    assert len(ready) >= 2, ready


def test_admission_quota_limitrange_and_pod_security(core, make_namespace):
    ns = make_namespace("adm", labels={"pod-security.kubernetes.io/enforce": "baseline"})
    core.create_namespaced_limit_range(
        ns,
        {
            "metadata": {"name": "defaults"},
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": "500m", "memory": "256Mi"},
                        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                    }
                ]
            },
        },
    )
    core.create_namespaced_resource_quota(
        ns,
        {
            "metadata": {"name": "quota"},
            "spec": {"hard": {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2", "pods": "5"}},
        },
    )
    # Quota admission refuses pods until the quota controller has computed the status.
    wait_for(lambda: core.read_namespaced_resource_quota("quota", ns).status.hard, what="quota status")

    pod = core.create_namespaced_pod(ns, pod_manifest("defaults"))
    resources = pod.spec.containers[0].resources
    assert resources.requests == {"cpu": "100m", "memory": "128Mi"}
    assert resources.limits == {"cpu": "500m", "memory": "256Mi"}

    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(
            ns,
            pod_manifest("too-big", resources={"requests": {"cpu": "4"}, "limits": {"cpu": "4"}}),
        )
    assert refused.value.status == 403
    assert "exceeded quota" in refused.value.body

    privileged = pod_manifest("privileged")
    privileged["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(ns, privileged)
    assert refused.value.status == 403
    assert "violates PodSecurity" in refused.value.body


def test_server_side_dry_run(api, make_namespace):
    ns = make_namespace("dry")
    apps = client.AppsV1Api(api)
    deployment = {
        "metadata": {"name": "dry"},
        "spec": {
            "selector": {"matchLabels": {"app": "dry"}},
            "template": {
                "metadata": {"labels": {"app": "dry"}},
                "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1"}]},
            },
        },
    }
    result = apps.create_namespaced_deployment(ns, deployment, dry_run="All")
    # Defaults were applied server-side ...
    assert result.spec.replicas == 1
    assert result.spec.strategy.type == "RollingUpdate"
    assert result.metadata.uid
    # ... but nothing was stored.
    with pytest.raises(ApiException) as missing:
        apps.read_namespaced_deployment("dry", ns)
    assert missing.value.status == 404

    invalid = json.loads(json.dumps(deployment))
    invalid["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ApiException) as rejected:
        apps.create_namespaced_deployment(ns, invalid, dry_run="All")
    assert rejected.value.status == 422


# --- helm ----------------------------------------------------------------------------


def helm(cluster, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(cluster.helm), "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"helm {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_helm_install_and_uninstall(local_cluster, api, core, make_namespace):
    ns = make_namespace("helm", labels={"pod-security.kubernetes.io/enforce": "restricted"})
    apps, batch = client.AppsV1Api(api), client.BatchV1Api(api)

    started = time.monotonic()
    helm(
        local_cluster, "install", "sample", str(SAMPLE_CHART), "-n", ns, "--wait", "--wait-for-jobs", "--timeout", "2m"
    )
    install_seconds = time.monotonic() - started

    status = json.loads(helm(local_cluster, "status", "sample", "-n", ns, "-o", "json").stdout)
    assert status["info"]["status"] == "deployed"

    web = apps.read_namespaced_deployment("sample-web", ns)
    assert web.status.ready_replicas == web.spec.replicas == 2
    db = apps.read_namespaced_stateful_set("sample-db", ns)
    assert db.status.ready_replicas == 1
    job = batch.read_namespaced_job("sample-setup", ns)
    assert job.status.succeeded == 1
    assert condition(job, "Complete").status == "True"
    pvc = core.read_namespaced_persistent_volume_claim("data-sample-db-0", ns)
    assert pvc.status.phase == "Bound"
    assert pvc.spec.storage_class_name == "kwok-volume"
    assert core.read_namespaced_service("sample-web", ns).spec.cluster_ip
    client.NetworkingV1Api(api).read_namespaced_ingress("sample-web", ns)
    assert install_seconds < 60, f"helm install took {install_seconds:.1f}s"

    helm(local_cluster, "uninstall", "sample", "-n", ns, "--wait", "--timeout", "1m")
    assert not apps.list_namespaced_deployment(ns).items

    core.delete_namespace(ns)

    def namespace_gone():
        try:
            core.read_namespace(ns)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(namespace_gone, timeout=60, what=f"namespace {ns} to be finalized")


# --- failure-path simulations (localcluster/stages.yaml) ---------------------------


def test_unpullable_image_gets_err_image_pull(core, make_namespace):
    ns = make_namespace("sim-pull")
    core.create_namespaced_pod(ns, pod_manifest("pull", image="unpullable.invalid/wordpress:1"))

    def waiting_reason():
        pod = core.read_namespaced_pod("pull", ns)
        statuses = pod.status.container_statuses or []
        return statuses and statuses[0].state.waiting and statuses[0].state.waiting.reason

    assert wait_for(waiting_reason, what="ErrImagePull") == "ErrImagePull"
    pod = core.read_namespaced_pod("pull", ns)
    assert "unpullable.invalid/wordpress:1" in pod.status.container_statuses[0].state.waiting.message
    assert pod.status.phase == "Pending"
    assert stays(lambda: condition(core.read_namespaced_pod("pull", ns), "Ready").status == "False")


def test_simulate_fail_fails_job_after_backoff_limit(api, core, make_namespace):
    ns = make_namespace("sim-fail")
    batch = client.BatchV1Api(api)
    template = pod_manifest("unused", annotations={SIMULATE: "fail"})
    template["spec"]["restartPolicy"] = "Never"
    del template["metadata"]["name"]
    batch.create_namespaced_job(ns, {"metadata": {"name": "fails"}, "spec": {"backoffLimit": 1, "template": template}})

    def failed_condition():
        cond = condition(batch.read_namespaced_job("fails", ns), "Failed")
        return cond if cond and cond.status == "True" else None

    # The job controller waits ~10s before replacing the first failed pod.
    assert wait_for(failed_condition, timeout=90, what="Job Failed").reason == "BackoffLimitExceeded"
    pods = core.list_namespaced_pod(ns, label_selector="job-name=fails").items
    assert len(pods) == 2
    for pod in pods:
        assert pod.status.phase == "Failed"
        assert pod.status.container_statuses[0].state.terminated.exit_code == 1


def test_simulate_never_ready(core, make_namespace):
    ns = make_namespace("sim-never")
    core.create_namespaced_pod(ns, pod_manifest("never", annotations={SIMULATE: "never-ready"}))
    wait_for(lambda: core.read_namespaced_pod("never", ns).status.phase == "Running", what="Running")
    assert stays(lambda: condition(core.read_namespaced_pod("never", ns), "Ready").status == "False")
    pod = core.read_namespaced_pod("never", ns)
    assert pod.status.phase == "Running"
    assert pod.status.container_statuses[0].state.running


def test_simulate_crash_loop(core, make_namespace):
    ns = make_namespace("sim-crash")
    core.create_namespaced_pod(ns, pod_manifest("crash", annotations={SIMULATE: "crash-loop"}))

    def crash_status():
        statuses = core.read_namespaced_pod("crash", ns).status.container_statuses or []
        waiting = statuses and statuses[0].state.waiting
        return statuses[0] if waiting and waiting.reason == "CrashLoopBackOff" else None

    status = wait_for(crash_status, what="CrashLoopBackOff")
    assert status.restart_count > 0
    assert status.last_state.terminated.exit_code == 1
    assert stays(lambda: condition(core.read_namespaced_pod("crash", ns), "Ready").status == "False")


def test_plain_pod_becomes_ready(core, make_namespace):
    ns = make_namespace("sim-none")
    core.create_namespaced_pod(ns, pod_manifest("plain", annotations={SIMULATE: "something-else"}))
    wait_for(
        lambda: (c := condition(core.read_namespaced_pod("plain", ns), "Ready")) and c.status == "True",
        what="Ready",
    )

"""MedusaJS stores end to end on the local control plane, with real Helm.

The provision runs the product's own task body in this process against the
real API server (quota, LimitRange, Pod Security admission) and real Helm;
kwok simulates the containers, so pods become ready and the setup Job
succeeds without running Medusa (tests/charts and the recipe's own test run
it for real). The storefront URL check is off: simulated pods serve no HTTP.
"""

from __future__ import annotations

import subprocess
import time

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from stores import credentials, lifecycle, tasks
from stores.models import Status, StoreEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def api(local_cluster):
    return k8s_config.new_client_from_config(config_file=str(local_cluster.kubeconfig))


def test_it_takes_a_medusa_store_to_ready_reveals_credentials_and_deletes_it(
    alice, api, local_cluster, store_settings, cleanup
):
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    store = lifecycle.create_store(alice, "medusa-e2e", "medusa")
    assert store.pk in lifecycle.claim_provision_slots()
    started = time.monotonic()
    tasks.provision(store.pk)
    elapsed = time.monotonic() - started
    store.refresh_from_db()
    assert store.status == Status.READY, store.failure_reason
    print(f"\nMedusa store ready on the local control plane in {elapsed:.1f} s")
    ns = "store-medusa-e2e"

    assert core.read_namespace(ns).metadata.labels["store-provisioner.io/engine"] == "medusa"
    # The engine's raised guardrails are what the namespace got.
    assert core.read_namespaced_limit_range("store-limits", ns).spec.limits[0].max["memory"] == "3Gi"
    assert core.read_namespaced_resource_quota("store-quota", ns).spec.hard["limits.memory"] == "8Gi"
    policies = {p.metadata.name for p in k8s.NetworkingV1Api(api).list_namespaced_network_policy(ns).items}
    assert policies == {
        "default-deny",
        "allow-dns",
        "allow-ingress-controller",
        "allow-internet-egress",
        "store-postgres",
        "store-redis",
        "store-medusa",
        "store-worker",
        "store-storefront",
        "store-setup",
    }
    deployments = {d.metadata.name: d for d in apps.list_namespaced_deployment(ns).items}
    assert set(deployments) == {"store-medusa", "store-worker", "store-storefront", "store-redis"}
    assert all(d.status.available_replicas == 1 for d in deployments.values())
    assert apps.read_namespaced_stateful_set("store-postgres", ns).status.ready_replicas == 1
    (job,) = k8s.BatchV1Api(api).list_namespaced_job(ns, label_selector="app.kubernetes.io/component=setup").items
    assert job.status.succeeded == 1
    pods = core.list_namespaced_pod(ns).items
    nodes = {p.metadata.labels["app.kubernetes.io/component"]: p.spec.node_name for p in pods}
    assert nodes["setup"] == nodes["server"] == nodes["storefront"], nodes
    (ingress,) = k8s.NetworkingV1Api(api).list_namespaced_ingress(ns).items
    assert ingress.spec.rules[0].host == "store-medusa-e2e.127.0.0.1.nip.io"

    shown = {label: value for label, value, _secret in credentials.credentials_for(store)}
    assert shown["Admin e-mail"] == "alice@example.org"
    assert len(shown["Admin password"]) >= 20
    for message in StoreEvent.objects.filter(store=store).values_list("message", flat=True):
        assert shown["Admin password"] not in message

    lifecycle.request_delete(store.pk)
    tasks.delete(store.pk)
    store.refresh_from_db()
    assert store.status == Status.DELETED, store.failure_reason
    with pytest.raises(ApiException) as excinfo:
        core.read_namespace(ns)
    assert excinfo.value.status == 404
    out = subprocess.run(
        [str(local_cluster.helm), "list", "-a", "-n", ns, "-q"],
        capture_output=True,
        text=True,
        env={"KUBECONFIG": str(local_cluster.kubeconfig), "HOME": "/tmp"},
        check=True,
    )
    assert out.stdout.strip() == ""


def test_a_failing_medusa_setup_fails_the_store_with_the_jobs_reason(alice, store_settings, tmp_path, cleanup):
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {"setup": {"backoffLimit": 0, "podAnnotations": {"localcluster.store-provisioner.io/simulate": "fail"}}}
        )
    )
    store_settings.STORE_VALUES_FILES = [str(values)]
    store = lifecycle.create_store(alice, "medusa-fails", "medusa")
    assert store.pk in lifecycle.claim_provision_slots()
    tasks.provision(store.pk)
    store.refresh_from_db()
    assert store.status == Status.FAILED
    assert store.step == "workloads"
    assert store.failure_reason.startswith("job store-setup failed"), store.failure_reason

"""A Delete touches only the namespace its store owns, on the local control plane.

Another team's namespace that happens to be called store-<slug> (made with an
admin's kubeconfig, unlabelled) is refused by provisioning, and the Delete of
the failed store then leaves it and what is in it alone; so does the orphan
sweep, as it does a namespace labelled managed-by the platform but naming no
store."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from stores import lifecycle, orphans, tasks
from stores.models import EventCode, Status, StoreEvent
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FOREIGN = {
    # Another team's: no label of the platform's.
    "store-api": {"team": "api"},
    # Labelled managed-by store-provisioner, but naming no store.
    "store-api-labelled": {"app.kubernetes.io/managed-by": "store-provisioner"},
}


@pytest.fixture
def foreign_namespaces(local_cluster):
    core = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(local_cluster.kubeconfig)))
    try:
        for name, labels in FOREIGN.items():
            core.create_namespace({"metadata": {"name": name, "labels": labels}})
            core.create_namespaced_config_map(name, {"metadata": {"name": "team-data"}, "data": {"orders": "42"}})
        yield core
    finally:
        for name in FOREIGN:
            try:
                core.delete_namespace(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise
    for name in FOREIGN:
        wait_for(lambda name=name: _gone(core, name), timeout=60, what=f"namespace {name} to be gone")


def _gone(core: k8s.CoreV1Api, name: str) -> bool:
    try:
        core.read_namespace(name)
    except ApiException as exc:
        return exc.status == 404
    return False


def _intact(core: k8s.CoreV1Api, name: str) -> bool:
    ns = core.read_namespace(name)
    data = core.read_namespaced_config_map("team-data", name).data
    return ns.status.phase == "Active" and ns.metadata.deletion_timestamp is None and data == {"orders": "42"}


def test_a_delete_leaves_a_foreign_namespace_of_the_same_name_alone(alice, foreign_namespaces, store_settings, cleanup):
    core = foreign_namespaces
    store = lifecycle.create_store(alice, "api", "woocommerce")
    assert store.pk in lifecycle.claim_provision_slots()
    tasks.provision(store.pk)
    store.refresh_from_db()
    assert store.status == Status.FAILED
    assert "namespace store-api already exists and belongs to no store" in store.failure_reason

    lifecycle.request_delete(store.pk)
    tasks.delete(store.pk)

    store.refresh_from_db()
    assert store.status == Status.DELETED
    assert _intact(core, "store-api")
    event = StoreEvent.objects.get(store=store, code=EventCode.NAMESPACE_LEFT_ALONE)
    assert event.message.startswith("Namespace store-api and its release were left alone")


def test_the_orphan_sweep_leaves_foreign_namespaces_alone(foreign_namespaces, store_settings):
    store_settings.ORPHAN_GRACE_SECONDS = 0

    found = orphans.reconcile_orphans(prune=True, even_if_unknown=True)

    for name in FOREIGN:
        assert _intact(foreign_namespaces, name)
    assert "store-api-labelled" in found["foreign"]
    assert not set(FOREIGN) & set(found["namespaces"] + found["too_new"] + found["known"])

"""A ready store whose namespace is deleted outside the platform, on the local control plane.

As when a kind cluster is deleted and created again under a running platform:
the drift check marks the store lost with the reason, and its owner's
Recreate provisions it again under the same name, with real Helm."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from stores import lifecycle, tasks
from stores.models import EventCode, Status, StoreEvent
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _gone(core: k8s.CoreV1Api, name: str) -> bool:
    try:
        core.read_namespace(name)
    except ApiException as exc:
        return exc.status == 404
    return False


def _provision(store_id: int) -> None:
    assert store_id in lifecycle.claim_provision_slots()
    tasks.provision(store_id)


def test_a_store_whose_namespace_was_deleted_is_lost_then_recreated(alice, local_cluster, store_settings, cleanup):
    core = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(local_cluster.kubeconfig)))
    store = lifecycle.create_store(alice, "drifter", "woocommerce")
    _provision(store.pk)
    store.refresh_from_db()
    assert store.status == Status.READY, store.failure_reason

    # Out of band: not through the platform.
    core.delete_namespace("store-drifter")
    report = tasks.check_drift()

    reason = "its namespace store-drifter is gone (removed outside the platform, or a new cluster)"
    assert report == {"lost": {"drifter": reason}, "recovered": []}
    store.refresh_from_db()
    assert (store.status, store.failure_reason) == (Status.LOST, reason)
    assert tasks.check_drift() == {"lost": {}, "recovered": []}  # said once

    wait_for(lambda: _gone(core, "store-drifter"), timeout=60, what="the namespace to be gone")
    lifecycle.request_retry(store.pk)  # the owner's Recreate (the web's also starts a worker)
    _provision(store.pk)

    store.refresh_from_db()
    assert store.status == Status.READY, store.failure_reason
    assert core.read_namespace("store-drifter").metadata.labels["store-provisioner.io/store-id"] == str(store.pk)
    codes = list(StoreEvent.objects.filter(store=store).values_list("code", flat=True))
    assert codes.index(EventCode.LOST) < codes.index(EventCode.RECREATE_REQUESTED) < len(codes) - 1
    assert codes[-1] == EventCode.READY
    assert tasks.check_drift() == {"lost": {}, "recovered": []}

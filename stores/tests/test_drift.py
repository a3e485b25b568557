"""Ready stores whose namespace or release vanished become lost, once, and can be recreated.

The cluster is faked at its boundary; tests/integration/test_lost_stores.py
removes a real namespace on the local control plane."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from stores import cluster, drift, isolation, lifecycle, tasks
from stores.models import EventCode, Status, Store, StoreEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready_store(alice, fake_cluster, settings):
    """A store the platform provisioned (against the fake cluster) to ready."""
    settings.CHECK_STORE_URL = False
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    lifecycle.claim_provision_slots()
    tasks.provision(store.pk)
    Store.objects.filter(pk=store.pk).update(ready_at=timezone.now() - timedelta(seconds=5))
    store.refresh_from_db()
    assert store.status == Status.READY
    return store


def _check(fake_cluster):
    return drift.find_lost(fake_cluster, fake_cluster.helm)


def test_a_store_with_its_namespace_and_release_stays_ready(ready_store, fake_cluster):
    assert _check(fake_cluster) == {}
    ready_store.refresh_from_db()
    assert ready_store.status == Status.READY
    assert ready_store.release_checked_at is not None


def test_a_store_whose_namespace_is_gone_is_lost_once_with_one_mail(
    ready_store, fake_cluster, sync_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    del fake_cluster.namespaces["store-acme"]

    with django_capture_on_commit_callbacks(execute=True):
        lost = _check(fake_cluster)
        again = _check(fake_cluster)

    reason = "its namespace store-acme is gone (removed outside the platform, or a new cluster)"
    assert lost == {"acme": reason} and again == {}
    ready_store.refresh_from_db()
    assert (ready_store.status, ready_store.failure_reason) == (Status.LOST, reason)
    [event] = StoreEvent.objects.filter(store=ready_store, code=EventCode.LOST)
    assert event.message == f"Lost: {reason}."
    assert [m.subject for m in mailoutbox] == ["Your store acme is lost"]
    assert "Recreate it from its store page" in mailoutbox[0].body


def test_a_store_whose_release_is_gone_is_lost(ready_store, fake_cluster):
    del fake_cluster.helm.releases[("store-acme", "store")]

    assert _check(fake_cluster) == {
        "acme": "its Helm release store is gone from store-acme (uninstalled outside the platform)"
    }


def test_a_store_that_became_ready_while_the_cluster_was_listed_is_not_judged(ready_store, fake_cluster, monkeypatch):
    real_list = fake_cluster.list_namespaces

    def ready_meanwhile(label_selector):
        listed = real_list(label_selector)
        # Its namespace was made after the list was read; it becomes ready now.
        Store.objects.filter(pk=ready_store.pk).update(ready_at=timezone.now() + timedelta(seconds=1))
        return [ns for ns in listed if ns["name"] != "store-acme"]

    monkeypatch.setattr(fake_cluster, "list_namespaces", ready_meanwhile)

    assert _check(fake_cluster) == {}
    assert Store.objects.get(pk=ready_store.pk).status == Status.READY


def test_each_run_asks_helm_about_a_bounded_number_of_stores_longest_unchecked_first(
    ready_store, fake_cluster, monkeypatch
):
    monkeypatch.setattr(drift, "RELEASE_CHECKS_PER_RUN", 1)
    other = Store.objects.create(owner=ready_store.owner, slug="other", engine="woocommerce", status=Status.READY)
    Store.objects.filter(pk=other.pk).update(ready_at=timezone.now() - timedelta(seconds=5))
    fake_cluster.ensure_namespace("store-other", isolation.namespace_labels(other))
    fake_cluster.helm.releases[("store-other", "store")] = {"name": "store", "namespace": "store-other"}
    asked = []
    monkeypatch.setattr(fake_cluster.helm, "status", lambda release, namespace: asked.append(namespace) or {})

    _check(fake_cluster)
    _check(fake_cluster)
    _check(fake_cluster)

    assert asked == ["store-acme", "store-other", "store-acme"]


def test_its_owner_recreates_a_lost_store_under_the_same_name(ready_store, fake_cluster, alice_client):
    del fake_cluster.namespaces["store-acme"]
    _check(fake_cluster)

    page = alice_client.get(reverse("store_detail", args=[ready_store.pk])).content.decode()
    assert ">Recreate</button>" in page
    assert "What this store ran on is gone from the cluster." in page
    assert "badge-lost" in page

    response = alice_client.post(reverse("store_retry", args=[ready_store.pk]), follow=True)

    assert "Recreating “acme”." in response.content.decode()
    ready_store.refresh_from_db()
    assert ready_store.status in (Status.QUEUED, Status.PROVISIONING, Status.READY)
    assert StoreEvent.objects.filter(store=ready_store, code=EventCode.RECREATE_REQUESTED).exists()


def test_a_lost_store_whose_namespace_and_release_are_back_is_ready_again(
    ready_store, fake_cluster, sync_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    labels = fake_cluster.namespaces.pop("store-acme")
    with django_capture_on_commit_callbacks(execute=True):
        _check(fake_cluster)
        fake_cluster.namespaces["store-acme"] = labels  # a cluster that was only out of reach
        _check(fake_cluster)

    ready_store.refresh_from_db()
    assert (ready_store.status, ready_store.failure_reason) == (Status.READY, "")
    assert StoreEvent.objects.filter(store=ready_store, code=EventCode.FOUND).count() == 1
    assert [m.subject for m in mailoutbox] == ["Your store acme is lost", "Your store acme is back"]


def test_a_release_helm_cannot_read_neither_loses_the_store_nor_blocks_the_others(
    ready_store, fake_cluster, monkeypatch
):
    other = Store.objects.create(owner=ready_store.owner, slug="other", engine="woocommerce", status=Status.READY)
    Store.objects.filter(pk=other.pk).update(ready_at=timezone.now() - timedelta(seconds=5))
    fake_cluster.ensure_namespace("store-other", isolation.namespace_labels(other))
    asked = []

    def status(release, namespace):
        asked.append(namespace)
        if namespace == "store-acme":
            raise cluster.ClusterError("helm status store failed: Kubernetes cluster unreachable: EOF")
        return None  # store-other's release is really gone

    monkeypatch.setattr(fake_cluster.helm, "status", status)

    lost = _check(fake_cluster)

    assert asked[:2] == ["store-acme", "store-other"]  # (then store-other again: is it back?)
    assert list(lost) == ["other"]
    assert Store.objects.get(pk=ready_store.pk).status == Status.READY

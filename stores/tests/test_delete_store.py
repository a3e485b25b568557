"""Deleting a store: a confirmation page, then a POST that tears it down."""

import pytest
from django.urls import reverse

from stores import lifecycle, tasks
from stores.models import EventCode, Status, Store, StoreEvent

pytestmark = pytest.mark.django_db


def _url(store):
    return reverse("store_delete", args=[store.pk])


@pytest.fixture
def store(alice):
    return lifecycle.create_store(alice, "acme", "woocommerce")


@pytest.fixture
def provisioned(alice, workers, fake_cluster):
    """A store that went through every provisioning step against the fake cluster."""
    with workers():
        store = tasks.request_create(alice, "acme", "woocommerce")
    store.refresh_from_db()
    assert store.status == Status.READY and store.attempts == 1
    assert "store-acme" in fake_cluster.namespaces
    fake_cluster.calls.clear()
    fake_cluster.helm.calls.clear()
    return store


def test_it_asks_for_confirmation(alice_client, store):
    response = alice_client.get(_url(store))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Delete “acme”?" in body
    assert "<code>store-acme</code>" in body
    assert "deleting it cancels that" in body
    assert Store.objects.get(pk=store.pk).status == Status.QUEUED


def test_it_moves_the_store_to_deleting(alice_client, store):
    response = alice_client.post(_url(store))

    store.refresh_from_db()
    assert store.status == Status.DELETING
    assert StoreEvent.objects.filter(store=store, message="Delete requested.").count() == 1
    assert response.status_code == 302
    assert response["Location"] == reverse("store_detail", args=[store.pk])


def test_it_says_the_store_is_being_deleted(alice_client, store):
    response = alice_client.post(_url(store), follow=True)

    assert response.status_code == 200
    assert Store.objects.get(pk=store.pk).status == Status.DELETING
    assert "Deleting “acme”: its release and namespace are being removed." in response.content.decode()


def test_it_uninstalls_the_release_and_deletes_the_namespace(alice_client, provisioned, workers, fake_cluster):
    with workers():
        response = alice_client.post(_url(provisioned))

    provisioned.refresh_from_db()
    assert response.status_code == 302
    assert provisioned.status == Status.DELETED
    assert provisioned.deleted_at is not None
    assert provisioned.lease_token == ""
    assert fake_cluster.helm.calls == [("uninstall", "store", "store-acme")]
    assert ("delete_namespace", "store-acme") in fake_cluster.calls
    assert "store-acme" not in fake_cluster.namespaces
    assert fake_cluster.helm.releases == {}
    messages = list(StoreEvent.objects.filter(store=provisioned).values_list("message", flat=True))
    assert messages[-4:] == [
        "Delete requested.",
        "Helm release uninstalled.",
        "Namespace store-acme is gone.",
        "Store deleted; its namespace is gone.",
    ]


FOREIGN_LABELS = {
    # Another team's namespace that happens to be called store-<slug>.
    "team": {"team": "acme"},
    # Another store's (one this platform made for store 41).
    "another store": {"app.kubernetes.io/managed-by": "store-provisioner", "store-provisioner.io/store-id": "41"},
    # Labelled managed-by store-provisioner, but naming no store.
    "no store id": {"app.kubernetes.io/managed-by": "store-provisioner"},
}


@pytest.mark.parametrize("whose", list(FOREIGN_LABELS))
def test_it_leaves_alone_a_namespace_that_is_not_the_stores_own(alice_client, alice, workers, fake_cluster, whose):
    fake_cluster.namespaces["store-acme"] = dict(FOREIGN_LABELS[whose])
    fake_cluster.helm.releases[("store-acme", "store")] = {"name": "store", "namespace": "store-acme", "version": 3}
    with workers():
        store = tasks.request_create(alice, "acme", "woocommerce")
    store.refresh_from_db()
    assert store.status == Status.FAILED and "namespace store-acme already exists" in store.failure_reason
    fake_cluster.calls.clear()
    fake_cluster.helm.calls.clear()

    with workers():
        alice_client.post(_url(store))

    store.refresh_from_db()
    assert store.status == Status.DELETED
    assert fake_cluster.namespaces["store-acme"] == FOREIGN_LABELS[whose]
    assert ("store-acme", "store") in fake_cluster.helm.releases
    assert not [c for c in fake_cluster.calls if c[0] == "delete_namespace"]
    assert not [c for c in fake_cluster.helm.calls if c[0] == "uninstall"]
    left_alone = StoreEvent.objects.get(store=store, code=EventCode.NAMESPACE_LEFT_ALONE)
    whose = "it belongs to store 41" if whose == "another store" else "this platform did not make it for any store"
    assert left_alone.message == (
        f"Namespace store-acme and its release were left alone: {whose} (its labels do not name store {store.pk}); "
        "a delete removes only a namespace labelled as its store's."
    )
    last = StoreEvent.objects.filter(store=store).last()
    assert (last.code, last.message) == (EventCode.DELETED, "Store deleted; nothing was removed from the cluster.")


def test_it_says_a_missing_namespace_left_nothing_to_remove(alice_client, provisioned, workers, fake_cluster):
    del fake_cluster.namespaces["store-acme"]  # removed outside the platform

    with workers():
        alice_client.post(_url(provisioned))

    provisioned.refresh_from_db()
    assert provisioned.status == Status.DELETED
    assert fake_cluster.helm.calls == []
    assert not [c for c in fake_cluster.calls if c[0] == "delete_namespace"]
    left_alone = StoreEvent.objects.get(store=provisioned, code=EventCode.NAMESPACE_LEFT_ALONE)
    assert left_alone.message == "Namespace store-acme does not exist; nothing to remove."


def test_it_deletes_a_store_that_never_left_the_queue_without_touching_the_cluster(
    alice_client, store, workers, fake_cluster
):
    with workers():
        response = alice_client.post(_url(store))

    store.refresh_from_db()
    assert response.status_code == 302
    assert store.status == Status.DELETED
    assert fake_cluster.calls == []
    assert fake_cluster.helm.calls == []


def test_it_frees_the_name_once_deleted(alice_client, provisioned, workers):
    with workers():
        alice_client.post(_url(provisioned))

    response = alice_client.post(reverse("store_create"), {"name": "acme", "engine": "woocommerce"})

    assert response.status_code == 302
    assert Store.objects.filter(slug="acme").count() == 2
    assert Store.objects.live().get(slug="acme").pk != provisioned.pk


def test_it_refuses_a_second_delete(alice_client, store):
    alice_client.post(_url(store))
    events_before = StoreEvent.objects.filter(store=store).count()
    lease_before = Store.objects.get(pk=store.pk).lease_until

    response = alice_client.post(_url(store), follow=True)

    assert response.status_code == 200
    assert "“acme” is already being deleted." in response.content.decode()
    store.refresh_from_db()
    assert store.status == Status.DELETING
    assert store.lease_until == lease_before
    assert StoreEvent.objects.filter(store=store).count() == events_before


def test_it_does_not_start_a_second_teardown(alice_client, store, workers, fake_cluster, monkeypatch):
    alice_client.post(_url(store))
    started = []
    monkeypatch.setattr(tasks, "enqueue_delete", lambda store_id: started.append(store_id))

    with workers():
        alice_client.post(_url(store))

    assert started == []
    assert Store.objects.get(pk=store.pk).status == Status.DELETING


def test_it_gives_404_to_another_user_on_the_confirmation_page(bob_client, store):
    response = bob_client.get(_url(store))

    assert response.status_code == 404
    assert b"acme" not in response.content
    assert Store.objects.get(pk=store.pk).status == Status.QUEUED


def test_it_gives_404_to_another_user_and_changes_nothing(bob_client, store, workers, fake_cluster):
    with workers():
        response = bob_client.post(_url(store))

    assert response.status_code == 404
    store.refresh_from_db()
    assert store.status == Status.QUEUED
    assert StoreEvent.objects.filter(store=store).count() == 1
    assert fake_cluster.calls == []


def test_it_requires_login(client, store):
    response = client.post(_url(store))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Store.objects.get(pk=store.pk).status == Status.QUEUED

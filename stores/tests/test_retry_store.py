"""Retrying a failed store: back in the queue, then provisioned again."""

import pytest
from django.urls import reverse

from stores import cluster, lifecycle, tasks
from stores.models import Status, Store, StoreEvent

pytestmark = pytest.mark.django_db


def _url(store):
    return reverse("store_retry", args=[store.pk])


@pytest.fixture
def failed(alice, workers, fake_cluster):
    """A store whose provisioning failed because its image could not be pulled."""
    fake_cluster.wait_error = cluster.WorkloadFailed("pod web-abc: ErrImagePull: boom")
    with workers():
        store = tasks.request_create(alice, "acme", "woocommerce")
    store.refresh_from_db()
    assert store.status == Status.FAILED
    assert store.failure_reason == "pod web-abc: ErrImagePull: boom"
    fake_cluster.wait_error = None
    return store


def test_it_queues_a_failed_store_again(alice_client, failed):
    response = alice_client.post(_url(failed))

    failed.refresh_from_db()
    assert failed.status == Status.QUEUED
    assert failed.failure_reason == ""
    assert (
        StoreEvent.objects.filter(
            store=failed, message="Retry requested; waiting for a free provisioning slot."
        ).count()
        == 1
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("store_detail", args=[failed.pk])


def test_it_says_it_is_retrying(alice_client, failed):
    response = alice_client.post(_url(failed), follow=True)

    assert response.status_code == 200
    assert Store.objects.get(pk=failed.pk).status == Status.QUEUED
    assert "Retrying “acme”." in response.content.decode()


def test_it_provisions_the_store_again(alice_client, failed, workers, fake_cluster):
    with workers():
        response = alice_client.post(_url(failed))

    failed.refresh_from_db()
    assert response.status_code == 302
    assert failed.status == Status.READY
    assert failed.attempts == 2
    assert failed.failure_reason == ""
    upgrades = [call for call in fake_cluster.helm.calls if call[0] == "upgrade_install"]
    assert len(upgrades) == 2
    assert fake_cluster.helm.releases[("store-acme", "store")]["version"] == 2


def test_it_refuses_to_retry_a_ready_store(alice_client, alice, workers):
    with workers():
        store = tasks.request_create(alice, "acme", "woocommerce")
    store.refresh_from_db()
    assert store.status == Status.READY
    events_before = StoreEvent.objects.filter(store=store).count()

    response = alice_client.post(_url(store), follow=True)

    assert response.status_code == 200
    assert "Only a failed or lost store can be retried; “acme” is ready." in response.content.decode()
    store.refresh_from_db()
    assert store.status == Status.READY
    assert store.attempts == 1
    assert StoreEvent.objects.filter(store=store).count() == events_before


@pytest.mark.parametrize("status", [Status.QUEUED, Status.PROVISIONING, Status.DELETING, Status.DELETED])
def test_it_refuses_to_retry_a_store_that_is_not_failed(alice_client, alice, status):
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=status)

    response = alice_client.post(_url(store))

    assert response.status_code == 302
    assert Store.objects.get(pk=store.pk).status == status
    assert StoreEvent.objects.filter(store=store).count() == 1


def test_it_refuses_a_get(alice_client, failed):
    response = alice_client.get(_url(failed))

    assert response.status_code == 405
    assert Store.objects.get(pk=failed.pk).status == Status.FAILED


def test_it_gives_404_to_another_user_and_changes_nothing(bob_client, failed, workers, fake_cluster):
    events_before = StoreEvent.objects.filter(store=failed).count()
    calls_before = list(fake_cluster.calls)

    with workers():
        response = bob_client.post(_url(failed))

    assert response.status_code == 404
    failed.refresh_from_db()
    assert failed.status == Status.FAILED
    assert failed.attempts == 1
    assert StoreEvent.objects.filter(store=failed).count() == events_before
    assert fake_cluster.calls == calls_before


def test_it_requires_login(client, failed):
    response = client.post(_url(failed))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Store.objects.get(pk=failed.pk).status == Status.FAILED

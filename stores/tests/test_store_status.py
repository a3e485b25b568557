"""The status fragment the store page polls; 286 tells htmx to stop."""

import pytest
from django.urls import reverse

from stores import lifecycle
from stores.cluster.errors import FailureCode
from stores.models import Status, Store, StoreEvent

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(store):
    return reverse("store_status", args=[store.pk])


@pytest.fixture
def store(alice):
    return lifecycle.create_store(alice, "acme", "woocommerce")


def test_it_answers_200_and_keeps_polling_while_queued(alice_client, store):
    response = alice_client.get(_url(store), **HTMX)

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="store-status"')
    assert "<html" not in body
    assert 'hx-trigger="every 2s' in body
    assert "Number 1 in line" in body


def test_it_answers_200_while_provisioning(alice_client, store):
    assert lifecycle.claim_provision_slots() == [store.pk]

    response = alice_client.get(_url(store), **HTMX)

    assert Store.objects.get(pk=store.pk).status == Status.PROVISIONING
    assert response.status_code == 200
    assert 'hx-trigger="every 2s' in response.content.decode()


def test_it_answers_200_while_deleting(alice_client, store):
    lifecycle.request_delete(store.pk)

    response = alice_client.get(_url(store), **HTMX)

    assert Store.objects.get(pk=store.pk).status == Status.DELETING
    assert response.status_code == 200
    assert 'hx-trigger="every 2s' in response.content.decode()


def test_it_answers_286_once_ready(alice_client, store):
    lifecycle.claim_provision_slots()
    token = lifecycle.take_lease(store.pk, Status.PROVISIONING)
    lifecycle.mark_ready(store.pk, token, "Store is ready at http://store-acme.127.0.0.1.nip.io.")

    response = alice_client.get(_url(store), **HTMX)

    assert Store.objects.get(pk=store.pk).status == Status.READY
    assert response.status_code == 286
    body = response.content.decode()
    assert 'hx-trigger="every 2s' not in body
    assert "Store is ready at http://store-acme.127.0.0.1.nip.io." in body


def test_it_answers_286_once_failed(alice_client, store):
    lifecycle.claim_provision_slots()
    lifecycle.mark_failed(store.pk, "pod web: ErrImagePull: boom", code=FailureCode.IMAGE, step="workloads")

    response = alice_client.get(_url(store), **HTMX)

    assert Store.objects.get(pk=store.pk).status == Status.FAILED
    assert response.status_code == 286
    body = response.content.decode()
    assert 'hx-trigger="every 2s' not in body
    assert "pod web: ErrImagePull: boom" in body


def test_it_answers_286_once_deleted(alice_client, store):
    lifecycle.request_delete(store.pk)
    lifecycle.mark_deleted(store.pk)

    response = alice_client.get(_url(store), **HTMX)

    assert Store.objects.get(pk=store.pk).status == Status.DELETED
    assert response.status_code == 286
    assert 'hx-trigger="every 2s' not in response.content.decode()


@pytest.mark.parametrize(
    "status,code",
    [
        (Status.QUEUED, 200),
        (Status.PROVISIONING, 200),
        (Status.DELETING, 200),
        (Status.READY, 286),
        (Status.FAILED, 286),
        (Status.DELETED, 286),
    ],
)
def test_it_maps_every_state_to_its_polling_answer(alice_client, store, status, code):
    Store.objects.filter(pk=store.pk).update(status=status)

    response = alice_client.get(_url(store), **HTMX)

    assert response.status_code == code
    assert ('hx-trigger="every 2s' in response.content.decode()) is (code == 200)


def test_it_varies_on_the_htmx_header(alice_client, store):
    response = alice_client.get(_url(store), **HTMX)

    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]


def test_it_gives_404_for_another_users_store(bob_client, store):
    response = bob_client.get(_url(store), **HTMX)

    assert response.status_code == 404
    assert b"acme" not in response.content
    assert Store.objects.get(pk=store.pk).status == Status.QUEUED
    assert StoreEvent.objects.filter(store=store).count() == 1


def test_it_requires_login(client, store):
    response = client.get(_url(store), **HTMX)

    # An HTMX poll navigates to the login page rather than swapping it in.
    assert response["HX-Redirect"].startswith(reverse("login"))
    assert b"acme" not in response.content


def test_it_refuses_a_post(alice_client, store):
    response = alice_client.post(_url(store), **HTMX)

    assert response.status_code == 405
    assert Store.objects.get(pk=store.pk).status == Status.QUEUED

"""The store list fragment the dashboard polls while a store is busy."""

import pytest
from django.urls import reverse

from stores import lifecycle
from stores.models import Status, Store

pytestmark = pytest.mark.django_db

URL = reverse("store_list")
HTMX = {"HTTP_HX_REQUEST": "true"}


def _store(owner, slug, status):
    store = lifecycle.create_store(owner, slug, "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=status)
    return store


def test_it_redirects_a_plain_request_to_the_dashboard(alice_client, alice):
    _store(alice, "busy", Status.QUEUED)

    response = alice_client.get(URL)

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_it_answers_286_when_every_store_is_final(alice_client, alice):
    _store(alice, "done", Status.READY)
    _store(alice, "broken", Status.FAILED)

    response = alice_client.get(URL, **HTMX)

    assert response.status_code == 286
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="store-list"')
    assert "<html" not in body
    assert "done" in body and "broken" in body
    assert 'hx-trigger="every 2s' not in body


@pytest.mark.parametrize("busy", [Status.QUEUED, Status.PROVISIONING, Status.DELETING])
def test_it_answers_200_while_one_store_is_busy(alice_client, alice, busy):
    _store(alice, "done", Status.READY)
    _store(alice, "busy", busy)

    response = alice_client.get(URL, **HTMX)

    assert response.status_code == 200
    assert 'hx-trigger="every 2s' in response.content.decode()


def test_it_answers_286_when_the_user_has_no_stores(alice_client):
    response = alice_client.get(URL, **HTMX)

    assert response.status_code == 286
    assert "No stores yet" in response.content.decode()


def test_it_stops_polling_once_the_last_busy_store_settles(alice_client, alice):
    store = _store(alice, "shop", Status.QUEUED)
    assert alice_client.get(URL, **HTMX).status_code == 200

    lifecycle.claim_provision_slots()
    token = lifecycle.take_lease(store.pk, Status.PROVISIONING)
    lifecycle.mark_ready(store.pk, token, "ready")
    response = alice_client.get(URL, **HTMX)

    assert Store.objects.get(pk=store.pk).status == Status.READY
    assert response.status_code == 286


def test_it_lists_only_the_users_own_live_stores(alice_client, alice, bob):
    mine = _store(alice, "alice-shop", Status.READY)
    _store(alice, "alice-old", Status.DELETED)
    _store(bob, "bob-shop", Status.READY)

    response = alice_client.get(URL, **HTMX)

    assert [s.pk for s in response.context["stores"]] == [mine.pk]
    body = response.content.decode()
    assert "alice-shop" in body
    assert "alice-old" not in body
    assert "bob-shop" not in body


def test_it_ignores_another_users_busy_store(alice_client, alice, bob):
    _store(alice, "alice-shop", Status.READY)
    _store(bob, "bob-shop", Status.PROVISIONING)

    response = alice_client.get(URL, **HTMX)

    assert response.status_code == 286


def test_it_ignores_a_deleted_store(alice_client, alice):
    _store(alice, "alice-shop", Status.READY)
    old = lifecycle.create_store(alice, "alice-old", "woocommerce")
    lifecycle.request_delete(old.pk)
    lifecycle.mark_deleted(old.pk)

    response = alice_client.get(URL, **HTMX)

    assert response.status_code == 286
    assert "alice-old" not in response.content.decode()


def test_it_shows_the_place_in_line(alice_client, alice, bob):
    lifecycle.create_store(bob, "first", "woocommerce")
    lifecycle.create_store(alice, "second", "woocommerce")

    response = alice_client.get(URL, **HTMX)

    assert response.status_code == 200
    assert "#2 in line" in response.content.decode()


def test_it_varies_on_the_htmx_header(alice_client, alice):
    _store(alice, "busy", Status.QUEUED)

    response = alice_client.get(URL, **HTMX)

    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]


def test_it_requires_login(client, alice):
    _store(alice, "alice-shop", Status.READY)

    response = client.get(URL, **HTMX)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert b"alice-shop" not in response.content


def test_it_labels_a_stuck_delete_in_words(alice_client, alice):
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.DELETE_STUCK)

    response = alice_client.get(reverse("dashboard"))

    assert "Delete stuck</span>" in response.content.decode()
    assert response.context["polling"] is False

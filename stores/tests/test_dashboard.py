"""The dashboard: the signed-in owner's live stores and the create form."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertInHTML

from stores import lifecycle
from stores.models import Status, Store

pytestmark = pytest.mark.django_db


def test_it_requires_login(client, alice):
    lifecycle.create_store(alice, "alice-shop", "woocommerce")

    response = client.get(reverse("dashboard"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/"


def test_it_shows_how_many_of_the_limit_are_in_use(alice_client, alice):
    lifecycle.create_store(alice, "one", "woocommerce")
    lifecycle.create_store(alice, "two", "woocommerce")
    gone = lifecycle.create_store(alice, "gone", "woocommerce")
    lifecycle.request_delete(gone.pk)
    lifecycle.mark_deleted(gone.pk)

    response = alice_client.get(reverse("dashboard"))

    assert response.status_code == 200
    assert Store.objects.owned_by(alice).live().count() == 2
    assert response.context["store_limit"] == 3
    assert '<strong id="store-count">2 of 3</strong>' in response.content.decode()


def test_it_shows_zero_of_three_for_a_new_user(alice_client):
    response = alice_client.get(reverse("dashboard"))

    assert response.status_code == 200
    body = response.content.decode()
    assert '<strong id="store-count">0 of 3</strong>' in body
    assert "No stores yet" in body


def test_it_lists_only_the_users_own_live_stores(alice_client, alice, bob):
    mine = lifecycle.create_store(alice, "alice-shop", "woocommerce")
    lifecycle.create_store(bob, "bob-shop", "woocommerce")
    old = lifecycle.create_store(alice, "alice-old", "woocommerce")
    lifecycle.request_delete(old.pk)
    lifecycle.mark_deleted(old.pk)

    response = alice_client.get(reverse("dashboard"))

    assert response.status_code == 200
    assert [s.pk for s in response.context["stores"]] == [mine.pk]
    body = response.content.decode()
    assert "alice-shop" in body
    assert reverse("store_detail", args=[mine.pk]) in body
    assert "bob-shop" not in body
    assert "alice-old" not in body
    # The deleted store is still in the database; it is just not listed.
    assert Store.objects.get(pk=old.pk).status == Status.DELETED


def test_it_disables_the_create_button_at_the_limit(alice_client, alice):
    for name in ("one", "two", "three"):
        lifecycle.create_store(alice, name, "woocommerce")

    response = alice_client.get(reverse("dashboard"))

    assert response.status_code == 200
    assert response.context["at_limit"] is True
    body = response.content.decode()
    assertInHTML(
        '<p id="limit-notice" class="notice" role="status">You have 3 of 3 stores. Delete one to create another.</p>',
        body,
    )
    assertInHTML('<button id="create-button" class="button" type="submit" disabled>Create store</button>', body)


def test_it_keeps_a_hidden_notice_below_the_limit(alice_client, alice):
    lifecycle.create_store(alice, "one", "woocommerce")

    response = alice_client.get(reverse("dashboard"))

    body = response.content.decode()
    # Present but hidden, so a poll can reveal it without a reload.
    assertInHTML(
        '<p id="limit-notice" class="notice" role="status" hidden>'
        "You have 3 of 3 stores. Delete one to create another.</p>",
        body,
    )
    assertInHTML('<button id="create-button" class="button" type="submit">Create store</button>', body)
    # The page itself swaps nothing out of band; only the polled fragment does.
    assert "hx-swap-oob" not in body


def test_it_loads_the_htmx_error_script_once_in_debug(alice_client, settings):
    settings.DEBUG = True

    body = alice_client.get(reverse("dashboard")).content.decode()

    # It shows a failing poll's error page instead of swallowing it.
    assert body.count("django_htmx/django-htmx.js") == 1
    assert 'data-debug="True"' in body


def test_it_polls_the_list_while_a_store_is_busy(alice_client, alice):
    lifecycle.create_store(alice, "busy", "woocommerce")

    response = alice_client.get(reverse("dashboard"))

    assert response.status_code == 200
    assert 'hx-trigger="every 2s' in response.content.decode()


def test_it_does_not_poll_when_every_store_is_final(alice_client, alice):
    store = lifecycle.create_store(alice, "done", "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.READY)

    response = alice_client.get(reverse("dashboard"))

    assert response.status_code == 200
    assert 'hx-trigger="every 2s' not in response.content.decode()

"""The store list fragment the dashboard polls while a store is busy."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from accounts.models import Profile
from stores import lifecycle
from stores.models import Status, Store

pytestmark = pytest.mark.django_db

URL = reverse("store_list")
HTMX = {"HTTP_HX_REQUEST": "true"}


class _Elements(HTMLParser):
    """Each element with an id: its attributes and its text, and whether it is top level."""

    VOID = {"input", "br", "img", "meta", "link", "hr"}

    def __init__(self):
        super().__init__()
        self.found, self._open = {}, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.found[attrs["id"]] = {"attrs": attrs, "text": "", "top": not self._open}
        if tag not in self.VOID:
            self._open.append(attrs.get("id"))

    def handle_endtag(self, tag):
        if tag not in self.VOID:
            self._open.pop()

    def handle_data(self, data):
        for id_ in filter(None, self._open):
            self.found[id_]["text"] += data


def _elements(response) -> dict:
    parser = _Elements()
    parser.feed(response.content.decode())
    return parser.found


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

    assert response["HX-Redirect"].startswith(reverse("login"))
    assert b"alice-shop" not in response.content


def test_it_labels_a_stuck_delete_in_words(alice_client, alice):
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.DELETE_STUCK)

    response = alice_client.get(reverse("dashboard"))

    assert "Delete stuck</span>" in response.content.decode()
    assert response.context["polling"] is False


def test_it_refreshes_the_count_notice_and_button_out_of_band(alice_client, alice):
    _store(alice, "one", Status.READY)
    _store(alice, "two", Status.READY)
    gone = _store(alice, "gone", Status.DELETING)

    at_limit = _elements(alice_client.get(URL, **HTMX))
    lifecycle.mark_deleted(gone.pk)
    response = alice_client.get(URL, **HTMX)
    below = _elements(response)

    for found in (at_limit, below):
        for id_ in ("store-count", "limit-notice", "create-button"):
            # Top level: htmx swaps these into the page by id, beside #store-list.
            assert found[id_]["top"], id_
            assert found[id_]["attrs"]["hx-swap-oob"] == "true", id_
    assert at_limit["store-count"]["text"] == "3 of 3"
    assert "hidden" not in at_limit["limit-notice"]["attrs"]
    assert "disabled" in at_limit["create-button"]["attrs"]

    assert response.status_code == 286
    assert below["store-count"]["text"] == "2 of 3"
    assert "hidden" in below["limit-notice"]["attrs"]
    assert "disabled" not in below["create-button"]["attrs"]
    assert "gone" not in below["store-list"]["text"]


def test_it_counts_against_the_users_own_limit(alice_client, alice, bob):
    Profile.objects.update_or_create(user=alice, defaults={"store_limit": 5})
    _store(alice, "busy", Status.QUEUED)
    _store(bob, "bob-shop", Status.READY)

    found = _elements(alice_client.get(URL, **HTMX))

    assert found["store-count"]["text"] == "1 of 5"
    assert "disabled" not in found["create-button"]["attrs"]


def test_it_sends_a_poll_whose_session_ran_out_to_the_login_page(client):
    response = client.get(URL, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/stores/7/")

    # Not a redirect htmx would follow and swap into #store-list: a navigation.
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Fstores%2F7%2F"
    assert response.content == b""


def test_it_still_redirects_a_plain_request_to_the_login_page(client):
    response = client.get(reverse("dashboard"))

    assert response.status_code == 302
    assert "HX-Redirect" not in response

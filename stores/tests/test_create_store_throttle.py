"""Store creation is throttled per user (STORE_CREATE_RATE)."""

import pytest
from django.urls import reverse

from stores.models import Store, StoreEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("still_throttle_clock")]

URL = reverse("store_create")


def _post(client, name):
    return client.post(URL, {"name": name, "engine": "woocommerce"})


def test_it_refuses_too_many_creates_by_one_user(alice_client, settings):
    settings.STORE_CREATE_RATE = "2/m"
    _post(alice_client, "Not A Slug")
    _post(alice_client, "Not A Slug Either")

    response = _post(alice_client, "acme-coffee")

    assert response.status_code == 429
    assert "Too many attempts; try again in a minute." in response.content.decode()
    assert not Store.objects.exists()
    assert not StoreEvent.objects.exists()


def test_it_counts_each_user_on_their_own(alice_client, bob_client, settings):
    settings.STORE_CREATE_RATE = "1/m"
    _post(alice_client, "Not A Slug")
    assert _post(alice_client, "acme-coffee").status_code == 429

    response = _post(bob_client, "bob-shop")

    assert response.status_code == 302
    assert list(Store.objects.values_list("slug", flat=True)) == ["bob-shop"]


def test_it_counts_a_user_across_addresses(alice_client, settings):
    settings.STORE_CREATE_RATE = "1/m"
    alice_client.post(URL, {"name": "Not A Slug", "engine": "woocommerce"}, REMOTE_ADDR="198.51.100.1")

    response = alice_client.post(URL, {"name": "acme-coffee", "engine": "woocommerce"}, REMOTE_ADDR="198.51.100.2")

    assert response.status_code == 429
    assert not Store.objects.exists()


def test_it_does_not_count_visits_to_the_dashboard(alice_client, settings):
    settings.STORE_CREATE_RATE = "1/m"
    for _ in range(3):
        alice_client.get(URL)
        alice_client.get(reverse("dashboard"))

    assert _post(alice_client, "acme-coffee").status_code == 302

"""The checkout step: a store is ready once an order went through, says why when
none could be tried, and fails naming the call when one could not go through.

The cluster is faked at its boundary; the engine's checkout is replaced where a
test needs one (the real Medusa check runs against a real Medusa server in
tests/charts/test_medusa_recipe.py)."""

import dataclasses
import re

import pytest
from django.urls import reverse
from django.utils.html import strip_tags

from stores import lifecycle, storefront, tasks
from stores.engines import ENGINES
from stores.engines.base import CheckoutResult
from stores.engines.shop_api import CheckoutFailed
from stores.models import EventCode, Status, StoreEvent


@pytest.fixture
def reachable(settings, monkeypatch):
    """The platform reaches stores, and their storefronts answer."""
    settings.CHECK_STORE_URL = True
    monkeypatch.setattr(storefront, "wait_for_storefront", lambda url, run: None)


@pytest.fixture
def checkout(monkeypatch):
    """Medusa's checkout check replaced by one the test scripts; what it was given is kept."""
    given = []

    def use(outcome):
        def check(target):
            given.append(target)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        monkeypatch.setitem(ENGINES, "medusa", dataclasses.replace(ENGINES["medusa"], checkout=check))
        return given

    return use


def _checkout_on_the_page(client, store) -> str:
    body = client.get(reverse("store_detail", args=[store.pk])).content.decode()
    [dd] = re.findall(r'<dd class="checkout-state">(.*?)</dd>', body, re.S)
    return " ".join(strip_tags(dd).split())


def _provision(owner, engine="medusa"):
    store = lifecycle.create_store(owner, "acme", engine)
    assert lifecycle.claim_provision_slots() == [store.pk]
    tasks.provision(store.pk)
    store.refresh_from_db()
    return store


@pytest.mark.django_db
def test_a_store_is_ready_once_its_checkout_went_through(fake_cluster, alice, reachable, checkout):
    given = checkout(CheckoutResult(order="#7"))

    store = _provision(alice)

    assert store.status == Status.READY
    assert store.checkout_verified_at == store.ready_at and store.checkout_unverified_reason == ""
    [target] = given
    assert target.api.base_url == "http://store-acme.127.0.0.1.nip.io"
    assert target.customer_email == "checkout-check@store-acme.127.0.0.1.nip.io"
    assert target.secret == fake_cluster.secrets[("store-acme", "store-secret")]
    step = StoreEvent.objects.get(store=store, kind="step", step="checkout")
    assert step.code == EventCode.CHECKOUT and "order #7" in step.message


@pytest.mark.django_db
def test_the_store_page_says_when_the_checkout_was_verified(fake_cluster, alice, reachable, checkout, client):
    checkout(CheckoutResult(order="#7"))
    store = _provision(alice)
    client.force_login(alice)
    assert _checkout_on_the_page(client, store).startswith("Verified 0 minutes ago: a cash-on-delivery order")


@pytest.mark.django_db
def test_a_checkout_that_fails_fails_the_store_naming_the_call(fake_cluster, alice, reachable, checkout):
    checkout(CheckoutFailed("POST /store/carts/{cart}/complete", "400 invalid_data No payment session"))

    store = _provision(alice)

    assert store.status == Status.FAILED
    assert store.step == "checkout"
    assert store.failure_code == "checkout_failed"
    assert store.failure_reason == (
        "checkout failed: POST /store/carts/{cart}/complete → 400 invalid_data No payment session"
    )
    assert store.checkout_verified_at is None
    assert store.owner_may_retry
    secret = fake_cluster.secrets[("store-acme", "store-secret")]
    assert secret["admin-password"] not in store.failure_reason


@pytest.mark.django_db
def test_it_says_why_when_the_platform_cannot_reach_the_store(fake_cluster, alice, settings, checkout, client):
    settings.CHECK_STORE_URL = False
    given = checkout(CheckoutResult(order="#1"))

    store = _provision(alice)

    assert store.status == Status.READY and given == []
    assert store.checkout_verified_at is None
    assert "CHECK_STORE_URL is off" in store.checkout_unverified_reason
    assert StoreEvent.objects.filter(store=store, code=EventCode.CHECKOUT_UNVERIFIED, step="checkout").exists()
    client.force_login(alice)
    assert _checkout_on_the_page(client, store) == (
        "Not verified the platform does not reach stores here (CHECK_STORE_URL is off)"
    )


@pytest.mark.django_db
def test_an_engine_without_a_check_is_ready_and_says_so(fake_cluster, alice, reachable, monkeypatch):
    monkeypatch.setitem(ENGINES, "medusa", dataclasses.replace(ENGINES["medusa"], checkout=None))

    store = _provision(alice)

    assert store.status == Status.READY
    assert store.checkout_unverified_reason == "MedusaJS stores have no checkout check yet"


@pytest.mark.django_db
def test_the_checks_shopper_lives_in_the_stores_country(fake_cluster, alice, reachable, checkout):
    given = checkout(CheckoutResult(order="#7"))
    store = lifecycle.create_store(alice, "acme", "medusa", country="DE", currency="EUR")
    assert lifecycle.claim_provision_slots() == [store.pk]

    tasks.provision(store.pk)

    [target] = given
    assert target.country == "DE"


@pytest.mark.django_db
def test_the_versions_the_check_read_are_kept_and_said(fake_cluster, alice, reachable, checkout, client):
    checkout(CheckoutResult(order="#7", versions={"WordPress": "6.8.1", "WooCommerce": "9.9.5"}))

    store = _provision(alice)

    assert store.versions == {"WordPress": "6.8.1", "WooCommerce": "9.9.5"}
    assert StoreEvent.objects.filter(store=store, message="The shop runs WordPress 6.8.1 · WooCommerce 9.9.5.").exists()
    client.force_login(alice)
    body = client.get(reverse("store_detail", args=[store.pk])).content.decode()
    assert '<dd class="shop-versions">WordPress 6.8.1 · WooCommerce 9.9.5</dd>' in body


@pytest.mark.django_db
def test_versions_that_could_not_be_read_are_a_note_not_a_failure(fake_cluster, alice, reachable, checkout):
    note = "the shop's versions could not be read: checkout failed: GET /wp-json/wc/v3/system_status → 500"
    checkout(CheckoutResult(order="#7", versions_note=note))

    store = _provision(alice)

    assert store.status == Status.READY
    assert StoreEvent.objects.filter(store=store, message=f"Versions not read: {note}.").exists()
    # Medusa's own: the version its chart pins, recorded with the release.
    assert store.versions == {"Medusa": "2.21.2"}


@pytest.mark.django_db
def test_a_medusa_store_shows_the_version_its_chart_pins(fake_cluster, alice, settings):
    settings.CHECK_STORE_URL = False

    store = _provision(alice)

    assert store.status == Status.READY
    assert store.versions == {"Medusa": "2.21.2"}
    assert store.versions_line == "Medusa 2.21.2"


@pytest.mark.django_db
def test_a_woocommerce_store_has_no_version_until_its_shop_says(fake_cluster, alice, settings):
    settings.CHECK_STORE_URL = False

    store = _provision(alice, engine="woocommerce")

    assert store.status == Status.READY
    assert store.versions == {}

"""The platform-wide cap of live stores (MAX_LIVE_STORES)."""

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse

from stores import lifecycle
from stores.models import Status, Store, StoreEvent
from stores.tests.races import run_two_at_the_point

pytestmark = pytest.mark.django_db

MESSAGE = "The platform is at capacity: no new stores can be created until some are deleted. Try again later."


@pytest.fixture
def full(settings, alice, bob):
    """Two live stores on a platform capped at two (neither owner at their own limit)."""
    settings.MAX_LIVE_STORES = 2
    lifecycle.create_store(alice, "alpha", "woocommerce")
    lifecycle.create_store(bob, "bravo", "woocommerce")
    return settings


def test_it_refuses_a_store_over_the_cap(full, django_user_model):
    carol = django_user_model.objects.create_user("carol")
    events = StoreEvent.objects.count()

    with pytest.raises(lifecycle.PlatformAtCapacity) as excinfo:
        lifecycle.create_store(carol, "charlie", "woocommerce")

    assert str(excinfo.value) == MESSAGE
    assert not Store.objects.filter(slug="charlie").exists()
    assert Store.objects.count() == 2
    assert StoreEvent.objects.count() == events


def test_it_counts_failed_stores_but_not_deleted_ones(full, alice):
    Store.objects.filter(slug="alpha").update(status=Status.FAILED)
    with pytest.raises(lifecycle.PlatformAtCapacity):
        lifecycle.create_store(alice, "charlie", "woocommerce")

    Store.objects.filter(slug="alpha").update(status=Status.DELETED)
    store = lifecycle.create_store(alice, "charlie", "woocommerce")

    assert store.status == Status.QUEUED


def test_it_has_no_cap_at_zero(full, alice):
    full.MAX_LIVE_STORES = 0

    store = lifecycle.create_store(alice, "charlie", "woocommerce")

    assert Store.objects.live().count() == 3
    assert store.slug == "charlie"


def test_it_tells_the_owner_their_own_limit_first(full, alice):
    full.MAX_STORES_PER_USER = 1

    with pytest.raises(lifecycle.StoreLimitReached) as excinfo:
        lifecycle.create_store(alice, "charlie", "woocommerce")

    assert not isinstance(excinfo.value, lifecycle.PlatformAtCapacity)


def test_it_shows_the_refusal_in_the_dashboard_form(full, alice_client):
    events = StoreEvent.objects.count()

    response = alice_client.post(reverse("store_create"), {"name": "charlie", "engine": "woocommerce"})

    assert response.status_code == 400
    assert MESSAGE in response.content.decode()
    assert not Store.objects.filter(slug="charlie").exists()
    assert StoreEvent.objects.count() == events


def test_it_says_so_on_the_dashboard_before_the_user_types(full, alice_client):
    response = alice_client.get(reverse("dashboard"))

    assert response.status_code == 200
    assert MESSAGE in response.content.decode()


def test_it_says_nothing_below_the_cap(full, alice_client):
    full.MAX_LIVE_STORES = 3

    response = alice_client.get(reverse("dashboard"))

    assert MESSAGE not in response.content.decode()


def test_it_refuses_in_the_stores_command(full, django_user_model):
    django_user_model.objects.create_user("carol")

    with pytest.raises(CommandError) as excinfo:
        call_command("stores", "create", "--owner", "carol", "--engine", "woocommerce", "--name", "charlie")

    assert str(excinfo.value) == MESSAGE
    assert not Store.objects.filter(slug="charlie").exists()


@pytest.mark.django_db(transaction=True)
def test_it_leaves_exactly_the_cap_after_concurrent_creates_by_many_users(settings, monkeypatch, django_user_model):
    settings.MAX_LIVE_STORES = 4
    settings.STORE_CREATE_RATE = None
    monkeypatch.setattr("stores.tasks.start_queued_stores", lambda: [])
    users = [django_user_model.objects.create_user(f"user{i}") for i in range(12)]
    barrier = threading.Barrier(len(users))
    statuses = []

    def submit(i):
        client = Client()
        client.force_login(users[i])
        barrier.wait()
        response = client.post("/stores/new/", {"name": f"shop-{i}", "engine": "woocommerce"})
        statuses.append(response.status_code)
        close_old_connections()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(users))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert Store.objects.live().count() == 4
    assert StoreEvent.objects.count() == 4
    assert sorted(statuses) == [302] * 4 + [400] * 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_lets_only_one_of_two_owners_creating_at_once_take_the_last_place(settings, monkeypatch, alice, bob):
    """Two owners lock two different user rows: only the platform's gate keeps their counts apart."""
    settings.MAX_LIVE_STORES = 1
    owners = [alice, bob]

    results = run_two_at_the_point(
        "create_store_capacity",
        lambda i: lifecycle.create_store(owners[i], f"shop-{i}", "woocommerce"),
        monkeypatch,
    )

    assert sorted(type(r).__name__ for r in results) == ["PlatformAtCapacity", "Store"]
    assert Store.objects.live().count() == 1

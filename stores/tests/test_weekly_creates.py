"""STORE_CREATES_PER_WEEK: creating and deleting in a loop cannot spend the domain's certificates."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Profile
from stores import lifecycle
from stores.models import Status, Store

pytestmark = pytest.mark.django_db


@pytest.fixture
def roomy(alice, settings):
    """Alice may hold many stores at once: only the weekly cap is under test."""
    Profile.objects.update_or_create(user=alice, defaults={"store_limit": 50})
    settings.STORE_CREATES_PER_WEEK = 3
    return alice


def _create_and_delete(owner, slug):
    store = lifecycle.create_store(owner, slug, "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.DELETED)
    return store


def test_deleted_stores_count_towards_the_weekly_cap(roomy):
    for n in range(3):
        _create_and_delete(roomy, f"loop-{n}")

    with pytest.raises(lifecycle.StoreLimitReached) as refused:
        lifecycle.create_store(roomy, "one-more", "woocommerce")

    assert str(refused.value).startswith("You have created 3 stores in the last 7 days, the most a week allows.")
    assert "You can create another from " in str(refused.value)
    assert not Store.objects.filter(slug="one-more").exists()


def test_it_names_when_the_oldest_create_of_the_week_stops_counting(roomy):
    stores = [_create_and_delete(roomy, f"loop-{n}") for n in range(3)]
    oldest = timezone.now() - timedelta(days=6, hours=23)
    Store.objects.filter(pk=stores[0].pk).update(created_at=oldest)

    with pytest.raises(lifecycle.StoreLimitReached) as refused:
        lifecycle.create_store(roomy, "one-more", "woocommerce")

    assert f"{timezone.localtime(oldest + timedelta(days=7)):%d %b %Y %H:%M}" in str(refused.value)


def test_creates_older_than_a_week_do_not_count(roomy):
    stores = [_create_and_delete(roomy, f"loop-{n}") for n in range(3)]
    Store.objects.filter(pk=stores[0].pk).update(created_at=timezone.now() - timedelta(days=7, minutes=1))

    assert lifecycle.create_store(roomy, "one-more", "woocommerce").status == Status.QUEUED


def test_the_cap_is_per_user_and_0_turns_it_off(roomy, bob, settings):
    for n in range(3):
        _create_and_delete(roomy, f"loop-{n}")

    assert lifecycle.create_store(bob, "bobs", "woocommerce")
    settings.STORE_CREATES_PER_WEEK = 0
    assert lifecycle.create_store(roomy, "uncapped", "woocommerce")


def test_the_dashboard_says_why_and_creates_nothing(roomy, alice_client):
    for n in range(3):
        _create_and_delete(roomy, f"loop-{n}")

    response = alice_client.post("/stores/new/", {"name": "one-more", "engine": "woocommerce"})

    assert response.status_code == 400
    assert "You have created 3 stores in the last 7 days" in response.content.decode()
    assert not Store.objects.filter(slug="one-more").exists()

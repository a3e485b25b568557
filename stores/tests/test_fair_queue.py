"""Provisioning slots go round robin across owners: one owner's burst cannot hold every slot."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Profile
from stores import lifecycle, queue
from stores.models import Status, Store

pytestmark = pytest.mark.django_db


def _queue(owner, count, prefix):
    Profile.objects.update_or_create(user=owner, defaults={"store_limit": 10})
    return [lifecycle.create_store(owner, f"{prefix}-{i}", "woocommerce").pk for i in range(count)]


def _finish(store_ids):
    Store.objects.filter(pk__in=store_ids).update(status=Status.READY)


def test_the_third_owners_single_store_starts_within_the_first_round(alice, bob, django_user_model, settings):
    settings.MAX_CONCURRENT_PROVISIONS = 2
    carol = django_user_model.objects.create_user("carol", "carol@example.com", "pw")
    a = _queue(alice, 3, "alice")
    b = _queue(bob, 3, "bob")
    (c,) = _queue(carol, 1, "carol")

    first = lifecycle.claim_provision_slots()
    _finish(first)
    second = lifecycle.claim_provision_slots()

    # First come, first served would start alice's three before anyone else's.
    assert first == [a[0], b[0]]
    assert second == [c, a[1]]
    assert queue.start_order() == [b[1], a[2], b[2]]


def test_an_owner_served_recently_waits_behind_one_served_longer_ago(alice, bob):
    now = timezone.now()
    (old_alice,) = _queue(alice, 1, "alice-old")
    (old_bob,) = _queue(bob, 1, "bob-old")
    Store.objects.filter(pk=old_alice).update(status=Status.READY, started_at=now - timedelta(minutes=1))
    Store.objects.filter(pk=old_bob).update(status=Status.READY, started_at=now - timedelta(hours=1))
    alice_next = _queue(alice, 2, "alice")
    (bob_next,) = _queue(bob, 1, "bob")

    # Alice queued first, but Bob's last provision started longer ago.
    assert queue.start_order() == [bob_next, *alice_next]
    assert lifecycle.claim_provision_slots(limit=1) == [bob_next]


def test_each_owners_stores_start_oldest_first_and_the_pages_show_the_same_order(alice, bob):
    a = _queue(alice, 3, "alice")
    b = _queue(bob, 2, "bob")

    assert queue.start_order() == [a[0], b[0], a[1], b[1], a[2]]
    assert queue.places() == {a[0]: 1, b[0]: 2, a[1]: 3, b[1]: 4, a[2]: 5}
    assert queue.place_of(Store.objects.get(pk=a[2])) == 5

    _finish([a[0]])
    assert queue.place_of(Store.objects.get(pk=a[0])) is None


def test_the_claim_still_fills_exactly_the_free_slots(alice, bob, settings):
    settings.MAX_CONCURRENT_PROVISIONS = 2
    _queue(alice, 3, "alice")
    _queue(bob, 3, "bob")

    assert len(lifecycle.claim_provision_slots()) == 2
    assert lifecycle.claim_provision_slots() == []
    assert Store.objects.filter(status=Status.PROVISIONING).count() == 2

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from stores import lifecycle
from stores.models import FINAL, LIVE, TRANSITIONS, Status, Store, StoreEvent

ALL_PAIRS = list(itertools.product(Status.values, Status.values))
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in TRANSITIONS[a]]
REFUSED = [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]]


def _store_in(owner, status):
    store = Store.objects.create(owner=owner, slug="shop", engine="woocommerce", status=status)
    return store


def test_it_lists_the_designed_transitions():
    assert set(ALLOWED) == {
        ("queued", "provisioning"),
        ("queued", "deleting"),
        ("provisioning", "ready"),
        ("provisioning", "failed"),
        ("provisioning", "deleting"),
        ("ready", "deleting"),
        ("ready", "updating"),
        ("failed", "queued"),
        ("failed", "deleting"),
        ("failed", "updating"),
        ("updating", "ready"),
        ("updating", "failed"),
        ("ready", "restoring"),
        ("failed", "restoring"),
        ("restoring", "ready"),
        ("restoring", "failed"),
        ("deleting", "deleted"),
        ("deleting", "delete_stuck"),
        ("delete_stuck", "deleting"),
        ("ready", "lost"),
        ("lost", "queued"),
        ("lost", "deleting"),
        ("lost", "ready"),
    }


def test_it_stops_polling_for_a_stuck_delete_but_keeps_it_live():
    # No worker acts on a stuck delete until an operator does; it still has
    # its namespace, so it keeps its slug and counts against the limits.
    assert Status.DELETE_STUCK in FINAL
    assert Status.DELETE_STUCK in LIVE


@pytest.mark.django_db
@pytest.mark.parametrize("source,target", ALLOWED)
def test_it_allows(alice, source, target):
    store = _store_in(alice, source)
    lifecycle.transition(store.pk, target, f"{source} to {target}", code="")
    store.refresh_from_db()
    assert store.status == target
    event = StoreEvent.objects.get(store=store)
    assert event.message == f"{source} to {target}"


@pytest.mark.django_db
@pytest.mark.parametrize("source,target", REFUSED)
def test_it_refuses(alice, source, target):
    store = _store_in(alice, source)
    with pytest.raises(lifecycle.TransitionRefused):
        lifecycle.transition(store.pk, target, "should not happen", code="")
    store.refresh_from_db()
    assert store.status == source
    assert not StoreEvent.objects.filter(store=store).exists()


@pytest.mark.django_db
def test_it_refuses_a_worker_whose_lease_was_taken_over(alice):
    store = _store_in(alice, Status.PROVISIONING)
    token = lifecycle.take_lease(store.pk, Status.PROVISIONING)
    Store.objects.filter(pk=store.pk).update(lease_token="someone-else")
    with pytest.raises(lifecycle.TransitionRefused):
        lifecycle.mark_ready(store.pk, token, "ready")
    store.refresh_from_db()
    assert store.status == Status.PROVISIONING


@pytest.mark.django_db
def test_it_gives_a_lease_to_one_worker_only(alice):
    store = _store_in(alice, Status.PROVISIONING)
    first = lifecycle.take_lease(store.pk, Status.PROVISIONING)
    second = lifecycle.take_lease(store.pk, Status.PROVISIONING)
    assert first and second is None
    lifecycle.release_lease(store.pk, first)
    assert lifecycle.take_lease(store.pk, Status.PROVISIONING)


@pytest.mark.django_db
def test_it_keeps_a_deleted_slug_free_for_reuse(alice):
    old = _store_in(alice, Status.DELETED)
    new = lifecycle.create_store(alice, "shop", "woocommerce")
    assert new.pk != old.pk and new.status == Status.QUEUED


@pytest.mark.django_db
def test_a_claim_skips_a_store_deleted_meanwhile(alice, monkeypatch):
    first = lifecycle.create_store(alice, "first", "woocommerce")
    second = lifecycle.create_store(alice, "second", "woocommerce")
    real_claim = lifecycle._claim

    def deleted_just_before(store_id, now):
        if store_id == first.pk:  # what a concurrent delete does on Postgres
            lifecycle.request_delete(first.pk)
        real_claim(store_id, now)

    monkeypatch.setattr(lifecycle, "_claim", deleted_just_before)
    assert lifecycle.claim_provision_slots() == [second.pk]
    assert Store.objects.get(pk=first.pk).status == Status.DELETING
    assert Store.objects.get(pk=second.pk).status == Status.PROVISIONING


@pytest.mark.django_db
def test_a_claim_sets_the_deadline_fifteen_minutes_after_it_starts(alice, settings):
    settings.PROVISION_TIMEOUT = 900  # the default (docs/configuration.md), whatever this machine's environment says
    store = lifecycle.create_store(alice, "shop", "woocommerce")
    before = timezone.now()

    assert lifecycle.claim_provision_slots() == [store.pk]

    store.refresh_from_db()
    assert before <= store.started_at <= timezone.now()
    assert store.deadline_at - store.started_at == timedelta(minutes=15)


@pytest.mark.django_db
def test_a_claim_reads_the_deadline_from_the_setting(alice, settings):
    settings.PROVISION_TIMEOUT = 42
    store = lifecycle.create_store(alice, "shop", "woocommerce")

    lifecycle.claim_provision_slots()

    store.refresh_from_db()
    assert store.deadline_at - store.started_at == timedelta(seconds=42)

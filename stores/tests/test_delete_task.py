"""The delete task: tries that back off, a bound that leaves the store "delete stuck",
and a delete that waits for a cancelled provision to stop."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from stores import cluster, lifecycle, tasks
from stores.models import Status, Store, StoreEvent

STUCK = (
    "namespace store-acme is still terminating: NamespaceContentRemaining: Some resources are remaining: pods. has 1"
)


@pytest.fixture
def deleting_store(alice, fake_cluster, monkeypatch, settings):
    """A provisioned store whose namespace will not go away, with its delete requested."""
    settings.CHECK_STORE_URL = False
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    assert lifecycle.claim_provision_slots() == [store.pk]
    tasks.provision(store.pk)

    def stuck(name, **_):
        fake_cluster.calls.append(("delete_namespace", name))
        raise cluster.NamespaceStuck(STUCK)

    monkeypatch.setattr(fake_cluster, "delete_namespace", stuck)
    lifecycle.request_delete(store.pk)
    return store


def _next_try_is_due(store):
    Store.objects.filter(pk=store.pk).update(lease_until=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def reconcile(monkeypatch, django_capture_on_commit_callbacks):
    """Run the reconcile task, then the deletes it starts; True if it resumed the store's delete."""

    def run(store) -> bool:
        enqueued = []
        monkeypatch.setattr(tasks, "enqueue_delete", enqueued.append)
        with django_capture_on_commit_callbacks(execute=True):
            report = tasks.reconcile()
        for store_id in enqueued:
            tasks.delete(store_id)
        store.refresh_from_db()
        return store.pk in report["delete_resumed"]

    return run


@pytest.mark.django_db
def test_it_backs_off_exponentially_between_tries(deleting_store, reconcile, settings):
    settings.DELETE_RETRY_SECONDS, settings.DELETE_RETRY_MAX_SECONDS, settings.DELETE_MAX_ATTEMPTS = 60, 150, 9
    waits = []
    for attempt in range(1, 5):
        before = timezone.now()
        if attempt == 1:
            tasks.delete(deleting_store.pk)
            deleting_store.refresh_from_db()
        else:
            _next_try_is_due(deleting_store)
            assert reconcile(deleting_store)
        assert deleting_store.status == Status.DELETING
        assert deleting_store.delete_attempts == attempt
        assert deleting_store.lease_token == ""
        waits.append(round((deleting_store.lease_until - before).total_seconds() / 10) * 10)
        # Nothing happens before the wait is over.
        assert not reconcile(deleting_store)

    assert waits == [60, 120, 150, 150]
    last = StoreEvent.objects.filter(store=deleting_store).last()
    assert last.message.startswith("Delete did not finish (attempt 4 of 9): namespace store-acme is still terminating")
    assert last.message.endswith("Trying again in 150 s.")


@pytest.mark.django_db
def test_it_stops_retrying_after_the_bound_and_says_what_is_left(deleting_store, fake_cluster, reconcile, settings):
    settings.DELETE_MAX_ATTEMPTS = 2
    tasks.delete(deleting_store.pk)
    _next_try_is_due(deleting_store)
    assert reconcile(deleting_store)

    assert deleting_store.status == Status.DELETE_STUCK
    assert deleting_store.failure_reason == STUCK
    assert deleting_store.lease_token == "" and deleting_store.lease_until is None
    assert StoreEvent.objects.filter(store=deleting_store).last().message == (
        f"Delete stuck after 2 attempts: {STUCK}. An operator can restart it from the admin."
    )
    # No more tries, however long one waits; it still holds its slug.
    fake_cluster.calls.clear()
    assert not reconcile(deleting_store)
    assert fake_cluster.calls == []
    assert Store.objects.live().filter(slug="acme").exists()


@pytest.mark.django_db
def test_it_marks_a_delete_stuck_when_its_last_try_lost_its_worker(deleting_store, reconcile, settings):
    settings.DELETE_MAX_ATTEMPTS = 1
    # The worker of the last try was killed: it holds the lease and never reports again.
    token = lifecycle.take_lease(deleting_store.pk, Status.DELETING)
    lifecycle.start_delete_attempt(deleting_store.pk, token)
    _next_try_is_due(deleting_store)

    assert not reconcile(deleting_store)

    assert deleting_store.status == Status.DELETE_STUCK
    assert deleting_store.failure_reason == "its worker stopped reporting"


@pytest.mark.django_db
def test_the_owner_cannot_restart_a_stuck_delete(deleting_store, settings, alice_client):
    settings.DELETE_MAX_ATTEMPTS = 1
    tasks.delete(deleting_store.pk)

    response = alice_client.post(reverse("store_delete", args=[deleting_store.pk]), follow=True)

    assert "“acme” is already being deleted." in response.content.decode()
    deleting_store.refresh_from_db()
    assert deleting_store.status == Status.DELETE_STUCK
    assert deleting_store.delete_attempts == 1


@pytest.mark.django_db(transaction=True)
def test_it_waits_for_the_cancelled_provision_to_stop(alice, fake_cluster, monkeypatch, settings):
    settings.CHECK_STORE_URL = False
    store = lifecycle.create_store(alice, "late", "woocommerce")
    assert lifecycle.claim_provision_slots() == [store.pk]
    in_step, finish_step = threading.Event(), threading.Event()

    def slow_step(namespace, **_):
        # A step that cannot notice the cancel until it returns (like a helm run).
        in_step.set()
        finish_step.wait(30)
        fake_cluster.calls.append(("provision step returned", namespace))

    monkeypatch.setattr(fake_cluster, "wait_until_ready", slow_step)
    monkeypatch.setattr(tasks, "enqueue_delete", lambda store_id: None)
    monkeypatch.setattr(tasks, "start_queued_stores", lambda: [])

    def in_thread(fn):
        def target():
            try:
                fn(store.pk)
            finally:
                connection.close()

        thread = threading.Thread(target=target)
        thread.start()
        return thread

    uninstall = ("uninstall", "store", "store-late")
    waiting = "Waiting for the cancelled provision to stop before removing anything."
    provision = in_thread(tasks.provision)
    try:
        assert in_step.wait(30)
        tasks.request_delete(store.pk)
        delete = in_thread(tasks.delete)
        for _ in range(300):  # until the delete either waits or (wrongly) goes ahead
            if StoreEvent.objects.filter(store=store, message=waiting).exists() or uninstall in fake_cluster.helm.calls:
                break
            time.sleep(0.05)
        assert uninstall not in fake_cluster.helm.calls
        assert ("delete_namespace", "store-late") not in fake_cluster.calls
    finally:
        finish_step.set()
        provision.join(30)
    delete.join(30)

    store.refresh_from_db()
    assert store.status == Status.DELETED
    order = [c[0] for c in fake_cluster.calls]
    assert order.index("provision step returned") < order.index("delete_namespace")
    assert fake_cluster.helm.calls[-1] == uninstall
    messages = list(StoreEvent.objects.filter(store=store).values_list("message", flat=True))
    assert waiting in messages
    assert any(m.startswith("The cancelled provision stopped after") for m in messages)


@pytest.mark.django_db
def test_a_second_delivery_does_not_wait_for_the_delete_worker(deleting_store, fake_cluster, settings):
    settings.PROVISION_LEASE_SECONDS = 5
    token = lifecycle.take_lease(deleting_store.pk, Status.DELETING)  # a delete worker runs it now
    lifecycle.start_delete_attempt(deleting_store.pk, token)
    fake_cluster.calls.clear()

    tasks.delete(deleting_store.pk)

    messages = StoreEvent.objects.filter(store=deleting_store).values_list("message", flat=True)
    assert not any("cancelled provision" in m for m in messages)
    assert fake_cluster.calls == []
    deleting_store.refresh_from_db()
    assert deleting_store.lease_token == token and deleting_store.delete_attempts == 1

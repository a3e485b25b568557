"""Entries outlive the store (soft delete, or its row removed) and the user who acted."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from audit.models import Action, AuditEntry, Outcome
from audit.tests.helpers import FROM_SOMEWHERE
from stores.models import Status, Store

pytestmark = pytest.mark.django_db


@pytest.fixture
def deleted_through_the_dashboard(alice_client, workers):
    """alice creates a store and deletes it in the dashboard; the worker really deletes it."""
    with workers():
        alice_client.post(reverse("store_create"), {"name": "acme", "engine": "woocommerce"}, **FROM_SOMEWHERE)
    store = Store.objects.get(slug="acme")
    with workers():
        alice_client.post(reverse("store_delete", args=[store.pk]), **FROM_SOMEWHERE)
    store.refresh_from_db()
    assert store.status == Status.DELETED
    return store


def _trail():
    return [
        (e.action, e.outcome, e.username, e.store_pk, e.store_slug, e.engine, e.ip)
        for e in AuditEntry.objects.order_by("pk")
    ]


def test_it_keeps_entries_when_a_store_is_deleted(deleted_through_the_dashboard):
    store = deleted_through_the_dashboard

    assert _trail() == [
        (Action.CREATE, Outcome.DONE, "alice", store.pk, "acme", "woocommerce", "203.0.113.7"),
        (Action.DELETE, Outcome.DONE, "alice", store.pk, "acme", "woocommerce", "203.0.113.7"),
    ]
    assert set(AuditEntry.objects.values_list("store", flat=True)) == {store.pk}


def test_it_keeps_entries_when_the_store_row_is_removed(deleted_through_the_dashboard):
    store = deleted_through_the_dashboard
    before = _trail()

    Store.objects.filter(pk=store.pk).delete()

    assert not Store.objects.exists()
    assert _trail() == before
    assert set(AuditEntry.objects.values_list("store", flat=True)) == {None}


def test_it_keeps_entries_when_a_live_store_row_is_removed(alice_client, workers):
    with workers():
        alice_client.post(reverse("store_create"), {"name": "live", "engine": "woocommerce"})
    store = Store.objects.get(slug="live")
    pk = store.pk

    store.delete()  # the model's delete, as a shell or a script might

    entry = AuditEntry.objects.get()
    assert (entry.store, entry.store_pk, entry.store_slug, entry.engine) == (None, pk, "live", "woocommerce")


def test_it_keeps_entries_when_the_user_is_deleted(deleted_through_the_dashboard, alice):
    store = deleted_through_the_dashboard
    before = _trail()
    Store.objects.filter(pk=store.pk).delete()  # an owner's stores protect the account

    get_user_model().objects.filter(pk=alice.pk).delete()

    assert _trail() == before
    assert set(AuditEntry.objects.values_list("user", flat=True)) == {None}
    assert {e.who for e in AuditEntry.objects.all()} == {"alice"}


def test_it_shows_entries_whose_store_and_user_are_gone(admin_client, deleted_through_the_dashboard, alice):
    store = deleted_through_the_dashboard
    Store.objects.filter(pk=store.pk).delete()
    get_user_model().objects.filter(pk=alice.pk).delete()

    response = admin_client.get(reverse("admin:audit_auditentry_changelist"), {"store_pk": store.pk})

    assert response.status_code == 200
    assert [(e.action, e.who, e.store_slug) for e in response.context["cl"].result_list] == [
        (Action.DELETE, "alice", "acme"),
        (Action.CREATE, "alice", "acme"),
    ]

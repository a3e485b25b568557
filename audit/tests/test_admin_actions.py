"""The operator's admin actions: retry, delete and restart delete leave entries from the admin."""

import pytest
from django.urls import reverse

from audit.models import Action, AuditEntry, Channel, Outcome
from audit.tests.helpers import BROWSER, FROM_SOMEWHERE, only_entry, summary
from stores import cluster, lifecycle, tasks
from stores.models import Status
from stores.tests.helpers import provision

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:stores_store_changelist")


def _act(client, action, *stores):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [s.pk for s in stores], "index": 0},
        follow=True,
        **FROM_SOMEWHERE,
    )


def test_it_records_a_retry_from_the_admin(admin_client, admin_user, alice, workers, fake_cluster):
    store = provision(alice, "broken", workers, fake_cluster, fail_with=cluster.WorkloadFailed("pod x: boom"))

    with workers():
        _act(admin_client, "retry_stores", store)

    entry = only_entry()
    assert (entry.action, entry.outcome, entry.channel) == (Action.RETRY, Outcome.DONE, Channel.ADMIN)
    assert (entry.user, entry.username, entry.store) == (admin_user, "admin", store)
    assert (entry.ip, entry.user_agent) == ("203.0.113.7", BROWSER)


def test_it_records_a_refused_retry_from_the_admin(admin_client, alice, workers, fake_cluster):
    store = provision(alice, "fine", workers, fake_cluster)

    with workers():
        _act(admin_client, "retry_stores", store)

    entry = only_entry()
    assert (entry.action, entry.outcome, entry.channel) == (Action.RETRY, Outcome.REFUSED, Channel.ADMIN)
    assert "cannot go from ready to queued" in entry.detail


def test_it_records_each_delete_from_the_admin(admin_client, alice, bob, workers, fake_cluster):
    first = provision(alice, "first", workers, fake_cluster)
    second = provision(bob, "second", workers, fake_cluster)

    with workers():
        _act(admin_client, "delete_stores", first, second)

    assert sorted(summary()) == [
        (Action.DELETE, Outcome.DONE, "admin", "first"),
        (Action.DELETE, Outcome.DONE, "admin", "second"),
    ]
    assert set(AuditEntry.objects.values_list("channel", flat=True)) == {Channel.ADMIN}


def test_it_records_a_restarted_delete(admin_client, alice, workers, fake_cluster):
    store = provision(alice, "stuck", workers, fake_cluster)
    lifecycle.request_delete(store.pk)  # waiting, no worker holds it

    with workers():
        _act(admin_client, "delete_stores", store)

    assert summary() == [(Action.RESTART_DELETE, Outcome.DONE, "admin", "stuck")]


def test_it_records_a_restart_refused_while_a_worker_deletes(admin_client, alice, workers, fake_cluster, monkeypatch):
    store = provision(alice, "busy", workers, fake_cluster)
    lifecycle.request_delete(store.pk)
    lifecycle.take_lease(store.pk, Status.DELETING)
    monkeypatch.setattr(tasks, "enqueue_delete", lambda store_id: None)

    _act(admin_client, "delete_stores", store)

    entry = only_entry()
    assert (entry.action, entry.outcome, entry.detail) == (
        Action.RESTART_DELETE,
        Outcome.REFUSED,
        "a worker is deleting it now",
    )


def test_it_records_a_delete_of_a_deleted_store_as_refused(admin_client, alice, workers, fake_cluster):
    store = provision(alice, "gone", workers, fake_cluster)
    with workers():
        tasks.request_delete(store.pk)

    _act(admin_client, "delete_stores", store)

    entry = only_entry()
    assert (entry.action, entry.outcome, entry.detail) == (Action.DELETE, Outcome.REFUSED, "already deleted")


def test_it_records_nothing_for_a_viewer_the_action_is_refused_to(
    client, django_user_model, alice, workers, fake_cluster
):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", "viewer@example.org", "viewer-password-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_store"))
    client.force_login(viewer)
    store = provision(alice, "fine", workers, fake_cluster)

    _act(client, "delete_stores", store)

    # Django refuses the action before it runs: nothing was attempted on the store.
    store.refresh_from_db()
    assert store.status == Status.READY
    assert summary() == []

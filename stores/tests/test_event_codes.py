"""Activity events carry codes: what alerts, counts, timers and hints read instead of the wording."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from stores.cluster.errors import FailureCode
from stores.models import FAILURE_CODES, TRANSITIONS, EventCode, Status, owner_may


def test_every_failure_code_is_an_event_code():
    assert {c.value for c in FailureCode} <= set(EventCode.values)
    assert {c.value for c in FailureCode} == FAILURE_CODES


def test_every_step_is_an_event_code():
    from stores.runs import STEPS

    assert {key for key, _ in STEPS} <= set(EventCode.values)


@pytest.mark.parametrize("status", list(Status))
def test_what_an_owner_may_do_follows_the_transitions(status):
    assert owner_may("retry", status) == (Status.QUEUED in TRANSITIONS[status])
    # A stuck delete is the one state an owner may not leave by Delete: an operator restarts it.
    expected_delete = Status.DELETING in TRANSITIONS[status] and status != Status.DELETE_STUCK
    assert owner_may("delete", status) == expected_delete


@pytest.mark.django_db(transaction=True)
def test_the_migration_codes_the_events_written_before_codes(django_user_model):
    executor = MigrationExecutor(connection)
    before, after = [("stores", "0005_chart_version_and_updating")], [("stores", "0006_event_codes")]
    executor.migrate(before)
    try:
        apps = executor.loader.project_state(before).apps
        owner = apps.get_model("auth", "User").objects.create(username="old-timer")
        store = apps.get_model("stores", "Store").objects.create(
            owner_id=owner.pk, slug="old", engine="woocommerce", status="failed", failure_reason="x"
        )
        event = apps.get_model("stores", "StoreEvent").objects.create
        old = {
            "requested": event(store=store, message="Store requested; waiting for a free provisioning slot."),
            "namespace": event(store=store, kind="step", step="namespace", message="Namespace is in place."),
            "delete_requested": event(store=store, message="Delete requested."),
            "quota": event(store=store, kind="error", message="Failed: quota exceeded: exceeded quota: store-quota"),
            "image": event(store=store, kind="error", message="Failed: pod web: ErrImagePull: nope"),
            "setup": event(store=store, kind="error", message="Failed: job store-setup failed: boom"),
            "other": event(store=store, kind="error", message="Failed: something new"),
            "": event(store=store, message="Connected to Kubernetes v1.36.3."),
        }
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        apps = executor.loader.project_state(after).apps
        coded = dict(apps.get_model("stores", "StoreEvent").objects.values_list("pk", "code"))
        assert {code: coded[e.pk] for code, e in old.items()} == {code: code for code in old}
        # The failed store's own code is its latest failure's.
        assert apps.get_model("stores", "Store").objects.get(pk=store.pk).failure_code == "other"
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

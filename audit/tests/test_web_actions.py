"""The owner's actions in the dashboard: each leaves an entry with who, when and from where."""

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEntry, Channel, Outcome
from audit.tests.helpers import BROWSER, FROM_SOMEWHERE, only_entry, summary
from stores import cluster, lifecycle, tasks
from stores.models import Status, Store

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(alice, workers, fake_cluster):
    with workers():
        store = tasks.request_create(alice, "acme", "woocommerce")
    store.refresh_from_db()
    assert store.status == Status.READY
    return store


def test_it_records_a_create_with_ip_and_user_agent(alice_client, alice, workers):
    before = timezone.now()
    with workers():
        response = alice_client.post(
            reverse("store_create"), {"name": "acme", "engine": "woocommerce"}, **FROM_SOMEWHERE
        )

    assert response.status_code == 302
    store = Store.objects.get(slug="acme")
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.channel) == (Action.CREATE, Outcome.DONE, Channel.WEB)
    assert (entry.user, entry.username) == (alice, "alice")
    assert (entry.store, entry.store_pk, entry.store_slug, entry.engine) == (store, store.pk, "acme", "woocommerce")
    assert entry.ip == "203.0.113.7"
    assert entry.user_agent == BROWSER
    assert (entry.os_user, entry.host) == ("", "")
    assert before <= entry.created_at <= timezone.now()


def test_it_records_a_delete(alice_client, alice, ready, workers):
    with workers():
        response = alice_client.post(reverse("store_delete", args=[ready.pk]), **FROM_SOMEWHERE)

    assert response.status_code == 302
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.user, entry.store, entry.ip) == (
        Action.DELETE,
        Outcome.DONE,
        alice,
        ready,
        "203.0.113.7",
    )


def test_it_does_not_record_the_delete_confirmation_page(alice_client, ready):
    assert alice_client.get(reverse("store_delete", args=[ready.pk])).status_code == 200
    assert not AuditEntry.objects.exists()


def test_it_records_a_retry(alice_client, alice, workers, fake_cluster):
    fake_cluster.wait_error = cluster.WorkloadFailed("pod x: ErrImagePull: boom")
    with workers():
        store = tasks.request_create(alice, "broken", "woocommerce")
    fake_cluster.wait_error = None

    with workers():
        response = alice_client.post(reverse("store_retry", args=[store.pk]), **FROM_SOMEWHERE)

    assert response.status_code == 302
    assert Store.objects.get(pk=store.pk).status == Status.READY
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.username, entry.store_slug, entry.user_agent) == (
        Action.RETRY,
        Outcome.DONE,
        "alice",
        "broken",
        BROWSER,
    )


def test_it_records_a_credentials_reveal_but_not_the_credentials(alice_client, alice, ready, fake_cluster):
    response = alice_client.post(reverse("store_credentials", args=[ready.pk]), **FROM_SOMEWHERE)

    assert response.status_code == 200 and response.context["credentials"]
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.username, entry.ip) == (
        Action.REVEAL_CREDENTIALS,
        Outcome.DONE,
        "alice",
        "203.0.113.7",
    )
    password = fake_cluster.secrets[("store-acme", "store-secret")]["admin-password"]
    stored = [str(getattr(entry, f.attname)) for f in AuditEntry._meta.concrete_fields]
    assert not any(password in value for value in stored)


def test_it_records_a_reveal_refused_before_the_store_is_ready(alice_client, alice):
    store = lifecycle.create_store(alice, "early", "woocommerce")

    alice_client.post(reverse("store_credentials", args=[store.pk]))

    entry = only_entry()
    assert (entry.action, entry.outcome, entry.detail) == (
        Action.REVEAL_CREDENTIALS,
        Outcome.REFUSED,
        "the store is queued, not ready",
    )


def test_it_records_a_reveal_that_could_not_read_the_secret(alice_client, ready, fake_cluster):
    fake_cluster.secrets.clear()

    response = alice_client.post(reverse("store_credentials", args=[ready.pk]))

    assert response.context["error"]
    entry = only_entry()
    assert (entry.action, entry.outcome) == (Action.REVEAL_CREDENTIALS, Outcome.FAILED)
    assert entry.detail


# --- refused attempts ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url_name, action",
    [
        ("store_delete", Action.DELETE),
        ("store_retry", Action.RETRY),
        ("store_credentials", Action.REVEAL_CREDENTIALS),
    ],
)
def test_it_records_an_attempt_on_someone_elses_store(bob_client, bob, ready, url_name, action):
    response = bob_client.post(reverse(url_name, args=[ready.pk]), **FROM_SOMEWHERE)

    assert response.status_code == 404  # the same answer as for an id that does not exist
    assert Store.objects.get(pk=ready.pk).status == Status.READY
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.user, entry.store, entry.ip) == (
        action,
        Outcome.REFUSED,
        bob,
        ready,
        "203.0.113.7",
    )
    assert entry.detail == "not the owner (the store belongs to alice)"


def test_it_records_an_attempt_on_a_store_id_that_does_not_exist(bob_client, bob):
    response = bob_client.post(reverse("store_delete", args=[9999]))

    assert response.status_code == 404
    entry = only_entry()
    assert (entry.outcome, entry.store, entry.store_pk, entry.detail) == (
        Outcome.REFUSED,
        None,
        9999,
        "no store with id 9999",
    )


def test_it_records_a_double_submitted_delete_as_done_then_refused(alice_client, ready, workers):
    url = reverse("store_delete", args=[ready.pk])
    alice_client.post(url)  # the worker has not run yet: the store is deleting
    alice_client.post(url)

    assert summary() == [
        (Action.DELETE, Outcome.DONE, "alice", "acme"),
        (Action.DELETE, Outcome.REFUSED, "alice", "acme"),
    ]
    assert AuditEntry.objects.order_by("pk").last().detail == "already being deleted"


def test_it_records_a_refused_retry(alice_client, ready):
    alice_client.post(reverse("store_retry", args=[ready.pk]))

    entry = only_entry()
    assert (entry.action, entry.outcome) == (Action.RETRY, Outcome.REFUSED)
    assert entry.detail == "only a failed or lost store can be retried; it is ready"


def test_it_records_a_create_refused_at_the_limit(alice_client, alice, settings):
    settings.MAX_STORES_PER_USER = 1
    lifecycle.create_store(alice, "first", "woocommerce")

    response = alice_client.post(reverse("store_create"), {"name": "second", "engine": "woocommerce"})

    assert response.status_code == 400
    assert Store.objects.count() == 1
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.store, entry.store_slug, entry.engine) == (
        Action.CREATE,
        Outcome.REFUSED,
        None,
        "second",
        "woocommerce",
    )
    assert "1 of 1 stores" in entry.detail


def test_it_records_nothing_for_an_invalid_form(alice_client):
    alice_client.post(reverse("store_create"), {"name": "Not A Label!", "engine": "woocommerce"})

    assert not AuditEntry.objects.exists()


# --- where from ----------------------------------------------------------------------


def test_it_ignores_x_forwarded_for_unless_told_to_trust_it(alice_client, ready, settings):
    alice_client.post(
        reverse("store_credentials", args=[ready.pk]), REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.9"
    )

    assert only_entry().ip == "10.0.0.2"


@pytest.mark.parametrize("trust", [{"TRUSTED_PROXY_HOPS": 2}, {"TRUSTED_PROXIES": ["10.0.0.0/24"]}])
def test_it_records_the_client_behind_the_trusted_proxies(alice_client, ready, settings, trust):
    for name, value in trust.items():
        setattr(settings, name, value)
    alice_client.post(
        reverse("store_credentials", args=[ready.pk]),
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="192.0.2.66, 198.51.100.9, 10.0.0.1",
    )

    # The same address the throttles count by: neither the client's forged entry
    # nor the outer proxy (10.0.0.1) in front of the one that connected.
    assert only_entry().ip == "198.51.100.9"


def test_it_truncates_a_long_user_agent(alice_client, ready):
    alice_client.post(reverse("store_credentials", args=[ready.pk]), HTTP_USER_AGENT="x" * 5000)

    assert only_entry().user_agent == "x" * 300


# --- one transaction -----------------------------------------------------------------


def test_it_does_not_delete_a_store_when_the_entry_cannot_be_written(alice_client, ready, monkeypatch):
    def broken_save(self, *args, **kwargs):
        raise RuntimeError("the audit table is unavailable")

    monkeypatch.setattr(AuditEntry, "save", broken_save)
    alice_client.raise_request_exception = False

    response = alice_client.post(reverse("store_delete", args=[ready.pk]))

    assert response.status_code == 500
    # The change and its entry commit together: without the entry, no delete.
    ready.refresh_from_db()
    assert ready.status == Status.READY
    assert not ready.events.filter(message="Delete requested.").exists()

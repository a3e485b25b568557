"""A store's page: its steps, activity and actions, for its owner only."""

import pytest
from django.urls import reverse
from django.utils.html import escape
from pytest_django.asserts import assertInHTML

from stores import lifecycle
from stores.cluster.errors import FailureCode
from stores.failure_hints import FAILURE_HINTS
from stores.models import Status, Store, StoreEvent

pytestmark = pytest.mark.django_db


def _url(store):
    return reverse("store_detail", args=[store.pk])


@pytest.fixture
def store(alice):
    return lifecycle.create_store(alice, "acme", "woocommerce")


def test_it_shows_the_store_to_its_owner(alice_client, store):
    response = alice_client.get(_url(store))

    assert response.status_code == 200
    assert response.context["store"] == store
    body = response.content.decode()
    assert "<h1>acme</h1>" in body
    assert "<code>store-acme</code>" in body
    assert "Store requested; waiting for a free provisioning slot." in body
    assert "Number 1 in line" in body
    assert reverse("store_delete", args=[store.pk]) in body


def test_it_requires_login(client, store):
    response = client.get(_url(store))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={_url(store)}"


def test_it_gives_404_for_another_users_store(bob_client, store):
    events_before = StoreEvent.objects.filter(store=store).count()

    response = bob_client.get(_url(store))

    assert response.status_code == 404
    assert b"acme" not in response.content
    store.refresh_from_db()
    assert store.status == Status.QUEUED
    assert StoreEvent.objects.filter(store=store).count() == events_before


def test_it_gives_404_for_a_store_that_does_not_exist(alice_client):
    response = alice_client.get(reverse("store_detail", args=[999999]))

    assert response.status_code == 404


def test_it_polls_while_the_store_is_queued(alice_client, store):
    response = alice_client.get(_url(store))

    assert response.status_code == 200
    assert f'hx-get="{reverse("store_status", args=[store.pk])}"' in response.content.decode()
    assert 'hx-trigger="every 2s' in response.content.decode()


@pytest.mark.parametrize("status", [Status.READY, Status.FAILED, Status.DELETED])
def test_it_does_not_poll_once_the_store_is_final(alice_client, store, status):
    Store.objects.filter(pk=store.pk).update(status=status)

    response = alice_client.get(_url(store))

    assert response.status_code == 200
    assert 'hx-trigger="every 2s' not in response.content.decode()


def test_it_offers_the_storefront_and_the_admin_login_when_ready(alice_client, store):
    Store.objects.filter(pk=store.pk).update(status=Status.READY)

    response = alice_client.get(_url(store))

    body = response.content.decode()
    assert response.status_code == 200
    assert 'href="http://store-acme.127.0.0.1.nip.io"' in body
    assert reverse("store_credentials", args=[store.pk]) in body
    assert "Reveal admin login" in body
    assert reverse("store_retry", args=[store.pk]) not in body


def test_it_offers_retry_and_shows_the_reason_when_failed(alice_client, store):
    Store.objects.filter(pk=store.pk).update(status=Status.FAILED, failure_reason="pod web: ErrImagePull: boom")

    response = alice_client.get(_url(store))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Provisioning failed:" in body
    assert "pod web: ErrImagePull: boom" in body
    assert reverse("store_retry", args=[store.pk]) in body
    assert "Reveal admin login" not in body


def test_it_escapes_the_failure_reason_and_events(alice_client, store):
    markup = "<img src=x onerror=alert(1)>"
    Store.objects.filter(pk=store.pk).update(status=Status.FAILED, failure_reason=markup)
    lifecycle.record(store.pk, markup)

    response = alice_client.get(_url(store))

    body = response.content.decode()
    assert response.status_code == 200
    assert markup not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


def test_it_hides_the_delete_button_while_deleting(alice_client, store):
    lifecycle.request_delete(store.pk)

    response = alice_client.get(_url(store))

    assert response.status_code == 200
    assert reverse("store_delete", args=[store.pk]) not in response.content.decode()


def test_it_marks_finished_running_and_pending_steps(alice_client, store):
    Store.objects.filter(pk=store.pk).update(status=Status.PROVISIONING, step="guardrails")
    lifecycle.record(store.pk, "Namespace store-acme is in place.", kind="step", step="namespace", duration_ms=1500)

    response = alice_client.get(_url(store))

    states = {row["key"]: row["state"] for row in response.context["steps"]}
    assert states == {
        "namespace": "done",
        "guardrails": "running",
        "credentials": "pending",
        "release": "pending",
        "workloads": "pending",
        "storefront": "pending",
        "checkout": "pending",
    }
    body = response.content.decode()
    assert "1.5 s" in body
    assert "running…" in body


def test_it_keeps_the_provision_timings_after_a_delete(alice_client, store):
    lifecycle.claim_provision_slots()
    store.refresh_from_db()
    StoreEvent.objects.create(store=store, kind="step", step="release", message="installed", duration_ms=1200)
    lifecycle.request_delete(store.pk)
    StoreEvent.objects.create(store=store, kind="step", step="release", message="uninstalled", duration_ms=300)

    rows = {row["key"]: row for row in alice_client.get(_url(store)).context["steps"]}

    assert rows["release"]["ms"] == 1200
    assert rows["release"]["state"] == "done"


def test_it_shows_a_stuck_delete_with_what_is_left(alice_client, store):
    reason = "namespace store-acme is still terminating: namespace finalizers: example.com/cleanup"
    Store.objects.filter(pk=store.pk).update(status=Status.DELETE_STUCK, failure_reason=reason, delete_attempts=5)

    response = alice_client.get(_url(store))

    body = response.content.decode()
    assertInHTML('<span class="badge badge-delete_stuck"><span aria-hidden="true">⚠</span>Delete stuck</span>', body)
    assertInHTML(
        f'<div class="form-error" role="alert"><strong>Delete stuck, what is left:</strong> {reason}</div>', body
    )
    assert "tried 5 times and did not finish" in body
    assert "hx-trigger" not in body  # nothing changes until an operator acts
    assert reverse("store_delete", args=[store.pk]) not in body


def test_it_says_what_to_do_about_a_failure_by_its_code(alice_client, alice):
    store = lifecycle.create_store(alice, "full", "woocommerce")
    Store.objects.filter(pk=store.pk).update(
        status=Status.FAILED, failure_reason="pods are refused", failure_code=FailureCode.QUOTA
    )

    body = alice_client.get(_url(store)).content.decode()

    assert escape(FAILURE_HINTS[FailureCode.QUOTA]) in body
    assert escape(FAILURE_HINTS[FailureCode.IMAGE]) not in body


def test_it_offers_retry_and_delete_inside_the_polled_panel(alice_client, alice):
    store = lifecycle.create_store(alice, "broken", "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.FAILED, failure_reason="boom")

    body = alice_client.get(reverse("store_status", args=[store.pk]), HTTP_HX_REQUEST="true").content.decode()

    # The fragment a poll swaps in carries the buttons, so they follow the store's state.
    assert reverse("store_retry", args=[store.pk]) in body
    assert reverse("store_delete", args=[store.pk]) in body

"""The store page's step list and feed stay right and cheap with many events."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stores import lifecycle
from stores.cluster.errors import FailureCode
from stores.models import Status, Store, StoreEvent

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _step(store, step, ms, *, ago=None):
    event = lifecycle.record(store.pk, f"{step} done", kind=StoreEvent.Kind.STEP, step=step, duration_ms=ms)
    if ago is not None:
        StoreEvent.objects.filter(pk=event.pk).update(created_at=store.started_at - ago)
    return event


def _steps(client, store) -> dict:
    response = client.get(reverse("store_status", args=[store.pk]), **HTMX)
    return {row["key"]: (row["state"], row["ms"]) for row in response.context["steps"]}


def _many_events(store, count):
    # As a long provision with a chatty wait leaves them: progress lines and repeated steps.
    StoreEvent.objects.bulk_create(
        StoreEvent(
            store=store,
            kind=StoreEvent.Kind.STEP if i % 3 == 0 else StoreEvent.Kind.INFO,
            step="workloads" if i % 3 == 0 else "",
            message=f"store-wordpress {i % 2}/1 ready",
            duration_ms=i,
        )
        for i in range(count)
    )


def test_it_takes_each_steps_first_event(alice_client, store):
    _step(store, "namespace", 120)
    _step(store, "guardrails", 340)
    _step(store, "namespace", 999)  # a later event of the same step (e.g. a delete's) does not count
    Store.objects.filter(pk=store.pk).update(step="credentials")

    steps = _steps(alice_client, store)

    assert steps["namespace"] == ("done", 120)
    assert steps["guardrails"] == ("done", 340)
    assert steps["credentials"] == ("running", None)
    assert steps["release"] == ("pending", None)


def test_it_shows_only_this_attempts_steps(alice_client, store):
    _step(store, "namespace", 50, ago=timedelta(minutes=10))
    _step(store, "guardrails", 60, ago=timedelta(minutes=10))
    _step(store, "namespace", 70)

    steps = _steps(alice_client, store)

    assert steps["namespace"] == ("done", 70)
    assert steps["guardrails"] == ("pending", None)


def test_it_shows_a_failed_step(alice_client, store):
    _step(store, "namespace", 10)
    Store.objects.filter(pk=store.pk).update(step="workloads")
    lifecycle.mark_failed(store.pk, "quota exceeded", code=FailureCode.QUOTA, step="workloads")

    steps = _steps(alice_client, store)

    assert steps["namespace"] == ("done", 10)
    assert steps["workloads"] == ("failed", None)


def test_it_does_not_load_every_event(alice_client, store):
    _step(store, "namespace", 10)
    _many_events(store, 3000)

    with CaptureQueriesContext(connection) as queries:
        response = alice_client.get(reverse("store_status", args=[store.pk]), **HTMX)

    assert len(response.context["feed"]) == 50
    assert response.context["feed"][0].message == "store-wordpress 1/1 ready"
    # Every statement is bounded: the steps come back one row per step, the feed 50 rows.
    step_query = next(q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"])
    assert "MIN" in step_query.upper()


@pytest.mark.parametrize("name", ["store_detail", "store_status"])
def test_its_query_count_does_not_grow_with_the_events(alice_client, store, name, django_assert_max_num_queries):
    url = reverse(name, args=[store.pk])
    with CaptureQueriesContext(connection) as few:
        alice_client.get(url, **HTMX)
    _many_events(store, 2000)
    cache.clear()

    with django_assert_max_num_queries(10):
        with CaptureQueriesContext(connection) as many:
            alice_client.get(url, **HTMX)

    assert len(many) == len(few)


def test_a_queued_stores_page_stays_within_ten_queries(alice_client, alice, django_assert_max_num_queries):
    lifecycle.create_store(alice, "first", "woocommerce")
    lifecycle.claim_provision_slots(limit=0)
    store = lifecycle.create_store(alice, "second", "woocommerce")
    assert Store.objects.get(pk=store.pk).status == Status.QUEUED

    with django_assert_max_num_queries(10):
        response = alice_client.get(reverse("store_detail", args=[store.pk]))

    assert "Number 2 in line" in response.content.decode()

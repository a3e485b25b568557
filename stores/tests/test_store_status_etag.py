"""The status fragment as a conditional GET: 304 while nothing changed, the new fragment as soon as anything did.

A browser sends back the ETag of the fragment it holds (If-None-Match); these
tests play that part, changing one thing at a time between two polls.
"""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stores import lifecycle
from stores.cluster.reads import PodStatus
from stores.models import Status, Store

pytestmark = pytest.mark.django_db

NS = "store-acme"


def _poll(client, store, etag=None):
    headers = {"HTTP_HX_REQUEST": "true"}
    if etag:
        headers["HTTP_IF_NONE_MATCH"] = etag
    return client.get(reverse("store_status", args=[store.pk]), **headers)


def _pod(name):
    return PodStatus(
        name=name,
        phase="Running",
        ready=1,
        containers=1,
        restarts=0,
        reason="",
        message="",
        last_reason="",
        created_at=None,
    )


def test_it_sends_an_etag_the_browser_must_revalidate(alice_client, store, fake_cluster):
    response = _poll(alice_client, store)

    assert response.status_code == 200
    assert response["ETag"].startswith('W/"')
    # Stored by the browser, but asked about again at every poll; never by a shared cache.
    assert "no-cache" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert "HX-Request" in response["Vary"]


def test_it_answers_304_when_nothing_changed(alice_client, store, fake_cluster):
    etag = _poll(alice_client, store)["ETag"]

    with CaptureQueriesContext(connection) as queries:
        response = _poll(alice_client, store, etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert "no-cache" in response["Cache-Control"]
    # Neither the step list nor the activity is loaded for an unchanged fragment.
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert '"stores_storeevent"."message"' not in sql
    assert '"duration_ms"' not in sql


def test_it_sends_the_new_fragment_after_a_new_event(alice_client, store, fake_cluster):
    etag = _poll(alice_client, store)["ETag"]
    lifecycle.record(store.pk, "Namespace store-acme created.")

    response = _poll(alice_client, store, etag)

    assert response.status_code == 200
    assert "Namespace store-acme created." in response.content.decode()
    assert response["ETag"] != etag
    assert _poll(alice_client, store, response["ETag"]).status_code == 304


def test_it_sends_the_new_fragment_when_the_step_moves_on(alice_client, store, fake_cluster):
    token = lifecycle.take_lease(store.pk, Status.PROVISIONING)
    etag = _poll(alice_client, store)["ETag"]
    lifecycle.set_step(store.pk, token, "guardrails")

    response = _poll(alice_client, store, etag)

    assert response.status_code == 200
    assert 'class="step step-running"' in response.content.decode()


def test_it_sends_the_new_fragment_when_a_delete_attempt_fails_without_an_event(alice, alice_client, fake_cluster):
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    lifecycle.request_delete(store.pk)
    Store.objects.filter(pk=store.pk).update(failure_reason="namespace still has 1 pod")
    etag = _poll(alice_client, store)["ETag"]
    # The attempt counter moves on its own (no event, no updated_at): it is on the page, so it is in the ETag.
    Store.objects.filter(pk=store.pk).update(delete_attempts=3)

    response = _poll(alice_client, store, etag)

    assert response.status_code == 200
    assert "Try 3 did not finish" in response.content.decode()


def test_it_sends_the_new_fragment_when_the_place_in_line_moves(alice, bob, alice_client, fake_cluster):
    ahead = lifecycle.create_store(bob, "first", "woocommerce")
    mine = lifecycle.create_store(alice, "acme", "woocommerce")
    response = _poll(alice_client, mine)
    assert "Number 2 in line" in response.content.decode()

    # Nothing about this store changed, but the store ahead of it started.
    Store.objects.filter(pk=ahead.pk).update(status=Status.PROVISIONING)
    response = _poll(alice_client, mine, response["ETag"])

    assert response.status_code == 200
    assert "Number 1 in line" in response.content.decode()


def test_it_sends_the_new_fragment_when_the_cluster_shows_something_new(alice_client, store, fake_cluster, settings):
    settings.CLUSTER_READ_CACHE_SECONDS = 60
    fake_cluster.live_pods = {NS: [_pod("web-1")]}
    etag = _poll(alice_client, store)["ETag"]
    fake_cluster.live_pods = {NS: [_pod("web-1"), _pod("db-0")]}

    # Within the cache period the page still shows (and the ETag stands for) the read it has...
    assert _poll(alice_client, store, etag).status_code == 304
    # ...and once that read expires, the new one is a new fragment.
    cache.clear()
    response = _poll(alice_client, store, etag)

    assert response.status_code == 200
    assert "db-0" in response.content.decode()


def test_the_same_read_gives_the_same_etag_in_every_web_process(alice_client, store, fake_cluster):
    fake_cluster.live_pods = {NS: [_pod("web-1")]}
    etag = _poll(alice_client, store)["ETag"]

    # Another process reads the namespace afresh (an empty cache) and finds the same pods.
    cache.clear()

    assert _poll(alice_client, store, etag).status_code == 304


def test_it_stops_polling_with_the_whole_final_fragment_even_for_a_matching_etag(alice_client, store, fake_cluster):
    etag = _poll(alice_client, store)["ETag"]
    token = lifecycle.take_lease(store.pk, Status.PROVISIONING)
    lifecycle.mark_ready(store.pk, token, "Store is ready.")

    response = _poll(alice_client, store, etag)

    assert response.status_code == 286
    body = response.content.decode()
    assert "Store is ready." in body
    assert 'hx-trigger="every 2s' not in body
    assert not response.has_header("ETag")


def test_it_gives_404_to_another_user_holding_the_etag(alice_client, bob_client, store, fake_cluster):
    etag = _poll(alice_client, store)["ETag"]

    response = _poll(bob_client, store, etag)

    assert response.status_code == 404

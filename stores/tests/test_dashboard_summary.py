"""The dashboard's summary of the owner's stores: counts by status, place in line, time busy.

And what it costs: the list's queries stay flat however many stores it shows.
"""

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertInHTML

from accounts.models import Profile
from stores import lifecycle, queue
from stores.models import Status, Store, StoreEvent
from stores.templatetags.store_tags import elapsed

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


class _Text(HTMLParser):
    """The text of the element with `id` (nested tags flattened)."""

    def __init__(self, id_):
        super().__init__()
        self.id, self.depth, self.text = id_, 0, ""

    def handle_starttag(self, tag, attrs):
        if self.depth or dict(attrs).get("id") == self.id:
            self.depth += 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text += data


def _text(response, id_) -> str:
    parser = _Text(id_)
    parser.feed(response.content.decode())
    return " ".join(parser.text.split())


def _store(owner, slug, status, **fields):
    store = lifecycle.create_store(owner, slug, "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=status, **fields)
    return store


def _rows(owner, statuses, prefix):
    """Many stores at once, past the per-user and platform limits (which only guard creation)."""
    now = timezone.now()
    stores = Store.objects.bulk_create(
        Store(
            owner=owner,
            slug=f"{prefix}-{i}",
            engine="woocommerce",
            status=status,
            queued_at=now + timedelta(milliseconds=i),
            started_at=now,
        )
        for i, status in enumerate(statuses)
    )
    StoreEvent.objects.bulk_create(
        StoreEvent(store=s, message="Delete requested.") for s in stores if s.status == Status.DELETING
    )
    return stores


def _row(response, slug) -> str:
    """The table row of one store, as text."""
    body = response.content.decode()
    start = body.index(f">{slug}</a>")
    return " ".join(body[start : body.index("</tr>", start)].split())


def test_it_counts_the_stores_by_status_in_words(alice_client, alice, bob):
    Profile.objects.update_or_create(user=alice, defaults={"store_limit": 6})
    _store(alice, "one", Status.READY)
    _store(alice, "two", Status.READY)
    _store(alice, "three", Status.PROVISIONING)
    _store(alice, "four", Status.QUEUED)
    _store(alice, "gone", Status.DELETED)
    _store(bob, "bobs", Status.FAILED)

    response = alice_client.get(reverse("dashboard"))

    assert _text(response, "status-summary") == "1 queued · 1 provisioning · 2 ready"


def test_it_says_nothing_for_a_user_without_stores(alice_client):
    response = alice_client.get(reverse("dashboard"))

    assert _text(response, "status-summary") == ""


def test_it_refreshes_the_counts_out_of_band(alice_client, alice):
    store = _store(alice, "shop", Status.QUEUED)
    _store(alice, "done", Status.READY)
    lifecycle.claim_provision_slots()
    assert Store.objects.get(pk=store.pk).status == Status.PROVISIONING

    response = alice_client.get(reverse("store_list"), **HTMX)

    body = response.content.decode()
    assertInHTML('<span id="status-summary" hx-swap-oob="true">1 provisioning · 1 ready</span>', body)


def test_it_shows_each_queued_stores_place_in_line(alice_client, alice, bob):
    Profile.objects.update_or_create(user=alice, defaults={"store_limit": 5})
    _store(bob, "bob-first", Status.QUEUED)
    _store(alice, "alice-second", Status.QUEUED)
    _store(bob, "bob-third", Status.QUEUED)
    _store(alice, "alice-fourth", Status.QUEUED)
    _store(alice, "alice-ready", Status.READY)

    response = alice_client.get(reverse("dashboard"))

    assert "#2 in line" in _row(response, "alice-second")
    assert "#4 in line" in _row(response, "alice-fourth")
    assert "in line" not in _row(response, "alice-ready")


def test_it_agrees_with_the_stores_own_place_in_line(alice, bob):
    """The list's places (two queries for any length) and a single store's place are one order."""
    now = timezone.now()
    stores = _rows(alice, [Status.QUEUED] * 4, "a") + _rows(bob, [Status.QUEUED] * 4, "b")
    # Two stores queued at the same instant: the older row goes first.
    Store.objects.filter(pk__in=[stores[2].pk, stores[3].pk]).update(queued_at=now)
    Store.objects.filter(pk=stores[5].pk).update(status=Status.READY)

    listed = queue.places()
    single = {s.pk: queue.place_of(Store.objects.get(pk=s.pk)) for s in stores}

    assert listed == {pk: place for pk, place in single.items() if place}
    assert sorted(p for p in single.values() if p) == list(range(1, 8))
    assert single[stores[5].pk] is None


def test_it_shows_how_long_a_provision_has_run(alice_client, alice):
    _store(alice, "busy", Status.PROVISIONING, started_at=timezone.now() - timedelta(minutes=2, seconds=10))

    response = alice_client.get(reverse("dashboard"))

    assert "2 min 10 s" in _row(response, "busy") or "2 min 11 s" in _row(response, "busy")


def test_it_times_a_delete_from_its_request_not_its_last_step(alice_client, alice):
    store = _store(alice, "leaving", Status.READY)
    lifecycle.request_delete(store.pk)
    began = timezone.now() - timedelta(minutes=3, seconds=5)
    StoreEvent.objects.filter(store=store, message="Delete requested.").update(created_at=began)
    # A delete step moves updated_at; the elapsed time must not restart with it.
    Store.objects.filter(pk=store.pk).update(step="namespace", updated_at=timezone.now())

    row = _row(alice_client.get(reverse("dashboard")), "leaving")

    assert "Deleting" in row
    assert "3 min 05 s" in row or "3 min 06 s" in row


def test_it_shows_no_time_for_a_settled_store(alice_client, alice):
    _store(alice, "done", Status.READY, started_at=timezone.now() - timedelta(minutes=5))

    row = _row(alice_client.get(reverse("dashboard")), "done")

    assert "<time" not in row
    assert "in line" not in row


@pytest.mark.parametrize(
    "seconds,text", [(0, "0 s"), (45, "45 s"), (130, "2 min 10 s"), (3599, "59 min 59 s"), (3900, "1 h 05 min")]
)
def test_it_formats_elapsed_time(seconds, text):
    assert elapsed(timezone.now() - timedelta(seconds=seconds)) == text


def test_it_formats_no_start_as_nothing():
    assert elapsed(None) == ""


def _many_stores(owner, count, prefix):
    statuses = [Status.QUEUED, Status.PROVISIONING, Status.READY, Status.FAILED, Status.DELETING]
    return _rows(owner, [statuses[i % len(statuses)] for i in range(count)], prefix)


def _queries(client, url, **extra) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **extra)
    assert response.status_code in (200, 286)
    return len(captured)


@pytest.mark.parametrize("url,extra", [(reverse("dashboard"), {}), (reverse("store_list"), HTMX)])
def test_it_costs_the_same_queries_for_many_stores(alice_client, alice, bob, url, extra):
    Profile.objects.update_or_create(user=alice, defaults={"store_limit": 100})
    _many_stores(bob, 20, "bob")
    _many_stores(alice, 2, "few")
    few = _queries(alice_client, url, **extra)

    _rows(alice, [Status.QUEUED] * 40, "queued")
    _many_stores(alice, 20, "many")
    many = _queries(alice_client, url, **extra)

    assert many == few
    assert many <= 10


def test_it_needs_at_most_ten_queries_with_sixty_stores(alice_client, alice, django_assert_max_num_queries):
    Profile.objects.update_or_create(user=alice, defaults={"store_limit": 100})
    _many_stores(alice, 60, "shop")

    with django_assert_max_num_queries(10):
        response = alice_client.get(reverse("store_list"), **HTMX)

    assert response.status_code == 200
    assert response.content.decode().count("in line</small>") == 12

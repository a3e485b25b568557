"""The checks of ready stores: rows, state changes said once, bounded rounds.

Storefronts are real HTTP servers on localhost: the platform reaches every
store's host through an HTTP proxy (http_proxy), as it does through the
ingress stand-in on the test cluster, and this one answers for each host
what the test says. The engine's checkout is scripted where a test needs one
(the real Medusa check runs in tests/charts/test_medusa_recipe.py).
"""

import dataclasses
import http.client
import io
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from stores import lifecycle, monitoring
from stores.engines import ENGINES
from stores.engines.base import CheckoutResult
from stores.engines.shop_api import CheckoutFailed
from stores.models import EventCode, Health, Status, Store, StoreCheck, StoreEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def ingress(monkeypatch, settings):
    """A proxy that answers for every store host: {host: status}; 200 when not said. Hits are kept."""
    settings.CHECK_STORE_URL = True
    answers: dict[str, int] = {}
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            host = self.headers["Host"]
            hits.append(host)
            self.send_response(answers.get(host, 200))
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    yield answers, hits
    server.shutdown()
    server.server_close()


def _ready(owner, slug, engine="woocommerce", **fields):
    store = lifecycle.create_store(owner, slug, engine)
    Store.objects.filter(pk=store.pk).update(status=Status.READY, ready_at=timezone.now(), **fields)
    store.refresh_from_db()
    return store


def test_a_round_checks_each_due_ready_store_once_and_keeps_a_row(ingress, alice, bob):
    _, hits = ingress
    a, b = _ready(alice, "acme"), _ready(bob, "bobs")
    lifecycle.create_store(alice, "queued-one", "woocommerce")

    report = monitoring.run_round()

    assert (report.storefront, report.failed) == (2, 0)
    assert sorted(hits) == ["store-acme.127.0.0.1.nip.io", "store-bobs.127.0.0.1.nip.io"]
    rows = StoreCheck.objects.order_by("store__slug")
    assert [(r.store_id, r.kind, r.ok, r.code) for r in rows] == [
        (a.pk, "storefront", True, ""),
        (b.pk, "storefront", True, ""),
    ]
    assert all(Store.objects.get(pk=s.pk).health == Health.UP for s in (a, b))
    # Checked now: not due again before STORE_CHECK_INTERVAL.
    assert monitoring.run_round().storefront == 0
    Store.objects.update(health_checked_at=timezone.now() - timedelta(minutes=6))
    assert monitoring.run_round().storefront == 2


def test_two_failures_in_a_row_make_a_store_down_once_and_one_success_up(
    ingress, alice, sync_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    answers, _ = ingress
    store = _ready(alice, "acme", health=Health.UP)
    answers["store-acme.127.0.0.1.nip.io"] = 503

    def round_now():
        Store.objects.update(health_checked_at=None)
        with django_capture_on_commit_callbacks(execute=True):
            return monitoring.run_round()

    assert round_now().changes == []  # one failure is not an outage
    assert Store.objects.get(pk=store.pk).health == Health.UP
    assert round_now().changes == ["acme: down"]
    assert round_now().changes == []  # still down: said once
    store.refresh_from_db()
    assert (store.health, store.health_failures) == (Health.DOWN, 3)
    [down] = StoreEvent.objects.filter(store=store, code=EventCode.STORE_DOWN)
    assert "failed 2 checks in a row (GET / → 503" in down.message
    assert [m.subject for m in mailoutbox] == ["Your store acme is down"]

    del answers["store-acme.127.0.0.1.nip.io"]
    assert round_now().changes == ["acme: up"]
    store.refresh_from_db()
    assert (store.health, store.health_failures) == (Health.UP, 0)
    assert [m.subject for m in mailoutbox] == ["Your store acme is down", "Your store acme is up again"]
    assert StoreCheck.objects.filter(store=store, ok=False, code="http_503").count() == 3


def test_a_store_that_does_not_answer_is_named_so(ingress, alice, monkeypatch, settings):
    settings.STORE_CHECK_TIMEOUT = 1
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # discard: nothing listens
    _ready(alice, "acme")

    monitoring.run_round()

    [row] = StoreCheck.objects.all()
    assert (row.ok, row.code) == (False, "no_answer")
    assert row.detail.startswith("GET / → no answer: ")


@pytest.fixture
def checkout(monkeypatch):
    """Medusa's checkout check, scripted: each call takes the next outcome."""
    outcomes = []

    def check(target):
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setitem(ENGINES, "medusa", dataclasses.replace(ENGINES["medusa"], checkout=check))
    return outcomes


def test_checkout_checks_run_when_due_and_say_a_failure_once(
    ingress, alice, fake_cluster, checkout, sync_tasks, mailoutbox, django_capture_on_commit_callbacks, settings
):
    fake_cluster.secrets[("store-shop", "store-secret")] = {"admin-email": "a@example.org", "admin-password": "pw"}
    day_ago = timezone.now() - timedelta(days=1, minutes=1)
    store = _ready(alice, "shop", "medusa", checkout_checked_at=day_ago, checkout_verified_at=day_ago)
    failure = CheckoutFailed("POST /store/carts/{cart}/complete", "400 invalid_data no shipping method")
    checkout += [CheckoutResult(order="#12"), failure, failure, CheckoutResult(order="#15")]

    def round_now():
        Store.objects.update(checkout_checked_at=day_ago, health_checked_at=None)
        with django_capture_on_commit_callbacks(execute=True):
            return monitoring.run_round()

    assert round_now().checkout == 1
    store.refresh_from_db()
    assert store.checkout_verified_at > day_ago and not store.checkout_failing
    assert round_now().changes == ["shop: checkout failing"]
    assert round_now().changes == []
    store.refresh_from_db()
    assert store.checkout_failing
    assert store.checkout_unverified_reason.startswith("checkout failed: POST /store/carts/{cart}/complete → 400")
    assert round_now().changes == ["shop: checkout back"]
    assert [m.subject for m in mailoutbox] == [
        "Checkout fails on your store shop",
        "Checkout works again on your store shop",
    ]
    kinds = list(StoreCheck.objects.filter(store=store, kind="checkout").order_by("pk").values_list("ok", flat=True))
    assert kinds == [True, False, False, True]

    # 0: the checkout is checked at provision only.
    settings.CHECKOUT_CHECK_INTERVAL = 0
    assert round_now().checkout == 0


def test_a_checkout_check_keeps_the_versions_the_shop_says_it_runs_now(
    ingress, alice, fake_cluster, checkout, django_capture_on_commit_callbacks
):
    fake_cluster.secrets[("store-shop", "store-secret")] = {"admin-email": "a@example.org", "admin-password": "pw"}
    day_ago = timezone.now() - timedelta(days=1, minutes=1)
    store = _ready(alice, "shop", "medusa", checkout_checked_at=day_ago, versions={"WordPress": "6.8.1"})
    checkout += [CheckoutResult(order="#12", versions={"WordPress": "6.8.2"}), CheckoutResult(order="#13")]

    for _ in range(2):
        Store.objects.update(checkout_checked_at=day_ago, health_checked_at=None)
        with django_capture_on_commit_callbacks(execute=True):
            monitoring.run_round()

    store.refresh_from_db()
    assert store.versions == {"WordPress": "6.8.2"}  # a check that read none leaves them
    assert StoreEvent.objects.filter(store=store, message="The shop runs WordPress 6.8.2.").count() == 1


def test_a_round_is_bounded_and_rounds_that_overlap_share_the_stores(ingress, alice, bob, settings):
    settings.STORE_CHECKS_PER_ROUND = 2
    for i in range(3):
        _ready(alice if i % 2 else bob, f"s{i}")
    now = timezone.now()
    due = monitoring._due(now, "health_checked_at", settings.STORE_CHECK_INTERVAL)

    first = monitoring._claim(due, "health_checked_at", now)
    second = monitoring._claim(due, "health_checked_at", now + timedelta(seconds=1))

    assert len(first) == 2 and len(second) == 1
    assert {s.pk for s in first}.isdisjoint(s.pk for s in second)


def test_a_round_costs_a_flat_number_of_queries_however_many_stores(ingress, alice, bob):
    def queries():
        Store.objects.update(health_checked_at=None)
        with CaptureQueriesContext(connection) as captured:
            monitoring.run_round()
        return len(captured.captured_queries)

    _ready(alice, "only")
    few = queries()
    # Past the per-user limit: made directly, as many owners' stores would be.
    Store.objects.bulk_create(
        Store(owner=bob, slug=f"s{i}", engine="woocommerce", status=Status.READY) for i in range(30)
    )
    assert queries() == few


def test_nothing_is_checked_where_the_platform_cannot_reach_stores(alice, settings):
    settings.CHECK_STORE_URL = False
    _ready(alice, "acme")
    assert "CHECK_STORE_URL is off" in monitoring.run_round().skipped
    assert not StoreCheck.objects.exists()


def test_old_rows_go(alice, settings):
    store = _ready(alice, "acme")
    now = timezone.now()
    for days in (1, 8, 30):
        StoreCheck.objects.create(
            store=store, kind="storefront", ok=True, latency_ms=5, checked_at=now - timedelta(days=days)
        )
    assert monitoring.prune(now) == 2
    assert StoreCheck.objects.count() == 1


def test_the_store_page_and_dashboard_show_what_the_checks_found(alice, alice_client):
    store = _ready(alice, "acme", health=Health.DOWN)
    now = timezone.now()
    for ok, ms in [(True, 100), (True, 300), (True, 200), (False, 5000)]:
        StoreCheck.objects.create(store=store, kind="storefront", ok=ok, latency_ms=ms, checked_at=now)
    StoreCheck.objects.create(
        store=store, kind="storefront", ok=False, latency_ms=9, checked_at=now - timedelta(days=2)
    )

    page = alice_client.get(reverse("store_detail", args=[store.pk])).content.decode()
    dashboard = alice_client.get(reverse("dashboard")).content.decode()

    assert "Up 75.0% over 24 h · median 200 ms" in page
    assert '<span class="bad">Down</span>' in page
    assert '<span class="badge badge-down" title="Its storefront failed its last checks">Down</span>' in dashboard


def test_the_command_checks_a_store_now_printing_a_line_per_call(ingress, alice, fake_cluster, checkout):
    fake_cluster.secrets[("store-shop", "store-secret")] = {"admin-email": "a@example.org", "admin-password": "pw"}
    store = _ready(alice, "shop", "medusa")
    checkout.append(CheckoutResult(order="#3"))
    out = io.StringIO()

    call_command("stores", "check", "shop", "--checkout", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("storefront: GET / answered (")
    assert lines[-1] == "checkout: order #3 placed, found and cancelled"
    store.refresh_from_db()
    assert store.checkout_verified_at is not None
    assert StoreCheck.objects.filter(store=store).count() == 2

    Store.objects.filter(pk=store.pk).update(status=Status.FAILED)
    with pytest.raises(CommandError, match="shop is failed; only a ready store is checked"):
        call_command("stores", "check", "shop", stdout=io.StringIO())


def test_a_check_that_raises_fails_that_store_not_the_round(ingress, alice, bob, monkeypatch):
    broken, fine = _ready(alice, "broken"), _ready(bob, "fine")
    real_check = monitoring.check_storefront

    def check(store):
        if store.pk == broken.pk:
            raise http.client.IncompleteRead(b"")
        return real_check(store)

    monkeypatch.setattr(monitoring, "check_storefront", check)

    report = monitoring.run_round()

    assert (report.storefront, report.failed) == (2, 1)
    rows = {r.store_id: r for r in StoreCheck.objects.all()}
    assert (rows[broken.pk].ok, rows[broken.pk].code) == (False, "error")
    assert rows[broken.pk].detail == "the check itself failed: IncompleteRead"
    assert rows[fine.pk].ok


def test_stores_a_round_had_no_time_for_are_due_at_the_next(ingress, alice, monkeypatch):
    store = _ready(alice, "acme")
    monkeypatch.setattr(monitoring, "ROUND_BUDGET_SECONDS", -1)

    assert monitoring.run_round().storefront == 0

    assert Store.objects.get(pk=store.pk).health_checked_at is None
    monkeypatch.setattr(monitoring, "ROUND_BUDGET_SECONDS", 45)
    assert monitoring.run_round().storefront == 1


def test_the_count_of_failures_in_a_row_stops_growing(ingress, alice):
    answers, _ = ingress
    store = _ready(alice, "acme", health=Health.DOWN, health_failures=monitoring.FAILURES_CAP)
    answers["store-acme.127.0.0.1.nip.io"] = 503

    monitoring.run_round()

    assert Store.objects.get(pk=store.pk).health_failures == monitoring.FAILURES_CAP

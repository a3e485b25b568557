"""/metrics: Prometheus text computed from the database, for staff or a bearer token."""

from datetime import timedelta
from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Task
from prometheus_client.parser import text_string_to_metric_families

from stores import cluster, lifecycle, provisioning
from stores.cluster.errors import FailureCode
from stores.models import EventCode, Health, Status, Store, StoreCheck, StoreEvent

pytestmark = pytest.mark.django_db

URL = "/metrics"


def _store(owner, slug, status, engine="woocommerce", took=None, failure=None, code=FailureCode.OTHER):
    now = timezone.now()
    store = Store.objects.create(
        owner=owner,
        slug=slug,
        engine=engine,
        status=status,
        queued_at=now,
        started_at=now - timedelta(seconds=took) if took is not None else None,
        ready_at=now if took is not None else None,
    )
    if failure:
        StoreEvent.objects.create(store=store, kind=StoreEvent.Kind.ERROR, code=code, message=f"Failed: {failure}")
    return store


def _task(func, success):
    now = timezone.now()
    Task.objects.create(id=uuid4().hex, name=uuid4().hex, func=func, started=now, stopped=now, success=success)


def _samples(response) -> dict:
    """{(sample name, frozenset of label items): value} from a Prometheus text body."""
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def _value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def seeded(alice, bob):
    _store(alice, "queued-1", Status.QUEUED)
    _store(bob, "queued-2", Status.QUEUED, engine="medusa")
    _store(alice, "busy", Status.PROVISIONING)
    _store(alice, "fast", Status.READY, took=20)
    _store(bob, "slow", Status.READY, took=200)
    _store(bob, "medusa-ready", Status.READY, engine="medusa", took=700)
    _store(alice, "gone", Status.DELETED, took=50)
    _store(bob, "no-image", Status.FAILED, failure="pod store-wordpress-x: ErrImagePull: x", code=FailureCode.IMAGE)
    late = _store(bob, "late", Status.FAILED, failure="timed out while waiting", code=FailureCode.TIMEOUT)
    # The same store failed once before on a quota refusal: failures count every attempt.
    StoreEvent.objects.create(
        store=late,
        kind=StoreEvent.Kind.ERROR,
        code=FailureCode.QUOTA,
        message="Failed: replicaset store-web: FailedCreate: exceeded quota: store-quota",
    )
    # An error event that is not a provision failure is not counted.
    StoreEvent.objects.create(
        store=late, kind=StoreEvent.Kind.ERROR, code=EventCode.DELETE_RETRY, message="Delete did not finish (1 of 5)"
    )
    _task("stores.tasks.provision", success=False)
    _task("stores.tasks.provision", success=False)
    _task("stores.tasks.delete", success=False)
    _task("stores.tasks.delete", success=True)


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_user("operator", "ops@example.org", "operator-password-1", is_staff=True)
    client.force_login(staff)
    return client


def test_it_serves_prometheus_text_to_staff(staff_client, seeded):
    response = staff_client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "no-cache" in response["Cache-Control"]


def test_it_speaks_openmetrics_when_asked(staff_client, seeded):
    response = staff_client.get(URL, headers={"Accept": "application/openmetrics-text; version=1.0.0"})

    assert response["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert response.content.decode().rstrip().endswith("# EOF")


def test_it_counts_stores_by_status_and_engine(staff_client, seeded):
    samples = _samples(staff_client.get(URL))

    assert _value(samples, "store_provisioner_stores", status="queued", engine="woocommerce") == 1
    assert _value(samples, "store_provisioner_stores", status="queued", engine="medusa") == 1
    assert _value(samples, "store_provisioner_stores", status="ready", engine="woocommerce") == 2
    assert _value(samples, "store_provisioner_stores", status="failed", engine="woocommerce") == 2
    assert _value(samples, "store_provisioner_stores", status="deleted", engine="woocommerce") == 1
    # Every status is listed, at zero when no store has it, so a rate or an alert never sees a gap.
    assert _value(samples, "store_provisioner_stores", status="delete_stuck", engine="medusa") == 0
    assert _value(samples, "store_provisioner_queue_length") == 2


def test_it_counts_failures_by_reason_category(staff_client, seeded):
    samples = _samples(staff_client.get(URL))

    failures = {
        labels: v for (name, labels), v in samples.items() if name == "store_provisioner_provision_failures_total"
    }
    assert failures == {
        frozenset({("engine", "woocommerce"), ("reason", "image")}): 1,
        frozenset({("engine", "woocommerce"), ("reason", "timeout")}): 1,
        frozenset({("engine", "woocommerce"), ("reason", "quota")}): 1,
    }


def _failures(staff_client) -> dict[str, float]:
    return {
        dict(labels)["reason"]: value
        for (name, labels), value in _samples(staff_client.get(URL)).items()
        if name == "store_provisioner_provision_failures_total"
    }


@pytest.mark.parametrize(
    "message",
    [
        "quota exceeded: exceeded quota: store-quota, requested: pods=1",
        "the namespace has no room left",  # the same failure, reworded
        "pod web: ErrImagePull: exceeded quota",  # words of other categories count for nothing
    ],
)
def test_rewording_a_failure_changes_no_metric(staff_client, alice, fake_cluster, settings, message):
    # A provision fails for real (the fake cluster refuses at the wait step) with the
    # code the cluster layer classified; only the code is counted.
    settings.CHECK_STORE_URL = False
    fake_cluster.wait_error = cluster.WorkloadFailed(message, cluster.FailureCode.QUOTA)
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    lifecycle.claim_provision_slots()
    provisioning.provision(store.pk, lifecycle.take_lease(store.pk, Status.PROVISIONING))

    assert Store.objects.get(pk=store.pk).failure_reason == message
    assert _failures(staff_client) == {"quota": 1}


def test_it_counts_a_store_host_that_does_not_resolve_as_dns(staff_client, alice, fake_cluster, settings):
    # The storefront check classifies the failure itself.
    settings.CHECK_STORE_URL = True
    settings.INGRESS_DOMAIN_SUFFIX = "shops.example.invalid"
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    lifecycle.claim_provision_slots()
    provisioning.provision(store.pk, lifecycle.take_lease(store.pk, Status.PROVISIONING))

    assert Store.objects.get(pk=store.pk).failure_code == "dns"
    assert _failures(staff_client) == {"dns": 1}


def test_it_puts_provisioning_durations_in_buckets_by_engine(staff_client, seeded):
    samples = _samples(staff_client.get(URL))

    name = "store_provisioner_provision_duration_seconds"
    # woocommerce: 20 s, 200 s and 50 s (a deleted store was ready once too).
    assert _value(samples, f"{name}_bucket", engine="woocommerce", le="15.0") == 0
    assert _value(samples, f"{name}_bucket", engine="woocommerce", le="30.0") == 1
    assert _value(samples, f"{name}_bucket", engine="woocommerce", le="60.0") == 2
    assert _value(samples, f"{name}_bucket", engine="woocommerce", le="180.0") == 2
    assert _value(samples, f"{name}_bucket", engine="woocommerce", le="300.0") == 3
    assert _value(samples, f"{name}_bucket", engine="woocommerce", le="+Inf") == 3
    assert _value(samples, f"{name}_count", engine="woocommerce") == 3
    assert _value(samples, f"{name}_sum", engine="woocommerce") == pytest.approx(270, abs=0.01)
    assert _value(samples, f"{name}_bucket", engine="medusa", le="600.0") == 0
    assert _value(samples, f"{name}_bucket", engine="medusa", le="900.0") == 1
    assert _value(samples, f"{name}_count", engine="medusa") == 1


def test_it_says_which_checked_ready_stores_are_up(staff_client, alice, bob):
    Store.objects.filter(pk=_store(alice, "up-shop", Status.READY).pk).update(health=Health.UP)
    Store.objects.filter(pk=_store(bob, "down-shop", Status.READY, engine="medusa").pk).update(health=Health.DOWN)
    _store(alice, "unchecked", Status.READY)
    Store.objects.filter(pk=_store(bob, "gone", Status.DELETED).pk).update(health=Health.UP)

    samples = _samples(staff_client.get(URL))

    up = {dict(labels)["store"]: v for (name, labels), v in samples.items() if name == "store_provisioner_store_up"}
    assert up == {"up-shop": 1, "down-shop": 0}
    assert _value(samples, "store_provisioner_store_up", store="down-shop", engine="medusa") == 0


def test_it_puts_passed_checkout_checks_in_buckets_by_engine(staff_client, alice):
    store = _store(alice, "shop", Status.READY, engine="medusa")
    for ok, ms in [(True, 800), (True, 2500), (True, 2600), (False, 20000)]:
        StoreCheck.objects.create(store=store, kind="checkout", ok=ok, latency_ms=ms)
    StoreCheck.objects.create(store=store, kind="storefront", ok=True, latency_ms=50)

    samples = _samples(staff_client.get(URL))

    name = "store_provisioner_checkout_duration_seconds"
    assert _value(samples, f"{name}_bucket", engine="medusa", le="1.0") == 1
    assert _value(samples, f"{name}_bucket", engine="medusa", le="2.0") == 1
    assert _value(samples, f"{name}_bucket", engine="medusa", le="3.0") == 3
    assert _value(samples, f"{name}_bucket", engine="medusa", le="+Inf") == 3
    assert _value(samples, f"{name}_sum", engine="medusa") == pytest.approx(5.9)


def test_it_counts_task_failures_from_the_task_results(staff_client, seeded):
    samples = _samples(staff_client.get(URL))

    assert _value(samples, "store_provisioner_task_failures_total", func="stores.tasks.provision") == 2
    assert _value(samples, "store_provisioner_task_failures_total", func="stores.tasks.delete") == 1


def test_it_answers_a_scraper_with_the_bearer_token(client, seeded, settings):
    settings.METRICS_TOKEN = "s3cret-token"

    response = client.get(URL, headers={"Authorization": "Bearer s3cret-token"})

    assert response.status_code == 200
    assert _value(_samples(response), "store_provisioner_queue_length") == 2


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic s3cret-token", "Bearer ", "s3cret-token"])
def test_it_refuses_without_the_right_token(client, settings, authorization):
    settings.METRICS_TOKEN = "s3cret-token"
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = client.get(URL, headers=headers)

    assert response.status_code == 404
    assert b"store_provisioner" not in response.content


def test_it_refuses_any_bearer_token_when_none_is_set(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get(URL, headers={"Authorization": "Bearer "}).status_code == 404
    assert client.get(URL, headers={"Authorization": "Bearer anything"}).status_code == 404


def test_it_refuses_a_signed_in_user_who_is_not_staff(alice_client):
    assert alice_client.get(URL).status_code == 404


def test_it_reads_a_flat_number_of_queries_however_many_stores(client, alice, bob, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    auth = {"Authorization": "Bearer s3cret-token"}

    def queries_for_scrape():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL, headers=auth).status_code == 200
        return len(captured.captured_queries)

    _store(alice, "only", Status.READY, took=30)
    few = queries_for_scrape()
    for i in range(40):
        status = [Status.READY, Status.FAILED, Status.QUEUED, Status.DELETED][i % 4]
        _store(
            bob if i % 2 else alice,
            f"s{i}",
            status,
            engine=["woocommerce", "medusa"][i % 2],
            took=10 * i if status in (Status.READY, Status.DELETED) else None,
            failure="timed out while helm release" if status == Status.FAILED else None,
        )
        _task("stores.tasks.provision", success=bool(i % 3))
    many = queries_for_scrape()

    # stores, failures, durations, task failures, store up, checkout durations, backups, last backups
    assert few == many == 8

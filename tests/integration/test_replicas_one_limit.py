"""Several replicas of every process, one provisioning limit.

Production runs two web replicas and two replicas of each task queue
(charts/platform): each `provisioner` replica has MAX_CONCURRENT_PROVISIONS
workers, so four workers compete for two slots. The limit holds because a
slot is claimed in the database (lifecycle.claim_provision_slots, under the
ProvisioningGate row's lock), not by counting workers.

Here six owners each create a store through the web replicas in the same
instant, on PostgreSQL, with the ORM broker and then with Redis as the broker;
the stores are provisioned by real `manage.py qcluster` processes against the
local control plane with real Helm. "Never more than two" is proved exactly,
from the provisioning intervals the database recorded, and sampled while the
stores provision. The figures (wall time, overlap, queue waits) are printed.
"""

from __future__ import annotations

import http.client
import secrets
import threading
import time
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings
from django.db import close_old_connections, connection
from django.test import Client
from django_q.models import Task

from stores.models import Status, Store, StoreEvent
from tests.platform import Platform
from tests.redis_server import redis_server
from tests.waiting import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    # Six stores, two at a time, on a loaded 2-core machine; then their deletes.
    pytest.mark.timeout(600),
]

STORES = 6
LIMIT = 2  # settings.MAX_CONCURRENT_PROVISIONS, asserted below


@pytest.fixture
def replicas(local_cluster):
    """start(**env) -> the URLs of two web replicas; each replica also runs both task queues."""
    started: list[Platform] = []

    def start(**env) -> list[str]:
        pair = [
            Platform(
                connection.settings_dict,
                KUBECONFIG=str(local_cluster.kubeconfig),
                HELM_BIN=str(local_cluster.helm),
                **env,
            )
            for _ in range(2)
        ]
        started.extend(pair)
        for p in pair:
            p.start_workers()
        return [p.start_web() for p in pair]

    yield start
    # A qcluster busy with a task can take all of Platform.stop's 15 s: stop the replicas side by side.
    stopping = [threading.Thread(target=p.stop) for p in started]
    for t in stopping:
        t.start()
    for t in stopping:
        t.join()


@pytest.fixture
def redis_url(tmp_path):
    with redis_server(tmp_path, "replicas-redis.log") as url:
        yield f"{url}/0"


class Owner:
    """A logged-in owner talking to a web replica over HTTP, as a browser would."""

    def __init__(self, user, base_url: str):
        client = Client()
        client.force_login(user)  # a session row in the test database, which the replicas share
        self.session = client.cookies[settings.SESSION_COOKIE_NAME].value
        # An unmasked CSRF secret works as both the cookie and the form token.
        self.csrf = secrets.token_hex(16)
        self.host, self.port = urlsplit(base_url).hostname, urlsplit(base_url).port

    def connection(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        conn.connect()
        return conn

    def post(self, path: str, data: dict, conn: http.client.HTTPConnection | None = None):
        conn = conn or self.connection()
        body = urlencode({**data, "csrfmiddlewaretoken": self.csrf})
        conn.request(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"{settings.SESSION_COOKIE_NAME}={self.session}; {settings.CSRF_COOKIE_NAME}={self.csrf}",
            },
        )
        response = conn.getresponse()
        response.read()
        conn.close()
        return response.status, response.getheader("Location") or ""


def _create_all_at_once(owners: list[Owner], prefix: str) -> list[tuple[int, str]]:
    """Every owner POSTs one store in the same instant (a thread each, behind a barrier)."""
    barrier = threading.Barrier(len(owners))
    answers: list = [None] * len(owners)

    def submit(i: int, owner: Owner):
        conn = owner.connection()  # connected before the barrier: only the request is left
        barrier.wait()
        answers[i] = owner.post("/stores/new/", {"name": f"{prefix}-{i}", "engine": "woocommerce"}, conn)

    threads = [threading.Thread(target=submit, args=(i, o)) for i, o in enumerate(owners)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    return answers


def _max_overlap(intervals: list[tuple]) -> int:
    """The most intervals open at one instant. An end sorts before a start at
    the same instant: a slot is claimed only after the store that held it left
    `provisioning` (and its ready_at was taken before that)."""
    points = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals], key=lambda p: (p[0], p[1])
    )
    open_now = peak = 0
    for _, delta in points:
        open_now += delta
        peak = max(peak, open_now)
    return peak


class Sampler(threading.Thread):
    """Counts the stores in `provisioning` every 50 ms while the stores provision."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = 0
        self.samples = 0
        self.done = threading.Event()

    def run(self):
        try:
            while not self.done.is_set():
                busy = Store.objects.filter(status=Status.PROVISIONING).count()
                self.peak = max(self.peak, busy)
                self.samples += 1
                time.sleep(0.05)
        finally:
            close_old_connections()


def _provision_six_at_once(django_user_model, replicas, prefix: str, **env) -> None:
    assert settings.MAX_CONCURRENT_PROVISIONS == LIMIT
    urls = replicas(**env)
    users = [django_user_model.objects.create_user(f"{prefix}-owner-{i}") for i in range(STORES)]
    # Three owners on each web replica.
    owners = [Owner(user, urls[i % 2]) for i, user in enumerate(users)]

    sampler = Sampler()
    sampler.start()
    began = time.monotonic()
    answers = _create_all_at_once(owners, prefix)
    assert [status for status, _ in answers] == [302] * STORES, answers
    stores = list(Store.objects.filter(slug__startswith=f"{prefix}-").order_by("pk"))
    assert len(stores) == STORES

    def all_final():
        states = dict(Store.objects.filter(pk__in=[s.pk for s in stores]).values_list("slug", "status"))
        assert not [slug for slug, state in states.items() if state == Status.FAILED], states
        return all(state == Status.READY for state in states.values())

    try:
        wait_for(all_final, timeout=480, interval=0.5, what="all six stores to be ready")
    finally:
        sampler.done.set()
        sampler.join(5)
    wall = time.monotonic() - began

    rows = list(Store.objects.filter(pk__in=[s.pk for s in stores]).order_by("started_at"))
    # Each store was claimed once and provisioned once: no lost or doubled work.
    assert [r.attempts for r in rows] == [1] * STORES
    started_events = StoreEvent.objects.filter(store__in=rows, message="Provisioning started.")
    assert sorted(started_events.values_list("store_id", flat=True)) == sorted(r.pk for r in rows)
    # A worker's monitor saves the task's result after the task returns: wait for the last one.
    names = sorted(f"provision-store-{r.pk}" for r in rows)
    tasks = Task.objects.filter(name__in=names)
    wait_for(lambda: tasks.count() >= STORES, timeout=60, what="the provision tasks' results")
    assert sorted(tasks.values_list("name", flat=True)) == names  # one task each
    assert all(t.success and t.cluster == settings.PROVISION_QUEUE for t in tasks)

    overlap = _max_overlap([(r.started_at, r.ready_at) for r in rows])
    broker = "redis" if env.get("REDIS_URL") else "orm"
    print(
        f"\n[replicas/{broker}] {STORES} stores through 2 web replicas, 2 provisioner + 2 control "
        f"qcluster processes ({2 * LIMIT} provision workers), PostgreSQL"
    )
    print(f"[replicas/{broker}] wall time, first request to last ready: {wall:.1f} s")
    print(
        f"[replicas/{broker}] max overlap of provisioning intervals (database): {overlap}; "
        f"sampled peak: {sampler.peak} over {sampler.samples} samples"
    )
    for r in rows:
        print(
            f"[replicas/{broker}]   {r.slug}: queue wait {(r.started_at - r.queued_at).total_seconds():5.1f} s, "
            f"provisioning {(r.ready_at - r.started_at).total_seconds():5.1f} s"
        )

    assert sampler.peak <= LIMIT
    # The limit was reached (four workers for six stores) and never passed.
    assert overlap == LIMIT

    # Delete them through the web replicas too: the control queues' replicas
    # take the deletes (the `cleanup` fixture is the backstop).
    began = time.monotonic()
    for owner, r in zip(owners, sorted(rows, key=lambda r: r.slug), strict=True):
        status, _ = owner.post(f"/stores/{r.pk}/delete/", {})
        assert status == 302
    wait_for(
        lambda: Store.objects.filter(pk__in=[r.pk for r in rows], status=Status.DELETED).count() == STORES,
        timeout=240,
        interval=0.5,
        what="the six stores' deletes",
    )
    print(f"[replicas/{broker}] the six deletes (control replicas): {time.monotonic() - began:.1f} s")


def test_it_provisions_at_most_two_at_once_across_replicas_on_postgres(django_user_model, cleanup, replicas):
    _provision_six_at_once(django_user_model, replicas, "rep-orm")


def test_it_provisions_at_most_two_at_once_across_replicas_with_redis(django_user_model, cleanup, redis_url, replicas):
    # redis_url before replicas: the workers stop before their broker does.
    _provision_six_at_once(django_user_model, replicas, "rep-redis", REDIS_URL=redis_url)

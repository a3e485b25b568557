"""The web process reads the cluster on the request path only in small, bounded reads.

Every page and action an owner or an operator uses is requested here with the
cluster layer's entry points counted: the only calls allowed are the store
page's live reads (stores/live.py) and the credentials read, each on a
connection with a short timeout; Helm is never run; creates, deletes and
retries are handed to the task queue. Then a real socket that accepts and
never answers stands in for a hung API server: the pages still answer.
"""

import socket
import threading
import time

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.urls import URLResolver, get_resolver, reverse
from django_q.models import OrmQ

from stores import clients, cluster, lifecycle, live
from stores.cluster.errors import FailureCode
from stores.engines.contract import SECRET_NAME
from stores.models import Backup, Status, Store

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
# What a web request may ask of the cluster: live.py's reads and the credentials secret.
BOUNDED_READS = {"list_pods", "list_events", "quota_usage", "read_secret"}
# The longest connect timeout a request-path read may use (credentials_for's).
LONGEST_READ_TIMEOUT = 5


class Counting:
    """Wraps the fake cluster; records every method the web process calls on it."""

    def __init__(self, kube, calls):
        self._kube, self._calls = kube, calls

    def __getattr__(self, name):
        method = getattr(self._kube, name)

        def counted(*args, **kwargs):
            self._calls.append(name)
            return method(*args, **kwargs)

        return counted


@pytest.fixture
def counted(monkeypatch, fake_cluster):
    """The calls made through the cluster layer; going round clients.connect fails the test."""
    calls = {"connect": [], "methods": [], "helm": 0}

    def connect(request_timeout=None):
        calls["connect"].append(request_timeout)
        return Counting(fake_cluster, calls["methods"])

    def helm():
        calls["helm"] += 1
        return fake_cluster.helm

    def bypass(*args, **kwargs):
        raise AssertionError("the cluster layer was reached without clients.connect")

    monkeypatch.setattr(clients, "connect", connect)
    monkeypatch.setattr(clients, "helm", helm)
    monkeypatch.setattr(cluster, "connect", bypass)
    monkeypatch.setattr(cluster, "Helm", bypass)
    return calls


def _store(owner, slug, status):
    """A store in `status`, moved there by the lifecycle (no worker runs here)."""
    store = lifecycle.create_store(owner, slug, "woocommerce")
    if status != Status.QUEUED:
        assert store.pk in lifecycle.claim_provision_slots(limit=10)
        token = lifecycle.take_lease(store.pk, Status.PROVISIONING)
        if status == Status.READY:
            lifecycle.mark_ready(store.pk, token, "Store is ready.")
        elif status == Status.FAILED:
            lifecycle.mark_failed(
                store.pk, "pod store-wordpress: ImagePullBackOff", code=FailureCode.IMAGE, token=token
            )
    return Store.objects.get(pk=store.pk)


def _assert_only_bounded_reads(counted, expected):
    # The store pages did read the cluster (the check is not vacuous)...
    assert expected <= set(counted["methods"])
    # ...and nothing else, each on a connection with a short timeout, and no Helm.
    assert set(counted["methods"]) <= BOUNDED_READS, counted["methods"]
    assert counted["connect"] and all(t is not None and t <= LONGEST_READ_TIMEOUT for t in counted["connect"])
    assert counted["helm"] == 0


def _named_routes(patterns=None, namespace=()):
    """Every named route of the URLconf: (its name with namespaces, the names of its parameters)."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = (*namespace, pattern.namespace) if pattern.namespace else namespace
            yield from _named_routes(pattern.url_patterns, inner)
        elif pattern.name:
            yield ":".join((*namespace, pattern.name)), tuple(pattern.pattern.regex.groupindex)


def _admin_object_pages(routes):
    """The admin's pages of one object (change, history, delete), by model."""
    pages = {}
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}_"
        pages[model] = sorted(name for name, params in routes.items() if name.startswith(prefix) and params)
    return pages


def test_it_only_reads_the_cluster_in_bounded_reads_on_every_page(
    alice, alice_client, admin_client, counted, fake_cluster, settings
):
    """Every GET route of the URLconf, as the owner and as an operator: the
    owner's pages of a store in each state (as pages and as htmx fragments),
    the admin's pages of every store and of one object of every other model."""
    settings.MAX_STORES_PER_USER = 10
    stores = [
        _store(alice, f"shop-{status}", status)
        for status in (Status.QUEUED, Status.PROVISIONING, Status.READY, Status.FAILED)
    ]
    fake_cluster.secrets[(stores[2].namespace, SECRET_NAME)] = {"admin-password": "s3cret"}
    routes = dict(_named_routes())
    plain = sorted(name for name, params in routes.items() if not params and name != "logout")
    store_pages = sorted(name for name, params in routes.items() if params == ("pk",) and name.startswith("store_"))
    object_pages = _admin_object_pages(routes)
    # A backup's page: its restore confirmation (the store's first backup, made below).
    backup_pages = sorted(name for name, params in routes.items() if params == ("pk", "backup_pk"))
    covered = {"logout", "admin:app_list", "admin:view_on_site", *plain, *store_pages, *backup_pages}
    covered.update(name for names in object_pages.values() for name in names)
    assert set(routes) == covered  # a new kind of route needs a line below
    assert {"dashboard", "store_list", "store_create", "profile", "admin:stores_store_changelist"} <= set(plain)
    assert {"store_detail", "store_status", "store_delete", "store_credentials"} <= set(store_pages)
    assert backup_pages == ["store_restore"]
    assert "admin:stores_store_change" in object_pages[Store]
    backups = [Backup.objects.create(store=store, kind=Backup.Kind.MANUAL, state=Backup.State.DONE) for store in stores]

    requested = []

    def get(client, url, **headers):
        requested.append((url, client.get(url, **headers).status_code))

    for name in plain:
        for client in (alice_client, admin_client):
            for headers in ({}, HTMX):
                get(client, reverse(name), **headers)
    for app_label in sorted({model._meta.app_label for model in admin.site._registry}):
        get(admin_client, reverse("admin:app_list", args=[app_label]))
    for store in stores:
        for name in store_pages:
            for headers in ({}, HTMX):
                get(alice_client, reverse(name, args=[store.pk]), **headers)
        get(admin_client, reverse("admin:view_on_site", args=[ContentType.objects.get_for_model(Store).pk, store.pk]))
    for backup in backups:
        for name in backup_pages:
            get(alice_client, reverse(name, args=[backup.store_id, backup.pk]))
    for model, names in object_pages.items():
        objects = stores if model is Store else model._default_manager.order_by("pk")[:1]
        for obj in objects:
            for name in names:
                get(admin_client, reverse(name, args=[obj.pk]))
    for client in (alice_client, admin_client):
        get(client, reverse("logout"))  # last: it ends the session

    # Every page answered, if only to refuse: 403 where the admin allows no
    # adding or deleting, 404 for /metrics without its token and for a store's
    # "view on site" (none), 405 for the routes that take only a POST (the
    # actions: the next test).
    assert [(url, code) for url, code in requested if code >= 500] == []
    answered = [url for url, code in requested if code in (200, 286)]
    assert len(answered) > 100
    assert {reverse(name, args=[store.pk]) for name in ("store_detail", "store_status") for store in stores} <= set(
        answered
    )
    assert {reverse("admin:stores_store_change", args=[store.pk]) for store in stores} <= set(answered)
    _assert_only_bounded_reads(counted, {"list_pods", "list_events", "quota_usage"})
    assert not [c for c in fake_cluster.calls if c[0] not in {"pods", "events", "quota"}]


def test_it_only_reads_the_cluster_in_bounded_reads_in_every_action(
    alice, alice_client, admin_client, counted, fake_cluster, settings, django_capture_on_commit_callbacks
):
    settings.MAX_STORES_PER_USER = 10
    settings.STORE_CREATE_RATE = None
    ready = _store(alice, "shop-ready", Status.READY)
    failed = _store(alice, "shop-failed", Status.FAILED)
    provisioning_now = _store(alice, "shop-busy", Status.PROVISIONING)
    fake_cluster.secrets[(ready.namespace, SECRET_NAME)] = {"admin-password": "s3cret"}
    queued_before = OrmQ.objects.count()

    # The enqueues happen on commit: run them (they only write to the queue).
    with django_capture_on_commit_callbacks(execute=True):
        pages = [
            alice_client.get(reverse("dashboard")),
            alice_client.get(reverse("store_list")),
            alice_client.post(reverse("store_create"), {"name": "shop-new", "engine": "woocommerce"}),
            *[alice_client.get(reverse("store_detail", args=[s.pk])) for s in (ready, failed, provisioning_now)],
            *[
                alice_client.get(reverse("store_status", args=[s.pk]), **HTMX)
                for s in (ready, failed, provisioning_now)
            ],
            alice_client.post(reverse("store_credentials", args=[ready.pk]), **HTMX),
            alice_client.get(reverse("store_delete", args=[ready.pk])),
            alice_client.post(reverse("store_delete", args=[ready.pk])),
            alice_client.post(reverse("store_retry", args=[failed.pk])),
            admin_client.get(reverse("admin:stores_store_changelist")),
            admin_client.get(reverse("admin:stores_store_change", args=[provisioning_now.pk])),
        ]

    # 286: the status fragment of a store in a final state (htmx stops polling).
    assert [r.status_code for r in pages if r.status_code not in (200, 286, 302)] == []
    _assert_only_bounded_reads(counted, {"list_pods", "list_events", "quota_usage", "read_secret"})
    # The create, the delete and the retry changed rows and queued work, no more:
    # the new store took the free slot (a provision task), the delete went to
    # the control queue, the retried store waits in line for a slot.
    assert Store.objects.get(slug="shop-new").status == Status.PROVISIONING
    assert Store.objects.get(pk=ready.pk).status == Status.DELETING
    assert Store.objects.get(pk=failed.pk).status == Status.QUEUED
    assert OrmQ.objects.count() - queued_before == 2
    assert not [c for c in fake_cluster.calls if c[0] not in {"pods", "events", "quota"}]


@pytest.fixture
def hung_api_server():
    """A TCP server that accepts connections and never answers: an API server that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1], held
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


def test_it_answers_the_store_page_when_the_api_server_hangs(alice, alice_client, settings, tmp_path, hung_api_server):
    port, connections = hung_api_server
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""
apiVersion: v1
kind: Config
clusters: [{{name: hung, cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: hung, context: {{cluster: hung, user: u}}}}]
current-context: hung
""")
    settings.KUBECONFIG = str(kubeconfig)
    settings.KUBE_CONTEXT = ""
    settings.CLUSTER_READ_TIMEOUT = 1
    store = _store(alice, "shop-hung", Status.PROVISIONING)

    began = time.monotonic()
    response = alice_client.get(reverse("store_status", args=[store.pk]), **HTMX)
    took = time.monotonic() - began
    tried = len(connections)
    again = alice_client.get(reverse("store_status", args=[store.pk]), **HTMX)

    # A read with no timeout would hang here until pytest-timeout fails the test.
    assert response.status_code == 200
    assert live.UNREACHABLE in response.content.decode()
    assert tried >= 1  # it did try the hung server
    # The next poll does not wait on the hung server again: the error is cached.
    assert again.status_code == 200
    assert live.UNREACHABLE in again.content.decode()
    assert len(connections) == tried
    print(
        f"\nstore status fragment against a hung API server (read timeout 1 s): {took:.1f} s; "
        f"the next poll is answered from the cached error"
    )

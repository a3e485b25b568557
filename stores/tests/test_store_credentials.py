"""Revealing the shop admin login: read from the store's secret on demand, never kept."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from stores import lifecycle, tasks
from stores.models import Status, Store, StoreEvent

pytestmark = pytest.mark.django_db

PASSWORD = "Xq7pLw2NvR9sKd4mTb6yHc3z"
HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(store):
    return reverse("store_credentials", args=[store.pk])


@pytest.fixture
def ready(alice, fake_cluster):
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.READY, attempts=1)
    fake_cluster.secrets[("store-acme", "store-secret")] = {
        "admin-user": "shopkeeper",
        "admin-password": PASSWORD,
        "admin-email": "alice@example.org",
        "db-password": "db-secret-value",
    }
    store.refresh_from_db()
    return store


def _store_texts() -> str:
    """Everything the platform keeps about stores, as one string."""
    parts = []
    for store in Store.objects.all():
        for field in Store._meta.concrete_fields:
            parts.append(str(getattr(store, field.attname)))
    parts += StoreEvent.objects.values_list("message", flat=True)
    return "\n".join(parts)


def test_it_shows_the_admin_login_from_the_secret(alice_client, ready):
    response = alice_client.post(_url(ready))

    assert response.status_code == 200
    assert response.context["credentials"] == [
        ("Admin user", "shopkeeper", False),
        ("Admin password", PASSWORD, True),
    ]
    body = response.content.decode()
    assert "<code>shopkeeper</code>" in body
    assert f'<code class="secret">{PASSWORD}</code>' in body
    assert 'href="http://store-acme.127.0.0.1.nip.io/wp-admin/"' in body
    # Only the keys meant for the owner are shown.
    assert "db-secret-value" not in body


def test_it_tells_caches_not_to_keep_the_answer(alice_client, ready):
    response = alice_client.post(_url(ready))

    assert response.status_code == 200
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "private"} <= cache_control


def test_it_keeps_the_credentials_out_of_the_database(alice_client, ready):
    response = alice_client.post(_url(ready))

    assert response.status_code == 200
    assert PASSWORD in response.content.decode()
    assert PASSWORD not in _store_texts()
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert PASSWORD not in dump.getvalue()


def test_it_keeps_generated_credentials_out_of_the_database(
    alice_client, alice, sync_tasks, fake_cluster, settings, django_capture_on_commit_callbacks
):
    settings.CHECK_STORE_URL = False
    with django_capture_on_commit_callbacks(execute=True):
        store = tasks.request_create(alice, "fresh", "woocommerce")
    assert Store.objects.get(pk=store.pk).status == Status.READY
    generated = fake_cluster.secrets[("store-fresh", "store-secret")]

    response = alice_client.post(_url(store))

    assert response.status_code == 200
    assert generated["admin-password"] in response.content.decode()
    stored = _store_texts()
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    for key in ("admin-password", "db-password", "db-root-password"):
        assert generated[key] not in stored
        assert generated[key] not in dump.getvalue()


def test_it_answers_htmx_with_a_fragment(alice_client, ready):
    response = alice_client.post(_url(ready), **HTMX)

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert f'<code class="secret">{PASSWORD}</code>' in body


def test_it_answers_a_plain_post_with_a_page(alice_client, ready):
    response = alice_client.post(_url(ready))

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body
    assert "<h1>Shop admin login</h1>" in body


def test_it_refuses_a_get(alice_client, ready):
    response = alice_client.get(_url(ready))

    assert response.status_code == 405
    assert PASSWORD not in response.content.decode()


@pytest.mark.parametrize("status", [Status.QUEUED, Status.PROVISIONING, Status.FAILED, Status.DELETING])
def test_it_shows_nothing_until_the_store_is_ready(alice_client, ready, status):
    Store.objects.filter(pk=ready.pk).update(status=status)

    response = alice_client.post(_url(ready))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Credentials are available once the store is ready." in body
    assert PASSWORD not in body
    assert response.context["credentials"] is None
    assert Store.objects.get(pk=ready.pk).status == status


def test_it_gives_404_to_another_user(bob_client, ready):
    response = bob_client.post(_url(ready))

    assert response.status_code == 404
    assert PASSWORD not in response.content.decode()
    assert "shopkeeper" not in response.content.decode()
    assert Store.objects.get(pk=ready.pk).status == Status.READY


def test_it_explains_when_the_cluster_is_unreachable(alice_client, ready, fake_cluster):
    fake_cluster.unreachable = True
    events_before = list(StoreEvent.objects.filter(store=ready).values_list("pk", flat=True))

    response = alice_client.post(_url(ready))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Could not read the credentials: cannot reach the Kubernetes API server" in body
    assert PASSWORD not in body
    ready.refresh_from_db()
    assert ready.status == Status.READY
    assert ready.failure_reason == ""
    assert list(StoreEvent.objects.filter(store=ready).values_list("pk", flat=True)) == events_before


def test_it_explains_when_the_secret_is_missing(alice_client, ready, fake_cluster):
    del fake_cluster.secrets[("store-acme", "store-secret")]

    response = alice_client.post(_url(ready))

    assert response.status_code == 200
    assert "Could not read the credentials: the secret store-secret is not in store-acme" in response.content.decode()
    assert Store.objects.get(pk=ready.pk).status == Status.READY


def test_it_requires_login(client, ready):
    response = client.post(_url(ready))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert PASSWORD not in response.content.decode()

"""Delete, retry and reveal-credentials POSTs are throttled per user, together (STORE_ACTION_RATE).

A reveal reads a Secret from the cluster on the request path, and every
attempt is an audit entry: the throttle bounds both. A throttled POST changes
nothing, reads nothing and is not audited.
"""

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from stores import lifecycle
from stores.models import Status, Store

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("still_throttle_clock")]

HTMX = {"HTTP_HX_REQUEST": "true"}


def _ready(owner, slug, fake_cluster) -> Store:
    store = lifecycle.create_store(owner, slug, "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.READY, attempts=1)
    fake_cluster.secrets[(f"store-{slug}", "store-secret")] = {"admin-user": "shopkeeper", "admin-password": "pw"}
    return Store.objects.get(pk=store.pk)


@pytest.fixture
def secret_reads(fake_cluster, monkeypatch):
    """How many times the cluster's Secret was read."""
    reads = []
    real = fake_cluster.read_secret

    def counted(namespace, name):
        reads.append((namespace, name))
        return real(namespace, name)

    monkeypatch.setattr(fake_cluster, "read_secret", counted)
    return reads


def test_it_counts_deletes_retries_and_reveals_together(alice_client, alice, fake_cluster, settings):
    settings.STORE_ACTION_RATE = "3/m"
    store = _ready(alice, "acme", fake_cluster)
    alice_client.post(reverse("store_credentials", args=[store.pk]))
    alice_client.post(reverse("store_retry", args=[store.pk]))  # refused: it is ready, not failed
    alice_client.post(reverse("store_credentials", args=[store.pk]))
    entries = AuditEntry.objects.count()

    response = alice_client.post(reverse("store_delete", args=[store.pk]))

    assert response.status_code == 429
    assert response["Retry-After"]
    body = response.content.decode()
    assert "Too many attempts; try again in a minute." in body
    assert "Nothing was changed by the last request." in body
    assert Store.objects.get(pk=store.pk).status == Status.READY
    assert AuditEntry.objects.count() == entries == 3


def test_a_throttled_reveal_reads_nothing_and_says_why_in_its_panel(
    alice_client, alice, fake_cluster, secret_reads, settings
):
    settings.STORE_ACTION_RATE = "1/m"
    store = _ready(alice, "acme", fake_cluster)
    url = reverse("store_credentials", args=[store.pk])
    assert alice_client.post(url, **HTMX).status_code == 200
    assert len(secret_reads) == 1

    response = alice_client.post(url, **HTMX)

    assert response.status_code == 429
    body = response.content.decode()
    # The fragment alone, for the credentials panel: no page around it, no login in it.
    assert body.strip() == (
        '<div class="form-error" role="alert">Too many attempts; try again in a minute. Nothing was changed.</div>'
    )
    assert len(secret_reads) == 1
    assert AuditEntry.objects.count() == 1


def test_it_counts_each_user_on_their_own(alice_client, bob_client, alice, bob, fake_cluster, settings):
    settings.STORE_ACTION_RATE = "1/m"
    alices = _ready(alice, "acme", fake_cluster)
    bobs = _ready(bob, "bob-shop", fake_cluster)
    alice_client.post(reverse("store_retry", args=[alices.pk]))
    assert alice_client.post(reverse("store_delete", args=[alices.pk])).status_code == 429

    response = bob_client.post(reverse("store_delete", args=[bobs.pk]))

    assert response.status_code == 302
    assert Store.objects.get(pk=bobs.pk).status == Status.DELETING
    assert Store.objects.get(pk=alices.pk).status == Status.READY


def test_it_does_not_count_the_confirmation_page_or_the_store_page(alice_client, alice, fake_cluster, settings):
    settings.STORE_ACTION_RATE = "1/m"
    store = _ready(alice, "acme", fake_cluster)
    for _ in range(3):
        alice_client.get(reverse("store_delete", args=[store.pk]))
        alice_client.get(reverse("store_detail", args=[store.pk]))

    assert alice_client.post(reverse("store_delete", args=[store.pk])).status_code == 302
    assert Store.objects.get(pk=store.pk).status == Status.DELETING


def test_it_can_be_turned_off(alice_client, alice, fake_cluster, settings):
    settings.STORE_ACTION_RATE = None
    store = _ready(alice, "acme", fake_cluster)
    url = reverse("store_credentials", args=[store.pk])

    assert [alice_client.post(url).status_code for _ in range(25)] == [200] * 25

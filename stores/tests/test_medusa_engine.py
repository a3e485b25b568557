"""The MedusaJS engine: offered for real, its secret, values and guardrails."""

import pytest
from django.urls import reverse

from stores import isolation, lifecycle, tasks
from stores.cluster.guardrails import DEFAULT_QUOTA, limit_range, resource_quota
from stores.engines import ENGINES, StoreSpec
from stores.engines.medusa import MEDUSA
from stores.models import Status, Store

SPEC = StoreSpec(
    slug="acme-shop",
    store_id=7,
    owner="alice",
    owner_email="alice@example.org",
    host="store-acme-shop.127.0.0.1.nip.io",
    url="http://store-acme-shop.127.0.0.1.nip.io",
    ingress_class="nginx",
)


def _gi(quantity: str) -> float:
    units = {"Gi": 1, "Mi": 1 / 1024}
    return next(float(quantity[: -len(u)]) * f for u, f in units.items() if quantity.endswith(u))


def test_it_is_available():
    assert ENGINES["medusa"] is MEDUSA
    assert MEDUSA.available
    assert MEDUSA.chart == "medusa"
    assert MEDUSA.admin_path == "/app/"


def test_it_generates_every_secret_key_the_chart_reads():
    secret = MEDUSA.build_secret(SPEC)
    assert set(secret) == {"admin-email", "admin-password", "db-password", "jwt-secret", "cookie-secret"}
    assert secret["admin-email"] == "alice@example.org"
    assert len({secret["admin-password"], secret["db-password"], secret["jwt-secret"], secret["cookie-secret"]}) == 4
    # The database password travels inside DATABASE_URL: letters and digits only.
    assert secret["db-password"].isalnum() and len(secret["jwt-secret"]) >= 32
    assert {c.key for c in MEDUSA.credentials} == {"admin-email", "admin-password"}


def test_it_builds_the_values_from_the_spec():
    values = MEDUSA.build_values(SPEC)
    assert values["store"] == {"name": "Acme Shop", "host": SPEC.host, "url": SPEC.url}
    assert values["existingSecret"] == "store-secret"
    assert values["ingress"] == {"enabled": True, "className": "nginx"}

    tls = MEDUSA.build_values(
        StoreSpec(**{**SPEC.__dict__, "ingress_class": "traefik", "tls_cluster_issuer": "letsencrypt-prod"})
    )
    assert tls["ingress"] == {
        "enabled": True,
        "className": "traefik",
        "tls": {"enabled": True, "clusterIssuer": "letsencrypt-prod"},
    }


@pytest.mark.django_db
def test_it_raises_the_guardrails_for_the_build(alice):
    medusa = isolation.guardrail_spec("medusa")
    woo = isolation.guardrail_spec("woocommerce")

    # The setup Job's container is allowed 3Gi: the build peaks at about 1.7 GB.
    assert limit_range(medusa)["spec"]["limits"][0]["max"]["memory"] == "3Gi"
    assert _gi(resource_quota(medusa)["spec"]["hard"]["limits.memory"]) >= 8
    assert _gi(resource_quota(medusa)["spec"]["hard"]["requests.memory"]) >= 4
    # Other engines keep the platform's defaults, and the overrides do not leak.
    assert limit_range(woo)["spec"]["limits"][0]["max"]["memory"] == "2Gi"
    assert resource_quota(woo)["spec"]["hard"] == DEFAULT_QUOTA
    assert isolation.guardrail_spec().quota == DEFAULT_QUOTA


@pytest.mark.django_db
def test_a_provision_applies_the_engines_guardrails(fake_cluster, alice, settings, monkeypatch):
    settings.CHECK_STORE_URL = False
    applied = {}
    monkeypatch.setattr(fake_cluster, "apply_guardrails", lambda ns, spec: applied.setdefault(ns, spec))
    store = lifecycle.create_store(alice, "medusa-shop", "medusa")
    assert lifecycle.claim_provision_slots() == [store.pk]

    tasks.provision(store.pk)

    store.refresh_from_db()
    assert store.status == Status.READY, store.failure_reason
    assert applied["store-medusa-shop"].container_max["memory"] == "3Gi"
    secret = fake_cluster.secrets[("store-medusa-shop", "store-secret")]
    assert {"jwt-secret", "cookie-secret", "db-password"} <= set(secret)


@pytest.mark.django_db
def test_the_dashboard_offers_it(alice_client):
    body = alice_client.get(reverse("dashboard")).content.decode()
    assert 'value="medusa"' in body
    assert "coming soon" not in body


@pytest.mark.django_db
def test_it_creates_a_medusa_store_from_the_dashboard(alice_client):
    response = alice_client.post(reverse("store_create"), {"name": "acme", "engine": "medusa"})
    assert response.status_code == 302
    assert Store.objects.get(slug="acme").engine == "medusa"


@pytest.mark.django_db
def test_the_store_page_links_the_medusa_admin(alice_client, alice):
    store = lifecycle.create_store(alice, "acme", "medusa")
    Store.objects.filter(pk=store.pk).update(status=Status.READY)
    body = alice_client.get(reverse("store_detail", args=[store.pk])).content.decode()
    assert 'href="http://store-acme.127.0.0.1.nip.io/app/"' in body

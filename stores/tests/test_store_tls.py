"""A store's TLS as the platform's settings ask for it: per-store certificates or one wildcard."""

import pytest

from stores import lifecycle, releases
from stores.engines import ENGINES

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(alice):
    return lifecycle.create_store(alice, "acme", "woocommerce")


def _tls(store):
    spec = releases.store_spec(store)
    return ENGINES[store.engine].build_values(spec)["ingress"].get("tls")


def test_plain_http_by_default(store, settings):
    settings.TLS_CLUSTER_ISSUER, settings.TLS_WILDCARD = "", False

    assert _tls(store) is None


def test_a_certificate_per_store_from_the_cluster_issuer(store, settings):
    settings.TLS_CLUSTER_ISSUER, settings.TLS_WILDCARD = "letsencrypt", False

    assert _tls(store) == {"enabled": True, "clusterIssuer": "letsencrypt"}


def test_the_ingress_controllers_wildcard_certificate(store, settings):
    settings.TLS_CLUSTER_ISSUER, settings.TLS_WILDCARD = "", True

    assert _tls(store) == {"enabled": True, "defaultCertificate": True, "clusterIssuer": ""}

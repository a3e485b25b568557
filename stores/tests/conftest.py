import pytest

from stores import lifecycle
from stores.models import Store


@pytest.fixture
def unavailable_engine(monkeypatch):
    """MedusaJS listed as not available yet (as an engine still being built is)."""
    from dataclasses import replace

    from stores.engines import ENGINES

    engine = replace(
        ENGINES["medusa"],
        available=False,
        unavailable_reason="MedusaJS stores are not available yet; choose WooCommerce.",
    )
    monkeypatch.setitem(ENGINES, "medusa", engine)
    return engine


@pytest.fixture
def store(alice):
    """A store that has claimed a provisioning slot (it is about to provision)."""
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    assert lifecycle.claim_provision_slots() == [store.pk]
    return Store.objects.get(pk=store.pk)

import pytest

from django.core.cache import cache

from stores import lifecycle, provisioning
from stores.models import Store
from stores.tests.fakes import FakeCluster, FakeHelm


@pytest.fixture
def fake_cluster(monkeypatch):
    kube, helm = FakeCluster(), FakeHelm()
    monkeypatch.setattr(provisioning, "connect", lambda request_timeout=None: kube)
    monkeypatch.setattr(provisioning, "helm", lambda: helm)
    kube.helm = helm
    return kube


@pytest.fixture
def sync_tasks(monkeypatch):
    """Run django-q2 tasks in-process, at enqueue time."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def workers(sync_tasks, fake_cluster, settings, django_capture_on_commit_callbacks):
    """Run the work a request enqueues, in-process, against the fake cluster."""
    settings.CHECK_STORE_URL = False
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def unavailable_engine(monkeypatch):
    """MedusaJS listed as not available yet (as an engine still being built is)."""
    from dataclasses import replace

    from stores.engines import ENGINES

    engine = replace(ENGINES["medusa"], available=False,
                     unavailable_reason="MedusaJS stores are not available yet; choose WooCommerce.")
    monkeypatch.setitem(ENGINES, "medusa", engine)
    return engine


@pytest.fixture(autouse=True)
def fresh_cache():
    """The store page caches its cluster reads per namespace (the default, in-memory
    cache): every test starts cold, whatever ran before it."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def store(alice):
    """A store that has claimed a provisioning slot (it is about to provision)."""
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    assert lifecycle.claim_provision_slots() == [store.pk]
    return Store.objects.get(pk=store.pk)

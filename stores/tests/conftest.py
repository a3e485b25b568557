import pytest

from stores import provisioning
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

"""The stores app's shared fixtures, registered for every test by the root conftest.

The cluster faked at the cluster layer's boundary, and django-q2 tasks run
in-process: the unit tests of any app that provisions a store use them.
"""

import pytest

from stores import clients
from stores.tests.fakes import FakeCluster, FakeHelm


@pytest.fixture
def fake_cluster(monkeypatch):
    kube, helm = FakeCluster(), FakeHelm()
    monkeypatch.setattr(clients, "connect", lambda request_timeout=None: kube)
    monkeypatch.setattr(clients, "helm", lambda: helm)
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

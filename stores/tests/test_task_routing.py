"""Every enqueue names its cluster, whichever cluster's process enqueues it.

django-q2 sends a task without `cluster=` to the queue of the process that
enqueues it; these tests enqueue as the control queue does and read the
queue key the broker stored.
"""

import pytest
from django.conf import settings
from django_q.conf import Conf
from django_q.models import OrmQ

from stores import lifecycle, tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_control_cluster(monkeypatch):
    """Enqueue as a process of the control queue (Q_CLUSTER_NAME=control) does."""
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", settings.CONTROL_QUEUE)


def _queued():
    return [(q.task["name"], q.key) for q in OrmQ.objects.order_by("pk")]


def test_it_sends_a_provision_to_the_provision_cluster(as_control_cluster):
    tasks.enqueue_provision(41)

    assert _queued() == [("provision-store-41", settings.PROVISION_QUEUE)]


def test_it_sends_a_delete_to_the_control_cluster(as_control_cluster):
    tasks.enqueue_delete(42)

    assert _queued() == [("delete-store-42", settings.CONTROL_QUEUE)]


def test_it_sends_a_store_started_by_reconcile_to_the_provision_cluster(
    as_control_cluster, alice, django_capture_on_commit_callbacks
):
    store = lifecycle.create_store(alice, "left-queued", "woocommerce")

    with django_capture_on_commit_callbacks(execute=True):
        report = tasks.reconcile()

    assert report["started"] == [store.pk]
    assert _queued() == [(f"provision-store-{store.pk}", settings.PROVISION_QUEUE)]

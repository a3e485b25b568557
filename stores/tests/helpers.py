"""Helpers shared by the store tests and the tests of apps built on stores (audit)."""

from stores import tasks
from stores.models import Status


def provision(owner, slug, workers, fake_cluster, *, fail_with=None):
    """A store taken through the real tasks against the fake cluster: ready, or failed with `fail_with`."""
    fake_cluster.wait_error = fail_with
    with workers():
        store = tasks.request_create(owner, slug, "woocommerce")
    fake_cluster.wait_error = None
    store.refresh_from_db()
    assert store.status == (Status.FAILED if fail_with else Status.READY)
    return store

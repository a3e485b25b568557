"""Deleting a store: wait for a cancelled provision, uninstall the release, delete the namespace."""

from __future__ import annotations

import logging
import time

from django.conf import settings

from stores import clients, cluster, lifecycle
from stores.engines.contract import RELEASE_NAME
from stores.models import EventCode, Status, Store, StoreEvent
from stores.provisioning import Run

log = logging.getLogger(__name__)

# How often a delete re-reads the lease while a cancelled provision stops.
CANCEL_POLL_SECONDS = 0.25


def wait_for_cancelled_provision(store_id: int) -> bool:
    """Before a delete touches the cluster, wait until a cancelled provision has let go.

    The provision releases the store's lease once its helm process has ended
    and no step is running; if its worker hangs instead, the lease runs out
    (it is no longer renewed), so the wait is bounded by
    PROVISION_LEASE_SECONDS; a worker that was killed on this host ends it at
    once (its holder is gone, stores/leaseholder.py). False when the provision still holds the store
    after that: the reconcile task starts the delete again once the lease has
    run out, and this worker is free meanwhile.
    """
    if not lifecycle.provision_still_running(store_id):
        return True
    lifecycle.record(
        store_id, "Waiting for the cancelled provision to stop before removing anything.", code=EventCode.PROGRESS
    )
    started = time.monotonic()
    bound = settings.PROVISION_LEASE_SECONDS + 5
    while lifecycle.provision_still_running(store_id):
        if time.monotonic() - started >= bound:
            lifecycle.record(
                store_id,
                f"The cancelled provision still holds the store after {bound} s; "
                "the delete starts again once its lease runs out.",
                kind=StoreEvent.Kind.ERROR,
            )
            return False
        time.sleep(CANCEL_POLL_SECONDS)
    released = not Store.objects.filter(pk=store_id).exclude(lease_token="").exists()
    how = "stopped" if released else "did not report (its worker is gone, or its lease ran out)"
    lifecycle.record(store_id, f"The cancelled provision {how} after {time.monotonic() - started:.1f} s; deleting.")
    return True


def teardown(store_id: int, token: str) -> None:
    """Uninstall the release, delete the namespace and wait until it is gone."""
    store = Store.objects.get(pk=store_id)
    run = Run(store_id, token, status=Status.DELETING)
    try:
        if store.attempts == 0:
            # Never left the queue: nothing was created in the cluster.
            lifecycle.mark_deleted(store_id)
            return
        lifecycle.start_delete_attempt(store_id, token)
        kube = clients.connect()
        run.run_step("release", lambda: _uninstall(store, run), lambda message: message)
        run.run_step(
            "namespace",
            lambda: kube.delete_namespace(
                store.namespace, should_stop=run.should_stop, timeout=settings.DELETE_TIMEOUT
            ),
            f"Namespace {store.namespace} is gone.",
        )
        lifecycle.mark_deleted(store_id)
    except cluster.Stopped as stopped:
        lifecycle.record(store_id, f"Delete stopped: {stopped.reason}.", code=EventCode.STOPPED)
        lifecycle.release_lease(store_id, token)
    except cluster.ClusterError as exc:
        # Stay `deleting` and back off (the reconcile task starts the next
        # try), or, after DELETE_MAX_ATTEMPTS tries, stop as `delete_stuck`.
        try:
            lifecycle.delete_did_not_finish(store_id, str(exc), token=token, step=run.step)
        except lifecycle.TransitionRefused:
            log.info("store %s: another worker took over its delete (%s)", store_id, exc)


def _uninstall(store: Store, run: Run) -> str:
    """Uninstall the release; a failure is not fatal, deleting the namespace removes it too."""
    try:
        removed = clients.helm().uninstall(RELEASE_NAME, store.namespace, should_stop=run.should_stop)
    except cluster.Stopped:
        raise
    except cluster.ClusterError as exc:
        if isinstance(exc, cluster.ClusterUnavailable):
            raise
        return f"Helm uninstall failed ({exc}); deleting the namespace removes the release anyway."
    return "Helm release uninstalled." if removed else "No Helm release to uninstall."

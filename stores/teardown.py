"""Deleting a store: wait for a cancelled provision, uninstall the release, delete the namespace."""

from __future__ import annotations

import logging
import time

from django.conf import settings

from stores import clients, cluster, isolation, lifecycle
from stores.backups import service as backup_service
from stores.backups import storage as backup_storage
from stores.cluster.guardrails import NAMESPACE_NAME_LABEL
from stores.engines import get_engine
from stores.engines.contract import RELEASE_NAME
from stores.models import DELETE_STARTED_CODES, Backup, EventCode, Status, Store, StoreEvent
from stores.runs import Run

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
        left_alone = _not_this_stores_namespace(kube, store)
        if left_alone is not None:
            lifecycle.record(store_id, left_alone, code=EventCode.NAMESPACE_LEFT_ALONE)
            lifecycle.mark_deleted(store_id, "Store deleted; nothing was removed from the cluster.")
            return
        if _wants_final_backup(store):
            run.run_step("backup", lambda: _final_backup(store, run), lambda message: message)
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


def _not_this_stores_namespace(kube: cluster.Kubernetes, store: Store) -> str | None:
    """Why the delete must not touch the namespace store-<slug>, or None when it is the store's own.

    A namespace's name proves nothing: provisioning refuses a store-<slug>
    namespace it did not make (another team's, another store's) and fails the
    store, whose Delete must then leave that namespace, and the release in it,
    alone. Only labels naming this platform and this store's id
    (isolation.namespace_store_id) let the delete uninstall and remove.
    """
    ns = store.namespace
    found = kube.list_namespaces(f"{NAMESPACE_NAME_LABEL}={ns}")
    if not found:
        # Helm keeps a release in its namespace: with no namespace there is no release either.
        return f"Namespace {ns} does not exist; nothing to remove."
    labels = found[0]["labels"]
    if isolation.owns_namespace(labels, store):
        return None
    owner_id = isolation.namespace_store_id(labels)
    whose = f"it belongs to store {owner_id}" if owner_id else "this platform did not make it for any store"
    return (
        f"Namespace {ns} and its release were left alone: {whose} (its labels do not name store {store.pk}); "
        "a delete removes only a namespace labelled as its store's."
    )


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


def _wants_final_backup(store: Store) -> bool:
    """A store that was ready once, of an engine that is backed up, on a platform that backs up."""
    return backup_storage.configured() and get_engine(store.engine).backup is not None and store.ready_at is not None


def _final_backup(store: Store, run: Run) -> str:
    """Back the store up one last time, kept BACKUP_AFTER_DELETE_DAYS; the delete goes on whatever happens.

    A backup already running is waited for first (its Job reads the database
    the delete is about to remove). A delete tried again after its final
    backup was made does not make another."""
    began = (
        store.events.filter(code__in=DELETE_STARTED_CODES)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if (
        began
        and Backup.objects.filter(
            store=store, kind=Backup.Kind.FINAL, state=Backup.State.DONE, created_at__gte=began
        ).exists()
    ):
        return "The final backup was made by an earlier try of this delete."
    if Backup.objects.filter(store=store, state=Backup.State.RUNNING).exists():
        lifecycle.record(store.pk, "A backup is running; the delete waits for it to end.", step="backup")
        while Backup.objects.filter(store=store, state=Backup.State.RUNNING).exists():
            run.check()
            time.sleep(2)
    try:
        outcome = backup_service.run(Store.objects.get(pk=store.pk), Backup.Kind.FINAL, should_stop=run.should_stop)
    except backup_service.Refused as refused:
        return f"No final backup: {refused}"
    backup = outcome.backup
    if backup.state != Backup.State.DONE:
        return f"The final backup failed ({backup.error}); the delete goes on."
    return (
        f"Final backup made ({backup_service.human_size(backup.size_bytes)} in {outcome.seconds:.0f} s), "
        f"kept until {backup.keep_until:%Y-%m-%d}."
    )

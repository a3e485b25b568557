"""django-q2 tasks: thin shells around the lifecycle and the provisioning steps.

Tasks get primary keys only and are enqueued on commit, each to a named
cluster whoever enqueues it: provisions to the provision queue (one worker
per provisioning slot), deletes and reconciles to the separate "control"
cluster so they never wait behind long provisions.
"""

import dataclasses
import functools
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.tasks import async_task

from observability.logging import store_context
from stores import (
    clients,
    cluster,
    drift,
    lifecycle,
    monitoring,
    notifications,
    preparation,
    provisioning,
    runs,
    teardown,
    upgrades,
)
from stores.backups import nightly, queueing
from stores.backups import service as backup_service
from stores.cluster.errors import FailureCode
from stores.models import Backup, EventCode, Status, Store, StoreEvent

log = logging.getLogger(__name__)


# --- Enqueueing (called from views, commands and the admin) ---------------------


def start_queued_stores() -> list[int]:
    """Claim free provisioning slots for the next queued stores (stores/queue.py) and start them.

    None while `make run` still prepares the cluster (stores/preparation.py): a
    claimed store's deadline would run with nothing to provision into. They stay
    queued; once it is ready, scripts/prepare-cluster.sh reconciles (and so does
    the reconcile schedule), which starts them.
    """
    if not preparation.cluster_ready():
        return []
    claimed = lifecycle.claim_provision_slots()
    for store_id in claimed:
        transaction.on_commit(functools.partial(enqueue_provision, store_id))
    return claimed


def _say_it_waits_for_the_cluster(store_id: int) -> None:
    """A store queued while `make run` prepares the cluster says so in its activity."""
    if not preparation.cluster_ready():
        lifecycle.record(store_id, "The cluster is still being prepared; this store starts once it answers.")


def request_create(owner, slug: str, engine: str, *, country: str = "", currency: str = "") -> Store:
    store = lifecycle.create_store(owner, slug, engine, country=country, currency=currency)
    _say_it_waits_for_the_cluster(store.pk)
    transaction.on_commit(start_queued_stores)
    return store


def request_delete(store_id: int) -> None:
    lifecycle.request_delete(store_id)
    transaction.on_commit(lambda: enqueue_delete(store_id))


def request_retry(store_id: int) -> None:
    """Retry a failed store, or recreate a lost one: from its latest backup when it has one."""
    store = Store.objects.get(pk=store_id)
    latest = backup_service.latest_done(store) if store.status == Status.LOST else None
    lifecycle.request_retry(store_id)
    if latest is not None:
        Store.objects.filter(pk=store_id).update(restore_from=latest)
        lifecycle.record(
            store_id,
            f"Once provisioned, it gets its latest backup back ({latest.get_kind_display().lower()}, "
            f"{timezone.localtime(latest.created_at):%Y-%m-%d %H:%M %Z}).",
        )
    _say_it_waits_for_the_cluster(store_id)
    transaction.on_commit(start_queued_stores)


def request_restore_into_new_store(owner, backup: Backup, name: str) -> Store:
    """A new store named `name`, queued like any other, that gets `backup` (a deleted
    store's final one) once it is provisioned; its credentials are the backup's."""
    deleted = backup.store
    store = request_create(owner, name, deleted.engine, country=deleted.country, currency=deleted.currency)
    Store.objects.filter(pk=store.pk).update(restore_from=backup)
    lifecycle.record(
        store.pk,
        f"Made from the final backup of “{deleted.slug}” ({backup.created_at:%Y-%m-%d %H:%M} UTC): "
        "restored once it is provisioned.",
    )
    return Store.objects.get(pk=store.pk)


def request_backup(store_id: int) -> None:
    """*Back up now*: a manual backup, run by a control worker (the store page follows it)."""
    store = Store.objects.get(pk=store_id)
    # Refused here, where the owner sees why, rather than in the task.
    backup_service.refuse_start(store, Backup.Kind.MANUAL)
    transaction.on_commit(
        lambda: async_task(
            "stores.tasks.back_up", store_id, cluster=settings.CONTROL_QUEUE, task_name=f"backup-store-{store_id}"
        )
    )


def request_restore(store_id: int, backup_id: int) -> None:
    """*Restore*: refused at once when it cannot start; else run by a control worker."""
    store = Store.objects.get(pk=store_id)
    backup_service.refuse_restore(store, backup_id)
    queueing.enqueue_restore(store_id, backup_id)


# Each enqueue names its cluster: without `cluster=`, django-q2 uses the cluster
# of the process that enqueues, so a provision started by a delete or by
# reconcile (both on "control") would run there, under the control timeout.


def enqueue_provision(store_id: int) -> None:
    async_task(
        "stores.tasks.provision", store_id, cluster=settings.PROVISION_QUEUE, task_name=f"provision-store-{store_id}"
    )


def enqueue_delete(store_id: int) -> None:
    async_task("stores.tasks.delete", store_id, cluster=settings.CONTROL_QUEUE, task_name=f"delete-store-{store_id}")


# --- Task bodies -------------------------------------------------------------------


def _run_with_lease(store_id: int, status: str, work) -> None:
    """Run `work(store_id, token)` as the one worker holding the store's lease."""
    token = lifecycle.take_lease(store_id, status)
    if token is None:
        log.info("store %s: not %s, or another worker holds it; nothing to do", store_id, status)
        return
    try:
        work(store_id, token)
    finally:
        start_queued_stores()  # a slot may have freed up


def _store_logs(store_id: int):
    """Every log line of this task carries the store's id and slug (see observability/logging.py)."""
    return store_context(store_id, Store.objects.filter(pk=store_id).values_list("slug", flat=True).first())


def provision(store_id: int) -> None:
    with _store_logs(store_id):
        _run_with_lease(store_id, Status.PROVISIONING, provisioning.provision)


def delete(store_id: int) -> None:
    with _store_logs(store_id):
        # A cancelled provision may still be stopping; nothing is removed before it has.
        if not teardown.wait_for_cancelled_provision(store_id):
            return
        _run_with_lease(store_id, Status.DELETING, teardown.teardown)


def restart_delete(store_id: int) -> None:
    """An operator's restart of a stuck or backing-off delete (the admin's Delete action)."""
    lifecycle.restart_delete(store_id)
    transaction.on_commit(lambda: enqueue_delete(store_id))


def back_up(store_id: int, kind: str = "manual") -> dict:
    with _store_logs(store_id):
        store = Store.objects.get(pk=store_id)
        try:
            outcome = backup_service.run(store, kind)
        except backup_service.Refused as refused:
            lifecycle.record(store_id, f"Backup not started: {refused}", kind=StoreEvent.Kind.ERROR)
            return {"refused": str(refused)}
        return {"backup": outcome.backup.pk, "state": outcome.backup.state, "seconds": round(outcome.seconds, 1)}


def restore(store_id: int, backup_id: int) -> dict:
    with _store_logs(store_id):
        try:
            store = backup_service.restore(store_id, backup_id)
        except backup_service.Refused as refused:
            lifecycle.record(store_id, f"Restore not started: {refused}", kind=StoreEvent.Kind.ERROR)
            return {"refused": str(refused)}
        return {"status": store.status}


def backup_round() -> dict:
    """The schedule "back up stores" (every minute, control queue): see stores/backups/nightly.py."""
    return dataclasses.asdict(nightly.run_round())


def reconcile() -> dict[str, list[int]]:
    """Backstop for lost tasks: fail overdue provisions, resume orphaned work, fill free slots.

    Work is resumed once its lease has run out, or at once when the lease's
    holder is provably gone (a worker on this host that was killed). A delete's
    lease also runs out after the back-off of a try that did not finish. A
    delete that has used every try is left `delete_stuck` for an operator
    instead. Every worker that starts asks for one run (`reconcile_when_started`).
    """
    report: dict[str, list[int]] = {
        "timed_out": [],
        "resumed": [],
        "delete_resumed": [],
        "delete_stuck": [],
        "started": [],
    }
    for store in lifecycle.overdue_provisions():
        label = runs.STEP_LABELS.get(store.step, store.step or "starting").lower()
        try:
            lifecycle.mark_failed(store.pk, f"timed out while {label}", code=FailureCode.TIMEOUT, step=store.step)
            report["timed_out"].append(store.pk)
        except lifecycle.TransitionRefused:
            pass
    for store, gone in lifecycle.lost_work(Status.PROVISIONING):
        if lifecycle.reserve_for_resume(store.pk, Status.PROVISIONING, gone_token=gone):
            lifecycle.record(
                store.pk,
                f"Its worker (process {store.lease_pid} on this host) is gone; resuming provisioning."
                if gone
                else "Its worker stopped reporting; resuming provisioning.",
                code=EventCode.RESUMED,
            )
            transaction.on_commit(functools.partial(enqueue_provision, store.pk))
            report["resumed"].append(store.pk)
    for store, gone in lifecycle.lost_work(Status.DELETING):
        if store.delete_attempts >= settings.DELETE_MAX_ATTEMPTS and store.lease_token:
            # Its worker was lost on the last try (a try that ended by itself
            # already decided, in teardown, and left no token).
            try:
                lifecycle.delete_did_not_finish(
                    store.pk,
                    store.failure_reason or "its worker stopped reporting",
                    token=store.lease_token,
                    lease_expired=not gone,
                )
                report["delete_stuck"].append(store.pk)
            except lifecycle.TransitionRefused:
                pass
            continue
        if lifecycle.reserve_for_resume(store.pk, Status.DELETING, gone_token=gone):
            transaction.on_commit(functools.partial(enqueue_delete, store.pk))
            report["delete_resumed"].append(store.pk)
    # An upgrade or rollback runs in an operator's command; one whose command was
    # killed is failed with the reason (stores/upgrades.py).
    report["update_failed"] = upgrades.fail_abandoned()
    # So is a restore whose worker was lost (stores/backups/service.py).
    report["restore_failed"] = backup_service.fail_abandoned_restores()
    report["started"] = start_queued_stores()
    return report


def reconcile_when_started(sender=None, **kwargs) -> None:
    """django-q2's `post_spawn`, in every worker that starts (a cluster starting, or
    one worker replaced): ask the control queue for a reconcile now, rather than at
    the schedule's next minute, so work a killed worker held resumes at once."""
    if Conf.SYNC:
        # Tasks run in the enqueuing process (tests, `Q_CLUSTER["sync"]`): no
        # worker started, and each sync task sends post_spawn, so enqueueing here
        # would recurse until Python's recursion limit.
        return
    try:
        async_task("stores.tasks.reconcile", cluster=settings.CONTROL_QUEUE, task_name="reconcile-on-worker-start")
    except Exception:  # the worker must start all the same; the schedule still reconciles
        log.exception("could not enqueue a reconcile at worker start")


def check_stores() -> dict:
    """The schedule "check stores" (every minute, control queue): a round of checks of ready stores."""
    report = monitoring.run_round()
    return {
        "storefront": report.storefront,
        "checkout": report.checkout,
        "failed": report.failed,
        "changes": report.changes,
        "pruned": report.pruned,
        "skipped": report.skipped,
    }


def check_drift() -> dict:
    """The schedule "check store drift" (every minute, control queue): ready stores whose
    namespace or release is gone become lost. A cluster that does not answer skips a run."""
    try:
        lost = drift.find_lost(clients.connect(request_timeout=10), clients.helm())
    except cluster.ClusterError as exc:
        log.warning("no drift check this time: %s", exc)
        return {"skipped": str(exc)}
    recovered = [slug for slug, reason in lost.items() if reason and settings.AUTO_RECOVER and _auto_recover(slug)]
    return {"lost": lost, "recovered": recovered}


def _auto_recover(slug: str) -> bool:
    """AUTO_RECOVER: a lost store with a backup is recreated from it at once; its owner is told."""
    store = Store.objects.filter(slug=slug, status=Status.LOST).first()
    latest = backup_service.latest_done(store) if store is not None else None
    if store is None or latest is None:
        return False
    when = f"{timezone.localtime(latest.created_at):%Y-%m-%d %H:%M %Z}"
    with transaction.atomic():
        lifecycle.record(store.pk, f"Auto-recovery (AUTO_RECOVER): recreating it from its backup of {when}.")
        request_retry(store.pk)
        transaction.on_commit(lambda: notifications.store_finished(store.pk, "recovered", f"the backup of {when}"))
    return True

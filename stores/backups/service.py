"""Backups and restores of stores: what the store page, the command and the
schedule ask for.

A backup is a row (`Backup`) and a Job in the store's namespace
(stores/backups/jobs.py) that writes the objects under the row's key prefix
through URLs signed for exactly those objects. When the Job has succeeded the
platform reads what arrived (sizes, the Job's SHA256SUMS), writes the
manifest itself, and removes backups beyond BACKUP_KEEP. A restore takes the
store through `restoring`: the Job reads the objects back, the workloads that
cache the database restart, and the store is ready again once its storefront
and checkout checks pass.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from stores import clients, cluster, isolation, lifecycle, notifications, runs
from stores.backups import jobs, storage
from stores.engines import get_engine
from stores.engines.base import BackupPlan
from stores.engines.contract import SECRET_NAME
from stores.models import Backup, EventCode, Status, Store, StoreEvent
from stores.objectstore import ObjectStoreError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# A Job that has not ended this long after its own deadline is given up on.
DEADLINE_GRACE = timedelta(minutes=5)


OFF_MESSAGE = storage.OFF_REASON[0].upper() + storage.OFF_REASON[1:] + "."


class Refused(Exception):
    """A backup or restore that cannot start; the message says why, for its owner."""


@dataclass(frozen=True)
class Outcome:
    backup: Backup
    seconds: float


def plan_of(store: Store) -> BackupPlan:
    engine = get_engine(store.engine)
    if engine.backup is None:
        raise Refused(f"{engine.label} stores are not backed up.")
    return engine.backup


# --- Backing up ---------------------------------------------------------------


def refuse_start(store: Store, kind: str, *, running_ok: bool = False) -> BackupPlan:
    """Refused when the store cannot be backed up now; its plan when it can."""
    if not storage.configured():
        raise Refused(OFF_MESSAGE)
    plan = plan_of(store)
    allowed = {Status.READY, Status.DELETING} if kind == Backup.Kind.FINAL else {Status.READY}
    if store.status not in allowed:
        raise Refused(f"A {store.get_status_display().lower()} store cannot be backed up; it must be ready.")
    if not running_ok and Backup.objects.filter(store=store, state=Backup.State.RUNNING).exists():
        raise Refused("A backup of this store is already running.")
    return plan


def refuse_restore(store: Store, backup_id: int | None) -> Backup:
    """Refused when the backup cannot be restored into the store now; the backup when it can."""
    if not storage.configured():
        raise Refused(OFF_MESSAGE)
    plan_of(store)
    backup = restorable(store, backup_id)
    if store.status not in (Status.READY, Status.FAILED):
        raise Refused(f"A {store.get_status_display().lower()} store cannot be restored; wait until it is ready.")
    if Backup.objects.filter(store=store, state=Backup.State.RUNNING).exists():
        raise Refused("A backup of this store is running; restore once it has ended.")
    return backup


def start(store: Store, kind: str, *, kube: cluster.Kubernetes | None = None) -> Backup:
    """Create the backup's row and its Job; Refused when the store cannot be backed up now.

    The row is created first: the constraint of one running backup per store
    turns a double submit into a refusal before anything reaches the cluster."""
    plan = refuse_start(store, kind, running_ok=True)
    try:
        with transaction.atomic():
            backup = Backup.objects.create(store=store, kind=kind)
    except IntegrityError:
        raise Refused("A backup of this store is already running.") from None
    backup.job_name = f"backup-{backup.pk}"
    backup.save(update_fields=["job_name"])
    lifecycle.record(store.pk, f"{backup.get_kind_display()} backup started.", code=EventCode.BACKUP_STARTED)
    try:
        kube = kube or clients.connect()
        _create_job(kube, store, plan, backup, restore=False)
    except (cluster.ClusterError, ObjectStoreError, jobs.TemplateMissing) as exc:
        fail(backup, str(exc))
    return backup


def run(store: Store, kind: str, *, should_stop: Callable[[], str | None] = lambda: None) -> Outcome:
    """A backup from start to end, in this process (the command, *Back up now*, a delete's final one)."""
    started = time.monotonic()
    kube = clients.connect()
    backup = start(store, kind, kube=kube)
    if backup.state == Backup.State.RUNNING:
        try:
            kube.wait_for_job(store.namespace, backup.job_name, should_stop=should_stop)
        except cluster.Stopped as stopped:
            fail(backup, f"stopped: {stopped.reason}")
        except cluster.ClusterError as exc:
            fail(backup, str(exc))
        else:
            check(backup, kube)
    backup.refresh_from_db()
    return Outcome(backup, time.monotonic() - started)


def check(backup: Backup, kube: cluster.Kubernetes) -> None:
    """Finish a running backup whose Job has ended; fail one past its deadline."""
    store = backup.store
    try:
        outcome = kube.job_outcome(store.namespace, backup.job_name)
    except cluster.ClusterError as exc:
        log.warning("backup %s: cannot read its Job: %s", backup.pk, exc)
        return
    if outcome.state == "running":
        if timezone.now() > backup.created_at + timedelta(seconds=settings.BACKUP_TIMEOUT) + DEADLINE_GRACE:
            fail(backup, f"its Job did not end within {settings.BACKUP_TIMEOUT} s")
        return
    if outcome.state != "succeeded":
        fail(backup, outcome.message)
        return
    try:
        _finish(backup, kube)
    except (ObjectStoreError, cluster.ClusterError) as exc:
        fail(backup, str(exc))


def _finish(backup: Backup, kube: cluster.Kubernetes) -> None:
    store = backup.store
    plan = plan_of(store)
    bucket = storage.object_store()
    sizes: dict[str, int] = {}
    for name in jobs.objects(plan):
        size = bucket.size(backup.key_prefix + name)
        if size is None:
            raise ObjectStoreError(f"its Job ended without uploading {name}")
        sizes[name] = size
    sums = _parse_sums(bucket.read(backup.key_prefix + jobs.SUMS_OBJECT).decode())
    manifest = {
        "store": store.slug,
        "store_id": store.pk,
        "engine": store.engine,
        "kind": backup.kind,
        "created_at": backup.created_at.isoformat(),
        "chart_version": store.chart_version,
        "images": list(store.images or []),
        "versions": dict(store.versions or {}),
        "objects": {name: {"size": size, "sha256": sums.get(name, "")} for name, size in sizes.items()},
    }
    secret = kube.read_secret(store.namespace, SECRET_NAME)
    if secret:
        bucket.write(backup.key_prefix + storage.SECRET_OBJECT, json.dumps(secret).encode(), "application/json")
    manifest["credentials_kept"] = bool(secret)
    bucket.write(backup.key_prefix + MANIFEST, json.dumps(manifest, indent=2).encode(), "application/json")
    now = timezone.now()
    total = sum(sizes.values())
    keep_until = now + timedelta(days=settings.BACKUP_AFTER_DELETE_DAYS) if backup.kind == Backup.Kind.FINAL else None
    Backup.objects.filter(pk=backup.pk).update(
        state=Backup.State.DONE, finished_at=now, size_bytes=total, manifest=manifest, keep_until=keep_until
    )
    seconds = (now - backup.created_at).total_seconds()
    lifecycle.record(
        store.pk,
        f"{backup.get_kind_display()} backup done: {human_size(total)} in {seconds:.0f} s.",
        code=EventCode.BACKED_UP,
    )
    prune(store)


def fail(backup: Backup, reason: str) -> None:
    """The backup failed: its row says why, its objects go, the owner gets a mail."""
    updated = Backup.objects.filter(pk=backup.pk, state=Backup.State.RUNNING).update(
        state=Backup.State.FAILED, finished_at=timezone.now(), error=reason[:2000]
    )
    if not updated:
        return
    lifecycle.record(
        backup.store_id,
        f"{backup.get_kind_display()} backup failed: {reason}",
        code=EventCode.BACKUP_FAILED,
        kind=StoreEvent.Kind.ERROR,
    )
    _remove_objects(backup)
    transaction.on_commit(lambda: notifications.store_finished(backup.store_id, "backup_failed", reason))


def prune(store: Store) -> list[int]:
    """Remove the store's backups beyond the newest BACKUP_KEEP (final ones are kept
    until their own date); the ids removed."""
    kept = Backup.objects.filter(store=store, state=Backup.State.DONE, removed_at__isnull=True).exclude(
        kind=Backup.Kind.FINAL
    )
    removed = []
    for backup in kept[settings.BACKUP_KEEP :]:
        _remove_objects(backup)
        removed.append(backup.pk)
    return removed


def expire_final_backups() -> list[int]:
    """Remove the final backups of deleted stores once their keeping time has passed."""
    removed = []
    for backup in Backup.objects.filter(
        kind=Backup.Kind.FINAL, removed_at__isnull=True, keep_until__lt=timezone.now()
    ).select_related("store"):
        _remove_objects(backup)
        removed.append(backup.pk)
    return removed


def _remove_objects(backup: Backup) -> None:
    try:
        storage.object_store().delete_prefix(backup.key_prefix)
    except ObjectStoreError as exc:
        log.warning("backup %s: its objects stay for the next try: %s", backup.pk, exc)
        return
    Backup.objects.filter(pk=backup.pk).update(removed_at=timezone.now())


# --- Restoring ----------------------------------------------------------------


def restorable(store: Store, backup_id: int | None = None) -> Backup:
    """The backup a restore of `store` would use: the one named, else its latest; Refused if none."""
    backups = Backup.objects.filter(state=Backup.State.DONE, removed_at__isnull=True)
    if backup_id is not None:
        backup = backups.filter(pk=backup_id).select_related("store").first()
        # A store restores its own backups; a new store restores the one it was made from.
        if backup is None or (backup.store_id != store.pk and store.restore_from_id != backup.pk):
            raise Refused(f"Store {store.slug} has no backup {backup_id} to restore.")
        return backup
    backup = backups.filter(store=store).first()
    if backup is None:
        raise Refused(f"Store {store.slug} has no backup to restore.")
    return backup


def restore(store_id: int, backup_id: int) -> Store:
    """Restore `backup_id` into the store (ready or failed): the store goes through
    `restoring` and ends ready after its checks, or failed with the reason."""
    store = Store.objects.select_related("owner").get(pk=store_id)
    engine = get_engine(store.engine)
    plan = plan_of(store)
    backup = refuse_restore(store, backup_id)
    when = timezone.localtime(backup.created_at).strftime("%Y-%m-%d %H:%M %Z")
    try:
        token = lifecycle.begin_restore(
            store.pk, f"Restore of the {backup.get_kind_display().lower()} backup of {when} requested."
        )
    except lifecycle.TransitionRefused:
        status = Store.objects.filter(pk=store.pk).values_list("status", flat=True).first() or Status.DELETED
        raise Refused(f"A {Status(status).label.lower()} store cannot be restored now.") from None
    job_run = runs.Run(store.pk, token, status=Status.RESTORING)
    try:
        kube = clients.connect()
        name = f"restore-{backup.pk}-{secrets.token_hex(3)}"
        job_run.run_step(
            "restore",
            lambda: _restore_job(kube, store, plan, backup, name, job_run.should_stop),
            f"The backup of {when} is restored: database and uploads.",
        )
        restarted = kube.restart_workloads(store.namespace, plan.restart_components)
        if restarted:
            lifecycle.record(store.pk, f"Restarted {', '.join(restarted)} to drop what they cached.", step="restore")
        runs.wait_for_workloads(job_run, kube, store.namespace, replacing=True)
        unverified = runs.check_shop(job_run, store, engine, kube)
        Store.objects.filter(pk=store.pk, restore_from=backup).update(restore_from=None)
        lifecycle.finish_restore(
            store.pk,
            token,
            f"Restored from the backup of {when}; the store is ready at {store.url}.",
            checkout_unverified_reason=unverified,
        )
    except cluster.Stopped as stopped:
        _fail_restore(store.pk, stopped.reason, job_run, token)
    except (cluster.ClusterError, ObjectStoreError, jobs.TemplateMissing) as exc:
        _fail_restore(store.pk, str(exc), job_run, token)
    except Exception as exc:  # a bug must still end the restore, not strand the store
        log.exception("restore of store %s crashed during %s", store.pk, job_run.step)
        _fail_restore(store.pk, f"internal error: {type(exc).__name__}", job_run, token)
    return Store.objects.get(pk=store.pk)


def fail_abandoned_restores() -> list[int]:
    """Reconcile: fail the restores whose worker stopped reporting (its lease ran out, or its
    process on this host is gone); the owner restores again, or retries."""
    failed = []
    for store, _ in lifecycle.lost_work(Status.RESTORING):
        try:
            lifecycle.fail_restore(
                store.pk,
                "the worker running it stopped reporting; restore the backup again",
                token=store.lease_token,
            )
            failed.append(store.pk)
        except lifecycle.TransitionRefused:
            pass
    return failed


def _restore_job(
    kube: cluster.Kubernetes,
    store: Store,
    plan: BackupPlan,
    backup: Backup,
    name: str,
    should_stop: Callable[[], str | None],
) -> None:
    _create_job(kube, store, plan, backup, restore=True, name=name)
    outcome = kube.wait_for_job(store.namespace, name, should_stop=should_stop)
    if outcome.state != "succeeded":
        raise cluster.ClusterError(f"the restore Job {outcome.state}: {outcome.message}")


def _fail_restore(store_id: int, reason: str, job_run: runs.Run, token: str) -> None:
    try:
        lifecycle.fail_restore(store_id, reason, step=job_run.step, token=token)
    except lifecycle.TransitionRefused:
        log.info("store %s: its restore was taken over before it could be failed (%s)", store_id, reason)


# --- Shared -------------------------------------------------------------------


def _create_job(
    kube: cluster.Kubernetes, store: Store, plan: BackupPlan, backup: Backup, *, restore: bool, name: str = ""
) -> None:
    """Sign the URLs, open the way (the guardrails with the backup policies), create the Job."""
    bucket = storage.object_store()
    # Signing needs no round trip: this one finds an object store that is down
    # (or a bucket that is missing) before a Job is made for nothing.
    bucket.ensure_bucket()
    seconds = settings.BACKUP_URL_SECONDS
    sign = bucket.presign_get if restore else bucket.presign_put
    urls = tuple(sign(backup.key_prefix + obj, seconds) for obj in jobs.objects(plan))
    spec = isolation.guardrail_spec(store.engine)
    spec.backup = storage.endpoint_access(plan)
    kube.apply_guardrails(store.namespace, spec)
    manifest = jobs.render(
        plan,
        kube.pod_templates(store.namespace),
        jobs.JobRequest(
            name=name or backup.job_name,
            restore=restore,
            urls=urls,
            deadline_seconds=settings.BACKUP_TIMEOUT,
            labels={"store-provisioner.io/backup-id": str(backup.pk)},
        ),
    )
    kube.create_job(store.namespace, manifest)


def _parse_sums(text: str) -> dict[str, str]:
    sums = {}
    for line in text.splitlines():
        digest, _, name = line.strip().partition(" ")
        if digest and name:
            sums[name.strip().lstrip("*")] = digest
    return sums


def human_size(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def latest_done(store: Store) -> Backup | None:
    return Backup.objects.filter(store=store, state=Backup.State.DONE, removed_at__isnull=True).first()

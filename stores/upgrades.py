"""Day two: an operator upgrades a store to the current chart, or rolls it back.

`manage.py stores upgrade SLUG` installs the current chart (and its image pins)
over a ready store's release; `stores rollback SLUG` returns the release to its
previous revision. Both run in the command's own process, which holds the
store's lease like a worker and renews it while it waits: an upgrade is an
operator's act with the operator watching, and running it on a task queue
would either take a provisioning slot or keep a control worker (which deletes
need at once) for as long as a provision may take.

While one runs the store is `updating`, so a delete, a retry or a second
upgrade is refused by the guarded transitions. It ends `ready` (recording the
chart version and images the release runs now) or `failed` with the reason; a
command killed half-way leaves a lease that runs out, and reconcile fails the
store (`fail_abandoned`).

The charts' setup Job is a plain Job, and a Job's pod template is immutable:
a new chart that renders it differently makes `helm upgrade` fail ("field is
immutable"). So the setup Jobs are deleted first, finished or not; Helm
creates the new one and it runs again (the setup scripts are idempotent).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from stores import clients, cluster, lifecycle, releases, runs
from stores.cluster import registry
from stores.cluster.helm import DEPLOYED_STATES
from stores.engines import Engine, get_engine
from stores.engines.contract import RELEASE_NAME, SETUP_JOB_SELECTOR
from stores.models import Status, Store

log = logging.getLogger(__name__)


class Refused(Exception):
    """The store cannot be upgraded or rolled back now; the message says why."""


# Why a store in each state cannot be upgraded or rolled back now.
_BUSY: dict[str, str] = {
    Status.QUEUED: "it is queued to be provisioned; wait until it is ready",
    Status.PROVISIONING: "it is being provisioned; wait until it is ready",
    Status.UPDATING: "an upgrade or rollback of it is running now; wait until it ends",
    Status.DELETING: "it is being deleted",
    Status.DELETE_STUCK: "its delete is stuck; an operator restarts it from the admin",
    Status.DELETED: "it is deleted",
    # Only upgrades refuse a failed store (a rollback is its fix).
    Status.FAILED: "it failed; retry it (a retry installs the current chart) or roll it back",
}


def _refusal(status: str) -> str:
    return _BUSY.get(status, f"it is {status}")


def available_chart(store: Store) -> str | None:
    """The current chart's version when it differs from what the store runs (None
    when they agree, or when the store's chart is not known: installed before
    versions were recorded, or never installed)."""
    if not store.chart_version or store.status in (Status.DELETING, Status.DELETED):
        return None
    current = releases.current_chart_version(store.engine)
    return current if current and current != store.chart_version else None


# --- Upgrade -------------------------------------------------------------------


def upgrade(store_id: int) -> Store:
    """Install the current chart over a ready store's release; returns the store as it ended."""
    store = Store.objects.select_related("owner").get(pk=store_id)
    if store.status != Status.READY:
        raise Refused(_refusal(store.status))
    chart = releases.chart_dir(store.engine)
    target = releases.chart_version(chart)
    before = store.chart_version or "unknown"
    try:
        token = lifecycle.begin_update(store.pk, f"Upgrade to chart {target} requested.", only_from={Status.READY})
    except lifecycle.TransitionRefused:
        raise Refused(_refusal(_status_now(store.pk))) from None
    run = runs.Run(store.pk, token, status=Status.UPDATING)

    def work():
        kube = clients.connect()
        release = run.run_step(
            "release",
            lambda: releases.install(
                store, kube, should_stop=run.should_stop, progress=run.progress, replace_setup=True
            ),
            lambda r: f"Helm release {RELEASE_NAME} revision {r.get('version', '?')} installed.",
        )
        runs.wait_for_workloads(run, kube, store.namespace, replacing=True)
        version = releases.installed_chart_version(release, chart)
        lifecycle.finish_update(
            store.pk,
            token,
            f"Upgraded: chart {before} → {version}, revision {release.get('version', '?')}.",
            chart_version=version,
            images=releases.chart_images(chart),
            versions=releases.app_versions(store.engine, release, chart),
        )

    _run(run, work, f"upgrade to chart {target}")
    return Store.objects.get(pk=store.pk)


# --- Rollback ------------------------------------------------------------------


def previous_revision(history: list[dict]) -> dict | None:
    """The revision before the current one that last worked (deployed or
    superseded): a failed upgrade's is the one before it. None when there is none."""
    if not history:
        return None
    current = max(int(r["revision"]) for r in history)
    earlier = [r for r in history if int(r["revision"]) < current and r.get("status") in DEPLOYED_STATES]
    return max(earlier, key=lambda r: int(r["revision"])) if earlier else None


def chart_version_of(revision: dict, chart_name: str) -> str:
    """helm history's "chart" ("woocommerce-0.1.0") without the chart's name."""
    chart = str(revision.get("chart") or "")
    return chart[len(chart_name) + 1 :] if chart.startswith(f"{chart_name}-") else chart


def schema_version(values: dict[str, Any], path: str) -> int | None:
    """The number at a dotted path of a release's values, or None."""
    node: Any = values
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    try:
        return int(node)
    except (TypeError, ValueError):
        return None


def _refuse_older_schema(engine: Engine, helm: cluster.Helm, namespace: str, target: int) -> None:
    """Refuse a rollback to a release whose images' migrations are older than the database's."""
    if not engine.schema_version_value:
        return
    try:
        now = schema_version(helm.get_values(RELEASE_NAME, namespace), engine.schema_version_value)
        then = schema_version(helm.get_values(RELEASE_NAME, namespace, target), engine.schema_version_value)
    except cluster.ClusterError as exc:
        raise Refused(f"its release's values cannot be read: {exc}") from None
    if now is not None and then is not None and then < now:
        raise Refused(
            f"revision {target} runs an image whose migrations are older than the store's database "
            f"({engine.schema_version_value} {then} < {now}), and {engine.label} cannot undo migrations; "
            "restore the database from before the upgrade, then roll back with --force"
        )


def rollback(store_id: int, *, force: bool = False) -> Store:
    """Return a ready or failed store's release to its previous revision; returns the store as it ended.

    Refused when the previous revision's images have older migrations than the
    store's database (unless `force`: an operator who restored the database)."""
    store = Store.objects.select_related("owner").get(pk=store_id)
    if store.status not in (Status.READY, Status.FAILED):
        raise Refused(_refusal(store.status))
    engine = get_engine(store.engine)
    helm = clients.helm()
    try:
        target = previous_revision(helm.history(RELEASE_NAME, store.namespace))
    except cluster.ClusterError as exc:
        raise Refused(f"its release history cannot be read: {exc}") from None
    if target is None:
        raise Refused("its release has no earlier revision to roll back to")
    number, version = int(target["revision"]), chart_version_of(target, engine.chart)
    if not force:
        _refuse_older_schema(engine, helm, store.namespace, number)
    try:
        # Only if nothing changed since the history was read (updated_at moves with every change).
        token = lifecycle.begin_update(
            store.pk,
            f"Rollback to revision {number} (chart {version}) requested.",
            only_from={Status.READY, Status.FAILED},
            updated_at=store.updated_at,
        )
    except lifecycle.TransitionRefused:
        now = _status_now(store.pk)
        raise Refused(_refusal(now) if now != store.status else "it changed meanwhile; try again") from None
    run = runs.Run(store.pk, token, status=Status.UPDATING)

    def work():
        kube = clients.connect()
        _clear_setup_jobs(run, kube, store)
        run.run_step(
            "release",
            lambda: helm.rollback(
                RELEASE_NAME,
                store.namespace,
                number,
                timeout_seconds=max(30, int(settings.PROVISION_TIMEOUT)),
                should_stop=run.should_stop,
            ),
            f"Helm release {RELEASE_NAME} rolled back to revision {number}.",
        )
        runs.wait_for_workloads(run, kube, store.namespace, replacing=True)
        now = helm.history(RELEASE_NAME, store.namespace)
        revision = max((int(r["revision"]) for r in now), default=0)
        images = registry.images_in_values(helm.get_values(RELEASE_NAME, store.namespace, revision))
        # The software the revision's chart pins (helm history's app_version), for engines that show it.
        entry = next((r for r in now if int(r["revision"]) == revision), {})
        label = get_engine(store.engine).app_version_label
        lifecycle.finish_update(
            store.pk,
            token,
            f"Rolled back to revision {number} (chart {version}), now revision {revision}.",
            chart_version=version,
            images=images,
            versions={label: str(entry["app_version"])} if label and entry.get("app_version") else None,
        )

    _run(run, work, f"rollback to revision {number}")
    return Store.objects.get(pk=store.pk)


# --- Shared ----------------------------------------------------------------------


def _status_now(store_id: int) -> str:
    return Store.objects.filter(pk=store_id).values_list("status", flat=True).first() or "gone"


def _clear_setup_jobs(run, kube, store: Store) -> None:
    # A rollback goes through `helm rollback`, not releases.install: its setup
    # Job is replaced here, for the same reason (an immutable pod template).
    run.check()
    for name in kube.delete_jobs(store.namespace, SETUP_JOB_SELECTOR):
        run.progress(f"Removed setup job {name}: the chart creates it again and it runs again.")


def _run(run, work, what: str) -> None:
    """Run `work`; whatever goes wrong ends the store failed with the reason, never `updating`."""
    try:
        work()
    except cluster.Stopped as stopped:
        _fail(run, f"{what}: {stopped.reason}")
    except cluster.ClusterError as exc:
        _fail(run, f"{what}: {exc}")
    except Exception as exc:  # a bug must still end the update, not strand the store
        log.exception("%s of store %s crashed during %s", what, run.store_id, run.step)
        _fail(
            run,
            f"{what}: internal error during {runs.STEP_LABELS.get(run.step, run.step)}: {type(exc).__name__}",
        )


def _fail(run, reason: str) -> None:
    try:
        lifecycle.fail_update(run.store_id, reason, step=run.step, token=run.token)
    except lifecycle.TransitionRefused:
        log.info("store %s: its update was taken over before it could be failed (%s)", run.store_id, reason)


def fail_abandoned() -> list[int]:
    """Reconcile: fail the updates whose command stopped reporting (killed, its
    terminal closed): their lease ran out, or their process on this host is gone.
    A rollback or a retry is the fix."""
    failed = []
    for store, gone in lifecycle.lost_work(Status.UPDATING):
        try:
            lifecycle.fail_update(
                store.pk,
                "the upgrade or rollback stopped reporting (its command was interrupted); "
                "roll the store back or retry it",
                token=store.lease_token,
                lease_expired=not gone,
            )
            failed.append(store.pk)
        except lifecycle.TransitionRefused:
            pass
    return failed

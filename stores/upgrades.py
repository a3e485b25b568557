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
from pathlib import Path

from django.conf import settings

from stores import cluster, lifecycle, provisioning
from stores.cluster import registry
from stores.cluster.helm import DEPLOYED_STATES
from stores.engines import get_engine
from stores.models import Status, Store

log = logging.getLogger(__name__)


class Refused(Exception):
    """The store cannot be upgraded or rolled back now; the message says why."""


# Why a store in each state cannot be upgraded or rolled back now.
_BUSY = {
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


def chart_dir_for(engine: str) -> Path:
    return Path(settings.CHARTS_DIR) / get_engine(engine).chart


def current_chart_version(engine: str) -> str:
    """The version of the engine's chart that a new store or an upgrade installs."""
    return provisioning.chart_version(chart_dir_for(engine))


def available_chart(store: Store) -> str | None:
    """The current chart's version when it differs from what the store runs (None
    when they agree, or when the store's chart is not known: installed before
    versions were recorded, or never installed)."""
    if not store.chart_version or store.status in (Status.DELETING, Status.DELETED):
        return None
    current = current_chart_version(store.engine)
    return current if current and current != store.chart_version else None


# --- Upgrade -------------------------------------------------------------------


def upgrade(store_id: int) -> Store:
    """Install the current chart over a ready store's release; returns the store as it ended."""
    store = Store.objects.select_related("owner").get(pk=store_id)
    if store.status != Status.READY:
        raise Refused(_refusal(store.status))
    engine = get_engine(store.engine)
    chart_dir = chart_dir_for(store.engine)
    target = provisioning.chart_version(chart_dir)
    before = store.chart_version or "unknown"
    try:
        token = lifecycle.begin_update(store.pk, f"Upgrade to chart {target} requested.", only_from={Status.READY})
    except lifecycle.TransitionRefused:
        raise Refused(_refusal(_status_now(store.pk))) from None
    run = provisioning.Run(store.pk, token, status=Status.UPDATING)

    def work():
        kube = provisioning.connect()
        _clear_setup_jobs(run, kube, store, engine)
        release = run.run_step(
            "release",
            lambda: provisioning.helm().upgrade_install(
                provisioning.RELEASE_NAME,
                str(chart_dir),
                store.namespace,
                engine.build_values(provisioning.store_spec(store)),
                values_files=provisioning.chart_values_files(chart_dir),
                timeout_seconds=max(30, int(settings.PROVISION_TIMEOUT)),
                should_stop=run.should_stop,
            ),
            lambda r: f"Helm release {provisioning.RELEASE_NAME} revision {r.get('version', '?')} installed.",
        )
        _wait(run, kube, store)
        version = provisioning.installed_chart_version(release, chart_dir)
        lifecycle.finish_update(
            store.pk,
            token,
            f"Upgraded: chart {before} → {version}, revision {release.get('version', '?')}.",
            chart_version=version,
            images=provisioning.chart_images(chart_dir),
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


def rollback(store_id: int) -> Store:
    """Return a ready or failed store's release to its previous revision; returns the store as it ended."""
    store = Store.objects.select_related("owner").get(pk=store_id)
    if store.status not in (Status.READY, Status.FAILED):
        raise Refused(_refusal(store.status))
    engine = get_engine(store.engine)
    helm = provisioning.helm()
    try:
        target = previous_revision(helm.history(provisioning.RELEASE_NAME, store.namespace))
    except cluster.ClusterError as exc:
        raise Refused(f"its release history cannot be read: {exc}") from None
    if target is None:
        raise Refused("its release has no earlier revision to roll back to")
    number, version = int(target["revision"]), chart_version_of(target, engine.chart)
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
    run = provisioning.Run(store.pk, token, status=Status.UPDATING)

    def work():
        kube = provisioning.connect()
        _clear_setup_jobs(run, kube, store, engine)
        run.run_step(
            "release",
            lambda: helm.rollback(
                provisioning.RELEASE_NAME,
                store.namespace,
                number,
                timeout_seconds=max(30, int(settings.PROVISION_TIMEOUT)),
                should_stop=run.should_stop,
            ),
            f"Helm release {provisioning.RELEASE_NAME} rolled back to revision {number}.",
        )
        _wait(run, kube, store)
        now = helm.history(provisioning.RELEASE_NAME, store.namespace)
        revision = max((int(r["revision"]) for r in now), default=0)
        images = registry.images_in_values(helm.get_values(provisioning.RELEASE_NAME, store.namespace, revision))
        lifecycle.finish_update(
            store.pk,
            token,
            f"Rolled back to revision {number} (chart {version}), now revision {revision}.",
            chart_version=version,
            images=images,
        )

    _run(run, work, f"rollback to revision {number}")
    return Store.objects.get(pk=store.pk)


# --- Shared ----------------------------------------------------------------------


def _status_now(store_id: int) -> str:
    return Store.objects.filter(pk=store_id).values_list("status", flat=True).first() or "gone"


def _clear_setup_jobs(run, kube, store: Store, engine) -> None:
    if not engine.setup_job_selector:
        return
    run.check()
    for name in kube.delete_jobs(store.namespace, engine.setup_job_selector):
        run.progress(f"Removed setup job {name}: the chart creates it again and it runs again.")


def _wait(run, kube, store: Store) -> None:
    run.run_step(
        "workloads",
        lambda: kube.wait_until_ready(store.namespace, should_stop=run.should_stop, on_progress=run.progress),
        "Every workload is ready and the setup job succeeded.",
    )


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
            f"{what}: internal error during {provisioning.STEP_LABELS.get(run.step, run.step)}: {type(exc).__name__}",
        )


def _fail(run, reason: str) -> None:
    try:
        lifecycle.fail_update(run.store_id, reason, step=run.step, token=run.token)
    except lifecycle.TransitionRefused:
        log.info("store %s: its update was taken over before it could be failed (%s)", run.store_id, reason)


def fail_abandoned() -> list[int]:
    """Reconcile: fail the updates whose command stopped reporting (killed, its
    terminal closed); their lease ran out. A rollback or a retry is the fix."""
    failed = []
    for store in lifecycle.stale_leases(Status.UPDATING):
        try:
            lifecycle.fail_update(
                store.pk,
                "the upgrade or rollback stopped reporting (its command was interrupted); "
                "roll the store back or retry it",
                token=store.lease_token,
                lease_expired=True,
            )
            failed.append(store.pk)
        except lifecycle.TransitionRefused:
            pass
    return failed

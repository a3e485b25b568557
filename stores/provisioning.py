"""A provision: the steps a worker runs for one store, while it holds the store's lease.

Every step is idempotent, so a provision can be re-run from the top after a
crash (a killed worker) and converge on the same namespace and release.
Between steps and inside every wait the run asks `should_stop()`: a delete,
a lost lease or the deadline ends it promptly. What the steps use lives in
modules named for it: connection, isolation, releases, storefront, checkout; deletion
is stores/teardown.py; the run itself and the checks that end it are stores/runs.py.
"""

from __future__ import annotations

import logging

from django.conf import settings

from stores import clients, cluster, isolation, lifecycle, releases
from stores.backups import queueing
from stores.backups import storage as backup_storage
from stores.engines import Engine, get_engine
from stores.engines.contract import RELEASE_NAME, SECRET_NAME
from stores.models import EventCode, Status, Store
from stores.runs import STEP_LABELS, Run, check_shop, wait_for_workloads

log = logging.getLogger(__name__)


def provision(store_id: int, token: str) -> None:
    """Run every step for a store this worker holds the lease on."""
    store = Store.objects.select_related("owner").get(pk=store_id)
    engine = get_engine(store.engine)
    run = Run(store_id, token, status=Status.PROVISIONING)
    try:
        if not engine.available:
            raise cluster.ClusterError(engine.unavailable_reason, cluster.FailureCode.UNAVAILABLE)
        run.step = "namespace"
        kube = clients.connect()
        lifecycle.record(store_id, f"Connected to Kubernetes {kube.version()}.", step="namespace")
        _provision_steps(run, store, engine, kube)
    except cluster.Stopped as stopped:
        if run.timed_out:
            _fail(store_id, stopped.reason, cluster.FailureCode.TIMEOUT, run)
        else:
            lifecycle.record(store_id, f"Provisioning stopped: {stopped.reason}.", code=EventCode.STOPPED)
            lifecycle.release_lease(store_id, token)
    except cluster.ClusterError as exc:
        _fail(store_id, str(exc), exc.code, run)
    except lifecycle.TransitionRefused:
        # Deleted (or taken over) while the last step ran, so it could not be
        # marked ready. Let go: a delete waits for this lease.
        run._last_check = 0.0
        lifecycle.record(
            store_id,
            f"Provisioning stopped: {run.should_stop() or 'the store changed state'}.",
            code=EventCode.STOPPED,
        )
        lifecycle.release_lease(store_id, token)
    except Exception as exc:  # a bug must still end the store, not strand it
        log.exception("provision of store %s crashed during %s", store_id, run.step)
        reason = f"internal error during {STEP_LABELS.get(run.step, run.step)}: {type(exc).__name__}"
        _fail(store_id, reason, cluster.FailureCode.INTERNAL, run)


def _fail(store_id: int, reason: str, code: cluster.FailureCode, run: Run) -> None:
    try:
        lifecycle.mark_failed(store_id, reason, code=code, step=run.step, token=run.token)
    except lifecycle.TransitionRefused:
        log.info("store %s left provisioning before it could be failed (%s)", store_id, reason)
        # Deleted meanwhile: let go now, the delete waits for this lease.
        lifecycle.release_lease(store_id, run.token)


def _provision_steps(run: Run, store: Store, engine: Engine, kube: cluster.Kubernetes) -> None:
    ns = store.namespace

    def namespace() -> None:
        # Never adopt a namespace left by another store (its volumes, its credentials).
        for existing in kube.list_namespaces(f"kubernetes.io/metadata.name={ns}"):
            if not isolation.owns_namespace(existing["labels"], store):
                owner_id = isolation.namespace_store_id(existing["labels"])
                raise cluster.ClusterError(
                    f"namespace {ns} already exists and belongs to {'store ' + owner_id if owner_id else 'no store'}; "
                    "an operator can remove it with `manage.py stores reconcile --prune`",
                    cluster.FailureCode.CONFLICT,
                )
        kube.ensure_namespace(ns, isolation.namespace_labels(store))
        if settings.PLATFORM_SERVICE_ACCOUNT:
            # The platform's own rights in this store: every later step needs them.
            kube.bind_store_role(ns, settings.PLATFORM_SERVICE_ACCOUNT, settings.PLATFORM_STORE_ROLE)
        if settings.PLATFORM_WEB_SERVICE_ACCOUNT:
            # The web pods' reads (credentials, the live panel), under their own account.
            kube.bind_store_role(ns, settings.PLATFORM_WEB_SERVICE_ACCOUNT, settings.PLATFORM_WEB_ROLE)

    run.run_step("namespace", namespace, f"Namespace {ns} is in place.")
    run.run_step(
        "guardrails",
        lambda: kube.apply_guardrails(ns, isolation.guardrail_spec(store.engine)),
        "ResourceQuota, LimitRange and NetworkPolicies applied.",
    )
    run.run_step("credentials", lambda: kube.ensure_secret(ns, SECRET_NAME, _credentials(store, engine)), _said)
    release = run.run_step(
        "release",
        lambda: releases.install(store, kube, should_stop=run.should_stop, progress=run.progress),
        lambda r: f"Helm release {RELEASE_NAME} revision {r.get('version', '?')} installed.",
    )
    chart = releases.chart_dir(store.engine)
    lifecycle.record_release(
        store.pk,
        run.token,
        chart_version=releases.installed_chart_version(release, chart),
        images=releases.chart_images(chart),
        versions=releases.app_versions(store.engine, release, chart),
    )
    # A retry's release may have had pods: the setup Job it replaces, a rollout.
    wait_for_workloads(run, kube, ns, replacing=store.attempts > 1)
    if store.restore_from_id:
        # What a check would buy from is about to be replaced: the restore runs the checks.
        unverified = "checked once its backup is restored"
        lifecycle.record(store.pk, "Storefront and checkout checks: after the restore.", step="storefront")
    else:
        unverified = check_shop(run, store, engine, kube)
    lifecycle.mark_ready(
        store.pk,
        run.token,
        f"Store is ready at {store.url}.",
        storefront_answered=settings.CHECK_STORE_URL and not store.restore_from_id,
        checkout_unverified_reason=unverified,
    )
    if store.restore_from_id:
        # A deleted store's final backup, or a lost store's latest: restored now it runs.
        lifecycle.record(store.pk, "Restoring its backup next.")
        queueing.enqueue_restore(store.pk, store.restore_from_id)


def _credentials(store: Store, engine: Engine) -> dict[str, str]:
    """New credentials; for a store that is to get a backup, those its backup kept (the restored
    database's admin and database passwords must be the Secret's), new ones for any key it lacks."""
    generated = engine.build_secret(releases.store_spec(store))
    if store.restore_from_id is None:
        return generated
    kept = backup_storage.saved_secret(store.restore_from.key_prefix)  # type: ignore[union-attr]  # set
    return {**generated, **{key: value for key, value in kept.items() if key in generated}}


def _said(_: object) -> str:
    return f"Secret {SECRET_NAME} holds the store's credentials."

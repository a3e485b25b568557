"""A provision: the steps a worker runs for one store, while it holds the store's lease.

Every step is idempotent, so a provision can be re-run from the top after a
crash (a killed worker) and converge on the same namespace and release.
Between steps and inside every wait the run asks `should_stop()`: a delete,
a lost lease or the deadline ends it promptly. What the steps use lives in
modules named for it: connection, isolation, releases, storefront, checkout; deletion
is stores/teardown.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import timezone

from observability.logging import set_step as set_log_step
from stores import checkout, clients, cluster, isolation, lifecycle, releases, storefront
from stores.backups import queueing
from stores.backups import storage as backup_storage
from stores.engines import Engine, get_engine
from stores.engines.base import CheckoutResult
from stores.engines.contract import RELEASE_NAME, SECRET_NAME
from stores.models import EventCode, Status, Store, StoreCheck, StoreEvent

log = logging.getLogger(__name__)

STEPS = (
    ("namespace", "Namespace"),
    ("guardrails", "Quota, limits and network policies"),
    ("credentials", "Credentials"),
    ("release", "Helm release"),
    ("workloads", "Workloads and setup job"),
    ("storefront", "Storefront check"),
    ("checkout", "Checkout check"),
)
STEP_LABELS = dict(STEPS)


# The work that has a deadline (`Store.deadline_at`): a provision, and an
# operator's upgrade or rollback (stores/upgrades.py).
DEADLINED = frozenset({Status.PROVISIONING, Status.UPDATING, Status.RESTORING})


class Run:
    """One worker's run of one store's steps, holding the store's lease."""

    def __init__(self, store_id: int, token: str, *, status: str):
        self.store_id = store_id
        self.token = token
        self.status = status
        self.step = ""
        self.timed_out = False
        self._last_check = 0.0
        self._stop_reason: str | None = None

    def should_stop(self) -> str | None:
        """Why this run must stop now, or None. Renews the lease as a side effect."""
        if self._stop_reason:
            return self._stop_reason
        now = time.monotonic()
        if now - self._last_check < 1.0:
            return None
        self._last_check = now
        row = Store.objects.filter(pk=self.store_id).values("status", "lease_token", "deadline_at").first()
        if row is None or row["status"] != self.status:
            now_status = row["status"] if row else "gone"
            self._stop_reason = (
                "cancelled: the store is being deleted"
                if now_status == Status.DELETING
                else f"the store is {now_status} now"
            )
        elif row["lease_token"] != self.token:
            self._stop_reason = "another worker took over this store"
        elif self.status in DEADLINED and row["deadline_at"] and timezone.now() >= row["deadline_at"]:
            self.timed_out = True
            self._stop_reason = f"timed out while {STEP_LABELS.get(self.step, self.step).lower()}"
        else:
            lifecycle.renew_lease(self.store_id, self.token)
        return self._stop_reason

    def check(self) -> None:
        reason = self.should_stop()
        if reason:
            raise cluster.Stopped(reason)

    def progress(self, line: str) -> None:
        lifecycle.record(self.store_id, line, code=EventCode.PROGRESS, step=self.step)

    def run_step(self, key: str, action: Callable[[], Any], done_message: str | Callable[[Any], str]) -> Any:
        self._last_check = 0.0
        self.check()
        self.step = key
        set_log_step(key)
        lifecycle.set_step(self.store_id, self.token, key)
        started = time.monotonic()
        result = action()
        elapsed = time.monotonic() - started
        message = done_message(result) if callable(done_message) else done_message
        log.info("%s (%d ms)", message, elapsed * 1000)
        lifecycle.record(
            self.store_id, message, code=key, kind=StoreEvent.Kind.STEP, step=key, duration_ms=int(elapsed * 1000)
        )
        return result


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


def check_shop(run: Run, store: Store, engine: Engine, kube: cluster.Kubernetes) -> str:
    """The storefront check, then the checkout check (when the engine has one): the
    steps that make a store ready. Why its checkout is not verified ("" when it is)."""
    if settings.CHECK_STORE_URL:
        run.run_step("storefront", lambda: storefront.wait_for_storefront(store.url, run), f"{store.url} answers.")
    else:
        lifecycle.record(
            store.pk,
            "Storefront check skipped (CHECK_STORE_URL is off: the cluster's ingress is not reachable from here).",
            step="storefront",
        )
    unverified = checkout.not_verified_reason(engine)
    if unverified:
        lifecycle.record(
            store.pk, f"Checkout not verified: {unverified}.", code=EventCode.CHECKOUT_UNVERIFIED, step="checkout"
        )
    else:
        started = time.monotonic()
        result = run.run_step(
            "checkout",
            lambda: checkout.verify(store, engine, kube, before_call=run.check),
            lambda order: (
                f"Checkout verified: order {order.order} placed with cash on delivery, "
                "found in the shop's admin and cancelled."
            ),
        )
        _record_versions(store, result)
        # The first of the store's checkout checks (its duration is on /metrics).
        StoreCheck.objects.create(
            store=store, kind=StoreCheck.Kind.CHECKOUT, ok=True, latency_ms=int((time.monotonic() - started) * 1000)
        )
    return unverified


def _record_versions(store: Store, result: CheckoutResult) -> None:
    """The versions the checkout check read on the way; a note when it could not (never a failure)."""
    lifecycle.record_versions(store.pk, result.versions)
    if result.versions:
        versions = " · ".join(f"{name} {version}" for name, version in result.versions.items())
        lifecycle.record(store.pk, f"The shop runs {versions}.", step="checkout")
    if result.versions_note:
        lifecycle.record(store.pk, f"Versions not read: {result.versions_note}.", step="checkout")


# How long a quota refusal may last while pods replace others (an upgrade, a
# rollback, a retry) before it fails the store: the quota still counts the pods
# just deleted until its controller recounts (stores/cluster/readiness.py).
REPLACEMENT_QUOTA_GRACE_SECONDS = 20.0


def wait_for_workloads(run: Run, kube: cluster.Kubernetes, namespace: str, *, replacing: bool = False) -> None:
    """The step that waits, with watches, for every workload and the setup Job.

    `replacing`: the release had pods before (an upgrade, a rollback, a retry)."""
    run.run_step(
        "workloads",
        lambda: kube.wait_until_ready(
            namespace,
            should_stop=run.should_stop,
            on_progress=run.progress,
            quota_grace_seconds=REPLACEMENT_QUOTA_GRACE_SECONDS if replacing else 0,
        ),
        "Every workload is ready and the setup job succeeded.",
    )

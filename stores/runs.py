"""A worker's run of one store's steps while it holds the store's lease, and the steps
every run that (re)deploys a store ends with: waiting for its workloads, then the
storefront and checkout checks that make it ready.

A provision (stores/provisioning.py), an operator's upgrade or rollback
(stores/upgrades.py), a restore (stores/backups/service.py) and a teardown
(stores/teardown.py) each drive one `Run`; this module imports none of them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import timezone

from observability.logging import set_step as set_log_step
from stores import checkout, cluster, lifecycle, storefront
from stores.engines import Engine
from stores.engines.base import CheckoutResult
from stores.models import EventCode, Status, Store, StoreCheck, StoreEvent

# The step lines keep the logger name they had when Run lived in stores/provisioning.py:
# operators filter a store's steps on it (docs/operations.md), whatever run takes them.
log = logging.getLogger("stores.provisioning")

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

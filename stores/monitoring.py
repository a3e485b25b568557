"""The checks of ready stores, after provisioning: is the storefront up, does checkout still work.

A round (`run_round`, every minute on the control queue) claims the stores that
are due, checks them from a bounded pool of threads, each call with a time
bound, and writes what it found:
- one StoreCheck row per check (kept STORE_CHECK_RETENTION_DAYS): the store
  page's uptime and latency;
- the store's state: down after STORE_DOWN_AFTER failures in a row, up again
  after one success. Only a change writes an event and mails the owner, once.

The threads do HTTP only; every database write happens in the round's own
thread, in a fixed number of queries plus one per change of state, so a round
over 1,000 stores costs the database little (bench/monitoring.py measures it).
Claiming is a conditional UPDATE: two rounds that overlap never check the
same store twice.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Least
from django.utils import timezone

from stores import checkout, clients, cluster, lifecycle, notifications, storefront
from stores.engines import ENGINES, get_engine
from stores.engines.shop_api import Call, CheckoutFailed
from stores.models import EventCode, Health, Status, Store, StoreCheck, StoreEvent

log = logging.getLogger(__name__)

# Failures in a row that make a store down (one success makes it up again):
# one lost request is not an outage worth a mail.
STORE_DOWN_AFTER = 2
# A round stops taking new checks after this long, so it ends before the next
# one is due even when every store times out.
ROUND_BUDGET_SECONDS = 45.0
# A checkout check's calls, each: a store slower than this to answer a cart
# request is failing its shoppers too. The provision's own check allows more
# (shop_api.CALL_TIMEOUT_SECONDS): a store that has just started is slower.
CHECKOUT_CALL_SECONDS = 10.0
# A whole checkout check: no new call starts after this (the cleanup still runs).
CHECKOUT_CHECK_SECONDS = 60.0
FAILURES_CAP = 1000


@dataclass
class Result:
    """One check's outcome, made in a pool thread (no database there)."""

    store_id: int
    kind: str
    ok: bool
    latency_ms: int
    code: str = ""
    detail: str = ""
    order: str = ""
    # What the shop's software said it runs, read by the checkout check.
    versions: dict[str, str] = field(default_factory=dict)


@dataclass
class RoundReport:
    storefront: int = 0
    checkout: int = 0
    failed: int = 0
    changes: list[str] = field(default_factory=list)
    pruned: int = 0
    skipped: str = ""


def run_round() -> RoundReport:
    """Check the stores that are due; the schedule "check stores" runs this every minute."""
    if not settings.CHECK_STORE_URL:
        return RoundReport(skipped="CHECK_STORE_URL is off: the platform does not reach stores here")
    report = RoundReport()
    now = timezone.now()
    front = _claim(_due(now, "health_checked_at", settings.STORE_CHECK_INTERVAL), "health_checked_at", now)
    checkouts: list[Store] = []
    if settings.CHECKOUT_CHECK_INTERVAL > 0:
        due = _due(now, "checkout_checked_at", settings.CHECKOUT_CHECK_INTERVAL).filter(
            engine__in=[key for key, engine in ENGINES.items() if engine.checkout]
        )
        checkouts = _claim(due, "checkout_checked_at", now, limit=settings.CHECKOUT_CHECKS_PER_ROUND)
    results = _check_all(front, checkouts)
    report.storefront = sum(r.kind == StoreCheck.Kind.STOREFRONT for r in results)
    report.checkout = sum(r.kind == StoreCheck.Kind.CHECKOUT for r in results)
    report.failed = sum(not r.ok for r in results)
    report.changes = record(results)
    report.pruned = prune(now)
    return report


def _due(now, field_name: str, interval: int):
    stale = Q(**{f"{field_name}__isnull": True}) | Q(**{f"{field_name}__lt": now - timedelta(seconds=interval)})
    return Store.objects.filter(status=Status.READY).filter(stale)


def _claim(due, field_name: str, now, *, limit: int | None = None) -> list[Store]:
    """Mark up to `limit` due stores as checked now, and return those this round won."""
    limit = limit or settings.STORE_CHECKS_PER_ROUND
    ids = list(due.order_by(F(field_name).asc(nulls_first=True), "pk").values_list("pk", flat=True)[:limit])
    if not ids:
        return []
    # The due condition again, in the UPDATE: a round that claimed a store
    # meanwhile made it not due, so this one skips it.
    due.filter(pk__in=ids).update(**{field_name: now})
    return list(Store.objects.filter(pk__in=ids, **{field_name: now}))


def _check_all(front: list[Store], checkouts: list[Store]) -> list[Result]:
    if not front and not checkouts:
        return []
    deadline = time.monotonic() + ROUND_BUDGET_SECONDS
    kube = None
    if checkouts:
        try:
            kube = clients.connect(request_timeout=settings.STORE_CHECK_TIMEOUT)
        except cluster.ClusterError as exc:
            log.warning("no checkout checks this round: %s", exc)
            _unclaim(checkouts, "checkout_checked_at")
            checkouts = []
    with ThreadPoolExecutor(max_workers=settings.STORE_CHECK_CONCURRENCY, thread_name_prefix="store-check") as pool:
        # Checkouts first: they are few, and the ones a round cannot start wait longest.
        futures = [
            (s, "checkout_checked_at", pool.submit(_bounded, deadline, check_checkout, s, kube)) for s in checkouts
        ]
        futures += [(s, "health_checked_at", pool.submit(_bounded, deadline, check_storefront, s)) for s in front]
        results = [(store, field_name, future.result()) for store, field_name, future in futures]
    for field_name in ("checkout_checked_at", "health_checked_at"):
        _unclaim([store for store, name, result in results if name == field_name and result is None], field_name)
    return [result for _, _, result in results if result is not None]


def _unclaim(stores: list[Store], field_name: str) -> None:
    """Claimed but not checked (the round's budget ran out): due again at the next round."""
    if stores:
        Store.objects.filter(pk__in=[s.pk for s in stores]).update(**{field_name: None})


def _bounded(deadline: float, check: Callable[..., Result], *args) -> Result | None:
    # Past the round's budget a claimed store is left for the next round.
    if time.monotonic() > deadline:
        return None
    try:
        return check(*args)
    except Exception as exc:  # a bug, or an answer no check foresaw: this store's check failed, not the round
        log.exception("the %s of store %s raised", check.__name__, args[0].slug)
        kind = StoreCheck.Kind.CHECKOUT if check is check_checkout else StoreCheck.Kind.STOREFRONT
        return Result(args[0].pk, kind, False, 0, "error", f"the check itself failed: {type(exc).__name__}")


def check_storefront(store: Store) -> Result:
    probe = storefront.probe(store.url, timeout=settings.STORE_CHECK_TIMEOUT)
    ok = probe.status != 0 and probe.status < 500
    code = "" if ok else ("no_answer" if probe.status == 0 else f"http_{probe.status}")
    return Result(store.pk, StoreCheck.Kind.STOREFRONT, ok, probe.milliseconds, code, "" if ok else str(probe))


def check_checkout(store: Store, kube: cluster.Kubernetes, on_call: Callable[[Call], None] | None = None) -> Result:
    started = time.monotonic()
    try:
        result = checkout.verify(
            store,
            get_engine(store.engine),
            kube,
            on_call=on_call,
            call_timeout=CHECKOUT_CALL_SECONDS,
            before_call=_within(started + CHECKOUT_CHECK_SECONDS),
        )
    except cluster.ClusterError as exc:
        return Result(store.pk, StoreCheck.Kind.CHECKOUT, False, _since(started), "checkout_failed", str(exc)[:300])
    return Result(
        store.pk, StoreCheck.Kind.CHECKOUT, True, _since(started), order=result.order, versions=result.versions
    )


def _within(deadline: float) -> Callable[[], None]:
    def check() -> None:
        if time.monotonic() > deadline:
            raise CheckoutFailed("the check", f"took longer than {CHECKOUT_CHECK_SECONDS:.0f} s")

    return check


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def record(results: list[Result]) -> list[str]:
    """Write the rows and the stores' new state; the changes of state, as "slug: down".

    One transaction: a crash half-way writes nothing, and the next round checks again
    (a state change written without its event would never be said)."""
    if not results:
        return []
    with transaction.atomic():
        return _record(results)


def _record(results: list[Result]) -> list[str]:
    now = timezone.now()
    StoreCheck.objects.bulk_create(
        StoreCheck(
            store_id=r.store_id,
            kind=r.kind,
            ok=r.ok,
            code=r.code,
            latency_ms=r.latency_ms,
            detail=r.detail[:300],
            checked_at=now,
        )
        for r in results
    )
    changes = []
    front = [r for r in results if r.kind == StoreCheck.Kind.STOREFRONT]
    up_ids = [r.store_id for r in front if r.ok]
    failed = {r.store_id: r for r in front if not r.ok}
    # Ready stores only: one deleted meanwhile keeps its last state.
    ready = Store.objects.filter(status=Status.READY)
    went_up = list(ready.filter(pk__in=up_ids, health=Health.DOWN).values_list("pk", "slug"))
    ready.filter(pk__in=up_ids).update(health=Health.UP, health_failures=0)
    # Capped: the count only has to reach STORE_DOWN_AFTER, and a store down
    # for months must not overflow the column.
    ready.filter(pk__in=list(failed)).update(health_failures=Least(F("health_failures") + 1, FAILURES_CAP))
    went_down = list(
        ready.filter(pk__in=list(failed), health_failures__gte=STORE_DOWN_AFTER)
        .exclude(health=Health.DOWN)
        .values_list("pk", "slug")
    )
    ready.filter(pk__in=[pk for pk, _ in went_down]).update(health=Health.DOWN)
    for pk, slug in went_up:
        _changed(pk, EventCode.STORE_UP, "Store is up again: its storefront answers.", "up")
        changes.append(f"{slug}: up")
    for pk, slug in went_down:
        reason = failed[pk].detail
        message = f"Store is down: its storefront failed {STORE_DOWN_AFTER} checks in a row ({reason})."
        _changed(pk, EventCode.STORE_DOWN, message, "down", reason)
        changes.append(f"{slug}: down")

    for r in results:
        if r.kind == StoreCheck.Kind.CHECKOUT:
            changes += _record_checkout(r, now)
    return changes


def _record_checkout(result: Result, now) -> list[str]:
    store = Store.objects.filter(pk=result.store_id, status=Status.READY).first()
    if store is None:
        return []
    if result.ok:
        Store.objects.filter(pk=store.pk).update(
            checkout_verified_at=now, checkout_unverified_reason="", checkout_failing=False
        )
        # A shop that updated itself (WordPress does) shows its new versions.
        if result.versions and result.versions != store.versions:
            lifecycle.record_versions(store.pk, result.versions)
            versions = " · ".join(f"{name} {version}" for name, version in result.versions.items())
            lifecycle.record(store.pk, f"The shop runs {versions}.")
        if not store.checkout_failing:
            return []
        _changed(store.pk, EventCode.CHECKOUT_BACK, f"Checkout works again (order {result.order}).", "checkout_back")
        return [f"{store.slug}: checkout back"]
    Store.objects.filter(pk=store.pk).update(checkout_unverified_reason=result.detail, checkout_failing=True)
    if store.checkout_failing:
        return []  # already failing: said once
    message = f"Checkout check failed: {result.detail}"
    _changed(store.pk, EventCode.CHECKOUT_FAILING, message, "checkout_failing", result.detail)
    return [f"{store.slug}: checkout failing"]


def _changed(store_id: int, code: str, message: str, mail: str, reason: str = "") -> None:
    with transaction.atomic():
        kind = StoreEvent.Kind.INFO if code in (EventCode.STORE_UP, EventCode.CHECKOUT_BACK) else StoreEvent.Kind.ERROR
        lifecycle.record(store_id, message, code=code, kind=kind)
        transaction.on_commit(lambda: notifications.store_finished(store_id, mail, reason))


def prune(now) -> int:
    """Drop the rows older than the retention, a bounded batch per round."""
    cutoff = now - timedelta(days=settings.STORE_CHECK_RETENTION_DAYS)
    old = list(StoreCheck.objects.filter(checked_at__lt=cutoff).values_list("pk", flat=True)[:5000])
    return StoreCheck.objects.filter(pk__in=old).delete()[0] if old else 0


@dataclass(frozen=True)
class Summary:
    """What the store page says about a ready store's checks over the last day."""

    checks: int
    uptime_percent: float | None
    median_ms: int | None

    @property
    def text(self) -> str:
        if not self.checks:
            return "Not checked yet"
        median = f" · median {self.median_ms} ms" if self.median_ms is not None else ""
        return f"Up {self.uptime_percent:.1f}% over 24 h{median}"


def summary(store: Store, hours: int = 24) -> Summary:
    since = timezone.now() - timedelta(hours=hours)
    rows = list(
        store.checks.filter(kind=StoreCheck.Kind.STOREFRONT, checked_at__gte=since).values_list("ok", "latency_ms")
    )
    if not rows:
        return Summary(0, None, None)
    ok = [ms for passed, ms in rows if passed]
    return Summary(len(rows), 100.0 * len(ok) / len(rows), int(statistics.median(ok)) if ok else None)

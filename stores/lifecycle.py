"""Every change of a store's state, as guarded updates with their events.

A transition is `filter(pk=..., status__in=allowed).update(...)` that must
touch exactly one row, written in the same transaction as its StoreEvent.
Losing a race raises `TransitionRefused`; nothing here reads-modifies-saves.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import store_limit_for
from stores import leaseholder, notifications, queue
from stores.cluster.errors import FailureCode
from stores.models import (
    TRANSITIONS,
    EventCode,
    Health,
    ProvisioningGate,
    Status,
    Store,
    StoreEvent,
    StoreQuerySet,
    owner_may,
)


class TransitionRefused(Exception):
    """The store was not in a state that allows the change (or another process got there first)."""


class StoreLimitReached(Exception):
    pass


class PlatformAtCapacity(StoreLimitReached):
    """MAX_LIVE_STORES live stores exist on the whole platform: no one may create another."""

    message = "The platform is at capacity: no new stores can be created until some are deleted. Try again later."

    def __init__(self) -> None:
        super().__init__(self.message)


class SlugTaken(Exception):
    pass


def sources_of(target: str) -> frozenset[str]:
    return frozenset(src for src, targets in TRANSITIONS.items() if target in targets)


# Named points inside the locked sections (the slot claim, the owner's limit
# check, the platform's cap check), where a test can hold a thread to prove
# the lock is what keeps two apart (stores/tests/races.py). Empty in production.
RACE_POINTS: dict[str, Callable[[], None]] = {}


def _race_point(name: str) -> None:
    hook = RACE_POINTS.get(name)
    if hook is not None:
        hook()


def record(
    store_id: int,
    message: str,
    *,
    code: str = "",
    kind: str = StoreEvent.Kind.INFO,
    step: str = "",
    duration_ms: int | None = None,
) -> StoreEvent:
    return StoreEvent.objects.create(
        store_id=store_id, message=message, code=code, kind=kind, step=step, duration_ms=duration_ms
    )


def transition(
    store_id: int,
    to: str,
    message: str,
    *,
    code: str,
    only_from: set[str] | frozenset[str] | None = None,
    where: dict[str, Any] | None = None,
    kind: str = StoreEvent.Kind.INFO,
    step: str = "",
    duration_ms: int | None = None,
    **fields: Any,
) -> None:
    """Move the store to `to` if its current state allows it; raise otherwise.

    `only_from` narrows the allowed sources; `where` adds conditions (a
    worker's lease token) that must still hold.
    """
    allowed = sources_of(to) if only_from is None else frozenset(only_from) & sources_of(to)
    with transaction.atomic():
        rows = Store.objects.filter(pk=store_id, status__in=allowed, **(where or {})).update(
            status=to, updated_at=timezone.now(), **fields
        )
        if rows != 1:
            current = Store.objects.filter(pk=store_id).values_list("status", flat=True).first()
            raise TransitionRefused(f"store {store_id} cannot go from {current or 'nowhere'} to {to}")
        record(store_id, message, code=code, kind=kind, step=step, duration_ms=duration_ms)


def create_store(owner: Any, slug: str, engine: str, *, country: str = "", currency: str = "") -> Store:
    """Create a queued store, enforcing the owner's limit race-free.

    `country` and `currency` are the shop's, checked by the caller against the
    engine (CreateStoreForm); blank: the platform's defaults."""
    country = country or settings.STORE_DEFAULT_COUNTRY
    currency = currency or settings.STORE_DEFAULT_CURRENCY
    limit = store_limit_for(owner)
    with transaction.atomic():
        # Lock the owner's row so concurrent creates by one user queue up here
        # (Postgres); on SQLite the IMMEDIATE transaction serialises them.
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
        live = Store.objects.owned_by(owner).live().count()
        _race_point("create_store")
        if live >= limit:
            raise StoreLimitReached(f"You already have {limit} of {limit} stores. Delete one to create another.")
        _check_weekly_creates(owner)
        if settings.MAX_LIVE_STORES:
            # Creates by different users lock different owner rows; the
            # platform-wide count needs one lock that every create takes
            # (Postgres; on SQLite the IMMEDIATE transaction serialises them).
            ProvisioningGate.objects.select_for_update().get_or_create(pk=1)
            platform_live = Store.objects.live().count()
            _race_point("create_store_capacity")
            if platform_live >= settings.MAX_LIVE_STORES:
                raise PlatformAtCapacity()
        if Store.objects.live().filter(slug=slug).exists():
            raise SlugTaken(f"The name “{slug}” is taken. Choose another.")
        now = timezone.now()
        try:
            with transaction.atomic():
                store = Store.objects.create(
                    owner=owner,
                    slug=slug,
                    engine=engine,
                    country=country,
                    currency=currency,
                    status=Status.QUEUED,
                    queued_at=now,
                )
        except IntegrityError:
            raise SlugTaken(f"The name “{slug}” is taken. Choose another.") from None
        record(store.pk, "Store requested; waiting for a free provisioning slot.", code=EventCode.REQUESTED)
    return store


def _check_weekly_creates(owner: Any) -> None:
    """Refuse a create past STORE_CREATES_PER_WEEK in the last 7 days (deleted stores count).

    Each store gets its own hostname and, with TLS_CLUSTER_ISSUER, its own
    certificate: creating and deleting in a loop would otherwise spend the
    domain's weekly certificate quota for everyone. Called under the owner's lock.
    """
    cap = settings.STORE_CREATES_PER_WEEK
    if not cap:
        return
    since = timezone.now() - timedelta(days=7)
    recent = list(
        Store.objects.filter(owner=owner, created_at__gte=since)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:cap]
    )
    if len(recent) >= cap:
        again = recent[-1] + timedelta(days=7)
        raise StoreLimitReached(
            f"You have created {cap} stores in the last 7 days, the most a week allows. "
            f"You can create another from {timezone.localtime(again):%d %b %Y %H:%M %Z}."
        )


def claim_provision_slots(limit: int | None = None) -> list[int]:
    """Move queued stores to provisioning while fewer than `limit` are, in queue.start_order (fair across owners).

    Returns the ids claimed; the caller starts a provision task for each.
    """
    limit = settings.MAX_CONCURRENT_PROVISIONS if limit is None else limit
    claimed: list[int] = []
    with transaction.atomic():
        ProvisioningGate.objects.select_for_update().get_or_create(pk=1)
        free = limit - Store.objects.filter(status=Status.PROVISIONING).count()
        _race_point("claim_provision_slots")
        if free <= 0:
            return claimed
        now = timezone.now()
        for store_id in queue.start_order()[:free]:
            try:
                _claim(store_id, now)
            except TransitionRefused:
                continue  # deleted meanwhile (possible on Postgres); the next run fills the slot
            claimed.append(store_id)
    return claimed


def _claim(store_id: int, now: datetime) -> None:
    # `transition` runs in its own savepoint: a refused claim leaves the others intact.
    transition(
        store_id,
        Status.PROVISIONING,
        "Provisioning started.",
        code=EventCode.STARTED,
        only_from={Status.QUEUED},
        started_at=now,
        deadline_at=now + timedelta(seconds=settings.PROVISION_TIMEOUT),
        failure_reason="",
        failure_code="",
        step="",
        attempts=F("attempts") + 1,
        **_reservation(),
    )


def take_lease(store_id: int, status: str) -> str | None:
    """Become the one worker running this store's `status` work; None if another holds it.

    A lease is free when it has no holder or has run out, or when its holder
    is provably gone (on this host, its process ended: stores/leaseholder.py).
    Either way the take is one conditional UPDATE, so of two workers that try
    at once only one gets it.
    """
    now = timezone.now()
    token = secrets.token_hex(16)
    taken = {
        "lease_token": token,
        "lease_until": now + timedelta(seconds=settings.PROVISION_LEASE_SECONDS),
        **leaseholder.this_process().fields(),
    }
    store = Store.objects.filter(pk=store_id, status=status)
    rows = store.filter(Q(lease_token="") | Q(lease_until__lt=now)).update(**taken)
    if rows == 0:
        gone = (
            store.exclude(lease_token="").values("lease_token", "lease_host", "lease_pid", "lease_pid_started").first()
        )
        if gone and holder_gone(**gone):
            # Only if it is still the gone holder's: a worker that took it meanwhile keeps it.
            rows = store.filter(lease_token=gone["lease_token"]).update(**taken)
            if rows == 1:
                record(store_id, f"Its worker (process {gone['lease_pid']} on this host) is gone; taking over.")
    return token if rows == 1 else None


def holder_gone(lease_token: str, lease_host: str, lease_pid: int | None, lease_pid_started: int | None) -> bool:
    """Whether the holder of this (held) lease provably no longer runs."""
    return bool(lease_token) and leaseholder.is_gone(lease_host, lease_pid, lease_pid_started)


def _holder_of_is_gone(store: Store) -> bool:
    return holder_gone(store.lease_token, store.lease_host, store.lease_pid, store.lease_pid_started)


def renew_lease(store_id: int, token: str) -> bool:
    now = timezone.now()
    rows = Store.objects.filter(pk=store_id, lease_token=token).update(
        lease_until=now + timedelta(seconds=settings.PROVISION_LEASE_SECONDS)
    )
    return rows == 1


def release_lease(store_id: int, token: str) -> None:
    Store.objects.filter(pk=store_id, lease_token=token).update(lease_token="", lease_until=None)


def set_step(store_id: int, token: str, step: str) -> None:
    Store.objects.filter(pk=store_id, lease_token=token).update(step=step, updated_at=timezone.now())


def _reservation() -> dict[str, Any]:
    """A lease with no holder: the next worker may take it; reconcile waits for it to expire."""
    return {"lease_token": "", "lease_until": timezone.now() + timedelta(seconds=settings.PROVISION_LEASE_SECONDS)}


def request_delete(store_id: int) -> None:
    """Any live state -> deleting; a provision in progress notices and stops.

    The lease token is left alone: a provision that holds it keeps it until it
    has stopped (its helm process ended, no step still running), and only then
    can the delete take it, so nothing the provision creates late outlives the
    store. The provision no longer renews the lease, so it runs out at worst
    PROVISION_LEASE_SECONDS from now. A stuck delete is restarted by an
    operator (`restart_delete`), not by the owner's Delete button.
    """
    transition(
        store_id,
        Status.DELETING,
        "Delete requested.",
        code=EventCode.DELETE_REQUESTED,
        only_from={s for s in sources_of(Status.DELETING) if owner_may("delete", s)},
        failure_reason="",
        delete_attempts=0,
        lease_until=timezone.now() + timedelta(seconds=settings.PROVISION_LEASE_SECONDS),
    )


def provision_still_running(store_id: int) -> bool:
    """True while a cancelled provision still holds the store's lease (it has not run
    out, and its holder is not provably gone).

    A delete worker counts its try as soon as it holds the lease, so a held
    lease with no try counted is the provision's.
    """
    lease = (
        Store.objects.filter(pk=store_id, status=Status.DELETING, delete_attempts=0, lease_until__gte=timezone.now())
        .exclude(lease_token="")
        .values("lease_token", "lease_host", "lease_pid", "lease_pid_started")
        .first()
    )
    return lease is not None and not holder_gone(**lease)


def start_delete_attempt(store_id: int, token: str) -> int:
    """Count one more try of this store's delete; returns the count."""
    Store.objects.filter(pk=store_id, lease_token=token).update(delete_attempts=F("delete_attempts") + 1)
    attempts: int | None = Store.objects.filter(pk=store_id).values_list("delete_attempts", flat=True).first()
    return attempts or 0


def delete_retry_delay(attempts: int) -> int:
    """Seconds before try `attempts + 1`: doubling from DELETE_RETRY_SECONDS, capped."""
    doubled: int = settings.DELETE_RETRY_SECONDS * 2 ** max(0, min(attempts - 1, 30))
    return min(doubled, int(settings.DELETE_RETRY_MAX_SECONDS))


def delete_did_not_finish(
    store_id: int, reason: str, *, token: str | None, step: str = "", lease_expired: bool = False
) -> str:
    """After a failed try: schedule the next one (backing off) or, past the bound, mark it stuck.

    The wait is a lease with no holder that ends at the next try: reconcile
    re-enqueues the delete only once it has run out. Returns the new status.
    """
    where: dict[str, Any] = {} if token is None else {"lease_token": token}
    if lease_expired:  # reconcile: only if its worker is still silent
        where["lease_until__lt"] = timezone.now()
    attempts: int = Store.objects.filter(pk=store_id).values_list("delete_attempts", flat=True).first() or 0
    if attempts >= settings.DELETE_MAX_ATTEMPTS:
        transition(
            store_id,
            Status.DELETE_STUCK,
            f"Delete stuck after {attempts} attempts: {reason}. An operator can restart it from the admin.",
            code=EventCode.DELETE_STUCK,
            only_from={Status.DELETING},
            where=where,
            kind=StoreEvent.Kind.ERROR,
            step=step,
            failure_reason=reason,
            lease_token="",
            lease_until=None,
        )
        return Status.DELETE_STUCK
    delay = delete_retry_delay(attempts)
    with transaction.atomic():
        rows = Store.objects.filter(pk=store_id, status=Status.DELETING, **where).update(
            failure_reason=reason,
            lease_token="",
            lease_until=timezone.now() + timedelta(seconds=delay),
            updated_at=timezone.now(),
        )
        if rows != 1:
            raise TransitionRefused(f"store {store_id} is no longer this worker's delete")
        record(
            store_id,
            f"Delete did not finish (attempt {attempts} of {settings.DELETE_MAX_ATTEMPTS}): {reason}. "
            f"Trying again in {delay} s.",
            code=EventCode.DELETE_RETRY,
            kind=StoreEvent.Kind.ERROR,
            step=step,
        )
    return Status.DELETING


def restart_delete(store_id: int) -> None:
    """An operator starts a stuck or waiting delete again, with a fresh count of attempts.

    Refused while a worker holds the store's lease (a delete running now, or a
    cancelled provision still stopping): there is nothing to restart then.
    """
    now = timezone.now()
    with transaction.atomic():
        rows = (
            Store.objects.filter(pk=store_id, status__in=[Status.DELETING, Status.DELETE_STUCK])
            .filter(Q(lease_token="") | Q(lease_until__lt=now))
            .update(status=Status.DELETING, delete_attempts=0, updated_at=now, **_reservation())
        )
        if rows != 1:
            current = Store.objects.filter(pk=store_id).values("status", "lease_token").first()
            if current and current["status"] == Status.DELETING:
                raise TransitionRefused(f"store {store_id} is being deleted by a worker now")
            status = current and current["status"]
            raise TransitionRefused(f"store {store_id} cannot restart a delete while it is {status}")
        record(store_id, "Delete restarted by an operator.", code=EventCode.DELETE_RESTARTED)


def reserve_for_resume(store_id: int, status: str, *, gone_token: str = "") -> bool:
    """Clear an expired lease, or the lease `gone_token` of a holder that is gone,
    so a new task can take over (reconcile)."""
    store = Store.objects.filter(pk=store_id, status=status)
    store = store.filter(lease_token=gone_token) if gone_token else store.filter(lease_until__lt=timezone.now())
    return store.update(**_reservation()) == 1


def request_retry(store_id: int) -> None:
    """Failed -> queued (Retry), or lost -> queued (Recreate: the same name, provisioned again)."""
    lost = Store.objects.filter(pk=store_id, status=Status.LOST).exists()
    transition(
        store_id,
        Status.QUEUED,
        "Recreate requested: provisioning it again under the same name; waiting for a free provisioning slot."
        if lost
        else "Retry requested; waiting for a free provisioning slot.",
        code=EventCode.RECREATE_REQUESTED if lost else EventCode.RETRY_REQUESTED,
        only_from={Status.LOST} if lost else {Status.FAILED},
        queued_at=timezone.now(),
        failure_reason="",
        failure_code="",
        lease_token="",
        lease_until=None,
    )


def mark_ready(
    store_id: int, token: str, message: str, *, storefront_answered: bool = False, checkout_unverified_reason: str = ""
) -> None:
    """Provisioning -> ready; its checkout was verified now unless a reason says why not.

    The provision's own checks count as the first of the monitoring's (stores/monitoring.py)."""
    now = timezone.now()
    # The lease token check: a worker that was superseded must not win.
    transition(
        store_id,
        Status.READY,
        message,
        code=EventCode.READY,
        only_from={Status.PROVISIONING},
        where={"lease_token": token},
        ready_at=now,
        checkout_verified_at=None if checkout_unverified_reason else now,
        checkout_checked_at=None if checkout_unverified_reason else now,
        checkout_unverified_reason=checkout_unverified_reason,
        checkout_failing=False,
        health=Health.UP if storefront_answered else Health.UNKNOWN,
        health_failures=0,
        health_checked_at=now if storefront_answered else None,
        lease_token="",
        lease_until=None,
    )
    # Only a transition that happened and committed tells the owner.
    transaction.on_commit(lambda: notifications.store_finished(store_id, Status.READY))


def mark_lost(store_id: int, reason: str) -> None:
    """Ready -> lost: what made the store is gone from the cluster (stores/drift.py). One mail."""
    transition(
        store_id,
        Status.LOST,
        f"Lost: {reason}.",
        code=EventCode.LOST,
        only_from={Status.READY},
        kind=StoreEvent.Kind.ERROR,
        failure_reason=reason,
        failure_code="",
        health=Health.UNKNOWN,
        health_failures=0,
    )
    transaction.on_commit(lambda: notifications.store_finished(store_id, Status.LOST, reason))


def mark_found(store_id: int) -> None:
    """Lost -> ready: its namespace and release are there again (stores/drift.py). One mail."""
    transition(
        store_id,
        Status.READY,
        "Found again: its namespace and release are back.",
        code=EventCode.FOUND,
        only_from={Status.LOST},
        failure_reason="",
    )
    transaction.on_commit(lambda: notifications.store_finished(store_id, "found"))


def mark_failed(store_id: int, reason: str, *, code: FailureCode, step: str = "", token: str | None = None) -> None:
    """Provisioning -> failed with the reason people read and the code counts and hints read."""
    transition(
        store_id,
        Status.FAILED,
        f"Failed: {reason}",
        code=code.value,
        only_from={Status.PROVISIONING},
        where=None if token is None else {"lease_token": token},
        kind=StoreEvent.Kind.ERROR,
        step=step,
        failure_reason=reason,
        failure_code=code.value,
        lease_token="",
        lease_until=None,
    )
    transaction.on_commit(lambda: notifications.store_finished(store_id, Status.FAILED, reason))


def mark_deleted(store_id: int, message: str = "Store deleted; its namespace is gone.") -> None:
    transition(
        store_id,
        Status.DELETED,
        message,
        code=EventCode.DELETED,
        deleted_at=timezone.now(),
        lease_token="",
        lease_until=None,
        step="",
    )


def stale_leases(status: str) -> StoreQuerySet:
    """Stores in `status` whose worker stopped reporting (killed) or never started."""
    return Store.objects.filter(status=status, lease_until__lt=timezone.now())


def gone_holders(status: str) -> list[Store]:
    """Stores in `status` whose lease has not run out but whose holder is provably
    gone: a worker on this host that was killed (stores/leaseholder.py)."""
    held_here = Store.objects.filter(
        status=status, lease_until__gte=timezone.now(), lease_host=leaseholder.this_host()
    ).exclude(lease_token="")
    return [store for store in held_here if _holder_of_is_gone(store)]


def lost_work(status: str) -> list[tuple[Store, str]]:
    """Stores in `status` whose worker was lost, each with the gone holder's token
    ("" where the lease ran out instead): what the reconcile resumes or fails."""
    expired = [(store, "") for store in stale_leases(status)]
    return expired + [(store, store.lease_token) for store in gone_holders(status)]


def overdue_provisions() -> StoreQuerySet:
    return Store.objects.filter(status=Status.PROVISIONING, deadline_at__lt=timezone.now())


# --- Upgrades and rollbacks (stores/upgrades.py) ------------------------------


def begin_update(store_id: int, message: str, *, only_from: set[str], updated_at: datetime | None = None) -> str:
    """A ready (or, for a rollback, failed) store -> updating, held by the caller's lease.

    `updated_at`, when given, must still be the store's: the caller read the
    release's history before this, and a store that changed since is refused
    rather than updated from a stale reading. Returns the lease token.
    """
    return _begin_leased(
        store_id,
        Status.UPDATING,
        message,
        code=EventCode.UPDATE_REQUESTED,
        only_from=only_from,
        where=None if updated_at is None else {"updated_at": updated_at},
    )


def _begin_leased(
    store_id: int, to: str, message: str, *, code: str, only_from: set[str] | None, where: dict[str, Any] | None
) -> str:
    """Into `to` (updating, restoring), held by the caller's new lease and under the provision
    deadline, failure cleared; the lease token."""
    now = timezone.now()
    token = secrets.token_hex(16)
    transition(
        store_id,
        to,
        message,
        code=code,
        only_from=only_from,
        where=where,
        failure_reason="",
        failure_code="",
        step="",
        lease_token=token,
        lease_until=now + timedelta(seconds=settings.PROVISION_LEASE_SECONDS),
        **leaseholder.this_process().fields(),
        deadline_at=now + timedelta(seconds=settings.PROVISION_TIMEOUT),
    )
    return token


def finish_update(
    store_id: int,
    token: str,
    message: str,
    *,
    chart_version: str,
    images: list[str],
    versions: dict[str, str] | None = None,
) -> None:
    """Updating -> ready, recording what the release runs now. `ready_at` stays the
    provision's: the metrics' provisioning durations are measured from it."""
    recorded: dict[str, Any] = {} if versions is None else {"versions": versions}
    transition(
        store_id,
        Status.READY,
        message,
        code=EventCode.UPDATED,
        only_from={Status.UPDATING},
        where={"lease_token": token},
        chart_version=chart_version,
        images=images,
        **recorded,
        lease_token="",
        lease_until=None,
        deadline_at=None,
    )


def fail_update(
    store_id: int, reason: str, *, step: str = "", token: str | None = None, lease_expired: bool = False
) -> None:
    where: dict[str, Any] = {} if token is None else {"lease_token": token}
    if lease_expired:  # reconcile: only if the update is still silent
        where["lease_until__lt"] = timezone.now()
    transition(
        store_id,
        Status.FAILED,
        f"Update failed: {reason}",
        code=EventCode.UPDATE_FAILED,
        only_from={Status.UPDATING},
        where=where,
        kind=StoreEvent.Kind.ERROR,
        step=step,
        failure_reason=reason,
        lease_token="",
        lease_until=None,
        deadline_at=None,
    )


def record_release(
    store_id: int, token: str, *, chart_version: str, images: list[str], versions: dict[str, str] | None = None
) -> None:
    """What a provision installed (the worker holding the lease only); `versions`
    when the release says what the shop runs (None: left as they are)."""
    fields: dict[str, Any] = {"chart_version": chart_version, "images": images}
    if versions is not None:
        fields["versions"] = versions
    Store.objects.filter(pk=store_id, lease_token=token).update(**fields)


def record_versions(store_id: int, versions: dict[str, str]) -> None:
    """What the shop's software says it runs, as a check read it (nothing read: left as they were)."""
    if versions:
        Store.objects.filter(pk=store_id).update(versions=versions)


def begin_restore(store_id: int, message: str) -> str:
    """A ready (or failed) store -> restoring, held by the caller's lease; the lease token."""
    return _begin_leased(
        store_id, Status.RESTORING, message, code=EventCode.RESTORE_REQUESTED, only_from=None, where=None
    )


def finish_restore(store_id: int, token: str, message: str, *, checkout_unverified_reason: str = "") -> None:
    """Restoring -> ready, once the restored store's storefront and checkout checks passed."""
    now = timezone.now()
    verified: dict[str, Any] = (
        {"checkout_unverified_reason": checkout_unverified_reason}
        if checkout_unverified_reason
        else {"checkout_verified_at": now, "checkout_checked_at": now, "checkout_unverified_reason": ""}
    )
    transition(
        store_id,
        Status.READY,
        message,
        code=EventCode.RESTORED,
        only_from={Status.RESTORING},
        where={"lease_token": token},
        **verified,
        checkout_failing=False,
        lease_token="",
        lease_until=None,
        deadline_at=None,
    )


def fail_restore(store_id: int, reason: str, *, step: str = "", token: str | None = None) -> None:
    where: dict[str, Any] = {} if token is None else {"lease_token": token}
    transition(
        store_id,
        Status.FAILED,
        f"Restore failed: {reason}",
        code=EventCode.RESTORE_FAILED,
        only_from={Status.RESTORING},
        where=where,
        kind=StoreEvent.Kind.ERROR,
        step=step,
        failure_reason=f"Restore failed: {reason}",
        lease_token="",
        lease_until=None,
        deadline_at=None,
    )

"""The backups' round, run each minute by the schedule "back up stores".

Every ready store is backed up once a night, at its own minute of the night
window (BACKUP_NIGHT_START_HOUR for BACKUP_NIGHT_HOURS, UTC): the minute
follows from the store's id, so a thousand stores spread evenly over the
window instead of starting together, and a store keeps its minute night
after night. At most BACKUP_JOBS_AT_ONCE backup Jobs run across the
platform; a store whose minute has passed waits for a free one, after the
window's end if need be. A night gets through about BACKUP_JOBS_AT_ONCE
stores a minute at best (a round each minute finishes and starts Jobs):
`make bench-backups` plays one.

A round costs two queries (the running backups, the stores due tonight) and
one API read per running nightly backup, whatever the number of stores.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from stores import clients, cluster
from stores.backups import service, storage
from stores.engines import ENGINES
from stores.models import Backup, Status, Store

log = logging.getLogger(__name__)

# Knuth's multiplicative hash: consecutive ids land far apart in the window.
_SPREAD = 2654435761


def slot_minute(store_id: int) -> int:
    """The store's minute of the night window, from 0."""
    return (store_id * _SPREAD) % (2**32) * (settings.BACKUP_NIGHT_HOURS * 60) // (2**32)


def night_window(now: datetime) -> tuple[datetime, datetime]:
    """The night window `now` is in, or the last one before it: its start and end."""
    start = now.astimezone(UTC).replace(hour=settings.BACKUP_NIGHT_START_HOUR, minute=0, second=0, microsecond=0)
    if start > now:
        start -= timedelta(days=1)
    return start, start + timedelta(hours=settings.BACKUP_NIGHT_HOURS)


def due(now: datetime) -> list[Store]:
    """Ready stores whose minute tonight has come and that have no backup since the night began.

    A store the window ended before (more stores than BACKUP_JOBS_AT_ONCE gets
    through) is still due after it, until the next night begins; a store that
    became ready after the window waits for the next one."""
    start, end = night_window(now)
    minute = (now - start).total_seconds() // 60
    engines = [key for key, engine in ENGINES.items() if engine.backup is not None]
    candidates = (
        Store.objects.filter(status=Status.READY, engine__in=engines)
        .filter(Q(ready_at__lt=end) | Q(ready_at__isnull=True))
        .exclude(backups__created_at__gte=start)
        .only("pk", "slug", "engine", "status")
    )
    return sorted((s for s in candidates if slot_minute(s.pk) <= minute), key=lambda s: slot_minute(s.pk))


@dataclass
class Report:
    finished: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    skipped: str = ""


def run_round(now: datetime | None = None) -> Report:
    report = Report()
    if not storage.configured():
        report.skipped = storage.OFF_REASON
        return report
    now = now or timezone.now()
    try:
        kube = clients.connect(request_timeout=10)
    except cluster.ClusterError as exc:
        report.skipped = str(exc)
        return report
    # Nightly backups are finished here; the others by the process that waits
    # for them, unless it was lost (then they are failed past their deadline).
    stranded = now - timedelta(seconds=settings.BACKUP_TIMEOUT) - service.DEADLINE_GRACE
    running = Backup.objects.filter(state=Backup.State.RUNNING).select_related("store")
    for backup in running:
        if backup.kind == Backup.Kind.NIGHTLY or backup.created_at < stranded:
            service.check(backup, kube)
            backup.refresh_from_db(fields=["state"])
            if backup.state != Backup.State.RUNNING:
                report.finished.append(backup.pk)
    free = settings.BACKUP_JOBS_AT_ONCE - Backup.objects.filter(state=Backup.State.RUNNING).count()
    for store in due(now)[: max(free, 0)]:
        try:
            backup = service.start(store, Backup.Kind.NIGHTLY, kube=kube)
        except service.Refused as refused:
            log.info("no nightly backup of %s: %s", store.slug, refused)
            continue
        report.started.append(backup.pk)
    report.expired = service.expire_final_backups()
    return report

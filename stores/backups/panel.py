"""What the store page and the dashboard show of backups: plain, cheap reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from stores.backups import storage
from stores.backups.service import OFF_MESSAGE, human_size
from stores.engines import get_engine
from stores.models import Backup, Status, Store

# The backups the store page lists (the kept ones are BACKUP_KEEP, plus a final one and failures).
LISTED = 10


@dataclass(frozen=True)
class BackupRow:
    pk: int
    kind: str
    kind_label: str
    state: str
    created_at: datetime
    size: str
    error: str
    restorable: bool


@dataclass(frozen=True)
class BackupsPanel:
    on: bool
    off_reason: str
    rows: tuple[BackupRow, ...]
    running: bool
    may_back_up: bool
    may_restore: bool
    schedule: str

    @property
    def last(self) -> BackupRow | None:
        """The newest backup that has ended: what "last backup's result" means."""
        return next((row for row in self.rows if row.state != Backup.State.RUNNING), None)


def panel(store: Store) -> BackupsPanel:
    engine = get_engine(store.engine)
    if not storage.configured() or engine.backup is None:
        reason = OFF_MESSAGE if engine.backup is not None else f"{engine.label} stores are not backed up."
        return BackupsPanel(False, reason, (), False, False, False, "")
    backups = store.backups.all()[:LISTED]
    rows = tuple(
        BackupRow(
            pk=b.pk,
            kind=b.kind,
            kind_label=b.get_kind_display(),
            state=b.state,
            created_at=b.created_at,
            size=human_size(b.size_bytes),
            error=b.error,
            restorable=b.restorable,
        )
        for b in backups
    )
    running = any(row.state == Backup.State.RUNNING for row in rows)
    end = (settings.BACKUP_NIGHT_START_HOUR + settings.BACKUP_NIGHT_HOURS) % 24
    schedule = (
        f"Nightly between {settings.BACKUP_NIGHT_START_HOUR:02d}:00 and {end:02d}:00 UTC; "
        f"the newest {settings.BACKUP_KEEP} are kept, and a final one for "
        f"{settings.BACKUP_AFTER_DELETE_DAYS} days after a delete."
    )
    return BackupsPanel(
        on=True,
        off_reason="",
        rows=rows,
        running=running,
        may_back_up=store.status == Status.READY and not running,
        may_restore=store.status in (Status.READY, Status.FAILED) and not running,
        schedule=schedule,
    )


@dataclass(frozen=True)
class DeletedStore:
    store: Store
    backup: Backup


def recently_deleted(owner: Any) -> list[DeletedStore]:
    """The owner's deleted stores whose final backup is still kept: they can be restored into a new store."""
    if not storage.configured():
        return []
    finals = (
        Backup.objects.filter(
            store__owner=owner,
            store__status=Status.DELETED,
            kind=Backup.Kind.FINAL,
            state=Backup.State.DONE,
            removed_at__isnull=True,
            keep_until__gt=timezone.now(),
        )
        .select_related("store")
        .order_by("-created_at")
    )
    return [DeletedStore(b.store, b) for b in finals]

"""`manage.py audit export|prune`: ship the audit log elsewhere, and keep it from growing for ever.

export writes JSON lines (one entry a line, oldest first) for a log store or
SIEM. prune deletes entries older than a cutoff, in batches so that writers
are never held up for long, and records that it did (an entry of its own, with
the count and the cutoff): a retention job leaves a trace like any other
change. Both are meant for cron or a Kubernetes CronJob.
"""

import datetime as dt
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit import log as audit
from audit.models import Action, AuditEntry

BATCH = 1000
EXPORTED_FIELDS = (
    "id",
    "created_at",
    "action",
    "outcome",
    "detail",
    "username",
    "store_pk",
    "store_slug",
    "engine",
    "channel",
    "ip",
    "user_agent",
    "os_user",
    "host",
)


def _moment(value: str, option: str) -> dt.datetime:
    """An ISO date (midnight, in the site's time zone) or date-time; a clear error otherwise."""
    refused = CommandError(f"{option} must be a date (2026-01-31) or an ISO date-time, not {value!r}")
    try:  # None: not the format; ValueError: the format, but no such day (2026-13-40)
        moment = parse_datetime(value)
        day = parse_date(value) if moment is None else None
    except ValueError:
        raise refused from None
    if moment is None:
        if day is None:
            raise refused
        moment = dt.datetime.combine(day, dt.time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _entries(count: int) -> str:
    return f"{count} audit {'entry' if count == 1 else 'entries'}"


class Command(BaseCommand):
    help = "Export the audit log as JSON lines, or prune entries older than a cutoff."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="Write entries as JSON lines to standard output, oldest first.")
        export.add_argument("--since", help="Only entries at or after this date or date-time.")
        export.add_argument("--until", help="Only entries before this date or date-time.")

        prune = sub.add_parser("prune", help="Delete entries older than a cutoff, and record that it did.")
        cutoff = prune.add_mutually_exclusive_group(required=True)
        cutoff.add_argument("--older-than-days", type=int, metavar="DAYS", help="Keep the last DAYS days.")
        cutoff.add_argument("--before", help="Delete entries before this date or date-time.")
        prune.add_argument("--dry-run", action="store_true", help="Say how many would go; delete nothing.")

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    def do_export(self, since=None, until=None, **_):
        entries = AuditEntry.objects.order_by("created_at", "pk")
        if since:
            entries = entries.filter(created_at__gte=_moment(since, "--since"))
        if until:
            entries = entries.filter(created_at__lt=_moment(until, "--until"))
        for row in entries.values(*EXPORTED_FIELDS).iterator(chunk_size=BATCH):
            # Full precision (DjangoJSONEncoder would cut to milliseconds): entries
            # written in the same millisecond keep their order downstream.
            row["created_at"] = row["created_at"].isoformat()
            self.stdout.write(json.dumps(row, sort_keys=True))

    def do_prune(self, older_than_days=None, before=None, dry_run=False, **_):
        now = timezone.now()
        keep = settings.AUDIT_MIN_RETENTION_DAYS
        if older_than_days is not None:
            if older_than_days < 1:
                raise CommandError("--older-than-days must be 1 or more")
            try:
                cutoff = now - dt.timedelta(days=older_than_days)
            except OverflowError:  # before the year 1: there is nothing that old
                raise CommandError(
                    f"--older-than-days {older_than_days} reaches back before the year 1; "
                    f"give at most {(now - dt.datetime.min.replace(tzinfo=dt.UTC)).days}"
                ) from None
        else:
            cutoff = _moment(before, "--before")
            if cutoff > now:
                raise CommandError(f"--before {before} is in the future: that would delete every entry")
        # The log is the record of who did what: a typo or a hostile shell must
        # not be able to erase the last weeks of it.
        if cutoff > now - dt.timedelta(days=keep):
            asked = f"--older-than-days {older_than_days}" if older_than_days is not None else f"--before {before}"
            raise CommandError(
                f"{asked} would delete entries from the last {keep} days; "
                f"the audit log keeps at least {keep} days (AUDIT_MIN_RETENTION_DAYS)"
            )
        old = AuditEntry.objects.filter(created_at__lt=cutoff)
        when = cutoff.isoformat(timespec="seconds")
        if dry_run:
            self.stdout.write(f"{_entries(old.count())} older than {when}; nothing deleted (--dry-run).")
            return
        deleted = 0
        while True:
            with transaction.atomic():
                batch = list(old.order_by("pk").values_list("pk", flat=True)[:BATCH])
                if not batch:
                    break
                deleted += AuditEntry.objects.filter(pk__in=batch).delete()[0]
        audit.record(Action.PRUNE, detail=f"deleted {deleted} entries older than {when}")
        self.stdout.write(f"Deleted {_entries(deleted)} older than {when}.")

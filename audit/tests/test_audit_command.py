"""`manage.py audit export|prune`: the log leaves as JSON lines, and old entries go with a trace."""

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit import log as audit
from audit.models import Action, AuditEntry, Channel, Outcome

pytestmark = pytest.mark.django_db


def _entry(days_ago: float, slug: str, **fields) -> AuditEntry:
    entry = audit.record(fields.pop("action", Action.CREATE), slug=slug, engine="woocommerce", **fields)
    # created_at is set once, on insert: move it back with a queryset update (save() refuses).
    AuditEntry.objects.filter(pk=entry.pk).update(created_at=timezone.now() - dt.timedelta(days=days_ago))
    return AuditEntry.objects.get(pk=entry.pk)


def _run(*args) -> str:
    out = io.StringIO()
    call_command("audit", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def entries():
    return [
        _entry(400, "old-books"),
        _entry(100, "mid-tea", outcome=Outcome.REFUSED, detail="the limit"),
        _entry(1, "new-maps"),
    ]


def test_it_exports_every_entry_as_a_json_line_oldest_first(entries):
    lines = _run("export").splitlines()

    rows = [json.loads(line) for line in lines]
    assert [r["store_slug"] for r in rows] == ["old-books", "mid-tea", "new-maps"]
    mid = rows[1]
    assert mid["id"] == entries[1].pk
    assert (mid["action"], mid["outcome"], mid["detail"], mid["channel"]) == (
        "create",
        "refused",
        "the limit",
        "manage.py",
    )
    assert dt.datetime.fromisoformat(mid["created_at"]) == entries[1].created_at
    assert mid["os_user"] and mid["host"]


def test_it_exports_a_window(entries):
    since = (timezone.now() - dt.timedelta(days=200)).date().isoformat()
    until = (timezone.now() - dt.timedelta(days=10)).isoformat()

    rows = [json.loads(line) for line in _run("export", "--since", since, "--until", until).splitlines()]

    assert [r["store_slug"] for r in rows] == ["mid-tea"]


def test_it_prunes_only_what_is_older_and_records_that_it_did(entries):
    said = _run("prune", "--older-than-days", "365")

    assert said.startswith("Deleted 1 audit entry older than ")
    assert sorted(AuditEntry.objects.exclude(action=Action.PRUNE).values_list("store_slug", flat=True)) == [
        "mid-tea",
        "new-maps",
    ]
    trace = AuditEntry.objects.get(action=Action.PRUNE)
    assert trace.channel == Channel.MANAGE_PY and trace.outcome == Outcome.DONE
    assert trace.detail.startswith("deleted 1 entries older than ")
    assert trace.os_user and trace.host


def test_it_prunes_before_a_date_in_batches(entries, monkeypatch):
    monkeypatch.setattr("audit.management.commands.audit.BATCH", 1)
    for n in range(3):
        _entry(50 + n, f"batch-{n}")
    cutoff = (timezone.now() - dt.timedelta(days=40)).date().isoformat()

    said = _run("prune", "--before", cutoff)

    assert said.startswith("Deleted 5 audit entries older than ")
    assert sorted(AuditEntry.objects.exclude(action=Action.PRUNE).values_list("store_slug", flat=True)) == ["new-maps"]


def test_a_dry_run_counts_and_deletes_nothing(entries):
    said = _run("prune", "--older-than-days", "30", "--dry-run")

    assert said.startswith("2 audit entries older than ")
    assert said.rstrip().endswith("nothing deleted (--dry-run).")
    assert AuditEntry.objects.count() == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["prune", "--older-than-days", "0"], "--older-than-days must be 1 or more"),
        (
            ["prune", "--before", "last tuesday"],
            "--before must be a date (2026-01-31) or an ISO date-time, not 'last tuesday'",
        ),
        (["prune", "--before", "2999-01-01"], "--before 2999-01-01 is in the future: that would delete every entry"),
        (
            ["export", "--since", "2026-13-40"],
            "--since must be a date (2026-01-31) or an ISO date-time, not '2026-13-40'",
        ),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(entries, args, message):
    with pytest.raises(CommandError) as refused:
        _run(*args)

    assert str(refused.value) == message
    assert AuditEntry.objects.count() == 3


def test_a_prune_needs_a_cutoff(entries):
    with pytest.raises(CommandError, match="one of the arguments --older-than-days --before is required"):
        _run("prune")
    assert AuditEntry.objects.count() == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["prune", "--older-than-days", "29"],
            "--older-than-days 29 would delete entries from the last 30 days; "
            "the audit log keeps at least 30 days (AUDIT_MIN_RETENTION_DAYS)",
        ),
        (
            ["prune", "--before", "{yesterday}"],
            "--before {yesterday} would delete entries from the last 30 days; "
            "the audit log keeps at least 30 days (AUDIT_MIN_RETENTION_DAYS)",
        ),
    ],
)
def test_a_prune_keeps_the_minimum_retention(entries, args, message):
    yesterday = (timezone.now() - dt.timedelta(days=1)).date().isoformat()
    args = [arg.format(yesterday=yesterday) for arg in args]

    with pytest.raises(CommandError) as refused:
        _run(*args)

    assert str(refused.value) == message.format(yesterday=yesterday)
    assert AuditEntry.objects.count() == 3


def test_the_minimum_retention_is_a_setting(entries, settings):
    settings.AUDIT_MIN_RETENTION_DAYS = 2

    said = _run("prune", "--older-than-days", "2")

    assert said.startswith("Deleted 2 audit entries older than ")
    assert list(AuditEntry.objects.exclude(action=Action.PRUNE).values_list("store_slug", flat=True)) == ["new-maps"]


@pytest.mark.parametrize("days", ["1000000000", "800000"])
def test_a_cutoff_before_the_year_1_is_refused_with_a_message(entries, days):
    refusal = rf"^--older-than-days {days} reaches back before the year 1; give at most \d+$"
    with pytest.raises(CommandError, match=refusal):
        _run("prune", "--older-than-days", days)

    assert AuditEntry.objects.count() == 3

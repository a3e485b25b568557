from audit.models import AuditEntry

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AuditTest/1.0"
# A request from somewhere in particular, as the test client sends it.
FROM_SOMEWHERE = {"REMOTE_ADDR": "203.0.113.7", "HTTP_USER_AGENT": BROWSER}


def only_entry(**filters) -> AuditEntry:
    entries = list(AuditEntry.objects.filter(**filters))
    assert len(entries) == 1, entries
    return entries[0]


def summary(**filters) -> list[tuple]:
    """(action, outcome, who, store) of each entry, oldest first."""
    return [(e.action, e.outcome, e.who, e.store_slug) for e in AuditEntry.objects.filter(**filters).order_by("pk")]

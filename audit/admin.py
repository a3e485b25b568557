from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from audit.models import AuditEntry
from observability.admin import ReadOnlyModelAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyModelAdmin):
    """View-only, for everyone: an audit log that an operator can edit proves nothing."""

    list_display = ("when", "who", "action", "store_link", "channel", "where", "result")
    list_filter = ("action", "outcome", "channel", ("created_at", admin.DateFieldListFilter))
    search_fields = ("username", "os_user", "store_slug", "=ip")
    date_hierarchy = "created_at"
    list_select_related = ("store",)
    fields = (
        "when",
        "action",
        "outcome",
        "detail",
        "user",
        "username",
        "store",
        "store_pk",
        "store_slug",
        "engine",
        "channel",
        "ip",
        "user_agent",
        "os_user",
        "host",
    )
    readonly_fields = fields
    list_per_page = 50

    @admin.display(description="when", ordering="created_at")
    def when(self, entry):
        # To the second, with the zone: "6:35 a.m." seven times says little in an audit.
        return date_format(timezone.localtime(entry.created_at), "Y-m-d H:i:s T")

    @admin.display(description="who", ordering="username")
    def who(self, entry):
        return entry.who

    @admin.display(description="store", ordering="store_slug")
    def store_link(self, entry):
        if not entry.store_slug and entry.store_pk is None:
            return "-"
        label = entry.store_slug or f"id {entry.store_pk}"
        if entry.store_pk is None:
            return label
        # Every entry of this store id, including those written after its row went.
        url = reverse("admin:audit_auditentry_changelist") + f"?store_pk={entry.store_pk}"
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="outcome", ordering="outcome")
    def result(self, entry):
        # The reason sits with the outcome: a separate column was pushed off narrow screens.
        if entry.detail:
            return format_html("{}: {}", entry.get_outcome_display(), entry.detail)
        return entry.get_outcome_display()

    @admin.display(description="from")
    def where(self, entry):
        if entry.channel == "manage.py":
            return entry.host or "-"
        return entry.ip or "-"

    def lookup_allowed(self, lookup, value, request=None):
        # The store page's "Audit log" link filters by store id.
        return lookup == "store_pk" or super().lookup_allowed(lookup, value, request)

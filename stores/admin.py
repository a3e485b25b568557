from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html

from audit import log as audit
from observability.admin import ReadOnlyModelAdmin
from stores import lifecycle, task_queue_admin, tasks, upgrades  # noqa: F401 (task_queue_admin: django-q2's pages)
from stores.models import Status, Store, StoreEvent


class StoreEventInline(admin.TabularInline):
    model = StoreEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "step", "message", "duration_ms")
    readonly_fields = fields
    ordering = ("-created_at", "-pk")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = (
        "slug",
        "owner",
        "engine",
        "country",
        "currency",
        "chart",
        "status",
        "health",
        "step",
        "created_at",
        "ready_at",
    )
    list_filter = ("status", "health", "checkout_failing", "engine", "owner")
    search_fields = ("slug", "owner__username", "owner__email")
    readonly_fields = (
        "owner",
        "slug",
        "engine",
        # The shop was set up for them: changing the row would not change the shop.
        "country",
        "currency",
        "versions",
        "status",
        "step",
        "failure_reason",
        "created_at",
        "updated_at",
        "queued_at",
        "started_at",
        "deadline_at",
        "ready_at",
        "deleted_at",
        "lease_token",
        "lease_until",
        "lease_host",
        "lease_pid",
        "lease_pid_started",
        "attempts",
        "delete_attempts",
        "chart_version",
        "images",
        "health",
        "health_failures",
        "health_checked_at",
        "checkout_verified_at",
        "checkout_checked_at",
        "checkout_failing",
        "checkout_unverified_reason",
        "audit_log",
    )
    inlines = (StoreEventInline,)
    actions = ("retry_stores", "delete_stores")

    @admin.display(description="Chart", ordering="chart_version")
    def chart(self, store):
        """The chart version the store runs, and the current one when it differs."""
        available = upgrades.available_chart(store)
        return f"{store.chart_version} → {available} available" if available else (store.chart_version or "—")

    def has_add_permission(self, request):
        # Stores are created through the dashboard or `manage.py stores create`,
        # which enforce the limits and start provisioning.
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting the row would orphan the namespace; use the "Delete" action.
        return False

    @admin.display(description="Audit log")
    def audit_log(self, store):
        url = reverse("admin:audit_auditentry_changelist") + f"?store_pk={store.pk}"
        return format_html('<a href="{}">Who created, deleted, retried it or revealed its credentials</a>', url)

    # Both actions change stores: a staff user who may only view them gets
    # neither (Django leaves them out of the list and refuses a forged POST).
    @admin.action(description="Retry selected failed stores", permissions=["change"])
    def retry_stores(self, request, queryset):
        done = refused = 0
        for store in queryset:
            try:
                with transaction.atomic():
                    tasks.request_retry(store.pk)
                    audit.record(audit.Action.RETRY, request=request, store=store)
                done += 1
            except lifecycle.TransitionRefused as exc:
                audit.record(
                    audit.Action.RETRY, request=request, store=store, outcome=audit.Outcome.REFUSED, detail=str(exc)
                )
                refused += 1
        if done:
            self.message_user(request, f"Retrying {done} store(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{refused} store(s) were not failed and were left alone.", messages.WARNING)

    @admin.action(
        description="Delete selected stores (uninstall release, delete namespace); restart a stuck delete",
        permissions=["change"],
    )
    def delete_stores(self, request, queryset):
        counts = {"started": 0, "restarted": 0, "running": 0, "deleted": 0, "updating": 0}
        for store in queryset:
            # The audit entry commits with the change; a refused one is recorded as refused.
            with transaction.atomic():
                result = _delete_or_restart(store)
                action, outcome, detail = AUDITED_DELETE[result]
                if result == "running" and store.status in (Status.DELETING, Status.DELETE_STUCK):
                    action = audit.Action.RESTART_DELETE
                audit.record(action, request=request, store=store, outcome=outcome, detail=detail)
            counts[result] += 1
        if counts["started"]:
            self.message_user(request, f"Deleting {counts['started']} store(s).", messages.SUCCESS)
        if counts["restarted"]:
            self.message_user(
                request, f"Restarted {counts['restarted']} delete(s), with a fresh count of attempts.", messages.SUCCESS
            )
        if counts["running"]:
            self.message_user(
                request,
                f"{counts['running']} delete(s) already running (a worker holds the store); left alone.",
                messages.WARNING,
            )
        if counts["updating"]:
            self.message_user(
                request,
                f"{counts['updating']} store(s) are being upgraded or rolled back; delete them once that has ended.",
                messages.WARNING,
            )
        if counts["deleted"]:
            self.message_user(request, f"{counts['deleted']} store(s) already deleted; left alone.", messages.INFO)


# What `_delete_or_restart` did, as an audit entry: (action, outcome, detail).
AUDITED_DELETE = {
    "started": (audit.Action.DELETE, audit.Outcome.DONE, ""),
    "restarted": (audit.Action.RESTART_DELETE, audit.Outcome.DONE, ""),
    "running": (audit.Action.DELETE, audit.Outcome.REFUSED, "a worker is deleting it now"),
    "deleted": (audit.Action.DELETE, audit.Outcome.REFUSED, "already deleted"),
    "updating": (audit.Action.DELETE, audit.Outcome.REFUSED, "an upgrade or rollback is running"),
}


def _delete_or_restart(store: Store) -> str:
    """Start the store's delete, or restart a stuck or waiting one; say which really happened."""
    if store.status == Status.DELETED:
        return "deleted"
    try:
        if store.status in (Status.DELETING, Status.DELETE_STUCK):
            # e.g. after fixing a stuck finalizer
            tasks.restart_delete(store.pk)
            return "restarted"
        tasks.request_delete(store.pk)
        return "started"
    except lifecycle.TransitionRefused:
        # Another worker or operator got there first; report the state it is in now.
        now = Store.objects.filter(pk=store.pk).values_list("status", flat=True).first()
        if now == Status.UPDATING:
            return "updating"
        return "deleted" if now == Status.DELETED else "running"


@admin.register(StoreEvent)
class StoreEventAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "store", "kind", "step", "message", "duration_ms")
    list_filter = ("kind", "step")
    search_fields = ("store__slug", "message")

from django.contrib import admin, messages

from stores import lifecycle, tasks
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
    list_display = ("slug", "owner", "engine", "status", "step", "created_at", "ready_at")
    list_filter = ("status", "engine", "owner")
    search_fields = ("slug", "owner__username", "owner__email")
    readonly_fields = (
        "owner", "slug", "engine", "status", "step", "failure_reason", "created_at", "updated_at", "queued_at",
        "started_at", "deadline_at", "ready_at", "deleted_at", "lease_token", "lease_until", "attempts",
    )
    inlines = (StoreEventInline,)
    actions = ("retry_stores", "delete_stores")

    def has_add_permission(self, request):
        # Stores are created through the dashboard or `manage.py stores create`,
        # which enforce the limits and start provisioning.
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting the row would orphan the namespace; use the "Delete" action.
        return False

    @admin.action(description="Retry selected failed stores")
    def retry_stores(self, request, queryset):
        done = refused = 0
        for store in queryset:
            try:
                tasks.request_retry(store.pk)
                done += 1
            except lifecycle.TransitionRefused:
                refused += 1
        if done:
            self.message_user(request, f"Retrying {done} store(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{refused} store(s) were not failed and were left alone.", messages.WARNING)

    @admin.action(description="Delete selected stores (uninstall release, delete namespace)")
    def delete_stores(self, request, queryset):
        started = resumed = 0
        for store in queryset.exclude(status=Status.DELETED):
            if store.status == Status.DELETING:
                # Force: start the delete again, e.g. after fixing a stuck finalizer.
                tasks.enqueue_delete(store.pk)
                resumed += 1
                continue
            tasks.request_delete(store.pk)
            started += 1
        self.message_user(request, f"Deleting {started} store(s); restarted {resumed} delete(s).", messages.SUCCESS)


@admin.register(StoreEvent)
class StoreEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "store", "kind", "step", "message", "duration_ms")
    list_filter = ("kind", "step")
    search_fields = ("store__slug", "message")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

"""A model admin base for records that are only ever read (the activity feed, the audit log).

Nothing is registered here; the apps that own the records subclass it."""

from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """No add, change or delete for anyone, superusers included: views only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from django.db import transaction

from accounts import admin_audit
from accounts.models import Profile

# What makes an account more powerful. Only a superuser may change these: a
# staff user with "change user" could otherwise make themselves superuser, or
# give themselves any permission, directly or through a group.
PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    verbose_name_plural = "Store limit"
    fields = ("store_limit",)


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "store_limit", "effective_store_limit")
    search_fields = ("user__username", "user__email")
    list_editable = ("store_limit",)


admin.site.unregister(User)
admin.site.unregister(Group)


def _may_manage(request, user) -> bool:
    """Whether request.user may change or delete `user`.

    A superuser may change anyone. Other staff may change their own account and
    accounts without admin access: setting the password of a superuser or of
    another staff user would be taking over an account with more rights.
    """
    if request.user.is_superuser or user is None:
        return True
    return user.pk == request.user.pk or not (user.is_staff or user.is_superuser)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = (ProfileInline,)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        return fields + PRIVILEGE_FIELDS

    def has_change_permission(self, request, obj=None):
        # Also guards the admin's "set password" page, which asks this.
        return _may_manage(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _may_manage(request, obj) and super().has_delete_permission(request, obj)

    # Every change is audited, in the admin's transaction: after the groups and
    # permissions (saved with the related objects) and the store limit.
    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        admin_audit.record_user_saved(request, form.instance, form, formsets, change)

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:  # saved; a refused form is shown again
            admin_audit.record_password_set(request, self.get_object(request, id))
        return response

    def delete_model(self, request, obj):
        with transaction.atomic():
            admin_audit.record_user_deleted(request, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for user in queryset:
                admin_audit.record_user_deleted(request, user)
            super().delete_queryset(request, queryset)


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin):
    """A group's permissions are given to every member: only superusers change groups."""

    def has_add_permission(self, request):
        return request.user.is_superuser and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        admin_audit.record_group_saved(request, form.instance, form, change)

    def delete_model(self, request, obj):
        with transaction.atomic():
            admin_audit.record_group_deleted(request, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for group in queryset:
                admin_audit.record_group_deleted(request, group)
            super().delete_queryset(request, queryset)

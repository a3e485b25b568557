"""django-q2's admin pages (schedules, tasks, the queue), for superusers only.

A schedule names any dotted function and its arguments, and the workers that
run it hold the platform's Kubernetes ServiceAccount; the pages' "Resubmit"
action queues a task again with no permission check of its own. So a staff
user given django_q's add or change permission could run anything the
platform can do. Hiding the pages entirely from everyone but superusers
(model permissions included) also makes the action unreachable, since the
changelist that runs it answers 403.
"""

from django.contrib import admin
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success


class SuperuserOnly:
    """A ModelAdmin mixin: every permission needs is_superuser, whatever the user's model permissions."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return request.user.is_active and request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser and super().has_delete_permission(request, obj)


class ScheduleAdmin(SuperuserOnly, q_admin.ScheduleAdmin):
    pass


class SuccessAdmin(SuperuserOnly, q_admin.TaskAdmin):
    pass


class FailureAdmin(SuperuserOnly, q_admin.FailAdmin):
    pass


class QueueAdmin(SuperuserOnly, q_admin.QueueAdmin):
    pass


# django_q comes before this app in INSTALLED_APPS, so its admin module has
# registered these already; the queue (OrmQ) only with the database broker.
for model, model_admin in (
    (Schedule, ScheduleAdmin),
    (Success, SuccessAdmin),
    (Failure, FailureAdmin),
    (OrmQ, QueueAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
        admin.site.register(model, model_admin)

"""The admin site: Django's, with its login and password change throttled like the site's own."""

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from accounts.throttle import login_throttles, password_change_throttle


class AdminSite(admin.AdminSite):
    # Marked before the throttles run, as the site's own login is (accounts.views).
    @method_decorator(sensitive_post_parameters())
    @method_decorator(login_throttles)
    @login_not_required
    def login(self, request, extra_context=None):
        return super().login(request, extra_context)

    # The admin's URLs wrap this in its staff-login check: the user is signed in.
    @method_decorator(sensitive_post_parameters())
    @method_decorator(password_change_throttle)
    def password_change(self, request, extra_context=None):
        return super().password_change(request, extra_context)

"""The admin site: Django's, with its login and password change throttled like the site's own."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from accounts.throttle import login_throttles, password_change_throttle
from audit.sign_ins import record_refused_admin_login


class StaffAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form; a right password for an account without admin access is a refused login too.

    (A wrong password is recorded by audit.sign_ins, from the signal Django sends.)
    """

    def confirm_login_allowed(self, user):
        try:
            super().confirm_login_allowed(user)
        except ValidationError:
            record_refused_admin_login(self.request, user.get_username(), account=user, reason="not a staff account")
            raise


class AdminSite(admin.AdminSite):
    login_form = StaffAuthenticationForm

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

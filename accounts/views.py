from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.forms import EmailChangeForm, RegistrationForm
from accounts.models import store_limit_for
from accounts.throttle import login_throttles, password_change_throttle, throttle
from stores.engines import refused_by_an_engine

_login_view = auth_views.LoginView.as_view(redirect_authenticated_user=True)


# LoginView hides its POST from error reports only once it runs; the throttle
# comes first, so mark the request here, before anything can fail.
@sensitive_post_parameters()
@login_throttles
def log_in(request):
    return _login_view(request)


_password_change_view = auth_views.PasswordChangeView.as_view()


@login_required  # first: the throttle counts per signed-in user
@sensitive_post_parameters()
@password_change_throttle
def password_change(request):
    return _password_change_view(request)


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    if not settings.REGISTRATION_OPEN:
        status = 403 if request.method == "POST" else 200
        return render(request, "accounts/registration_closed.html", status=status)
    return _register(request)


@throttle("register", key="ip", rate="REGISTRATION_RATE")
def _register(request):
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("dashboard")
    return render(request, "accounts/register.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def profile(request):
    form = EmailChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your e-mail is changed. Stores you create from now on use it.")
        return redirect("profile")
    context = {
        "form": form,
        "store_limit": store_limit_for(request.user),
        # An address from before the check (or set in the admin) that a shop refuses.
        "email_refused": refused_by_an_engine(request.user.email) if request.user.email else "",
    }
    return render(request, "accounts/profile.html", context, status=400 if form.errors else 200)

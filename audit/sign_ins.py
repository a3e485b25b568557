"""Sign-ins in the audit log: every login through a page, and every refused admin login.

Django sends user_logged_in and user_login_failed from login() and
authenticate(), whoever calls them; only those made while serving a page (the
request was routed to a view) are sign-ins from somewhere. A test client's
force_login, or login() in a shell, has no such request.

A failed login's credentials arrive with the password already masked by
Django; only the username is read, and it is kept only when it names an
account: a name that matches none is often a password typed in the wrong box.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed

from audit.log import Action, Channel, Outcome, channel_of, record


def _from_a_page(request) -> bool:
    return request is not None and getattr(request, "resolver_match", None) is not None


def on_logged_in(sender, request, user, **kwargs):
    if _from_a_page(request):
        record(Action.SIGN_IN, request=request, actor=user)


def on_login_failed(sender, credentials, request=None, **kwargs):
    # The site's failed logins are not recorded: anyone can send them, and the
    # throttles bound them. A failed staff login is worth an operator's eye.
    if not _from_a_page(request) or channel_of(request) != Channel.ADMIN:
        return
    record_refused_admin_login(request, credentials.get("username") or "")


def record_refused_admin_login(request, username: str, *, account=None, reason: str = "") -> None:
    """A refused admin login, with the account it named (when there is one) and why."""
    if account is None:
        User = get_user_model()
        account = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
    if account is None:
        reason = "no account by that name"
    elif not reason:
        reason = "wrong password" if account.is_active else "account disabled"
    record(Action.SIGN_IN, request=request, actor=account, outcome=Outcome.REFUSED, detail=reason)


def connect() -> None:
    user_logged_in.connect(on_logged_in, dispatch_uid="audit.sign_ins.on_logged_in")
    user_login_failed.connect(on_login_failed, dispatch_uid="audit.sign_ins.on_login_failed")

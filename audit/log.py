"""Writing the audit log: `record(action, request=..., store=..., outcome=..., detail=...)`.

Callers that change a store record the change in the same transaction as the
change (`with transaction.atomic(): <change>; record(...)`), so a change that
rolls back is not logged as done, and a change that commits is always logged.
A refused attempt is recorded after the refusal, outside the rolled-back block.
"""

import os
import pwd
import socket
from pathlib import Path
from typing import Any

from accounts.throttle import client_ip
from audit.models import Action, AuditEntry, Channel, Outcome

__all__ = ["Action", "Channel", "Outcome", "record", "record_not_owner"]

USER_AGENT_LENGTH = AuditEntry._meta.get_field("user_agent").max_length
DETAIL_LENGTH = AuditEntry._meta.get_field("detail").max_length


def record(
    action: str,
    *,
    request=None,
    store: Any = None,
    store_pk: int | None = None,
    slug: str = "",
    engine: str = "",
    outcome: str = Outcome.DONE,
    detail: str = "",
    actor=None,
    channel: str | None = None,
) -> AuditEntry:
    """Write one entry: who (the request's user, else the OS user and host), what, to which store, from where.

    `store` is the row when there is one (a stores.Store: this app never imports
    the stores app, which records here); `slug`/`engine` name a store that was
    not created (a refused create), `store_pk` an id that matched no store.
    """
    entry = AuditEntry(action=action, outcome=outcome, detail=detail[:DETAIL_LENGTH])
    if store is not None:
        entry.store, entry.store_pk, entry.store_slug, entry.engine = store, store.pk, store.slug, store.engine
    else:
        entry.store_pk = store_pk
        entry.store_slug = slug[: AuditEntry._meta.get_field("store_slug").max_length]
        entry.engine = engine[: AuditEntry._meta.get_field("engine").max_length]

    if request is not None:
        user = actor if actor is not None else getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            entry.user, entry.username = user, user.get_username()
        entry.channel = channel or channel_of(request)
        # The same address the throttles count by (TRUSTED_PROXY_HOPS / TRUSTED_PROXIES).
        entry.ip = client_ip(request)
        entry.user_agent = request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_LENGTH]
    else:
        if actor is not None:
            entry.user, entry.username = actor, actor.get_username()
        entry.channel = channel or Channel.MANAGE_PY
        entry.os_user, entry.host = os_user(), socket.gethostname()
    entry.save()
    return entry


def record_not_owner(action: str, *, request, pk: int, store: Any = None) -> AuditEntry:
    """A signed-in user acted on a store id that is not theirs (the view answers 404).

    `store` is the row with that id when there is one, looked up by the caller."""
    if store is None:
        return record(action, request=request, store_pk=pk, outcome=Outcome.REFUSED, detail=f"no store with id {pk}")
    return record(
        action,
        request=request,
        store=store,
        outcome=Outcome.REFUSED,
        detail=f"not the owner (the store belongs to {store.owner.get_username()})",
    )


# /proc/self/loginuid: the uid of the account that logged in to this session,
# set by the kernel at login (pam_loginuid) and kept across sudo and su. This
# value means "not set" (a daemon, a container, a kernel without audit).
_UNSET_LOGINUID = 4294967295
LOGINUID_PATH = Path("/proc/self/loginuid")


def _account_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a container's uid with no passwd entry
        return f"uid {uid}"


def _login_uid() -> int | None:
    try:
        value = int(LOGINUID_PATH.read_text().strip())
    except (OSError, ValueError):
        return None
    return None if value == _UNSET_LOGINUID else value


def os_user() -> str:
    """The account running manage.py, as the kernel knows it.

    The process's real uid names the account; under sudo or su, the session's
    login uid names the person who logged in, and comes first ("root" alone
    would say nothing about who it was). Environment variables (USER,
    SUDO_USER) are not read: whoever runs the command can set them to anything.
    """
    name = _account_name(os.getuid())
    login_uid = _login_uid()
    if login_uid is not None and login_uid != os.getuid():
        return f"{_account_name(login_uid)} (as {name})"
    return name


def channel_of(request) -> str:
    match = getattr(request, "resolver_match", None)
    return Channel.ADMIN if match is not None and match.namespace == "admin" else Channel.WEB

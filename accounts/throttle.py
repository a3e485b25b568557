"""Throttling of login, sign-up, store creation and store actions (django-ratelimit).

The counters live in the "ratelimit" cache (settings: Redis, or a table in the
database), so every web worker counts against the same limit.
"""

import base64
import ipaddress
import math
import pickle
from functools import wraps

from django.conf import settings
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction
from django.shortcuts import render
from django_ratelimit.core import get_usage


class AtomicDatabaseCache(DatabaseCache):
    """Django's database cache with an increment that neither loses a count nor extends the expiry.

    DatabaseCache.incr is a get followed by a set: two requests at once both
    read 4 and both write 5, so a burst of parallel attempts slips past the
    limit; and the set gives the key a fresh default timeout, so an hour's
    counter would vanish five minutes after its last hit. Here the read and the
    write happen in one transaction that holds the row (Postgres: FOR UPDATE;
    SQLite: the settings make every transaction IMMEDIATE, so it holds the
    database's write lock), and only the value column is written.
    """

    def incr(self, key, delta=1, version=None):
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        table = connection.ops.quote_name(self._table)
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        with transaction.atomic(using=db):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT cache_key FROM {table} WHERE cache_key = %s{lock}",  # noqa: S608 (the quoted table name)
                    [self.make_and_validate_key(key, version=version)],
                )
            value = self.get(key, version=version)  # None once expired
            if value is None:
                raise ValueError(f"Key '{key}' not found")
            value += delta
            encoded = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET value = %s WHERE cache_key = %s",  # noqa: S608 (the quoted table name)
                    [encoded, self.make_and_validate_key(key, version=version)],
                )
        return value


def client_ip(request) -> str:
    """The address throttles are keyed by: REMOTE_ADDR unless CLIENT_IP_HEADER names a proxy's header."""
    header = settings.CLIENT_IP_HEADER
    if header:
        raw = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        # A proxy appends the address it saw to X-Forwarded-For; whatever comes
        # before it was sent by the client and proves nothing.
        candidate = raw.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass  # no header (a request that bypassed the proxy): the peer's address
    return request.META["REMOTE_ADDR"]


def _in_words(seconds: int) -> str:
    if seconds <= 60:
        return "a minute"
    if seconds < 3600:
        return f"{math.ceil(seconds / 60)} minutes"
    hours = math.ceil(seconds / 3600)
    return "an hour" if hours == 1 else f"{hours} hours"


def too_many_attempts(request, seconds_left: int):
    wait = max(int(seconds_left), 1)
    # An htmx request (the credentials button) gets the message alone, for its
    # target; base.html's htmx-config lets htmx swap a 429 in.
    template = "_too_many_attempts.html" if getattr(request, "htmx", False) else "429.html"
    response = render(request, template, {"wait": _in_words(wait)}, status=429)
    response["Retry-After"] = str(wait)
    return response


def throttle(group: str, *, key: str, rate: str):
    """Answer 429 to a POST once `key` ("ip" or "user") has sent more than settings.<rate> in the window.

    Every POST counts, valid or not; the view does not run for a refused one,
    so a throttled request changes nothing. GETs are never counted.
    """

    def current_rate(group, request):
        return getattr(settings, rate)

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method == "POST":
                usage = get_usage(request, group=group, key=key, rate=current_rate, method="POST", increment=True)
                if usage and usage["should_limit"]:
                    return too_many_attempts(request, usage["time_left"])
            return view(request, *args, **kwargs)

        return wrapper

    return decorator

"""Throttling of login, sign-up, store creation and store actions (django-ratelimit).

The counters live in the "ratelimit" cache (settings: Redis, or a table in the
database), so every web worker counts against the same limit.
"""

import base64
import ipaddress
import math
import pickle
import unicodedata
from functools import lru_cache, wraps

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


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(raw: str) -> Address | None:
    """An address as a proxy writes it, or None for anything else ("unknown", a port, garbage)."""
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    # A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def client_ip(request) -> str:
    """The address throttles and the audit log key by: REMOTE_ADDR unless a trusted proxy forwarded the request.

    Each proxy appends the address it saw to X-Forwarded-For; whatever a client
    sent in that header comes first and proves nothing. So the header is read
    from the right, only as far as the proxies one trusts:

    - TRUSTED_PROXY_HOPS = n (n proxies in front, REMOTE_ADDR being the nearest):
      the n-th entry from the right, the one the outermost proxy appended;
    - TRUSTED_PROXIES (CIDR ranges): only when REMOTE_ADDR is in them, the
      first entry from the right that is not (all trusted: the leftmost);
    - neither: REMOTE_ADDR, the header ignored.

    Too few entries or a malformed one never lets a client pick the value: the
    answer is then a proxy's own address (REMOTE_ADDR; with CIDRs, the last
    trusted address the walk reached).
    """
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_HOPS
    trusted = settings.TRUSTED_PROXIES
    if not hops and not trusted:
        return remote
    forwarded = [entry for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    if hops:
        if len(forwarded) < hops:
            return remote  # not every proxy added its entry: a request that bypassed some
        client = _address(forwarded[-hops])
        return str(client) if client is not None else remote
    networks = _networks(tuple(trusted))
    address = _address(remote)
    if address is None:
        return remote
    for entry in reversed(forwarded):
        if not any(address in network for network in networks):
            break
        earlier = _address(entry)
        if earlier is None:
            break  # keep the trusted proxy's own address
        address = earlier
    return str(address)


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
    """Answer 429 to a POST once `key` ("ip", "user", or a key function's dotted path) has sent
    more than settings.<rate> in the window.

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


def posted_username(group, request) -> str:
    """The username a login form was sent, folded as a person would read it.

    "Alice", "ALICE " and "alice" count as one: an attacker gains no fresh
    attempts by changing the case, the width of a character or its padding.
    """
    username = request.POST.get("username", "")
    return unicodedata.normalize("NFKC", username).strip().casefold()


def login_throttles(view):
    """The site's and the admin's login: per client address, then per username from any address.

    Both forms share the counters, so the admin is no second door with its own
    allowance. A POST refused per address does not count against the username.
    """
    per_username = throttle("login-username", key="accounts.throttle.posted_username", rate="LOGIN_USERNAME_RATE")
    return throttle("login", key="ip", rate="LOGIN_RATE")(per_username(view))


def password_change_throttle(view):
    """The site's and the admin's password change, per signed-in user (the view must require login)."""
    return throttle("password-change", key="user", rate="PASSWORD_CHANGE_RATE")(view)

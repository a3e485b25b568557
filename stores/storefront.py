"""The storefront check: the store's public URL answers, through the cluster's ingress.

It resolves the store's host first: a name the resolver says does not exist
will not exist 15 minutes later, so the step fails at once with what to do.
"""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Protocol

from stores import cluster
from stores.engines.shop_api import Call, store_opener


class Waiting(Protocol):
    """What the check needs of the provision that waits (stores/runs.py's Run): when to
    stop, and where to say what it waits for."""

    def check(self) -> None: ...

    def progress(self, line: str) -> None: ...


# Seconds between two tries of the storefront.
STOREFRONT_POLL_SECONDS = 3
# A name the resolver says does not exist will not exist 15 minutes later either
# (no wildcard record, a typo in INGRESS_DOMAIN_SUFFIX, nip.io out of reach), so
# the check fails at once instead of waiting for the deadline. Only "try again"
# (a resolver that did not answer) earns a quick second try.
DNS_ATTEMPTS = 2
DNS_RETRY_SECONDS = 1.0


def wait_for_storefront(url: str, run: Waiting) -> None:
    """Poll the storefront over the ingress until it answers below 500."""
    host = urllib.parse.urlsplit(url).hostname or ""
    unresolved = None if _sent_through_a_proxy(url, host) else _does_not_resolve(host)
    if unresolved:
        raise cluster.ClusterError(unresolved_advice(host, unresolved), cluster.FailureCode.DNS)
    last_error = "no answer yet"
    # An opener of its own reads the proxy settings now (urlopen's shared one
    # keeps those of its first use), as _sent_through_a_proxy just did. It
    # follows no redirect: a redirect is an answer, and following it would let
    # a store send the platform to an address of its choosing.
    opener = store_opener(follow=False)
    while True:
        run.check()
        try:
            with opener.open(url, timeout=5) as response:
                if response.status < 500:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(getattr(exc, "reason", exc))
        run.progress(f"Waiting for {url}: {last_error}")
        time.sleep(STOREFRONT_POLL_SECONDS)


def probe(url: str, *, timeout: float) -> Call:
    """One GET of the storefront, as a monitoring check makes it (status 0: no answer)."""
    started = time.monotonic()
    status, error = 0, ""
    try:
        with store_opener(follow=False).open(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        error = str(getattr(exc, "reason", exc)) or type(exc).__name__
    elapsed = int((time.monotonic() - started) * 1000)
    return Call(f"GET {urllib.parse.urlsplit(url).path or '/'}", status, elapsed, error)


def _sent_through_a_proxy(url: str, host: str) -> bool:
    """Whether urllib hands the request to an HTTP proxy (http_proxy / https_proxy,
    not bypassed by no_proxy): the proxy resolves the store's name, not this host."""
    scheme = urllib.parse.urlsplit(url).scheme
    return scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host)


def _does_not_resolve(host: str) -> str | None:
    """The resolver's reason when `host` has no address, or None when it has one."""
    for attempt in range(1, DNS_ATTEMPTS + 1):
        try:
            socket.getaddrinfo(host, None)
            return None
        except (socket.gaierror, UnicodeError) as exc:
            again = isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN
            if not again or attempt == DNS_ATTEMPTS:
                return getattr(exc, "strerror", None) or str(exc)
        time.sleep(DNS_RETRY_SECONDS)
    return None


def unresolved_advice(host: str, reason: str) -> str:
    """What is wrong with a store host that does not resolve, and what to do about it."""
    suffix = host.partition(".")[2] or host
    if suffix.endswith("nip.io"):
        fix = (
            f"{suffix} is answered by nip.io, which needs a DNS resolver that reaches the internet; "
            "set INGRESS_DOMAIN_SUFFIX to a domain whose wildcard record points at the ingress"
        )
    else:
        fix = (
            f"point a wildcard DNS record *.{suffix} at the cluster's ingress, "
            "or use the default INGRESS_DOMAIN_SUFFIX 127.0.0.1.nip.io"
        )
    return f"{host} does not resolve ({reason}): {fix}, or set CHECK_STORE_URL=false to skip this check"

"""The checkout check: a store buys from itself before it is called ready.

The engine's check (Engine.checkout) goes through the store's public URL and
the cluster's ingress, as a shopper would, with the admin login the store's
Secret holds. Where the platform cannot reach stores (CHECK_STORE_URL off) or
the engine has no check, nothing is claimed: the store says why its checkout
is not verified.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings

from stores import cluster
from stores.engines import Engine
from stores.engines.base import CheckoutResult, CheckoutTarget
from stores.engines.contract import SECRET_NAME
from stores.engines.shop_api import CALL_TIMEOUT_SECONDS, Call, CheckoutFailed, ShopAPI, store_opener
from stores.models import Store

log = logging.getLogger(__name__)


def not_verified_reason(engine: Engine) -> str:
    """Why a store of `engine` cannot have its checkout verified here, or "" when it can."""
    if not settings.CHECK_STORE_URL:
        return "the platform does not reach stores here (CHECK_STORE_URL is off)"
    if engine.checkout is None:
        return f"{engine.label} stores have no checkout check yet"
    return ""


def verify(
    store: Store,
    engine: Engine,
    kube: cluster.Kubernetes,
    *,
    before_call: Callable[[], None] = lambda: None,
    on_call: Callable[[Call], None] | None = None,
    call_timeout: float = CALL_TIMEOUT_SECONDS,
) -> CheckoutResult:
    """Place, find and cancel an order on the store; ClusterError(CHECKOUT) names the call that failed."""
    if engine.checkout is None:
        raise ValueError(f"{engine.key} has no checkout check")
    secret = kube.read_secret(store.namespace, SECRET_NAME)
    if not secret:
        raise cluster.ClusterError(
            f"checkout failed: the secret {SECRET_NAME} is not in {store.namespace}", cluster.FailureCode.CHECKOUT
        )
    api = ShopAPI(
        store.url,
        # An opener of its own reads the proxy settings now, as the storefront check does.
        opener=store_opener(),
        timeout=call_timeout,
        before_call=before_call,
        on_call=on_call or (lambda call: log.info("checkout check of %s: %s", store.slug, call)),
    )
    try:
        # A store made before it had a country ("") is checked in the shop's own.
        return engine.checkout(CheckoutTarget(api=api, host=store.host, secret=secret, country=store.country))
    except CheckoutFailed as exc:
        raise cluster.ClusterError(str(exc), cluster.FailureCode.CHECKOUT) from exc

"""WooCommerce's checkout check: the Store API calls a shopper's browser makes, then
the REST API calls of a merchant logged in to wp-admin.

The Store API: a cart token (the `Cart-Token` header of the cart's answer,
sent back on every cart call, so no nonce is needed), `cart/add-item` with the
first purchasable product, then `checkout` with `payment_method: cod`.

The REST API (wc/v3) with the admin login of the store's secret: a cookie
login at wp-login.php, then the REST nonce WordPress hands a logged-in user
(admin-ajax.php?action=rest-nonce), sent as `X-WP-Nonce`. Chosen over an
application password: it needs no second credential that the setup Job would
have to create and hand back into the platform's secret (the Job has no access
to the Kubernetes API), nor one to rotate. The order is read back, cancelled
(WooCommerce restores the stock of a cancelled order) and deleted, so the
merchant's books stay clean.
"""

from __future__ import annotations

from typing import Any

from stores.engines.base import CHECKOUT_NOTE, CheckoutResult, CheckoutTarget
from stores.engines.shop_api import CheckoutFailed, ShopAPI

STORE_API = "/wp-json/wc/store/v1"
REST_API = "/wp-json/wc/v3"
PAYMENT_METHOD = "cod"


def place_and_remove(target: CheckoutTarget) -> CheckoutResult:
    # The admin logs in first: a login the store refuses leaves no order behind.
    merchant = _logged_in(target)
    # The shop's country (the platform's, which its setup gave the shop's
    # address and shipping zone), else the shop's own base location.
    country = target.country or _store_country(merchant)
    shopper = target.api
    product = _first_purchasable(shopper)
    cart = shopper.request("GET", f"{STORE_API}/cart")
    token = cart.headers.get("cart-token")
    if not token:
        raise CheckoutFailed(f"GET {STORE_API}/cart", "no Cart-Token header in the answer")
    with_cart = {"cart-token": token}
    shopper.call("POST", f"{STORE_API}/cart/add-item", {"id": product["id"], "quantity": 1}, headers=with_cart)
    address = {
        "first_name": "Checkout",
        "last_name": "Check",
        "address_1": "1 Test Street",
        "city": "Testville",
        "postcode": "10115",
        "country": country,
    }
    placed = shopper.call(
        "POST",
        f"{STORE_API}/checkout",
        {
            "billing_address": {**address, "email": target.customer_email},
            "shipping_address": address,
            "payment_method": PAYMENT_METHOD,
            "customer_note": CHECKOUT_NOTE,
        },
        headers=with_cart,
    )
    order = str(placed.get("order_id") or "")
    if not order:
        raise CheckoutFailed(f"POST {STORE_API}/checkout", f"no order id in the answer (status {placed.get('status')})")

    try:
        found = merchant.call("GET", REST_API + "/orders/{order}", order=order)
        email = (found.get("billing") or {}).get("email")
        if email != target.customer_email:
            raise CheckoutFailed(f"GET {REST_API}/orders/{{order}}", f"the order's e-mail is {email!r}")
    finally:
        # Even when the read-back failed: cancelled first, which puts managed
        # stock back, then deleted for good.
        cleanup = merchant.unstoppable()  # even past the check's deadline
        cleanup.call("PUT", REST_API + "/orders/{order}", {"status": "cancelled"}, order=order)
        cleanup.call("DELETE", REST_API + "/orders/{order}", query={"force": "true"}, order=order)
    versions, note = read_versions(merchant)
    return CheckoutResult(order=f"#{order}", versions=versions, versions_note=note)


def read_versions(merchant: ShopAPI) -> tuple[dict[str, str], str]:
    """WordPress's and WooCommerce's versions from the system status (REST API, as the admin).

    Never fails the check: a shop that does not say gets a note instead."""
    try:
        status = merchant.call("GET", f"{REST_API}/system_status", query={"_fields": "environment"})
    except CheckoutFailed as exc:
        return {}, f"the shop's versions could not be read: {exc}"
    return parse_versions(status)


def parse_versions(status: Any) -> tuple[dict[str, str], str]:
    """{"WordPress": ..., "WooCommerce": ...} from a system status answer, and what was missing.

    `environment.wp_version` and `environment.version` (WooCommerce's REST API
    reference calls the latter wc_version: either is taken)."""
    environment = status.get("environment") if isinstance(status, dict) else None
    if not isinstance(environment, dict):
        return {}, "the shop's versions could not be read: its system status has no environment"
    found = {
        "WordPress": environment.get("wp_version"),
        "WooCommerce": environment.get("version") or environment.get("wc_version"),
    }
    versions = {
        name: str(v).strip() for name, v in found.items() if isinstance(v, str | int | float) and str(v).strip()
    }
    missing = [name for name in found if name not in versions]
    note = f"the shop's system status does not say its {' or '.join(missing)} version" if missing else ""
    return versions, note


def _store_country(merchant: ShopAPI) -> str:
    """The shop's own country (WooCommerce's base location, "US:CA"): where it surely ships."""
    setting = merchant.call("GET", f"{REST_API}/settings/general/woocommerce_default_country")
    return str(setting.get("value") or "US").split(":")[0]


def _first_purchasable(api: ShopAPI) -> dict[str, Any]:
    products = api.call("GET", f"{STORE_API}/products", query={"per_page": "20", "type": "simple"})
    for product in products if isinstance(products, list) else []:
        # A simple product: a variable one needs a variation chosen to be added.
        simple = product.get("type", "simple") == "simple"
        if simple and product.get("is_purchasable") and product.get("is_in_stock"):
            found: dict[str, Any] = product
            return found
    raise CheckoutFailed(f"GET {STORE_API}/products", "the store sells no purchasable product in stock")


def _logged_in(target: CheckoutTarget) -> ShopAPI:
    """The admin's session: a cookie login, then the REST nonce on every call."""
    merchant, jar = target.api.with_cookies()
    # WordPress refuses a login from a client that did not keep its test cookie.
    merchant.request("GET", "/wp-login.php")
    merchant.request(
        "POST",
        "/wp-login.php",
        form={
            "log": target.secret.get("admin-user", ""),
            "pwd": target.secret.get("admin-password", ""),
            "wp-submit": "Log In",
            "redirect_to": "/wp-admin/",
            "testcookie": "1",
        },
    )
    if not any(cookie.name.startswith("wordpress_logged_in_") for cookie in jar):
        raise CheckoutFailed("POST /wp-login.php", "the admin login in the store's secret was refused")
    nonce = merchant.request("GET", "/wp-admin/admin-ajax.php", query={"action": "rest-nonce"}).text.strip()
    if not nonce or nonce == "0":
        raise CheckoutFailed("GET /wp-admin/admin-ajax.php", "no REST nonce for the logged-in admin")
    merchant.headers = {**merchant.headers, "x-wp-nonce": nonce}
    return merchant

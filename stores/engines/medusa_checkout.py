"""Medusa's checkout check: the Store API calls a shopper's storefront makes,
then the Admin API calls a merchant's dashboard makes (Medusa v2).

An admin token from the secret's login; the publishable key the Store API
needs (that of the store's default sales channel), read through the Admin API; a cart with the first product's first
variant, the customer's address, the first shipping option, a payment session
with the system provider (cash on delivery, no money moves) and `complete`.
The order is read back through the Admin API and cancelled there, which
releases its reservation: stock is as it was, and Medusa sends no mail
unless a notification provider is configured (the chart configures none).
"""

from __future__ import annotations

from typing import Any

from stores.engines.base import CHECKOUT_NOTE, CheckoutResult, CheckoutTarget
from stores.engines.shop_api import CheckoutFailed, ShopAPI

PAYMENT_PROVIDER = "pp_system_default"
# The marker on the cart, and so on the order, that says what placed it.
CHECK_METADATA = {"placed_by": "store-provisioner checkout check", "note": CHECKOUT_NOTE}


def place_and_cancel(target: CheckoutTarget) -> CheckoutResult:
    api = target.api
    admin = {"authorization": f"Bearer {_admin_token(target)}"}
    store = {"x-publishable-api-key": _publishable_key(api, admin)}

    region = _first(
        api.call("GET", "/store/regions", headers=store, query={"limit": "1", "fields": "id,*countries"}),
        "regions",
        "GET /store/regions",
        "the store has no region",
    )
    countries = [c["iso_2"] for c in region.get("countries") or [] if c.get("iso_2")]
    if not countries:
        raise CheckoutFailed("GET /store/regions", "the store's region has no country")
    # The shop's country (its region was made for it), else the region's first.
    country = target.country.lower() if target.country.lower() in countries else countries[0]
    variant = _variant_for_sale(api, store, region["id"])

    address = {
        "first_name": "Checkout",
        "last_name": "Check",
        "address_1": "1 Test Street",
        "postal_code": "1000",
        "city": "Testville",
        "country_code": country,
    }
    cart = api.call(
        "POST",
        "/store/carts",
        {"region_id": region["id"], "email": target.customer_email, "metadata": CHECK_METADATA},
        headers=store,
    )["cart"]["id"]
    api.call("POST", "/store/carts/{cart}/line-items", {"variant_id": variant, "quantity": 1}, headers=store, cart=cart)
    addresses = {"shipping_address": address, "billing_address": address}
    api.call("POST", "/store/carts/{cart}", addresses, headers=store, cart=cart)
    option = _first(
        api.call("GET", "/store/shipping-options", headers=store, query={"cart_id": cart}),
        "shipping_options",
        "GET /store/shipping-options",
        "no shipping option for the cart",
    )
    api.call("POST", "/store/carts/{cart}/shipping-methods", {"option_id": option["id"]}, headers=store, cart=cart)
    collection = api.call("POST", "/store/payment-collections", {"cart_id": cart}, headers=store)["payment_collection"]
    api.call(
        "POST",
        "/store/payment-collections/{collection}/payment-sessions",
        {"provider_id": PAYMENT_PROVIDER},
        headers=store,
        collection=collection["id"],
    )
    completed = api.call("POST", "/store/carts/{cart}/complete", headers=store, cart=cart)
    if completed.get("type") != "order":
        error = completed.get("error") or {}
        raise CheckoutFailed("POST /store/carts/{cart}/complete", f"no order: {error.get('message', completed)}")
    order = completed["order"]["id"]

    try:
        found = api.call(
            "GET", "/admin/orders/{order}", headers=admin, query={"fields": "id,display_id,email"}, order=order
        )["order"]
        if found.get("email") != target.customer_email:
            raise CheckoutFailed("GET /admin/orders/{order}", f"the order's e-mail is {found.get('email')!r}")
    finally:
        # Even when the read-back failed, or the check was told to stop: no
        # open order is left for the merchant to ship.
        api.unstoppable().call("POST", "/admin/orders/{order}/cancel", headers=admin, order=order)
    return CheckoutResult(order=f"#{found['display_id']}")


def _variant_for_sale(api: ShopAPI, store: dict[str, str], region: str) -> str:
    """The first variant with a price in the region and stock to sell (or stock not tracked)."""
    products = api.call(
        "GET",
        "/store/products",
        headers=store,
        query={
            "limit": "20",
            "region_id": region,
            "fields": "id,title,*variants,*variants.calculated_price,+variants.inventory_quantity",
        },
    ).get("products", [])
    for product in products:
        for variant in product.get("variants") or []:
            priced = variant.get("calculated_price") is not None
            in_stock = not variant.get("manage_inventory") or (variant.get("inventory_quantity") or 0) > 0
            if priced and in_stock:
                return str(variant["id"])
    raise CheckoutFailed("GET /store/products", "the store sells no product with a price and stock in its region")


def _admin_token(target: CheckoutTarget) -> str:
    login = {"email": target.secret.get("admin-email", ""), "password": target.secret.get("admin-password", "")}
    token = target.api.call("POST", "/auth/user/emailpass", login).get("token")
    if not token:
        raise CheckoutFailed("POST /auth/user/emailpass", "no token in the answer")
    return str(token)


def _publishable_key(api: ShopAPI, admin: dict[str, str]) -> str:
    """The key of the store's default sales channel: what its storefront sells through.

    A store has other keys (Medusa makes a default one at first start), and a
    key sees only the products of its own channels."""
    [shop] = api.call("GET", "/admin/stores", headers=admin, query={"fields": "id,default_sales_channel_id"}).get(
        "stores"
    ) or [{}]
    keys = api.call(
        "GET",
        "/admin/api-keys",
        headers=admin,
        query={"type": "publishable", "fields": "id,token,revoked_at,sales_channels.id", "limit": "50"},
    ).get("api_keys", [])
    live = [key for key in keys if not key.get("revoked_at")]
    channel = shop.get("default_sales_channel_id")
    of_channel = [key for key in live if channel in {c["id"] for c in key.get("sales_channels") or []}]
    if not of_channel:
        raise CheckoutFailed("GET /admin/api-keys", "no publishable key sells through the default sales channel")
    return str(of_channel[0]["token"])


def _first(answer: dict[str, Any], key: str, call: str, missing: str) -> dict[str, Any]:
    items = answer.get(key) or []
    if not items:
        raise CheckoutFailed(call, missing)
    first: dict[str, Any] = items[0]
    return first

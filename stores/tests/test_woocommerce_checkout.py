"""WooCommerce's checkout check against a stand-in WooCommerce (tests/woocommerce_standin.py).

A stand-in, not WooCommerce: the plugin cannot be installed here, so the real
WooCommerce run of this check is not in CI. The stand-in answers as WordPress
and WooCommerce document their Store API, login, REST nonce and REST API, error
shapes included; the platform reaches it as its HTTP proxy, as through the
cluster's ingress.
"""

import pytest

from stores.engines.base import CheckoutTarget
from stores.engines.shop_api import CheckoutFailed, ShopAPI
from stores.engines.woocommerce_checkout import parse_versions, place_and_remove
from tests.woocommerce_standin import WooCommerceStandIn

HOST = "store-shop.127.0.0.1.nip.io"


@pytest.fixture
def shop(monkeypatch):
    standin = WooCommerceStandIn()
    with standin.serve() as proxy:
        monkeypatch.setenv("http_proxy", proxy)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        yield standin


def _check(standin, password=None, country=""):
    secret = {"admin-user": "admin", "admin-password": password or standin.admin_password}
    api = ShopAPI(f"http://{HOST}")
    return place_and_remove(CheckoutTarget(api=api, host=HOST, secret=secret, country=country)), api


def test_it_places_finds_cancels_and_deletes_an_order(shop):
    stock = shop.stock()

    result, api = _check(shop)

    assert result.order == "#100"
    assert shop.orders == {}  # deleted for good: the merchant's books are as they were
    assert shop.stock() == stock  # cancelled before it was deleted: the stock is back
    assert [c.name for c in api.calls] == [
        "GET /wp-login.php",
        "POST /wp-login.php",
        "GET /wp-admin/admin-ajax.php",
        "GET /wp-json/wc/v3/settings/general/woocommerce_default_country",
        "GET /wp-json/wc/store/v1/products",
        "GET /wp-json/wc/store/v1/cart",
        "POST /wp-json/wc/store/v1/cart/add-item",
        "POST /wp-json/wc/store/v1/checkout",
        "GET /wp-json/wc/v3/orders/{order}",
        "PUT /wp-json/wc/v3/orders/{order}",
        "DELETE /wp-json/wc/v3/orders/{order}",
        "GET /wp-json/wc/v3/system_status",
    ]
    assert result.versions == {"WordPress": "6.8.1", "WooCommerce": "9.9.5"}
    assert result.versions_note == ""


def test_the_order_is_the_checks_own_and_says_so(shop, monkeypatch):
    seen = {}
    original = shop._orders

    def keep_before_delete(method, path, query, body, cookies, nonce, out):
        if method == "GET":
            seen.update(shop.orders[int(path.rsplit("/", 1)[1])])
        return original(method, path, query, body, cookies, nonce, out)

    monkeypatch.setattr(shop, "_orders", keep_before_delete)
    _check(shop)

    assert seen["billing"]["email"] == f"checkout-check@{HOST}"
    assert seen["payment_method"] == "cod"
    assert seen["status"] == "processing"
    assert "checkout check" in seen["customer_note"]
    assert seen["line_items"] == [{"product_id": 12, "quantity": 1}]  # the first simple product in stock
    assert seen["shipping"]["country"] == seen["billing"]["country"] == "NL"  # the shop's own country


def test_cash_on_delivery_turned_off_fails_naming_the_call_and_woocommerces_code(shop):
    shop.cod_enabled = False

    with pytest.raises(CheckoutFailed) as failed:
        _check(shop)

    assert str(failed.value) == (
        "checkout failed: POST /wp-json/wc/store/v1/checkout → 400 "
        "woocommerce_rest_checkout_payment_method_disabled The selected payment method is not available."
    )
    assert shop.orders == {}


def test_a_refused_admin_login_fails_before_any_order_is_placed(shop):
    with pytest.raises(CheckoutFailed) as failed:
        _check(shop, password="not-the-password")

    assert (
        str(failed.value) == "checkout failed: POST /wp-login.php → the admin login in the store's secret was refused"
    )
    assert "not-the-password" not in str(failed.value)
    assert not any("/wc/store/" in r for r in shop.requests)


def test_a_store_that_hands_out_no_cart_token_is_named(shop):
    shop.sends_cart_token = False

    with pytest.raises(CheckoutFailed, match=r"GET /wp-json/wc/store/v1/cart → no Cart-Token header"):
        _check(shop)


def test_a_store_with_nothing_in_stock_is_named(shop):
    for product in shop.products:
        product["is_in_stock"] = False

    with pytest.raises(CheckoutFailed, match=r"GET /wp-json/wc/store/v1/products → the store sells no purchasable"):
        _check(shop)


def test_the_shopper_lives_in_the_shops_country_when_the_platform_knows_it(shop, monkeypatch):
    seen = {}
    original = shop._orders

    def keep_before_delete(method, path, query, body, cookies, nonce, out):
        if method == "GET":
            seen.update(shop.orders[int(path.rsplit("/", 1)[1])])
        return original(method, path, query, body, cookies, nonce, out)

    monkeypatch.setattr(shop, "_orders", keep_before_delete)
    _, api = _check(shop, country="DE")

    assert seen["shipping"]["country"] == seen["billing"]["country"] == "DE"
    assert "GET /wp-json/wc/v3/settings/general/woocommerce_default_country" not in [c.name for c in api.calls]


def test_a_shop_that_does_not_say_its_versions_still_passes_with_a_note(shop):
    shop.environment = None

    result, _ = _check(shop)

    assert result.order == "#100"
    assert result.versions == {}
    assert result.versions_note.startswith(
        "the shop's versions could not be read: checkout failed: GET /wp-json/wc/v3/system_status → 500"
    )


@pytest.mark.parametrize(
    ("status", "versions", "note"),
    [
        (
            {"environment": {"wp_version": "6.8.1", "version": "9.9.5"}},
            {"WordPress": "6.8.1", "WooCommerce": "9.9.5"},
            "",
        ),
        # The REST reference's name for WooCommerce's version.
        (
            {"environment": {"wp_version": "6.8.1", "wc_version": "9.9.5"}},
            {"WordPress": "6.8.1", "WooCommerce": "9.9.5"},
            "",
        ),
        (
            {"environment": {"wp_version": "6.8.1", "version": ""}},
            {"WordPress": "6.8.1"},
            "the shop's system status does not say its WooCommerce version",
        ),
        (
            {"environment": {"version": None}},
            {},
            "the shop's system status does not say its WordPress or WooCommerce version",
        ),
        ({"environment": "hidden"}, {}, "the shop's versions could not be read: its system status has no environment"),
        ([], {}, "the shop's versions could not be read: its system status has no environment"),
    ],
)
def test_it_parses_the_versions_of_a_system_status(status, versions, note):
    assert parse_versions(status) == (versions, note)

"""The Medusa chart's recipe, run for real on this machine.

The chart's own files (charts/medusa/files/: the pinned project and lockfile,
setup.sh, start-server.sh, the storefront) run with the chart's environment
against PostgreSQL and Redis from Debian's packages: install, migrate, create
the admin, seed, build, start. Then Chromium shops on the storefront (product
page, cart, checkout with cash on delivery, confirmation), the admin API finds
the order, and the admin's order list is photographed. The browser sees one
origin, routed like the chart's Ingress (/app, /admin, /auth, /store, /health,
/static to Medusa, the rest to the storefront). Screenshots land in
artifacts/screenshots/medusa-*.png, logs and figures in artifacts/logs/.

Cold (empty ~/.cache/store-provisioner) this downloads ~270 MB from npm and
takes minutes; warm, setup installs and builds nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from stores.engines.base import CheckoutTarget
from stores.engines.medusa_checkout import PAYMENT_PROVIDER, place_and_cancel
from stores.engines.shop_api import CheckoutFailed, ShopAPI
from tests import medusa_shopper as shopper
from tests.charts import medusa_recipe_support as recipe
from tests.chromium import screenshot
from tests.platform import LOG_DIR, free_port
from tests.redis_server import redis_server
from tests.smtp import SMTPServer
from tests.waiting import wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.recipe,
    # The test relay asks for a login over plain SMTP (it has no certificate).
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

FIGURES = LOG_DIR / "medusa-recipe-figures.json"
RELAY_USER, RELAY_PASSWORD = "relay-user", "relay-password"
SHOP_SENDER = "shop-recipe@example.net"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The recipe installed, set up, and both servers running."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    figures = {}
    with recipe.exclusive_cache():
        node = recipe.node_bin()
        app_dir = recipe.CACHE / "medusa-recipe" / "app"
        app_dir.mkdir(parents=True, exist_ok=True)
        # What setup.sh must write on this run, not left over from the last one.
        for name in ("setup-done", "publishable-key"):
            (app_dir / "state" / name).unlink(missing_ok=True)
        medusa_port, storefront_port = free_port(), free_port()
        with (
            recipe.fresh_database() as database_url,
            redis_server(tmp_path_factory.mktemp("redis"), "medusa-recipe-redis.log") as redis_url,
            # The store's one host: /app, /admin, /store... to Medusa, the rest to the storefront.
            recipe.ingress(medusa_port, storefront_port) as store_url,
            # The platform's mail relay, which asks for its login.
            SMTPServer(logins={RELAY_USER: RELAY_PASSWORD}) as smtp,
        ):
            secret = recipe.store_secret()
            env = {
                **recipe.recipe_env(
                    node=node,
                    app_dir=app_dir,
                    database_url=database_url,
                    redis_url=redis_url,
                    store_url=store_url,
                    secret=secret,
                ),
                # What the chart maps from the store's Secret "store-mail" and its admin e-mail.
                **{
                    "STORE_MAIL_HOST": smtp.host,
                    "STORE_MAIL_PORT": str(smtp.port),
                    "STORE_MAIL_SECURITY": "none",
                    "STORE_MAIL_USERNAME": RELAY_USER,
                    "STORE_MAIL_PASSWORD": RELAY_PASSWORD,
                    "STORE_MAIL_FROM": SHOP_SENDER,
                    "STORE_MERCHANT_EMAIL": secret["admin-email"],
                    "STORE_SENDS_MAIL": "true",
                },
            }
            first = recipe.run_setup(env, "medusa-recipe-setup-1.log")
            figures.update(
                setup_seconds=round(first.seconds, 1),
                setup_peak_rss_mb=round(first.peak_rss_mb),
                installed="installing dependencies" in first.output,
                built="building (medusa build)" in first.output,
            )
            medusa_url = f"http://127.0.0.1:{medusa_port}"
            server = recipe.Service(
                "server", ["sh", str(recipe.FILES / "start-server.sh")], {**env, "PORT": str(medusa_port)}
            )
            # The storefront reaches Medusa directly, as through the in-cluster Service.
            storefront = recipe.Service(
                "storefront",
                ["node", str(recipe.FILES / "storefront" / "server.js")],
                {**env, "PORT": str(storefront_port), "MEDUSA_BACKEND_URL": medusa_url},
            )
            try:
                server.start().wait_healthy(f"{store_url}/health", timeout=180)
                storefront.start().wait_healthy(f"{store_url}/healthz", timeout=60)
                figures["ready_seconds"] = round(time.monotonic() - started, 1)
                yield {
                    "env": env,
                    "secret": secret,
                    "url": store_url,
                    "app_dir": app_dir,
                    "figures": figures,
                    "smtp": smtp,
                    "server_log": server.log.name,
                }
            finally:
                storefront.stop()
                server.stop()
    figures["node_modules_mb"] = round(recipe.du_mb(app_dir / "node_modules"))
    figures["npm_cache_mb"] = round(recipe.du_mb(recipe.CACHE / "npm"))
    figures["total_seconds"] = round(time.monotonic() - started, 1)
    FIGURES.write_text(json.dumps(figures, indent=2) + "\n")
    print("medusa recipe figures:", json.dumps(figures))


@pytest.mark.timeout(1800)  # a cold run installs from npm and builds
def test_it_sells_with_cash_on_delivery_and_the_admin_sees_the_order(shop, chromium):
    order = shopper.buy_two_mugs_cash_on_delivery(
        chromium, shop["url"], store_name="Recipe Outfitters", shots="medusa", sends_mail=True
    )
    # The admin API, with the credentials from the store secret's values.
    secret = shop["secret"]
    token = shopper.admin_token(shop["url"], secret["admin-email"], secret["admin-password"])
    shopper.find_order(shop["url"], token, order)
    shopper.admin_lists_the_order(
        chromium, shop["url"], secret["admin-email"], secret["admin-password"], order, shot="medusa-admin-orders"
    )
    _the_order_mails_arrive(shop, chromium, order)


def _the_order_mails_arrive(shop, chromium, order) -> None:
    """The customer's confirmation and the merchant's new-order mail, through the relay."""
    smtp, merchant = shop["smtp"], shop["secret"]["admin-email"]
    number = f"#{order.display_id}"
    wait_for(lambda: len(smtp.messages) >= 2, timeout=60, what="the order's two mails at the relay")
    by_recipient = {message.recipients[0]: message for message in smtp.messages}
    assert set(by_recipient) == {shopper.SHOPPER_EMAIL, merchant}
    for message in by_recipient.values():
        assert message.login == RELAY_USER
        assert message.envelope_from == SHOP_SENDER
        assert number in message.headers["Subject"]
        assert number in message.body
        assert "€29.00" in message.body  # two mugs and delivery, as the confirmation page said
        assert "2 × Enamel camp mug  €24.00" in message.body  # the product once: its variant has its name
    confirmation, new_order = by_recipient[shopper.SHOPPER_EMAIL], by_recipient[merchant]
    assert confirmation.headers["Subject"] == f"Your Recipe Outfitters order {number}"
    assert "Thank you for your order at Recipe Outfitters." in confirmation.body
    assert new_order.headers["Subject"] == f"New order {number} at Recipe Outfitters"
    assert f"{shopper.SHOPPER_EMAIL} placed order {number}." in new_order.body
    # The received mail as text, kept and photographed.
    text = "\n\n".join(
        "\n".join(f"{key}: {message.headers[key]}" for key in ("From", "To", "Subject")) + "\n\n" + message.body
        for message in (confirmation, new_order)
    )
    (LOG_DIR / "medusa-order-mails.txt").write_text(text)
    page = chromium.new_page(viewport={"width": 900, "height": 700})
    page.set_content("<pre style='font: 15px/1.45 monospace; padding: 24px; white-space: pre-wrap'></pre>")
    page.locator("pre").evaluate("(pre, text) => { pre.textContent = text }", text)
    screenshot(page, "medusa-order-mails")
    page.close()


# The store's host as the platform names it (a shopper's e-mail domain needs a real-looking name).
STORE_HOST = "store-recipe.127.0.0.1.nip.io"


def _stock(url: str, token: str) -> list:
    items = shopper.admin_api(url, "/admin/inventory-items?fields=id,*location_levels&limit=100", token)
    return sorted(
        (level["inventory_item_id"], level["location_id"], level["stocked_quantity"], level["reserved_quantity"])
        for item in items["inventory_items"]
        for level in item["location_levels"]
    )


@pytest.mark.timeout(900)
def test_the_platforms_checkout_check_places_finds_and_cancels_an_order(shop):
    url, secret = shop["url"], shop["secret"]
    token = shopper.admin_token(url, secret["admin-email"], secret["admin-password"])
    stock = _stock(url, token)
    api = ShopAPI(url)

    started = time.monotonic()
    result = place_and_cancel(CheckoutTarget(api=api, host=STORE_HOST, secret=secret))
    shop["figures"]["checkout_check_seconds"] = round(time.monotonic() - started, 2)
    shop["figures"]["checkout_check_calls"] = len(api.calls)
    print("checkout check:", *api.calls, sep="\n  ")

    orders = shopper.admin_api(url, "/admin/orders?fields=id,display_id,email,status,metadata&limit=50", token)
    [order] = [o for o in orders["orders"] if f"#{o['display_id']}" == result.order]
    assert order["status"] == "canceled"
    assert order["email"] == f"checkout-check@{STORE_HOST}"
    assert order["metadata"]["placed_by"] == "store-provisioner checkout check"
    # No mail about the check's order: the worker says so, and the relay got none.
    said = f"order {result.order}: no mail, it is the platform's checkout check"
    wait_for(lambda: said in Path(shop["server_log"]).read_text(), timeout=30, what="the check's order handled")
    assert not [m for m in shop["smtp"].messages if m.recipients == [f"checkout-check@{STORE_HOST}"]]
    # Cancelled, its reservation is gone: the stock is as it was.
    assert _stock(url, token) == stock


@pytest.mark.timeout(900)
def test_the_checkout_check_names_the_call_when_the_region_takes_no_payment(shop):
    url, secret = shop["url"], shop["secret"]
    token = shopper.admin_token(url, secret["admin-email"], secret["admin-password"])
    [region] = shopper.admin_api(url, "/admin/regions?fields=id", token)["regions"]
    shopper.admin_api(url, f"/admin/regions/{region['id']}", token, body={"payment_providers": []})
    try:
        with pytest.raises(CheckoutFailed) as failed:
            place_and_cancel(CheckoutTarget(api=ShopAPI(url), host=STORE_HOST, secret=secret))
    finally:
        shopper.admin_api(url, f"/admin/regions/{region['id']}", token, body={"payment_providers": [PAYMENT_PROVIDER]})
    print("the check said:", failed.value)
    assert str(failed.value).startswith(
        "checkout failed: POST /store/payment-collections/{collection}/payment-sessions → 400 invalid_data "
        "Payment provider pp_system_default is not enabled"
    ), failed.value
    assert secret["admin-password"] not in str(failed.value)


@pytest.mark.timeout(900)
def test_it_runs_setup_a_second_time_without_changing_anything(shop):
    app_dir = shop["app_dir"]
    state = app_dir / "state"
    before = {p.name: p.read_text() for p in state.iterdir() if p.is_file()}
    marker = (app_dir / "node_modules" / ".package-lock.json").stat().st_mtime_ns
    built = (app_dir / ".medusa" / "server" / "medusa-config.js").stat().st_mtime_ns

    second = recipe.run_setup(shop["env"], "medusa-recipe-setup-2.log")

    shop["figures"]["second_setup_seconds"] = round(second.seconds, 1)
    for line in (
        "project unchanged",
        "dependencies installed",
        "the admin user exists",
        "seed: nothing to do",
        "build up to date",
    ):
        assert line in second.output
    assert {p.name: p.read_text() for p in state.iterdir() if p.is_file()} == before
    assert (app_dir / "node_modules" / ".package-lock.json").stat().st_mtime_ns == marker
    assert (app_dir / ".medusa" / "server" / "medusa-config.js").stat().st_mtime_ns == built
    # Quick: no install, no build; what is left is Medusa booting three times
    # (migrate, user, seed). The figure is printed with the others.

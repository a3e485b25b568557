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
import re
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.charts import medusa_recipe_support as recipe
from tests.chromium import screenshot
from tests.platform import LOG_DIR, free_port

pytestmark = [pytest.mark.browser, pytest.mark.recipe]

FIGURES = LOG_DIR / "medusa-recipe-figures.json"


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
            recipe.redis_server(tmp_path_factory.mktemp("redis")) as redis_url,
            # The store's one host: /app, /admin, /store... to Medusa, the rest to the storefront.
            recipe.ingress(medusa_port, storefront_port) as store_url,
        ):
            secret = recipe.store_secret()
            env = recipe.recipe_env(
                node=node,
                app_dir=app_dir,
                database_url=database_url,
                redis_url=redis_url,
                store_url=store_url,
                secret=secret,
            )
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
                yield {"env": env, "secret": secret, "url": store_url, "app_dir": app_dir, "figures": figures}
            finally:
                storefront.stop()
                server.stop()
    figures["node_modules_mb"] = round(recipe.du_mb(app_dir / "node_modules"))
    figures["npm_cache_mb"] = round(recipe.du_mb(recipe.CACHE / "npm"))
    figures["total_seconds"] = round(time.monotonic() - started, 1)
    FIGURES.write_text(json.dumps(figures, indent=2) + "\n")
    print("medusa recipe figures:", json.dumps(figures))


def shot(page, name: str) -> None:
    screenshot(page, f"medusa-{name}")


def admin_api(shop, path: str, token: str | None = None, body: dict | None = None) -> dict:
    req = urllib.request.Request(
        shop["url"] + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})},
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.load(res)


@pytest.mark.timeout(1800)  # a cold run installs from npm and builds
def test_it_sells_with_cash_on_delivery_and_the_admin_sees_the_order(shop, chromium):
    page = chromium.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(30_000)

    page.goto(shop["url"] + "/")
    expect(page.locator("header .brand")).to_have_text("Recipe Outfitters")
    product_link = page.get_by_role("link", name="Enamel camp mug")
    expect(product_link).to_be_visible()
    shot(page, "storefront")

    product_link.click()
    expect(page.locator("h1")).to_have_text("Enamel camp mug")
    expect(page.locator("#price")).to_have_text("€12.00")
    expect(page.locator(".stock")).to_contain_text("in stock")
    shot(page, "product")
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()

    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(page.locator("#total")).to_have_text("€24.00")
    expect(page.locator("#cart-link")).to_have_text("Cart (2)")
    shot(page, "cart")
    page.get_by_role("link", name="Checkout").click()

    page.get_by_label("Email").fill("shopper@example.org")
    page.get_by_label("First name").fill("Sam")
    page.get_by_label("Last name").fill("Rivera")
    page.get_by_label("Street and number").fill("Keizersgracht 1")
    page.get_by_label("Postal code").fill("1015 CJ")
    page.get_by_label("City").fill("Amsterdam")
    page.get_by_label("Country").select_option("nl")
    page.get_by_role("button", name="Continue to delivery and payment").click()

    page.get_by_label(re.compile("Standard delivery")).check()
    page.get_by_label("Cash on delivery").check()
    expect(page.locator("#total")).to_have_text("€24.00")
    shot(page, "checkout")
    page.get_by_role("button", name="Place order").click()

    expect(page.locator("h1")).to_have_text("Thank you for your order!")
    expect(page.locator("main")).to_contain_text("cash on delivery")
    expect(page.locator("#total")).to_have_text("€29.00")  # two mugs and delivery
    display_id = page.locator("#order-number").inner_text().lstrip("#")
    order_id = page.url.rsplit("/", 1)[1]
    shot(page, "order-confirmation")
    expect(page.locator("#cart-link")).to_have_text("Cart")  # the cart is done with

    # The admin API, with the credentials from the store secret's values.
    secret = shop["secret"]
    token = admin_api(
        shop, "/auth/user/emailpass", body={"email": secret["admin-email"], "password": secret["admin-password"]}
    )["token"]
    orders = admin_api(shop, "/admin/orders?fields=id,display_id,email,total,*items&limit=50", token)["orders"]
    [order] = [o for o in orders if o["id"] == order_id]
    assert str(order["display_id"]) == display_id
    assert order["email"] == "shopper@example.org"
    assert order["total"] == 29
    assert [(i["product_title"], i["quantity"]) for i in order["items"]] == [("Enamel camp mug", 2)]

    # The admin dashboard, logged in through the browser.
    admin = chromium.new_page(viewport={"width": 1440, "height": 900})
    admin.set_default_timeout(60_000)
    admin.goto(shop["url"] + "/app/login")
    admin.get_by_placeholder("Email").fill(secret["admin-email"])
    admin.get_by_placeholder("Password").fill(secret["admin-password"])
    admin.get_by_role("button", name="Continue with Email").click()
    # The session cookie must stick over plain HTTP (see medusa-config.ts).
    expect(admin).not_to_have_url(re.compile("/login"))
    admin.goto(shop["url"] + "/app/orders")
    expect(admin.get_by_text(f"#{display_id}", exact=True)).to_be_visible()
    expect(admin.get_by_text("shopper@example.org")).to_be_visible()
    shot(admin, "admin-orders")


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

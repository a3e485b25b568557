"""A shopper and a merchant on a Medusa store, in Chromium: used by the recipe
test (the chart's recipe on this machine) and by the real-node test (a store
the platform provisioned from the store image).

`store_url` is the store's one origin (/app, /admin, /store... to Medusa, the
rest to the storefront), as its Ingress routes it.
"""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Browser, expect

from tests.chromium import screenshot

SHOPPER_EMAIL = "shopper@example.org"


@dataclass(frozen=True)
class Order:
    id: str
    display_id: str


def buy_two_mugs_cash_on_delivery(
    browser: Browser, store_url: str, *, store_name: str, shots: str, sends_mail: bool = False
) -> Order:
    """Product page, cart, checkout with cash on delivery, confirmation; screenshots <shots>-*.png.

    `sends_mail`: the store has a mail relay, so the page says a confirmation is on its way."""
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(30_000)
    page.goto(store_url + "/")
    expect(page.locator("header .brand")).to_have_text(store_name)
    product_link = page.get_by_role("link", name="Enamel camp mug")
    expect(product_link).to_be_visible()
    screenshot(page, f"{shots}-storefront")

    product_link.click()
    expect(page.locator("h1")).to_have_text("Enamel camp mug")
    expect(page.locator("#price")).to_have_text("€12.00")
    expect(page.locator(".stock")).to_contain_text("in stock")
    screenshot(page, f"{shots}-product")
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()

    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(page.locator("#total")).to_have_text("€24.00")
    expect(page.locator("#cart-link")).to_have_text("Cart (2)")
    screenshot(page, f"{shots}-cart")
    page.get_by_role("link", name="Checkout").click()

    page.get_by_label("Email").fill(SHOPPER_EMAIL)
    page.get_by_label("First name").fill("Sam")
    page.get_by_label("Last name").fill("Rivera")
    page.get_by_label("Street and number").fill("Torstraße 1")
    page.get_by_label("Postal code").fill("10119")
    page.get_by_label("City").fill("Berlin")
    # The store's region: its country (a shop in Germany selling in euros).
    page.get_by_label("Country").select_option("de")
    page.get_by_role("button", name="Continue to delivery and payment").click()

    page.get_by_label(re.compile("Standard delivery")).check()
    page.get_by_label("Cash on delivery").check()
    expect(page.locator("#total")).to_have_text("€24.00")
    screenshot(page, f"{shots}-checkout")
    page.get_by_role("button", name="Place order").click()

    expect(page.locator("h1")).to_have_text("Thank you for your order!")
    expect(page.locator("main")).to_contain_text("cash on delivery")
    expect(page.locator("#total")).to_have_text("€29.00")  # two mugs and delivery
    if sends_mail:
        expect(page.locator("main")).to_contain_text(f"A confirmation goes to {SHOPPER_EMAIL}.")
    else:
        # The store sends no mail: the page does not say one is on its way.
        expect(page.locator("main")).not_to_contain_text("A confirmation goes to")
    order = Order(id=page.url.rsplit("/", 1)[1], display_id=page.locator("#order-number").inner_text().lstrip("#"))
    screenshot(page, f"{shots}-order-confirmation")
    expect(page.locator("#cart-link")).to_have_text("Cart")  # the cart is done with
    page.close()
    return order


def admin_token(store_url: str, email: str, password: str, opener: Any = None) -> str:
    token: str = admin_api(
        store_url, "/auth/user/emailpass", body={"email": email, "password": password}, opener=opener
    )["token"]
    return token


def admin_api(
    store_url: str, path: str, token: str | None = None, body: dict | None = None, opener: Any = None
) -> dict:
    req = urllib.request.Request(
        store_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})},
    )
    with (opener or urllib.request.build_opener()).open(req, timeout=30) as res:
        result: dict = json.load(res)
        return result


def find_order(store_url: str, token: str, order: Order, opener: Any = None) -> dict:
    """The order as the admin API has it: two mugs, €29 with delivery, the shopper's address."""
    orders = admin_api(
        store_url, "/admin/orders?fields=id,display_id,email,total,*items&limit=50", token, opener=opener
    )
    [found] = [o for o in orders["orders"] if o["id"] == order.id]
    assert str(found["display_id"]) == order.display_id
    assert found["email"] == SHOPPER_EMAIL
    assert found["total"] == 29
    assert [(i["product_title"], i["quantity"]) for i in found["items"]] == [("Enamel camp mug", 2)]
    return found


def admin_lists_the_order(
    browser: Browser, store_url: str, email: str, password: str, order: Order, *, shot: str
) -> None:
    """The admin dashboard at /app, logged in through the browser, lists the order."""
    admin = browser.new_page(viewport={"width": 1440, "height": 900})
    admin.set_default_timeout(60_000)
    admin.goto(store_url + "/app/login")
    admin.get_by_placeholder("Email").fill(email)
    admin.get_by_placeholder("Password").fill(password)
    admin.get_by_role("button", name="Continue with Email").click()
    # The session cookie must stick over plain HTTP (see medusa-config.ts).
    expect(admin).not_to_have_url(re.compile("/login"))
    admin.goto(store_url + "/app/orders")
    expect(admin.get_by_text(f"#{order.display_id}", exact=True)).to_be_visible()
    expect(admin.get_by_text(SHOPPER_EMAIL)).to_be_visible()
    screenshot(admin, shot)
    admin.close()

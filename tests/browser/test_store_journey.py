"""A store owner's whole journey in Debian's Chromium, against the running platform.

The web server and both worker clusters run as real processes; stores are
provisioned on the local control plane with real Helm. Screenshots of each
page land in artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from playwright.sync_api import expect

from stores.models import Status, Store
from tests.chromium import screenshot
from tests.platform import Platform, delete_live_stores

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(local_cluster, store_settings):
    platform = Platform(
        connection.settings_dict, KUBECONFIG=str(local_cluster.kubeconfig), HELM_BIN=str(local_cluster.helm)
    )
    platform.start_workers()
    url = platform.start_web()
    yield url
    platform.stop()
    delete_live_stores()  # in this process, pointed at the cluster by store_settings


def test_an_owner_creates_watches_reveals_and_deletes_a_store(server, page):
    page.goto(f"{server}/accounts/register/")
    screenshot(page, "01-register")
    page.fill("#id_username", "olivia")
    page.fill("#id_email", "olivia@example.org")
    page.fill("#id_password1", "a-long-pass-phrase-9")
    page.fill("#id_password2", "a-long-pass-phrase-9")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your stores")
    expect(page.locator("#store-count")).to_have_text("0 of 3")
    screenshot(page, "02-dashboard-empty")

    page.fill("#id_name", "Olivia's Shop")
    page.click("#create button[type=submit]")
    expect(page.locator(".field-error")).to_contain_text("lowercase letters")
    assert Store.objects.count() == 0
    screenshot(page, "03-create-form-error")

    page.fill("#id_name", "olivias-shop")
    page.click("#create button[type=submit]")
    expect(page.locator("h1")).to_have_text("olivias-shop")
    screenshot(page, "04-store-provisioning")
    # The status panel polls every 2 s and stops once the store is final.
    expect(page.locator("#store-status .badge").first).to_have_text("Ready", timeout=120_000)
    expect(page.locator(".step-done")).to_have_count(5)
    expect(page.locator(".step-skipped")).to_contain_text(["Storefront check", "Checkout check"])
    expect(page.locator("dd.checkout-state")).to_contain_text("Not verified")
    screenshot(page, "05-store-ready")

    page.click("text=Reveal admin login")
    password = page.locator("#credentials code.secret")
    expect(password).to_have_text(re.compile(r"^[A-Za-z0-9]{20,}$"))
    expect(page.locator("#credentials")).to_contain_text("admin")
    screenshot(page, "06-credentials")

    page.goto(f"{server}/")
    expect(page.locator("#store-count")).to_have_text("1 of 3")
    expect(page.locator("table.stores")).to_contain_text("Ready")
    screenshot(page, "07-dashboard-one-store")

    page.goto(f"{server}/stores/{Store.objects.get(slug='olivias-shop').pk}/")
    page.click("text=Delete…")
    screenshot(page, "08-delete-confirm")
    page.click("button:has-text('Delete store')")
    expect(page.locator("#store-status .badge").first).to_have_text("Deleted", timeout=120_000)
    screenshot(page, "09-store-deleted")
    assert Store.objects.get(slug="olivias-shop").status == Status.DELETED

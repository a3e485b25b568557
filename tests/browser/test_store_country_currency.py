"""A shop in Germany selling in euros, chosen on the New store form, in Debian's Chromium.

The web server and both worker clusters run as real processes; the store is
provisioned on the local control plane with real Helm, so the chart takes the
shop's values (shop.country, shop.currency) for real. Screenshots land in
artifacts/screenshots/.
"""

from __future__ import annotations

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.db import connection
from playwright.sync_api import expect

from stores.models import Store
from tests.chart_tools import REPO_ROOT
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


def _log_in(page, server):
    get_user_model().objects.create_user("greta", "greta@example.org", "a-long-pass-phrase-9")
    page.goto(f"{server}/accounts/login/")
    page.fill("#id_username", "greta")
    page.fill("#id_password", "a-long-pass-phrase-9")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your stores")


def test_an_owner_creates_a_shop_in_germany_selling_in_euros(server, page):
    _log_in(page, server)
    country, currency = page.get_by_label("Country"), page.get_by_label("Currency")
    # The platform's defaults (STORE_DEFAULT_COUNTRY, STORE_DEFAULT_CURRENCY), preselected.
    expect(country).to_have_value("US")
    expect(currency).to_have_value("USD")
    expect(page.locator("#id_currency option:checked")).to_have_text("USD — US dollar ($)")

    page.fill("#id_name", "berlin-mugs")
    page.check("input[name=engine][value=medusa]")
    country.select_option("DE")
    currency.select_option("EUR")
    screenshot(page, "new-store-country-currency")

    # A currency the engine does not sell in: said at the field, nothing created, the choices kept.
    currency.select_option("BTC")
    page.click("#create button[type=submit]")
    expect(page.locator("#id_currency ~ .field-error")).to_contain_text("MedusaJS does not sell in Bitcoin")
    expect(page.get_by_label("Country")).to_have_value("DE")
    assert Store.objects.count() == 0
    screenshot(page, "new-store-currency-refused")

    page.get_by_label("Currency").select_option("EUR")
    page.click("#create button[type=submit]")
    expect(page.locator("h1")).to_have_text("berlin-mugs")
    expect(page.locator("dd.shop-country")).to_have_text("Germany")
    expect(page.locator("dd.shop-currency")).to_have_text("EUR Euro (€)")
    store = Store.objects.get(slug="berlin-mugs")
    assert (store.engine, store.country, store.currency) == ("medusa", "DE", "EUR")

    # The chart took shop.country and shop.currency: the release installed and the store is ready.
    expect(page.locator("#store-status .badge").first).to_have_text("Ready", timeout=180_000)
    # Medusa's version: the one its chart pins.
    pinned = yaml.safe_load((REPO_ROOT / "charts" / "medusa" / "Chart.yaml").read_text())["appVersion"]
    expect(page.locator("dd.shop-versions")).to_have_text(f"Medusa {pinned}")
    screenshot(page, "store-page-country-currency")

"""A store on an older chart, as its owner sees it: a badge in the list, a line on its page.

The stores are rows in the database (no provision runs): what is under test is
how the pages say it, in a real browser. Screenshots land in artifacts/screenshots/.
"""

from __future__ import annotations

import pytest
from django.db import connection
from playwright.sync_api import expect

from stores import lifecycle, releases
from stores.models import Status, Store
from tests.chromium import screenshot
from tests.platform import Platform

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(local_cluster, store_settings):
    platform = Platform(
        connection.settings_dict, KUBECONFIG=str(local_cluster.kubeconfig), HELM_BIN=str(local_cluster.helm)
    )
    url = platform.start_web()
    yield url
    platform.stop()


def _store(owner, slug, status, chart_version):
    store = lifecycle.create_store(owner, slug, "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=status, chart_version=chart_version, attempts=1)
    return Store.objects.get(pk=store.pk)


def test_it_shows_an_older_chart_on_the_dashboard_and_the_store_page(server, page, django_user_model):
    current = releases.current_chart_version("woocommerce")
    owner = django_user_model.objects.create_user("uma", "uma@example.org", "a-long-pass-phrase-9")
    old = _store(owner, "chart-old-books", Status.READY, "0.0.9")
    _store(owner, "chart-new-tea", Status.READY, current)
    updating = _store(owner, "chart-busy-maps", Status.READY, "0.0.9")
    lifecycle.begin_update(updating.pk, f"Upgrade to chart {current} requested.", only_from={Status.READY})

    page.goto(f"{server}/accounts/login/?next=/")
    page.fill("#id_username", "uma")
    page.fill("#id_password", "a-long-pass-phrase-9")
    page.click("button[type=submit]")
    row = page.locator("tr", has_text="chart-old-books")
    expect(row.locator(".badge-chart")).to_have_text(f"Chart 0.0.9 · {current} available")
    expect(page.locator("tr", has_text="chart-new-tea").locator(".badge-chart")).to_have_count(0)
    expect(page.locator("tr", has_text="chart-busy-maps").locator(".badge-updating")).to_have_text("Updating")
    screenshot(page, "chart-indicator-dashboard")

    page.goto(f"{server}/stores/{old.pk}/")
    expect(page.locator(".chart-note")).to_have_text(
        "A newer chart is available; an operator upgrades the store to it."
    )
    screenshot(page, "chart-indicator-store-page")

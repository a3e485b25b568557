"""The dashboard follows a delete without a reload: list, count, limit notice, Create button.

Three stores are provisioned for real (provision workers, the local control
plane, real Helm). One of them is then deleted through the task layer while the
dashboard is open and polling; the page must go from "3 of 3" to "2 of 3" and
enable Create in the same document. Screenshots land in artifacts/screenshots/.
"""

from __future__ import annotations

import pytest
from django.db import connection
from playwright.sync_api import expect

from stores import lifecycle, tasks
from stores.models import Status, Store
from tests.chromium import screenshot
from tests.platform import Platform, delete_live_stores
from tests.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Unique on the shared cluster: namespaces are store-<slug>.
SLUGS = ["live-count-coffee", "live-count-tea", "live-count-cocoa"]


@pytest.fixture
def server(local_cluster, store_settings):
    # This process runs deletes too (store_settings points it at the same cluster and helm).
    platform = Platform(
        connection.settings_dict, KUBECONFIG=str(local_cluster.kubeconfig), HELM_BIN=str(local_cluster.helm)
    )
    # Provision workers only: the delete under test runs in this process, when
    # the test says so, so nothing else may start it earlier.
    platform.restart_provision_workers()
    url = platform.start_web()
    yield url
    platform.stop()
    delete_live_stores()


def test_it_updates_the_count_and_create_button_after_a_delete(server, page, django_user_model):
    owner = django_user_model.objects.create_user("lena", "lena@example.org", "a-long-pass-phrase-9")
    for slug in SLUGS:
        tasks.request_create(owner, slug, "woocommerce")
    wait_for(
        lambda: Store.objects.filter(owner=owner, status=Status.READY).count() == 3,
        timeout=120,
        what="three ready stores",
    )
    leaving = Store.objects.get(slug=SLUGS[-1])
    # Deleting is a busy state, so the dashboard opened now polls until it ends.
    lifecycle.request_delete(leaving.pk)

    page.goto(f"{server}/accounts/login/?next=/")
    page.fill("#id_username", "lena")
    page.fill("#id_password", "a-long-pass-phrase-9")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your stores")
    expect(page.locator("#store-count")).to_have_text("3 of 3")
    expect(page.locator("#store-list")).to_contain_text("Deleting")
    expect(page.locator("#create .notice")).to_be_visible()
    expect(page.locator("#create button[type=submit]")).to_be_disabled()
    screenshot(page, "dashboard-live-01-at-limit")
    # Survives only if the page is never reloaded.
    page.evaluate("window.sameDocument = true")

    tasks.delete(leaving.pk)

    assert Store.objects.get(pk=leaving.pk).status == Status.DELETED
    expect(page.locator("#store-list")).not_to_contain_text(SLUGS[-1])
    expect(page.locator("#store-count")).to_have_text("2 of 3")
    expect(page.locator("#create .notice")).to_be_hidden()
    expect(page.locator("#create button[type=submit]")).to_be_enabled()
    assert page.evaluate("window.sameDocument") is True
    screenshot(page, "dashboard-live-02-after-delete")

    # The swapped-in button is the form's own: there is room again, so it creates a store.
    page.fill("#id_name", "live-count-mate")
    page.click("#create button[type=submit]")
    expect(page.locator("h1")).to_have_text("live-count-mate")
    # Let it finish, so the clean-up deletes a ready store rather than one a worker holds.
    wait_for(
        lambda: Store.objects.get(slug="live-count-mate").status == Status.READY, timeout=120, what="the new store"
    )

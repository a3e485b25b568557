"""The store page explains a failure with the cluster's own words, and survives without a cluster.

A store is created through the page and provisioned for real (provision
workers, the local control plane, real Helm) with an operator values file
(`STORE_VALUES_FILES`) whose MariaDB volume is larger than the namespace's
whole storage quota: the API server refuses its claim, the store fails, and
its page must show the Kubernetes event that says why. A second page is served with a
kubeconfig whose API server does not exist and must say so. Screenshots land
in artifacts/screenshots/.
"""

from __future__ import annotations

import socket

import pytest
import yaml
from django.db import connection
from playwright.sync_api import expect

from stores import lifecycle
from stores.models import Status, Store
from tests.chromium import screenshot
from tests.platform import Platform, delete_live_stores

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-pass-phrase-9"
# MariaDB's volume claim alone is over the quota's requests.storage (20Gi), so
# the API server refuses it whatever else the namespace holds. (A CPU request
# that only overflows the quota together with another pod's is refused only
# most of the time: the quota controller recounts usage from its own pod cache
# and can write a count that misses a pod created a moment before, letting the
# next one in. Seen in 3 of 4 loaded runs.)
OVER_QUOTA = {"persistence": {"mariadbSize": "30Gi"}}


@pytest.fixture
def over_quota_server(local_cluster, store_settings, tmp_path):
    values = tmp_path / "over-quota.yaml"
    values.write_text(yaml.safe_dump(OVER_QUOTA))
    platform = Platform(
        connection.settings_dict,
        KUBECONFIG=str(local_cluster.kubeconfig),
        HELM_BIN=str(local_cluster.helm),
        STORE_VALUES_FILES=str(values),
    )
    platform.restart_provision_workers()  # the clean-up deletes in this process
    url = platform.start_web()
    yield url
    platform.stop()
    delete_live_stores()


@pytest.fixture
def offline_server(local_cluster, store_settings, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the block ends
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "gone",
                "clusters": [
                    {
                        "name": "gone",
                        "cluster": {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True},
                    }
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
            }
        )
    )
    platform = Platform(connection.settings_dict, KUBECONFIG=str(kubeconfig), HELM_BIN=str(local_cluster.helm))
    url = platform.start_web()
    yield url
    platform.stop()
    delete_live_stores()  # in this process, against the real local cluster


def _log_in(page, server, user):
    page.goto(f"{server}/accounts/login/?next=/")
    page.fill("#id_username", user.get_username())
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your stores")


def test_a_store_refused_by_its_quota_shows_the_event_that_says_why(over_quota_server, page, django_user_model):
    owner = django_user_model.objects.create_user("quinn", "quinn@example.org", PASSWORD)
    _log_in(page, over_quota_server, owner)

    page.fill("#id_name", "live-page-quota")
    page.click("#create button[type=submit]")
    expect(page.locator("h1")).to_have_text("live-page-quota")
    # The status panel polls every 2 s and stops once the store has failed.
    expect(page.locator("#store-status .badge").first).to_have_text("Failed", timeout=120_000)
    assert Store.objects.get(slug="live-page-quota").status == Status.FAILED

    refusal = page.locator("#activity-feed .event-warning", has_text="exceeded quota").first
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("Warning")  # said in words, not only by colour
    expect(refusal).to_contain_text("FailedCreate")
    expect(refusal).to_contain_text("store-quota")
    expect(refusal).to_contain_text("requests.storage=30Gi")
    # The pods that did start (WordPress: MariaDB's pod waits for its claim), and
    # what the namespace uses of its quota.
    expect(page.locator("table.pods")).to_contain_text("Running")
    expect(page.locator("ul.quota")).to_contain_text("Storage")
    expect(page.locator("ul.quota")).to_contain_text("/ 20Gi")
    screenshot(page, "store-live-01-quota-refused")

    # The feed scrolls from the keyboard.
    page.locator("#activity-feed").focus()
    assert page.evaluate("document.activeElement.id") == "activity-feed"
    page.keyboard.press("End")
    refusal.scroll_into_view_if_needed()
    screenshot(page, "store-live-02-feed-focused")


def test_the_page_says_the_cluster_is_unreachable(offline_server, page, django_user_model):
    owner = django_user_model.objects.create_user("olga", "olga@example.org", PASSWORD)
    store = lifecycle.create_store(owner, "live-page-offline", "woocommerce")
    assert lifecycle.claim_provision_slots() == [store.pk]  # no worker runs: it stays provisioning
    _log_in(page, offline_server, owner)

    page.goto(f"{offline_server}/stores/{store.pk}/")

    expect(page.locator("h1")).to_have_text("live-page-offline")
    expect(page.locator("#pods-title + .notice")).to_have_text(
        "The cluster is unreachable right now, so pods, quota usage and Kubernetes events are not shown."
    )
    expect(page.locator("#activity-feed")).to_contain_text("Provisioning started")
    # It keeps polling, and each poll answers with the same message rather than hanging.
    with page.expect_response(lambda r: "/status/" in r.url, timeout=15_000) as poll:
        pass
    assert poll.value.status == 200
    expect(page.locator("#pods-title + .notice")).to_be_visible()
    screenshot(page, "store-live-03-cluster-unreachable")

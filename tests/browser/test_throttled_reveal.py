"""A throttled reveal of the shop admin login, in a real browser.

htmx leaves an error response out of the page by default, so a 429 would make
the button look dead. base.html's htmx-config swaps a 429 in, and the throttle
answers an htmx request with its message alone: the owner reads it where the
login would have appeared. The store is a row in the database with its
namespace and secret in the local cluster (no provision runs). Screenshots land in
artifacts/screenshots/.
"""

from __future__ import annotations

import secrets

import pytest
from django.db import connection
from playwright.sync_api import expect

from stores import clients, isolation, lifecycle
from stores.engines.contract import SECRET_NAME
from stores.models import Status, Store
from tests.chromium import screenshot
from tests.platform import Platform

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(local_cluster, store_settings):
    platform = Platform(
        connection.settings_dict,
        KUBECONFIG=str(local_cluster.kubeconfig),
        HELM_BIN=str(local_cluster.helm),
        STORE_ACTION_RATE="1/m",
    )
    url = platform.start_web()
    yield url
    platform.stop()


@pytest.fixture
def store_with_secret(cleanup, django_user_model):
    """A ready store of a new owner, its admin login in its namespace's secret.

    Written with the platform's own cluster layer (the namespace and secret
    provisioning makes); the `cleanup` fixture deletes the store afterwards
    the way the platform does.
    """
    owner = django_user_model.objects.create_user("tess", "tess@example.org", "a-long-pass-phrase-9")
    slug = f"throttle-{secrets.token_hex(3)}"  # unique on the shared cluster
    store = lifecycle.create_store(owner, slug, "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.READY, attempts=1)
    kube = clients.connect()
    kube.ensure_namespace(store.namespace, isolation.namespace_labels(store))
    kube.ensure_secret(store.namespace, SECRET_NAME, {"admin-user": "shopkeeper", "admin-password": "Vb8nQ2xLr5Tz"})
    return store


def _reveal(page) -> bool:
    """Reload the store page and press Reveal; True when the throttle refused it."""
    page.reload()
    page.click("text=Reveal admin login")
    refused = page.locator("#credentials [role=alert]")
    expect(refused.or_(page.locator("#credentials code.secret"))).to_be_visible()
    return refused.count() > 0


def test_a_reveal_over_the_limit_says_why_in_the_panel(server, store_with_secret, page):
    page.goto(f"{server}/accounts/login/?next=/stores/{store_with_secret.pk}/")
    page.fill("#id_username", "tess")
    page.fill("#id_password", "a-long-pass-phrase-9")
    page.click("button[type=submit]")

    page.click("text=Reveal admin login")
    expect(page.locator("#credentials code.secret")).to_have_text("Vb8nQ2xLr5Tz")

    # The throttle counts in fixed windows of a minute (STORE_ACTION_RATE
    # 1/m): a first reveal at the end of one lets the next, in a fresh window,
    # through. Not two: the window after that starts a minute later, and these
    # reveals take seconds. So the second or else the third is refused.
    refused_at = next((attempt for attempt in (2, 3) if _reveal(page)), None)
    assert refused_at is not None, "two more reveals within a minute were both let through"
    alert = page.locator("#credentials [role=alert]")
    expect(alert).to_have_text("Too many attempts; try again in a minute. Nothing was changed.")
    # Swapped into the panel, not a page of its own: the store page is still there.
    expect(page.locator("h1")).to_have_text(store_with_secret.slug)
    expect(page.locator("#credentials code.secret")).to_have_count(0)
    screenshot(page, "throttled-reveal")

"""The store page's polls, as Chromium makes them: revalidated with the fragment's ETag.

The status fragment answers 304 while nothing changed; the browser keeps what
it has (htmx, and Playwright, see the cached 200: a revalidated poll is told
apart by the If-None-Match it was sent with) and must still show a change as
soon as it happens, and stop polling once the store is final. The page is served with a
kubeconfig that does not exist, so no cluster is needed: the store is moved
along by hand, as a provision worker would.
"""

from __future__ import annotations

import pytest
from django.db import connection
from playwright.sync_api import expect

from stores import lifecycle
from stores.models import Status
from tests.chromium import screenshot
from tests.platform import Platform

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-pass-phrase-9"


@pytest.fixture
def server(tmp_path):
    platform = Platform(connection.settings_dict, KUBECONFIG=str(tmp_path / "no-cluster"))
    url = platform.start_web()
    yield url
    platform.stop()


def test_polls_are_revalidated_and_still_show_every_change(server, page, django_user_model):
    owner = django_user_model.objects.create_user("polly", "polly@example.org", PASSWORD)
    store = lifecycle.create_store(owner, "poll-etag-page", "woocommerce")
    assert lifecycle.claim_provision_slots() == [store.pk]
    token = lifecycle.take_lease(store.pk, Status.PROVISIONING)
    polls: list[tuple[int, bool]] = []  # (status, sent with If-None-Match)

    def seen(response):
        if f"/stores/{store.pk}/status/" in response.url:
            polls.append((response.status, bool(response.request.header_value("if-none-match"))))

    page.on("response", seen)

    page.goto(f"{server}/accounts/login/?next=/stores/{store.pk}/")
    page.fill("#id_username", "polly")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("poll-etag-page")

    # Nothing changes: after the first poll the browser revalidates what it holds.
    for _ in range(40):
        if sum(revalidated for _status, revalidated in polls) >= 2:
            break
        page.wait_for_timeout(250)
    assert polls[0] == (200, False), polls
    assert sum(revalidated for _status, revalidated in polls) >= 2, polls
    expect(page.locator("#activity-feed")).to_contain_text("Provisioning started")

    # A provision moves on: the next poll brings the new step and event.
    lifecycle.set_step(store.pk, token, "guardrails")
    lifecycle.record(
        store.pk, "Quota, limits and network policies applied.", kind="step", step="namespace", duration_ms=420
    )
    expect(page.locator("#activity-feed")).to_contain_text("Quota, limits and network policies applied.")
    expect(page.locator(".step-running .label")).to_have_count(1)
    expect(page.locator(".step-done .label")).to_have_count(1)
    screenshot(page, "store-poll-01-changed-after-304s")

    # Ready is final: the whole fragment arrives with 286 and polling stops.
    lifecycle.mark_ready(store.pk, token, "Store is ready.")
    expect(page.locator("#store-status .badge").first).to_have_text("Ready")
    assert polls[-1][0] == 286, polls
    seen = len(polls)
    page.wait_for_timeout(5_000)
    assert len(polls) == seen, polls
    screenshot(page, "store-poll-02-ready")

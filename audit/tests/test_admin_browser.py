"""The audit log as an operator sees it in Chromium: the list, its filters, and a store's link to it."""

import pytest
from django.test import RequestFactory

from audit import log
from audit.models import Action, Channel, Outcome
from stores import lifecycle
from tests.chromium import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)


def _request(user, ip, agent, path="/stores/"):
    request = RequestFactory().post(path, REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
    request.user = user
    return request


def _history(django_user_model):
    alice = django_user_model.objects.create_user("alice", "alice@example.org", "alice-password-1")
    bob = django_user_model.objects.create_user("bob", "bob@example.org", "bob-password-1")
    coffee = lifecycle.create_store(alice, "coffee-corner", "woocommerce")
    tea = lifecycle.create_store(bob, "tea-house", "medusa")
    log.record(Action.CREATE, request=_request(alice, "203.0.113.7", FIREFOX), store=coffee)
    log.record(Action.CREATE, request=_request(bob, "198.51.100.4", SAFARI), store=tea)
    log.record(Action.REVEAL_CREDENTIALS, request=_request(alice, "203.0.113.7", FIREFOX), store=coffee)
    log.record(
        Action.DELETE,
        request=_request(bob, "198.51.100.4", SAFARI),
        store=coffee,
        outcome=Outcome.REFUSED,
        detail="not the owner (the store belongs to alice)",
    )
    log.record(Action.RETRY, store=tea)  # manage.py stores retry
    log.record(Action.DELETE, request=_request(bob, "198.51.100.4", SAFARI), store=tea)
    return coffee


def test_it_shows_the_audit_log_to_an_operator(chromium, live_server, django_user_model, admin_user):
    coffee = _history(django_user_model)
    log.record(
        Action.RESTART_DELETE, request=_request(admin_user, "192.0.2.10", FIREFOX), store=coffee, channel=Channel.ADMIN
    )
    page = chromium.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/audit/auditentry/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")  # pytest-django's admin_user
    page.click("input[type=submit]")

    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 8  # the seven above, and this sign-in, newest first
    assert "Sign in" in rows.first.inner_text()
    assert page.locator("#changelist-filter").inner_text().count("By ") >= 4
    body = page.inner_text("#result_list")
    assert "not the owner (the store belongs to alice)" in body
    assert "198.51.100.4" in body
    assert page.locator(".object-tools a.addlink").count() == 0  # no "Add audit entry" button
    screenshot(page, "audit-log-admin-list")

    # A store's admin page links to its own entries.
    page.goto(f"{live_server.url}/admin/stores/store/{coffee.pk}/change/")
    page.click("text=Who created, deleted, retried it or revealed its credentials")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 4
    screenshot(page, "audit-log-admin-one-store")

    page.locator("#result_list tbody tr").first.locator("th a, td a").first.click()
    page.wait_for_selector("#content")
    assert page.locator("input[name=_save]").count() == 0
    screenshot(page, "audit-log-admin-entry")

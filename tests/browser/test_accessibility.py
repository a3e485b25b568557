"""axe-core finds no serious or critical accessibility violation on any page.

Every page a user can reach is opened in Chromium against the running web
server, in the states it has (an empty dashboard and a full one; a queued,
ready and failed store), and axe-core (tests/axe.py) checks it as rendered:
contrast, labels, names, landmarks, headings. The ready store is provisioned
for real on the local control plane, so its credentials page shows the
credentials read from its secret. Screenshots land in artifacts/screenshots/a11y-*.png.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.axe import blocking, violations
from tests.browser.a11y_seed import BUSY, FAILED, LOST, QUEUED, READY
from tests.chromium import screenshot
from tests.platform import REPO_ROOT, Platform

pytestmark = pytest.mark.browser

# DEBUG off over plain HTTP on loopback, sign-up open.
PRODUCTION = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1",
    "REGISTRATION_OPEN": "true",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "SECURE_HSTS_SECONDS": "0",
}


def _manage(env, *args, **kwargs) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        **kwargs,
    ).stdout


@pytest.fixture(scope="module")
def site(local_cluster, tmp_path_factory):
    """The web server, as production runs it, over one set of users and stores shared by every check.

    The checks only read, so they share a database of their own (a SQLite file
    made for this module), seeded by `a11y_seed.seed` in a process with the server's
    settings; the ready store is deleted from the cluster at the end. No test
    here touches the test database, so the PostgreSQL pass skips them.
    """
    var = tmp_path_factory.mktemp("a11y")
    platform = Platform(
        {"ENGINE": "django.db.backends.sqlite3", "NAME": str(var / "db.sqlite3")},
        KUBECONFIG=str(local_cluster.kubeconfig),
        HELM_BIN=str(local_cluster.helm),
        VAR_DIR=str(var),
        SECRET_KEY="a11y-" + "x" * 50,
        STORE_VALUES_FILES="",
        **PRODUCTION,
    )
    _manage(platform.env, "migrate", "--noinput")
    _manage(platform.env, "collectstatic", "--noinput")
    seeded = _manage(
        platform.env,
        "shell",
        "-c",
        "import json; from tests.browser.a11y_seed import seed; print(json.dumps(seed()))",
    )
    site = json.loads(seeded.strip().splitlines()[-1])
    try:
        # DEBUG off: Django's own error pages (404), not the debug ones.
        site["url"] = platform.start_web()
        yield site
    finally:
        platform.stop()
        # In a process of its own with the same settings (no delete worker runs here).
        _manage(
            platform.env,
            "shell",
            "-c",
            "from tests.platform import delete_live_stores; delete_live_stores()",
            timeout=150,
        )


def _open(chromium, site, path, *, user=None, status=200):
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    if user:
        context.add_cookies([{"name": "sessionid", "value": site[user], "url": site["url"]}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    response = page.goto(site["url"] + path)
    assert response.status == status, f"{path}: {response.status}"
    return page


def _check(page, name):
    screenshot(page, f"a11y-{name}")
    found = violations(page)
    # Everything axe found goes to the log, the minor findings too.
    print(name, json.dumps(found, indent=1))
    assert blocking(found) == []


def _store_page(site, slug):
    return f"/stores/{site['stores'][slug]}/"


def test_it_finds_nothing_serious_on_the_login_page(chromium, site):
    _check(_open(chromium, site, "/accounts/login/"), "login")


def test_it_finds_nothing_serious_on_the_login_page_with_errors(chromium, site):
    page = _open(chromium, site, "/accounts/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")
    page.wait_for_selector(".form-error")
    _check(page, "login-error")


def test_it_finds_nothing_serious_on_the_sign_up_page(chromium, site):
    _check(_open(chromium, site, "/accounts/register/"), "register")


def test_it_finds_nothing_serious_on_the_empty_dashboard(chromium, site):
    _check(_open(chromium, site, "/", user="newcomer"), "dashboard-empty")


def test_it_finds_nothing_serious_on_the_dashboard_with_stores(chromium, site):
    page = _open(chromium, site, "/", user="owner")
    page.wait_for_selector("#store-list table")
    _check(page, "dashboard-stores")


def test_it_finds_nothing_serious_on_a_queued_store(chromium, site):
    _check(_open(chromium, site, _store_page(site, QUEUED), user="owner"), "store-queued")


def test_it_finds_nothing_serious_on_a_ready_store(chromium, site):
    _check(_open(chromium, site, _store_page(site, READY), user="owner"), "store-ready")


def test_it_finds_nothing_serious_on_a_failed_store(chromium, site):
    _check(_open(chromium, site, _store_page(site, FAILED), user="owner"), "store-failed")


def test_it_finds_nothing_serious_on_a_lost_store(chromium, site):
    _check(_open(chromium, site, _store_page(site, LOST), user="owner"), "store-lost")


def test_the_store_page_and_dashboard_show_what_the_checks_found(chromium, site):
    page = _open(chromium, site, _store_page(site, READY), user="owner")
    expect(page.locator("dd.check-state")).to_contain_text("Down")
    expect(page.locator("dd.check-state")).to_contain_text("Up 75.0% over 24 h · median 180 ms")
    expect(page.locator("dd.checkout-state")).to_contain_text("Verified")
    expect(page.locator("dd.checkout-state")).to_contain_text(re.compile(r"3\shours ago"))
    screenshot(page, "store-health")

    dashboard = _open(chromium, site, "/", user="owner")
    row = dashboard.locator("tr", has=dashboard.get_by_role("link", name=READY, exact=True))
    expect(row.locator(".badge-down")).to_have_text("Down")
    expect(dashboard.locator("tr", has=dashboard.get_by_role("link", name=LOST, exact=True))).to_contain_text("Lost")
    screenshot(dashboard, "dashboard-health")


def test_it_finds_nothing_serious_on_the_delete_confirmation(chromium, site):
    _check(_open(chromium, site, _store_page(site, QUEUED) + "delete/", user="owner"), "store-delete")


def test_it_finds_nothing_serious_on_the_credentials_page(chromium, site):
    page = _open(chromium, site, _store_page(site, READY), user="owner")
    # The page without htmx: a plain form post (submit() skips htmx's handler).
    with page.expect_navigation():
        page.eval_on_selector("#credentials form", "form => form.submit()")
    page.wait_for_selector("dl.credentials")
    _check(page, "store-credentials")


def test_it_finds_nothing_serious_on_the_profile(chromium, site):
    _check(_open(chromium, site, "/accounts/profile/", user="owner"), "profile")


def test_it_finds_nothing_serious_on_the_password_change(chromium, site):
    _check(_open(chromium, site, "/accounts/password/", user="owner"), "password-change")


def test_it_finds_nothing_serious_on_a_missing_page(chromium, site):
    _check(_open(chromium, site, "/no-such-page/", user="owner", status=404), "not-found")


def test_it_reaches_every_dashboard_action_by_keyboard_with_visible_focus(chromium, site):
    page = _open(chromium, site, "/", user="owner")
    page.wait_for_selector("#store-list table")
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const el = document.activeElement, style = getComputedStyle(el);
                       return {text: el.innerText || el.value || el.id, outline: style.outlineStyle,
                               width: style.outlineWidth}; }"""
        )
        reached.append(focused)
        if focused["text"] == "Create store":
            break
    screenshot(page, "a11y-dashboard-keyboard-focus")

    texts = [f["text"] for f in reached]
    assert [t for t in texts if t in site["stores"]] == [READY, BUSY, QUEUED, FAILED, LOST]
    assert texts.count("Open") == 5
    assert texts[-1] == "Create store"
    # Every stop shows where the focus is.
    assert all(f["outline"] == "solid" and f["width"] == "3px" for f in reached), reached

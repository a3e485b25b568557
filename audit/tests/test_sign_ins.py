"""Sign-ins in the audit log: each login through a page, and each refused admin login."""

import pytest
from django.urls import reverse

from audit.models import Action, AuditEntry, Channel, Outcome
from audit.tests.helpers import BROWSER, FROM_SOMEWHERE, only_entry

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = reverse("admin:login")
SITE_LOGIN = reverse("login")


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_user("root", "root@example.org", "root-password-1", is_staff=True)


def _log_in(client, url, username, password):
    return client.post(url, {"username": username, "password": password, "next": "/admin/"}, **FROM_SOMEWHERE)


def _nowhere_in_the_log(secret):
    for entry in AuditEntry.objects.values():
        assert not any(secret in str(value) for value in entry.values()), entry


def test_it_records_a_sign_in_on_the_site(client, alice):
    assert _log_in(client, SITE_LOGIN, "alice", "alice-password-1").status_code == 302

    entry = only_entry()
    assert (entry.action, entry.outcome, entry.channel) == (Action.SIGN_IN, Outcome.DONE, Channel.WEB)
    assert (entry.user, entry.username, entry.ip, entry.user_agent) == (alice, "alice", "203.0.113.7", BROWSER)
    _nowhere_in_the_log("alice-password-1")


def test_it_records_a_sign_in_to_the_admin(client, root):
    assert _log_in(client, ADMIN_LOGIN, "root", "root-password-1").status_code == 302

    entry = only_entry()
    assert (entry.action, entry.outcome, entry.channel, entry.user) == (
        Action.SIGN_IN,
        Outcome.DONE,
        Channel.ADMIN,
        root,
    )


def test_it_records_a_wrong_password_at_the_admin(client, root):
    assert _log_in(client, ADMIN_LOGIN, "root", "guessed-Password-1").status_code == 200

    entry = only_entry()
    assert (entry.action, entry.outcome, entry.channel) == (Action.SIGN_IN, Outcome.REFUSED, Channel.ADMIN)
    assert (entry.user, entry.username, entry.detail, entry.ip) == (root, "root", "wrong password", "203.0.113.7")
    _nowhere_in_the_log("guessed-Password-1")


def test_it_records_a_disabled_account_at_the_admin(client, root):
    root.is_active = False
    root.save()

    _log_in(client, ADMIN_LOGIN, "root", "root-password-1")

    assert (only_entry().outcome, only_entry().detail) == (Outcome.REFUSED, "account disabled")


def test_it_records_an_unknown_name_at_the_admin_without_the_name(client, root):
    # A password typed into the username box is the usual unknown name.
    _log_in(client, ADMIN_LOGIN, "root-password-1", "root")

    entry = only_entry()
    assert (entry.outcome, entry.user, entry.username, entry.detail) == (
        Outcome.REFUSED,
        None,
        "",
        "no account by that name",
    )
    _nowhere_in_the_log("root-password-1")


def test_it_records_a_customer_at_the_admins_login(client, alice):
    response = _log_in(client, ADMIN_LOGIN, "alice", "alice-password-1")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    entry = only_entry()
    assert (entry.outcome, entry.username, entry.detail) == (Outcome.REFUSED, "alice", "not a staff account")
    _nowhere_in_the_log("alice-password-1")


def test_it_does_not_record_a_failed_login_on_the_site(client, alice):
    assert _log_in(client, SITE_LOGIN, "alice", "wrong-password").status_code == 200

    assert not AuditEntry.objects.exists()


def test_it_does_not_record_a_throttled_login(client, root, settings, still_throttle_clock):
    settings.LOGIN_RATE = "1/m"
    _log_in(client, ADMIN_LOGIN, "root", "wrong-password")

    assert _log_in(client, ADMIN_LOGIN, "root", "root-password-1").status_code == 429

    assert only_entry().detail == "wrong password"


def test_it_does_not_record_a_login_made_without_a_page(client, alice):
    client.force_login(alice)

    assert not AuditEntry.objects.exists()

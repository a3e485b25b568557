"""The admin's login and password change: throttled like the site's own."""

import pytest
from django.urls import reverse

from accounts.tests.test_login import _error_report

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = reverse("admin:login")
SITE_LOGIN = reverse("login")
ADMIN_PASSWORD_CHANGE = reverse("admin:password_change")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("root", "root@example.org", "root-password-1", is_staff=True)


def _log_in(client, password, username="root", ip="192.0.2.1", url=ADMIN_LOGIN):
    return client.post(url, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip)


def test_it_logs_a_staff_user_in(client, staff):
    response = _log_in(client, "root-password-1")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_it_refuses_too_many_attempts_from_one_address(client, staff, settings):
    settings.LOGIN_RATE = "3/m"
    for n in range(3):
        assert _log_in(client, "wrong-password", username=f"guess-{n}").status_code == 200

    response = _log_in(client, "root-password-1")

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "_auth_user_id" not in client.session


def test_it_refuses_too_many_attempts_at_one_username_from_many_addresses(client, staff, settings):
    settings.LOGIN_USERNAME_RATE = "3/h"
    for n, spelling in enumerate(["root", "ROOT", " Root "]):
        assert _log_in(client, "wrong-password", username=spelling, ip=f"198.51.100.{n}").status_code == 200

    response = _log_in(client, "root-password-1", ip="198.51.100.99")

    assert response.status_code == 429
    # The hour's window ends at an offset drawn from the key, anywhere in the hour.
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "_auth_user_id" not in client.session


def test_it_counts_each_username_on_its_own(client, staff, alice, settings):
    settings.LOGIN_USERNAME_RATE = "1/h"
    _log_in(client, "wrong-password", username="alice", ip="198.51.100.1")

    response = _log_in(client, "root-password-1", ip="198.51.100.2")

    assert response.status_code == 302


def test_it_shares_the_username_count_with_the_sites_login(client, staff, settings):
    settings.LOGIN_USERNAME_RATE = "2/h"
    _log_in(client, "wrong-password", ip="198.51.100.1", url=SITE_LOGIN)
    _log_in(client, "wrong-password", ip="198.51.100.2", url=SITE_LOGIN)

    assert _log_in(client, "root-password-1", ip="198.51.100.3").status_code == 429


def test_it_shares_the_address_count_with_the_sites_login(client, staff, settings):
    settings.LOGIN_RATE = "2/m"
    _log_in(client, "wrong-password", username="a", url=SITE_LOGIN)
    _log_in(client, "wrong-password", username="b", url=SITE_LOGIN)

    assert _log_in(client, "root-password-1").status_code == 429


def test_it_does_not_count_showing_the_form(client, settings):
    settings.LOGIN_RATE = "1/m"
    for _ in range(3):
        assert client.get(ADMIN_LOGIN).status_code == 200


def test_it_keeps_the_password_out_of_error_reports_when_throttled(client, staff, settings):
    settings.LOGIN_RATE = "1/m"
    _log_in(client, "wrong-password")

    response = _log_in(client, "root-password-1")

    assert response.status_code == 429
    assert "root-password-1" not in _error_report(response.wsgi_request)


def _change_password(client, old):
    return client.post(
        ADMIN_PASSWORD_CHANGE,
        {"old_password": old, "new_password1": "brand-New-secret-77", "new_password2": "brand-New-secret-77"},
    )


def test_it_throttles_the_admins_password_change_per_user(client, staff, settings):
    settings.PASSWORD_CHANGE_RATE = "2/h"
    client.force_login(staff)
    for guess in ("guess-1", "guess-2"):
        assert _change_password(client, guess).status_code == 200

    response = _change_password(client, "root-password-1")

    assert response.status_code == 429
    staff.refresh_from_db()
    assert staff.check_password("root-password-1")
    assert "root-password-1" not in _error_report(response.wsgi_request)


def test_it_changes_the_password_in_the_admin(client, staff):
    client.force_login(staff)

    response = _change_password(client, "root-password-1")

    assert response.status_code == 302
    staff.refresh_from_db()
    assert staff.check_password("brand-New-secret-77")

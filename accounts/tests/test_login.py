"""Logging in and out."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
LOGOUT = reverse("logout")


def test_it_shows_the_form(client):
    response = client.get(LOGIN)

    assert response.status_code == 200
    assert "<h1>Log in</h1>" in response.content.decode()


def test_it_logs_in_and_goes_to_the_dashboard(client, alice):
    response = client.post(LOGIN, {"username": "alice", "password": "alice-password-1"})

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_it_goes_to_the_next_page(client, alice):
    response = client.post(LOGIN, {"username": "alice", "password": "alice-password-1", "next": "/accounts/profile/"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/profile/"
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_it_ignores_a_next_page_on_another_site(client, alice):
    response = client.post(
        LOGIN, {"username": "alice", "password": "alice-password-1", "next": "https://evil.example.com/"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_it_rejects_a_wrong_password(client, alice):
    response = client.post(LOGIN, {"username": "alice", "password": "wrong-password"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "Please enter a correct username and password." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_sends_a_signed_in_user_to_the_dashboard(alice_client):
    response = alice_client.get(LOGIN)

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_it_logs_out_with_a_post(alice_client):
    response = alice_client.post(LOGOUT)

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert "_auth_user_id" not in alice_client.session
    assert alice_client.get(reverse("dashboard")).status_code == 302


def test_it_does_not_log_out_with_a_get(alice_client, alice):
    response = alice_client.get(LOGOUT)

    assert response.status_code == 405
    assert alice_client.session["_auth_user_id"] == str(alice.pk)


# --- throttling and error reports -------------------------------------------------


def _error_report(request) -> str:
    """What an error e-mail would carry for this request."""
    import sys

    from django.views.debug import ExceptionReporter

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        return ExceptionReporter(request, *sys.exc_info()).get_traceback_text()


def test_it_refuses_too_many_attempts_from_one_address(client, alice, settings):
    settings.LOGIN_RATE = "3/m"
    for _ in range(3):
        assert client.post(LOGIN, {"username": "alice", "password": "wrong-password"}).status_code == 200

    response = client.post(LOGIN, {"username": "alice", "password": "alice-password-1"})

    assert response.status_code == 429
    assert "Too many attempts; try again in a minute." in response.content.decode()
    assert 0 < int(response["Retry-After"]) <= 60
    # Even the right password changes nothing once throttled.
    assert "_auth_user_id" not in client.session


def test_it_counts_each_address_on_its_own(client, alice, settings):
    settings.LOGIN_RATE = "1/m"
    client.post(LOGIN, {"username": "alice", "password": "wrong-password"}, REMOTE_ADDR="198.51.100.1")
    assert client.post(LOGIN, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="198.51.100.1").status_code == 429

    response = client.post(LOGIN, {"username": "alice", "password": "alice-password-1"}, REMOTE_ADDR="198.51.100.2")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_it_ignores_a_forwarded_address_it_was_not_told_to_trust(client, alice, settings):
    settings.LOGIN_RATE = "1/m"
    client.post(LOGIN, {"username": "alice", "password": "wrong"}, headers={"X-Forwarded-For": "192.0.2.1"})

    response = client.post(LOGIN, {"username": "alice", "password": "wrong"}, headers={"X-Forwarded-For": "192.0.2.2"})

    assert response.status_code == 429


def _through_proxy(client, forwarded_for):
    # The ingress controller at 10.0.0.5 appended the address it saw.
    return client.post(
        LOGIN,
        {"username": "alice", "password": "wrong"},
        REMOTE_ADDR="10.0.0.5",
        headers={"X-Forwarded-For": forwarded_for},
    )


@pytest.mark.parametrize("trust", [{"TRUSTED_PROXY_HOPS": 1}, {"TRUSTED_PROXIES": ["10.0.0.0/24"]}])
def test_it_counts_each_client_behind_a_trusted_proxy_on_its_own(client, alice, settings, trust):
    settings.LOGIN_RATE = "1/m"
    for name, value in trust.items():
        setattr(settings, name, value)
    _through_proxy(client, "192.0.2.1")

    other = _through_proxy(client, "192.0.2.2")
    same = _through_proxy(client, "192.0.2.1")

    assert other.status_code == 200
    assert same.status_code == 429


@pytest.mark.parametrize("trust", [{"TRUSTED_PROXY_HOPS": 1}, {"TRUSTED_PROXIES": ["10.0.0.0/24"]}])
def test_a_forged_forwarded_entry_does_not_escape_the_throttle(client, alice, settings, trust):
    settings.LOGIN_RATE = "1/m"
    for name, value in trust.items():
        setattr(settings, name, value)
    _through_proxy(client, "192.0.2.66, 198.51.100.7")

    # The same client, writing a new address of its own each time.
    response = _through_proxy(client, "192.0.2.67, 198.51.100.7")

    assert response.status_code == 429


def test_it_does_not_count_showing_the_form(client, settings):
    settings.LOGIN_RATE = "1/m"
    for _ in range(3):
        assert client.get(LOGIN).status_code == 200


def test_it_does_not_throttle_when_the_rate_is_empty(client, alice, settings):
    settings.LOGIN_RATE = None
    for _ in range(8):
        assert client.post(LOGIN, {"username": "alice", "password": "wrong"}).status_code == 200


def test_it_keeps_the_password_out_of_error_reports(client, alice):
    response = client.post(LOGIN, {"username": "alice", "password": "alice-password-1"})

    report = _error_report(response.wsgi_request)
    assert "alice-password-1" not in report
    assert "password" in report


def test_it_keeps_the_password_out_of_error_reports_when_throttled(client, alice, settings):
    settings.LOGIN_RATE = "1/m"
    client.post(LOGIN, {"username": "alice", "password": "wrong"})

    response = client.post(LOGIN, {"username": "alice", "password": "alice-password-1"})

    assert response.status_code == 429
    assert "alice-password-1" not in _error_report(response.wsgi_request)


def test_it_hides_the_sign_up_link_when_registration_is_closed(client, settings):
    settings.REGISTRATION_OPEN = False

    body = client.get(LOGIN).content.decode()

    assert reverse("register") not in body
    assert "Accounts are created by the platform's operator" in body


def test_it_shows_the_sign_up_link_when_registration_is_open(client, settings):
    settings.REGISTRATION_OPEN = True

    body = client.get(LOGIN).content.decode()

    assert body.count(f'href="{reverse("register")}"') == 2  # the top bar and the form


def test_it_refuses_too_many_attempts_at_one_username_from_many_addresses(client, alice, settings):
    settings.LOGIN_USERNAME_RATE = "3/h"
    for n, spelling in enumerate(["alice", "ALICE", "Alice "]):
        response = client.post(LOGIN, {"username": spelling, "password": "wrong"}, REMOTE_ADDR=f"198.51.100.{n}")
        assert response.status_code == 200

    response = client.post(LOGIN, {"username": "alice", "password": "alice-password-1"}, REMOTE_ADDR="198.51.100.9")

    assert response.status_code == 429
    # The hour's window ends at an offset drawn from the key, anywhere in the hour.
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "_auth_user_id" not in client.session


def test_it_counts_each_username_on_its_own(client, alice, settings):
    settings.LOGIN_USERNAME_RATE = "1/h"
    client.post(LOGIN, {"username": "bob", "password": "wrong"}, REMOTE_ADDR="198.51.100.1")

    response = client.post(LOGIN, {"username": "alice", "password": "alice-password-1"}, REMOTE_ADDR="198.51.100.2")

    assert response.status_code == 302

"""Changing the password keeps the user signed in."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

URL = reverse("password_change")


def test_it_requires_login(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"


def test_it_shows_the_form(alice_client):
    response = alice_client.get(URL)

    assert response.status_code == 200
    assert 'name="old_password"' in response.content.decode()


def test_it_changes_the_password(alice_client, alice):
    response = alice_client.post(
        URL,
        {
            "old_password": "alice-password-1",
            "new_password1": "brand-New-secret-77",
            "new_password2": "brand-New-secret-77",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    alice.refresh_from_db()
    assert alice.check_password("brand-New-secret-77")
    assert not alice.check_password("alice-password-1")
    # Still signed in on this browser.
    assert alice_client.get(reverse("dashboard")).status_code == 200


def test_it_lets_the_user_log_in_with_the_new_password(alice_client, alice):
    alice_client.post(
        URL,
        {
            "old_password": "alice-password-1",
            "new_password1": "brand-New-secret-77",
            "new_password2": "brand-New-secret-77",
        },
    )
    alice_client.post(reverse("logout"))

    old = alice_client.post(reverse("login"), {"username": "alice", "password": "alice-password-1"})
    new = alice_client.post(reverse("login"), {"username": "alice", "password": "brand-New-secret-77"})

    assert old.status_code == 200
    assert new.status_code == 302
    assert alice_client.session["_auth_user_id"] == str(alice.pk)


def test_it_rejects_a_wrong_old_password(alice_client, alice):
    response = alice_client.post(
        URL,
        {
            "old_password": "not-my-password",
            "new_password1": "brand-New-secret-77",
            "new_password2": "brand-New-secret-77",
        },
    )

    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    alice.refresh_from_db()
    assert alice.check_password("alice-password-1")


def test_it_rejects_mismatched_new_passwords(alice_client, alice):
    response = alice_client.post(
        URL,
        {
            "old_password": "alice-password-1",
            "new_password1": "brand-New-secret-77",
            "new_password2": "brand-New-secret-78",
        },
    )

    assert response.status_code == 200
    assert "new_password2" in response.context["form"].errors
    alice.refresh_from_db()
    assert alice.check_password("alice-password-1")


def test_it_shows_the_done_page(alice_client):
    response = alice_client.get(reverse("password_change_done"))

    assert response.status_code == 200
    assert "<h1>Password changed</h1>" in response.content.decode()


def test_it_keeps_the_passwords_out_of_error_reports(alice_client):
    import sys

    from django.views.debug import ExceptionReporter

    response = alice_client.post(
        URL,
        {
            "old_password": "alice-password-1",
            "new_password1": "brand-New-secret-77",
            "new_password2": "brand-New-secret-77",
        },
    )
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        report = ExceptionReporter(response.wsgi_request, *sys.exc_info()).get_traceback_text()

    assert "alice-password-1" not in report
    assert "brand-New-secret-77" not in report
    assert "new_password1" in report


def test_it_refuses_too_many_attempts_per_user(alice_client, alice, settings):
    settings.PASSWORD_CHANGE_RATE = "2/h"
    new = {"new_password1": "brand-New-secret-77", "new_password2": "brand-New-secret-77"}
    for n, guess in enumerate(["guess-1", "guess-2"]):
        response = alice_client.post(URL, {"old_password": guess, **new}, REMOTE_ADDR=f"192.0.2.{n}")
        assert response.status_code == 200

    response = alice_client.post(URL, {"old_password": "alice-password-1", **new}, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 429
    alice.refresh_from_db()
    assert alice.check_password("alice-password-1")


def test_it_counts_each_user_on_their_own(alice_client, bob_client, alice, settings):
    settings.PASSWORD_CHANGE_RATE = "1/h"
    new = {"new_password1": "brand-New-secret-77", "new_password2": "brand-New-secret-77"}
    alice_client.post(URL, {"old_password": "guess", **new})

    response = bob_client.post(URL, {"old_password": "bob-password-1", **new})

    assert response.status_code == 302

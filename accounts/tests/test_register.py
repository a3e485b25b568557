"""Signing up: creates the account and logs straight in."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

pytestmark = pytest.mark.django_db

URL = reverse("register")
User = get_user_model()


def _data(**overrides):
    data = {
        "username": "carol",
        "email": "carol@example.org",
        "password1": "a-long-Passphrase-42",
        "password2": "a-long-Passphrase-42",
    }
    data.update(overrides)
    return data


def test_it_shows_the_form(client):
    response = client.get(URL)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Create your account" in body
    assert 'name="email"' in body


def test_it_creates_the_user_and_logs_in(client):
    response = client.post(URL, _data())

    user = User.objects.get(username="carol")
    assert user.email == "carol@example.org"
    assert user.check_password("a-long-Passphrase-42")
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.session["_auth_user_id"] == str(user.pk)
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.status_code == 200
    assert dashboard.context["user"] == user


def test_it_stores_the_email_in_lowercase(client):
    response = client.post(URL, _data(email="Carol@Example.ORG"))

    assert response.status_code == 302
    assert User.objects.get(username="carol").email == "carol@example.org"


def test_it_rejects_an_email_already_in_use(client, alice):
    response = client.post(URL, _data(email="ALICE@example.org"))

    assert response.status_code == 400
    assert response.context["form"].errors["email"] == ["An account with this e-mail already exists."]
    assert "An account with this e-mail already exists." in response.content.decode()
    assert not User.objects.filter(username="carol").exists()
    assert "_auth_user_id" not in client.session


def test_it_rejects_a_username_already_in_use(client, alice):
    response = client.post(URL, _data(username="alice"))

    assert response.status_code == 400
    assert response.context["form"].errors["username"] == ["A user with that username already exists."]
    assert "A user with that username already exists." in response.content.decode()
    assert User.objects.filter(username="alice").count() == 1
    assert not User.objects.filter(email="carol@example.org").exists()


def test_it_rejects_a_username_differing_only_in_case(client, alice):
    response = client.post(URL, _data(username="Alice"))

    assert response.status_code == 400
    assert "username" in response.context["form"].errors
    assert not User.objects.filter(email="carol@example.org").exists()


def test_it_requires_an_email(client):
    response = client.post(URL, _data(email=""))

    assert response.status_code == 400
    assert response.context["form"].errors["email"] == ["This field is required."]
    assert not User.objects.exists()


def test_it_rejects_mismatched_passwords(client):
    response = client.post(URL, _data(password2="something-else-42"))

    assert response.status_code == 400
    assert "password2" in response.context["form"].errors
    assert not User.objects.exists()


def test_it_rejects_a_weak_password(client):
    response = client.post(URL, _data(password1="12345678", password2="12345678"))

    assert response.status_code == 400
    assert "This password is entirely numeric." in response.content.decode()
    assert not User.objects.exists()


def test_it_sends_a_signed_in_user_to_the_dashboard(alice_client):
    response = alice_client.post(URL, _data())

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert not User.objects.filter(username="carol").exists()


# --- closed registration, throttling, error reports -----------------------------------


def test_it_says_registration_is_closed(client, settings):
    settings.REGISTRATION_OPEN = False

    response = client.get(URL)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Registration is closed" in body
    assert "createsuperuser" in body
    assert 'name="password1"' not in body


def test_it_creates_nothing_when_registration_is_closed(client, settings):
    settings.REGISTRATION_OPEN = False

    response = client.post(URL, _data())

    assert response.status_code == 403
    assert "Registration is closed" in response.content.decode()
    assert not User.objects.exists()
    assert "_auth_user_id" not in client.session


def test_it_hides_the_sign_up_link_when_closed(client, settings):
    settings.REGISTRATION_OPEN = False

    body = client.get(reverse("login")).content.decode()

    assert f'href="{URL}"' not in body


def test_it_refuses_too_many_sign_ups_from_one_address(client, settings):
    settings.REGISTRATION_RATE = "2/m"
    client.post(URL, _data(password2="mismatch-1"))
    client.post(URL, _data(password2="mismatch-2"))

    response = client.post(URL, _data())

    assert response.status_code == 429
    assert "Too many attempts; try again in a minute." in response.content.decode()
    assert not User.objects.exists()
    assert "_auth_user_id" not in client.session


def test_it_lets_another_address_sign_up(client, settings):
    settings.REGISTRATION_RATE = "1/m"
    client.post(URL, _data(password2="mismatch-1"), REMOTE_ADDR="198.51.100.1")

    response = client.post(URL, _data(), REMOTE_ADDR="198.51.100.2")

    assert response.status_code == 302
    assert User.objects.filter(username="carol").exists()


def test_it_keeps_the_passwords_out_of_error_reports(client):
    import sys

    from django.views.debug import ExceptionReporter

    response = client.post(URL, _data(username="x" * 200))  # invalid: the form is shown again
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        report = ExceptionReporter(response.wsgi_request, *sys.exc_info()).get_traceback_text()

    assert response.status_code == 400
    assert "a-long-Passphrase-42" not in report
    assert "carol@example.org" in report  # only the passwords are hidden


@pytest.mark.parametrize(
    "email, message",
    [
        ('"carol"@example.org', "WooCommerce cannot use this address for your shop&#x27;s admin"),
        ("carol@bücher.example", "WooCommerce cannot use this address for your shop&#x27;s admin"),
        ("carol{shop}@example.org", "MedusaJS cannot use this address for your shop&#x27;s admin"),
    ],
)
def test_it_refuses_an_address_a_shop_would_refuse(client, email, message):
    response = client.post(URL, _data(email=email))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.filter(username="carol").exists()

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

"""The account page shows the user's effective store limit."""

import pytest
from django.urls import reverse

from accounts.models import Profile

pytestmark = pytest.mark.django_db

URL = reverse("profile")


def test_it_requires_login(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"


def test_it_shows_the_default_limit(alice_client):
    response = alice_client.get(URL)

    assert response.status_code == 200
    assert response.context["store_limit"] == 3
    body = response.content.decode()
    assert "<dd>3 live stores</dd>" in body
    assert "<dd>alice@example.org</dd>" in body


def test_it_shows_the_configured_default(alice_client, settings):
    settings.MAX_STORES_PER_USER = 5

    response = alice_client.get(URL)

    assert response.status_code == 200
    assert "<dd>5 live stores</dd>" in response.content.decode()


def test_it_shows_a_per_user_override(alice_client, alice):
    Profile.objects.create(user=alice, store_limit=7)

    response = alice_client.get(URL)

    assert response.status_code == 200
    assert response.context["store_limit"] == 7
    assert "<dd>7 live stores</dd>" in response.content.decode()


def test_it_shows_an_override_of_zero(alice_client, alice):
    Profile.objects.create(user=alice, store_limit=0)

    response = alice_client.get(URL)

    assert response.status_code == 200
    assert "<dd>0 live stores</dd>" in response.content.decode()


def test_it_falls_back_to_the_default_when_the_override_is_empty(alice_client, alice):
    Profile.objects.create(user=alice, store_limit=None)

    response = alice_client.get(URL)

    assert response.status_code == 200
    assert "<dd>3 live stores</dd>" in response.content.decode()


def test_it_shows_each_user_their_own_limit(bob_client, alice):
    Profile.objects.create(user=alice, store_limit=7)

    response = bob_client.get(URL)

    assert response.status_code == 200
    body = response.content.decode()
    assert "<dd>3 live stores</dd>" in body
    assert "<dd>bob@example.org</dd>" in body


def test_an_owner_changes_their_email_with_their_password(alice_client, alice):
    response = alice_client.post(URL, {"email": " Alice@New.Example.org ", "password": "alice-password-1"})

    assert response.status_code == 302 and response["Location"] == URL
    alice.refresh_from_db()
    assert alice.email == "alice@new.example.org"
    assert "Your e-mail is changed" in alice_client.get(URL).content.decode()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"email": "alice@new.example.org", "password": "wrong"}, "That is not your password."),
        ({"email": "bob@example.org", "password": "alice-password-1"}, "An account with this e-mail already exists."),
        (
            {"email": '"alice"@example.org', "password": "alice-password-1"},
            "WooCommerce cannot use this address for your shop&#x27;s admin",
        ),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(alice_client, alice, bob, data, message):
    response = alice_client.post(URL, data)

    assert response.status_code == 400
    assert message in response.content.decode()
    alice.refresh_from_db()
    assert alice.email == "alice@example.org"


def test_it_warns_an_owner_whose_address_a_shop_refuses(alice_client, alice):
    # Set before sign-up checked it, or by an operator in the admin.
    type(alice).objects.filter(pk=alice.pk).update(email="alice@bücher.example")

    body = alice_client.get(URL).content.decode()

    assert 'id="email-refused"' in body
    assert "admin@&lt;store address&gt;" in body

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

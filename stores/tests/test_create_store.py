"""Creating a store from the dashboard form."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Profile
from stores import lifecycle
from stores.models import Status, Store, StoreEvent

pytestmark = pytest.mark.django_db

URL = reverse("store_create")


def _post(client, name, engine="woocommerce"):
    return client.post(URL, {"name": name, "engine": engine})


def test_it_queues_a_store_and_redirects_to_it(alice_client, alice):
    response = _post(alice_client, "acme-coffee")

    store = Store.objects.get()
    assert store.owner == alice
    assert store.slug == "acme-coffee"
    assert store.engine == "woocommerce"
    assert store.status == Status.QUEUED
    assert store.queued_at is not None
    assert response.status_code == 302
    assert response["Location"] == reverse("store_detail", args=[store.pk])
    assert list(StoreEvent.objects.filter(store=store).values_list("message", flat=True)) == [
        "Store requested; waiting for a free provisioning slot."
    ]


def test_it_says_the_store_is_queued_on_the_next_page(alice_client):
    response = alice_client.post(URL, {"name": "acme-coffee", "engine": "woocommerce"}, follow=True)

    assert response.status_code == 200
    assert Store.objects.filter(slug="acme-coffee", status=Status.QUEUED).exists()
    assert "Store “acme-coffee” is queued." in response.content.decode()


def test_it_provisions_the_new_store_when_the_workers_run(alice_client, workers, fake_cluster):
    with workers():
        response = _post(alice_client, "acme-coffee")

    store = Store.objects.get()
    assert response.status_code == 302
    assert store.status == Status.READY
    assert store.attempts == 1
    assert "store-acme-coffee" in fake_cluster.namespaces


def test_it_accepts_a_name_of_57_characters(alice_client):
    name = "a" * 57

    response = _post(alice_client, name)

    assert response.status_code == 302
    assert Store.objects.get().slug == name


RULE = "Use lowercase letters, digits and dashes, starting and ending with a letter or digit."


@pytest.mark.parametrize(
    "name,message",
    [
        ("MyShop", "Use lowercase letters only, for example “myshop”."),
        ("a" * 58, "Ensure this value has at most 57 characters (it has 58)."),
        ("a" * 64, "Ensure this value has at most 57 characters (it has 64)."),
        ("-shop", RULE + " For example “shop”."),
        ("shop-", RULE + " For example “shop”."),
        ("my shop", RULE + " For example “my-shop”."),
        ("shop_1", RULE + " For example “shop-1”."),
        ("--", RULE),
        ("", "This field is required."),
        ("   ", "This field is required."),
    ],
)
def test_it_rejects_a_bad_name(alice_client, name, message):
    response = _post(alice_client, name)

    assert response.status_code == 400
    assert response.context["form"].errors["name"] == [message]
    assert message in response.content.decode()
    assert not Store.objects.exists()
    assert not StoreEvent.objects.exists()


@pytest.mark.parametrize("name", ["MyShop", "Acme Coffee!", "-shop", "shop-", "shop_1", "My_Shop", "Ünïcode"])
def test_it_suggests_only_names_it_accepts(alice_client, name):
    rejected = _post(alice_client, name)
    [error] = rejected.context["form"].errors["name"]
    suggestion = error.split("“", 1)[1].split("”", 1)[0]

    accepted = _post(alice_client, suggestion)

    assert rejected.status_code == 400
    assert accepted.status_code == 302, f"{name!r} suggested {suggestion!r}, which is refused"
    assert list(Store.objects.values_list("slug", flat=True)) == [suggestion]


def test_it_escapes_markup_in_a_rejected_name(alice_client):
    name = "<script>alert(1)</script>"

    response = _post(alice_client, name)

    assert response.status_code == 400
    assert response.context["form"].errors["name"] == [RULE + " For example “scriptalert1script”."]
    body = response.content.decode()
    assert name not in body
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert not Store.objects.exists()


def test_it_rejects_the_name_of_another_users_live_store(alice_client, bob):
    lifecycle.create_store(bob, "acme", "woocommerce")

    response = _post(alice_client, "acme")

    assert response.status_code == 400
    assert response.context["form"].errors["name"] == ["The name “acme” is taken. Choose another."]
    assert "The name “acme” is taken. Choose another." in response.content.decode()
    assert list(Store.objects.values_list("owner__username", flat=True)) == ["bob"]


def test_it_allows_the_name_of_a_deleted_store(alice_client, alice, bob):
    old = lifecycle.create_store(bob, "acme", "woocommerce")
    lifecycle.request_delete(old.pk)
    lifecycle.mark_deleted(old.pk)

    response = _post(alice_client, "acme")

    new = Store.objects.live().get(slug="acme")
    assert new.owner == alice
    assert new.pk != old.pk
    assert response.status_code == 302
    assert response["Location"] == reverse("store_detail", args=[new.pk])
    assert Store.objects.get(pk=old.pk).status == Status.DELETED


def test_it_rejects_an_engine_that_is_not_available(alice_client, unavailable_engine):
    response = _post(alice_client, "acme", engine="medusa")

    assert response.status_code == 400
    message = "MedusaJS stores are not available yet; choose WooCommerce."
    assert response.context["form"].errors["engine"] == [message]
    assert message in response.content.decode()
    assert not Store.objects.exists()


def test_it_rejects_an_unknown_engine(alice_client):
    response = _post(alice_client, "acme", engine="magento")

    assert response.status_code == 400
    assert "engine" in response.context["form"].errors
    assert not Store.objects.exists()


def test_it_refuses_a_fourth_store(alice_client, alice):
    for name in ("one", "two", "three"):
        assert _post(alice_client, name).status_code == 302

    response = _post(alice_client, "four")

    assert response.status_code == 400
    message = "You already have 3 of 3 stores. Delete one to create another."
    assert response.context["form"].non_field_errors() == [message]
    assert message in response.content.decode()
    assert sorted(Store.objects.values_list("slug", flat=True)) == ["one", "three", "two"]


def test_it_counts_failed_stores_against_the_limit(alice_client, alice):
    for name in ("one", "two", "three"):
        lifecycle.create_store(alice, name, "woocommerce")
    Store.objects.filter(slug="one").update(status=Status.FAILED)

    response = _post(alice_client, "four")

    assert response.status_code == 400
    assert not Store.objects.filter(slug="four").exists()


def test_it_frees_a_slot_when_a_store_is_deleted(alice_client, alice):
    stores = [lifecycle.create_store(alice, name, "woocommerce") for name in ("one", "two", "three")]
    lifecycle.request_delete(stores[0].pk)
    lifecycle.mark_deleted(stores[0].pk)

    response = _post(alice_client, "four")

    assert response.status_code == 302
    assert sorted(Store.objects.owned_by(alice).live().values_list("slug", flat=True)) == ["four", "three", "two"]


def test_it_does_not_free_a_slot_while_a_store_is_still_deleting(alice_client, alice):
    stores = [lifecycle.create_store(alice, name, "woocommerce") for name in ("one", "two", "three")]
    lifecycle.request_delete(stores[0].pk)

    response = _post(alice_client, "four")

    assert response.status_code == 400
    assert not Store.objects.filter(slug="four").exists()


def test_it_respects_a_raised_store_limit(alice_client, alice):
    Profile.objects.create(user=alice, store_limit=4)
    for name in ("one", "two", "three"):
        lifecycle.create_store(alice, name, "woocommerce")

    fourth = _post(alice_client, "four")
    fifth = _post(alice_client, "five")

    assert fourth.status_code == 302
    assert fifth.status_code == 400
    assert "You already have 4 of 4 stores. Delete one to create another." in fifth.content.decode()
    assert Store.objects.owned_by(alice).count() == 4
    assert not Store.objects.filter(slug="five").exists()


def test_it_respects_a_lowered_store_limit(alice_client, alice):
    Profile.objects.create(user=alice, store_limit=1)

    first = _post(alice_client, "one")
    second = _post(alice_client, "two")

    assert first.status_code == 302
    assert second.status_code == 400
    assert "You already have 1 of 1 stores. Delete one to create another." in second.content.decode()
    assert list(Store.objects.values_list("slug", flat=True)) == ["one"]


def test_it_respects_a_global_limit_setting(alice_client, settings):
    settings.MAX_STORES_PER_USER = 1

    first = _post(alice_client, "one")
    second = _post(alice_client, "two")

    assert first.status_code == 302
    assert second.status_code == 400
    assert list(Store.objects.values_list("slug", flat=True)) == ["one"]


def test_it_creates_one_store_on_a_double_submit(alice_client):
    first = _post(alice_client, "acme")
    second = _post(alice_client, "acme")

    assert first.status_code == 302
    assert second.status_code == 400
    assert second.context["form"].errors["name"] == ["The name “acme” is taken. Choose another."]
    assert Store.objects.count() == 1
    assert StoreEvent.objects.count() == 1


def test_it_redirects_a_get_to_the_dashboard(alice_client):
    response = alice_client.get(URL, {"name": "acme", "engine": "woocommerce"})

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert not Store.objects.exists()


def test_it_requires_login(client, alice):
    response = _post(client, "acme")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not Store.objects.exists()


def test_it_enforces_csrf(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = _post(client, "acme")

    assert response.status_code == 403
    assert not Store.objects.exists()


def test_it_accepts_a_post_with_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(reverse("dashboard"))
    token = client.cookies["csrftoken"].value

    response = client.post(URL, {"name": "acme", "engine": "woocommerce", "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert Store.objects.filter(slug="acme").exists()

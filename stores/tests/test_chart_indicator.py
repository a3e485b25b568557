"""The dashboard, the store page and the admin say when a store runs an older chart."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from pytest_django.asserts import assertInHTML

from stores import lifecycle, releases
from stores.models import Status, Store

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def current():
    version = releases.current_chart_version("woocommerce")
    assert version
    return version


def _ready(owner, slug, chart_version):
    store = lifecycle.create_store(owner, slug, "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.READY, chart_version=chart_version)
    return Store.objects.get(pk=store.pk)


def test_it_badges_a_store_on_an_older_chart_in_the_list(alice_client, alice, current):
    _ready(alice, "old-shop", "0.0.9")

    body = alice_client.get(reverse("dashboard")).content.decode()

    assert 'class="badge badge-chart"' in body
    assert f"Chart 0.0.9 — {current} available; an operator upgrades it" in body


def test_it_badges_the_polled_list_too(alice_client, alice, current):
    _ready(alice, "old-shop", "0.0.9")
    lifecycle.create_store(alice, "busy", "woocommerce")  # keeps the list polling

    body = alice_client.get(reverse("store_list"), **HTMX).content.decode()

    assert f"{current} available" in body


def test_it_says_nothing_for_a_store_on_the_current_chart(alice_client, alice, current):
    _ready(alice, "new-shop", current)
    _ready(alice, "unknown-shop", "")  # installed before versions were recorded

    body = alice_client.get(reverse("dashboard")).content.decode()

    assert "badge-chart" not in body and "available" not in body


def test_it_shows_the_chart_on_the_store_page(alice_client, alice, current):
    store = _ready(alice, "old-shop", "0.0.9")

    body = alice_client.get(reverse("store_detail", args=[store.pk])).content.decode()

    assertInHTML(f'<dd>woocommerce 0.0.9 <span class="badge badge-chart">{current} available</span></dd>', body)
    assert "A newer chart is available; an operator upgrades the store to it." in body


def test_it_shows_the_current_chart_without_a_note(alice_client, alice, current):
    store = _ready(alice, "new-shop", current)

    body = alice_client.get(reverse("store_detail", args=[store.pk])).content.decode()

    assertInHTML(f"<dd>woocommerce {current}</dd>", body)
    assert "available" not in body


def test_it_polls_and_badges_an_updating_store(alice_client, alice):
    store = _ready(alice, "old-shop", "0.0.9")
    lifecycle.begin_update(store.pk, "Upgrade to chart 0.1.0 requested.", only_from={Status.READY})

    page = alice_client.get(reverse("store_detail", args=[store.pk])).content.decode()
    fragment = alice_client.get(reverse("store_status", args=[store.pk]), **HTMX)

    assert 'class="badge badge-updating"><span class="spinner"' in page
    assert "Updating" in page
    assert "Delete…" not in page
    assert fragment.status_code == 200  # not final: the page keeps polling
    assert "hx-trigger" in fragment.content.decode()


def test_it_refuses_to_delete_an_updating_store(alice_client, alice):
    store = _ready(alice, "old-shop", "0.0.9")
    lifecycle.begin_update(store.pk, "Upgrade to chart 0.1.0 requested.", only_from={Status.READY})

    response = alice_client.post(reverse("store_delete", args=[store.pk]))

    assert Store.objects.get(pk=store.pk).status == Status.UPDATING
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "“old-shop” is being updated by an operator; delete it once that has ended."
    ]


def test_the_admin_lists_the_chart(admin_client, alice, current):
    _ready(alice, "old-shop", "0.0.9")
    _ready(alice, "new-shop", current)

    body = admin_client.get(reverse("admin:stores_store_changelist")).content.decode()

    assert f"0.0.9 → {current} available" in body
    assert f'<td class="field-chart">{current}</td>' in body


def test_the_admin_delete_action_leaves_an_updating_store_alone(admin_client, alice):
    store = _ready(alice, "old-shop", "0.0.9")
    lifecycle.begin_update(store.pk, "Upgrade to chart 0.1.0 requested.", only_from={Status.READY})

    response = admin_client.post(
        reverse("admin:stores_store_changelist"),
        {"action": "delete_stores", "_selected_action": [store.pk], "index": 0},
        follow=True,
    )

    assert Store.objects.get(pk=store.pk).status == Status.UPDATING
    assert "1 store(s) are being upgraded or rolled back" in response.content.decode()

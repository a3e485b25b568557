"""The shop's country and currency: the New store form, the store page and what the engines get."""

import pytest
from django.urls import reverse

from stores import lifecycle
from stores.engines import ENGINES, StoreSpec, locales
from stores.forms import CreateStoreForm
from stores.models import Store
from stores.releases import store_spec

pytestmark = pytest.mark.django_db

URL = reverse("store_create")
DE_EUR = StoreSpec(
    "acme",
    7,
    "alice",
    "alice@example.com",
    "store-acme.example",
    "http://store-acme.example",
    "nginx",
    country="DE",
    currency="EUR",
)


def test_it_creates_a_store_in_the_country_and_currency_chosen(alice_client, alice):
    response = alice_client.post(URL, {"name": "acme", "engine": "medusa", "country": "DE", "currency": "EUR"})

    assert response.status_code == 302
    store = Store.objects.get()
    assert (store.owner, store.country, store.currency) == (alice, "DE", "EUR")


def test_it_refuses_a_currency_the_engine_does_not_sell_in_and_creates_nothing(alice_client):
    response = alice_client.post(URL, {"name": "acme", "engine": "medusa", "country": "DE", "currency": "BTC"})

    assert response.status_code == 400
    assert not Store.objects.exists()
    page = response.content.decode()
    assert "MedusaJS does not sell in Bitcoin (฿), BTC. Choose another currency." in page
    # The field says so, and keeps what was chosen.
    select = page[page.index('name="currency"') : page.index("</select>", page.index('name="currency"'))]
    assert 'aria-invalid="true"' in select
    assert '<option value="BTC" selected>' in page


def test_woocommerce_sells_in_bitcoin(alice_client):
    response = alice_client.post(URL, {"name": "acme", "engine": "woocommerce", "country": "DE", "currency": "BTC"})

    assert response.status_code == 302
    assert Store.objects.values_list("currency", flat=True).get() == "BTC"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("country", "XX", "“XX” is not a country stores can be set up for."),
        ("currency", "XYZ", "“XYZ” is not a currency any engine sells in."),
    ],
)
def test_it_refuses_an_unknown_country_or_currency(alice_client, field, value, message):
    data = {"name": "acme", "engine": "woocommerce", "country": "DE", "currency": "EUR", field: value}

    response = alice_client.post(URL, data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Store.objects.exists()


def test_the_form_starts_from_the_settings_defaults(settings):
    settings.STORE_DEFAULT_COUNTRY, settings.STORE_DEFAULT_CURRENCY = "DE", "EUR"

    form = CreateStoreForm()

    assert (form["country"].value(), form["currency"].value()) == ("DE", "EUR")


def test_the_dashboard_preselects_the_defaults(alice_client):
    page = alice_client.get(reverse("dashboard")).content.decode()

    assert '<label for="id_country">Country</label>' in page
    assert '<option value="US" selected>United States (US)</option>' in page
    assert '<option value="USD" selected>USD — US dollar ($)</option>' in page
    assert '<option value="EUR">EUR — Euro (€)</option>' in page


def test_a_post_without_them_gets_the_defaults(alice_client):
    alice_client.post(URL, {"name": "acme", "engine": "woocommerce"})

    assert Store.objects.values_list("country", "currency").get() == ("US", "USD")


def test_the_store_page_shows_them(alice_client, alice):
    store = lifecycle.create_store(alice, "acme", "medusa", country="DE", currency="EUR")

    page = alice_client.get(reverse("store_detail", args=[store.pk])).content.decode()

    assert '<dd class="shop-country">Germany</dd>' in page
    assert '<dd class="shop-currency">EUR <span class="muted">Euro (€)</span></dd>' in page


def test_the_store_page_shows_the_versions_found(alice_client, alice):
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    Store.objects.filter(pk=store.pk).update(versions={"WordPress": "6.8.1", "WooCommerce": "9.9.5"})

    page = alice_client.get(reverse("store_detail", args=[store.pk])).content.decode()

    assert '<dd class="shop-versions">WordPress 6.8.1 · WooCommerce 9.9.5</dd>' in page


def test_a_store_made_before_has_the_defaults_in_its_release(alice, settings):
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    Store.objects.filter(pk=store.pk).update(country="", currency="")
    settings.STORE_DEFAULT_COUNTRY, settings.STORE_DEFAULT_CURRENCY = "FR", "EUR"

    spec = store_spec(Store.objects.get(pk=store.pk))

    assert (spec.country, spec.currency) == ("FR", "EUR")


@pytest.mark.parametrize("engine", ["woocommerce", "medusa"])
def test_each_engine_gets_the_shop_values(engine):
    values = ENGINES[engine].build_values(DE_EUR)

    assert values["shop"] == {"country": "DE", "currency": "EUR"}
    assert values["store"]["url"] == "http://store-acme.example"


def test_every_engine_takes_the_platform_list_and_woocommerce_bitcoin_besides():
    for engine in ENGINES.values():
        assert set(locales.CURRENCIES) <= engine.currencies
        assert set(locales.COUNTRIES) == engine.countries
    assert ENGINES["woocommerce"].refuses_shop("DE", "BTC") is None
    assert ENGINES["medusa"].refuses_shop("DE", "BTC") is not None


def test_every_currency_and_country_has_a_name_and_the_codes_look_right():
    assert all(len(code) == 2 and code.isupper() for code in locales.COUNTRIES)
    assert all(len(code) == 3 and code.isupper() and c.name and c.symbol for code, c in locales.ALL_CURRENCIES.items())
    assert locales.currency_label("EUR") == "Euro (€)"
    assert locales.country_name("DE") == "Germany"

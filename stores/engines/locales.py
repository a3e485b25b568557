"""The countries and currencies a shop may be set up for, with their names for display.

A curated list, shared by every engine: the countries and currencies most
shops start with, not all of ISO 3166 and ISO 4217. Each engine then says
which of them it takes (Engine.countries, Engine.currencies):

- WooCommerce sells in any currency of its own list (get_woocommerce_currencies,
  which holds every one here and a few that are not ISO 4217, such as Bitcoin)
  and ships to any country.
- Medusa sells in any currency of its currency module (@medusajs/utils
  defaults/currencies, ISO 4217 only: no Bitcoin) and any country, through a
  region with that currency and country.

Django-free: the settings check their defaults against it.
"""

from __future__ import annotations

from typing import NamedTuple

# ISO 3166-1 alpha-2 -> English name, sorted by name.
COUNTRIES: dict[str, str] = {
    "AR": "Argentina",
    "AU": "Australia",
    "AT": "Austria",
    "BE": "Belgium",
    "BR": "Brazil",
    "BG": "Bulgaria",
    "CA": "Canada",
    "CL": "Chile",
    "CN": "China",
    "CO": "Colombia",
    "HR": "Croatia",
    "CZ": "Czechia",
    "DK": "Denmark",
    "EE": "Estonia",
    "FI": "Finland",
    "FR": "France",
    "DE": "Germany",
    "GR": "Greece",
    "HK": "Hong Kong",
    "HU": "Hungary",
    "IS": "Iceland",
    "IN": "India",
    "ID": "Indonesia",
    "IE": "Ireland",
    "IL": "Israel",
    "IT": "Italy",
    "JP": "Japan",
    "KE": "Kenya",
    "LV": "Latvia",
    "LT": "Lithuania",
    "LU": "Luxembourg",
    "MY": "Malaysia",
    "MT": "Malta",
    "MX": "Mexico",
    "MA": "Morocco",
    "NL": "Netherlands",
    "NZ": "New Zealand",
    "NG": "Nigeria",
    "NO": "Norway",
    "PE": "Peru",
    "PH": "Philippines",
    "PL": "Poland",
    "PT": "Portugal",
    "RO": "Romania",
    "SA": "Saudi Arabia",
    "SG": "Singapore",
    "SK": "Slovakia",
    "SI": "Slovenia",
    "ZA": "South Africa",
    "KR": "South Korea",
    "ES": "Spain",
    "SE": "Sweden",
    "CH": "Switzerland",
    "TW": "Taiwan",
    "TH": "Thailand",
    "TR": "Türkiye",
    "UA": "Ukraine",
    "AE": "United Arab Emirates",
    "GB": "United Kingdom",
    "US": "United States",
    "VN": "Vietnam",
}


class Currency(NamedTuple):
    name: str
    symbol: str


# ISO 4217 -> name and symbol, as the shops show them. Every engine takes these.
CURRENCIES: dict[str, Currency] = {
    "USD": Currency("US dollar", "$"),
    "EUR": Currency("Euro", "€"),
    "GBP": Currency("Pound sterling", "£"),
    "AUD": Currency("Australian dollar", "$"),
    "BRL": Currency("Brazilian real", "R$"),
    "CAD": Currency("Canadian dollar", "$"),
    "CHF": Currency("Swiss franc", "CHF"),
    "CNY": Currency("Chinese yuan", "¥"),
    "CZK": Currency("Czech koruna", "Kč"),
    "DKK": Currency("Danish krone", "kr."),
    "HKD": Currency("Hong Kong dollar", "$"),
    "HUF": Currency("Hungarian forint", "Ft"),
    "IDR": Currency("Indonesian rupiah", "Rp"),
    "ILS": Currency("Israeli new shekel", "₪"),
    "INR": Currency("Indian rupee", "₹"),
    "JPY": Currency("Japanese yen", "¥"),
    "KRW": Currency("South Korean won", "₩"),
    "MXN": Currency("Mexican peso", "$"),
    "NOK": Currency("Norwegian krone", "kr"),
    "NZD": Currency("New Zealand dollar", "$"),
    "PLN": Currency("Polish złoty", "zł"),
    "RON": Currency("Romanian leu", "lei"),
    "SEK": Currency("Swedish krona", "kr"),
    "SGD": Currency("Singapore dollar", "$"),
    "THB": Currency("Thai baht", "฿"),
    "TRY": Currency("Turkish lira", "₺"),
    "ZAR": Currency("South African rand", "R"),
}

# Currencies some engine takes and another does not, for display.
OTHER_CURRENCIES: dict[str, Currency] = {
    # WooCommerce lists it; Medusa's currency module does not.
    "BTC": Currency("Bitcoin", "฿"),
}

ALL_CURRENCIES: dict[str, Currency] = {**CURRENCIES, **OTHER_CURRENCIES}


def country_name(code: str) -> str:
    """ "Germany" for "DE"; the code itself when it is not in the list."""
    return COUNTRIES.get(code, code)


def currency_label(code: str) -> str:
    """ "Euro (€)" for "EUR"; the code itself when it is not in the list."""
    currency = ALL_CURRENCIES.get(code)
    return f"{currency.name} ({currency.symbol})" if currency else code

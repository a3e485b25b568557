import re

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from stores.engines import ENGINES, locales
from stores.lifecycle import PlatformAtCapacity
from stores.models import SLUG_MAX_LENGTH, Store, slug_validator


class CreateStoreForm(forms.Form):
    name = forms.CharField(
        label="Store name",
        max_length=SLUG_MAX_LENGTH,
        help_text=f"Lowercase letters, digits and dashes, up to {SLUG_MAX_LENGTH} characters. "
        "It becomes the store's address: store-<name>.",
        widget=forms.TextInput(attrs={"placeholder": "acme-coffee", "autocomplete": "off", "spellcheck": "false"}),
    )
    engine = forms.ChoiceField(
        label="Engine",
        choices=[(e.key, e.label if e.available else f"{e.label} (coming soon)") for e in ENGINES.values()],
        # The first engine that can be provisioned (ENGINES is in the order offered).
        initial=next((e.key for e in ENGINES.values() if e.available), None),
    )

    country = forms.ChoiceField(
        label="Country",
        # Left out (a client that predates the field): the platform's default.
        required=False,
        help_text="Where the shop is: its address, and where it delivers.",
        error_messages={"invalid_choice": "“%(value)s” is not a country stores can be set up for."},
        choices=[(code, f"{name} ({code})") for code, name in sorted(locales.COUNTRIES.items(), key=lambda c: c[1])],
    )
    currency = forms.ChoiceField(
        label="Currency",
        required=False,
        help_text="What its prices are in.",
        error_messages={"invalid_choice": "“%(value)s” is not a currency any engine sells in."},
        # Every currency some engine sells in; clean() checks the chosen engine's.
        choices=[(code, f"{code} — {c.name} ({c.symbol})") for code, c in locales.ALL_CURRENCIES.items()],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read here, not at import: a test or an operator's setting changes them.
        self.fields["country"].initial = settings.STORE_DEFAULT_COUNTRY
        self.fields["currency"].initial = settings.STORE_DEFAULT_CURRENCY

    @property
    def capacity_notice(self) -> str:
        """PlatformAtCapacity's message while MAX_LIVE_STORES are live, so the page says so up front.

        Only a hint: the create itself checks again under a lock.
        """
        cap = settings.MAX_LIVE_STORES
        if cap and Store.objects.live().count() >= cap:
            return PlatformAtCapacity.message
        return ""

    def clean_name(self):
        return clean_store_name(self.cleaned_data["name"])

    def clean_engine(self):
        engine = ENGINES[self.cleaned_data["engine"]]
        if not engine.available:
            raise ValidationError(engine.unavailable_reason)
        return engine.key

    def clean_country(self):
        return self.cleaned_data["country"] or settings.STORE_DEFAULT_COUNTRY

    def clean_currency(self):
        return self.cleaned_data["currency"] or settings.STORE_DEFAULT_CURRENCY

    def clean(self):
        cleaned = super().clean()
        engine, country, currency = (cleaned.get(k) for k in ("engine", "country", "currency"))
        if engine and country and currency:
            reason = ENGINES[engine].refuses_shop(country, currency)
            if reason:
                self.add_error("currency" if country in ENGINES[engine].countries else "country", reason)
        return cleaned


class RestoreIntoNewStoreForm(forms.Form):
    """The name of the new store a deleted store's final backup is restored into."""

    name = forms.CharField(
        max_length=64,
        help_text="Lowercase letters, digits and dashes; the store's address is store-<name>.",
    )

    def clean_name(self):
        return clean_store_name(self.cleaned_data["name"])


def clean_store_name(raw: str) -> str:
    """A new store's name: a free slug, or a ValidationError that says what to type instead."""
    name = raw.strip()
    if not re.compile(slug_validator.regex).match(name):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", slugify(name))[:SLUG_MAX_LENGTH].strip("-")
        if name.lower() == suggestion:
            raise ValidationError(f"Use lowercase letters only, for example “{suggestion}”.")
        hint = f" For example “{suggestion}”." if suggestion else ""
        raise ValidationError(
            "Use lowercase letters, digits and dashes, starting and ending with a letter or digit." + hint
        )
    if Store.objects.live().filter(slug=name).exists():
        raise ValidationError(f"The name “{name}” is taken. Choose another.")
    return name

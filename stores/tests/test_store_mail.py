"""The mail relay stores send through (STORE_MAIL_*): settings, the Secret each store gets, its egress, its page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from provisioner.tests.settings_probe import run as _run
from provisioner.tests.settings_probe import settings_json as _settings_json
from stores import isolation, lifecycle, releases
from stores.cluster.guardrails import network_policies
from stores.mail import MAIL_SECRET_NAME, MailSettingsError, parse_store_mail

RELAY = {
    "host": "smtp.example.net",
    "port": "",
    "security": "",
    "from_pattern": "shop-{slug}@example.net",
    "user": "relay-user",
    "password": "relay-pass",
}


def _relay(**changes):
    return parse_store_mail(**{**RELAY, **changes})


# --- settings ---------------------------------------------------------------------------


def test_mail_is_off_without_a_host():
    assert _relay(host="") is None
    assert _settings_json("settings.STORE_MAIL is None") is True


def test_the_port_follows_the_security_unless_set():
    assert (_relay().security, _relay().port) == ("starttls", 587)
    assert _relay(security="tls").port == 465
    assert _relay(security="none", port="2525").port == 2525


def test_each_store_sends_as_its_own_address():
    relay = _relay()
    assert relay.sender("acme") == "shop-acme@example.net"
    assert relay.secret_data("acme") == {
        "host": "smtp.example.net",
        "port": "587",
        "security": "starttls",
        "username": "relay-user",
        "password": "relay-pass",
        "from": "shop-acme@example.net",
    }
    assert "relay-pass" not in repr(relay)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"host": "smtp://smtp.example.net"}, "STORE_MAIL_HOST: 'smtp://smtp.example.net' is not a hostname"),
        ({"host": "smtp.example.net:587"}, "is not a hostname or an address (no scheme, no port)"),
        ({"security": "ssl"}, "STORE_MAIL_SECURITY must be one of starttls, tls, none, not 'ssl'"),
        ({"port": "smtp"}, "STORE_MAIL_PORT: 'smtp' is not a port number"),
        ({"port": "70000"}, "STORE_MAIL_PORT: '70000' is not a port number"),
        ({"from_pattern": ""}, "STORE_MAIL_FROM is required with STORE_MAIL_HOST"),
        ({"from_pattern": "shop-{slug}"}, "STORE_MAIL_FROM: 'shop-{slug}' is not an address"),
        ({"from_pattern": "{owner}@example.net"}, "({slug} is the only placeholder)"),
        ({"user": ""}, "STORE_MAIL_PASSWORD is set but STORE_MAIL_USER is not"),
    ],
)
def test_settings_that_cannot_work_are_refused(changes, message):
    with pytest.raises(MailSettingsError) as refused:
        _relay(**changes)
    assert message in str(refused.value)


def test_a_bad_mail_setting_stops_the_platform_at_startup():
    result = _run(["manage.py", "check"], STORE_MAIL_HOST="smtp.example.net", STORE_MAIL_FROM="")
    assert result.returncode != 0
    assert "STORE_MAIL_FROM is required with STORE_MAIL_HOST" in result.stderr


def test_the_password_may_come_from_a_file(tmp_path):
    secret = tmp_path / "relay-password"
    secret.write_text("from-a-file\n")
    env = {
        "STORE_MAIL_HOST": "smtp.example.net",
        "STORE_MAIL_FROM": "shop-{slug}@example.net",
        "STORE_MAIL_USER": "relay-user",
        "STORE_MAIL_PASSWORD_FILE": str(secret),
    }
    assert _settings_json("settings.STORE_MAIL.password", **env) == "from-a-file"


# --- egress ---------------------------------------------------------------------------


def _policies(spec) -> dict[str, dict]:
    return {p["metadata"]["name"]: p["spec"] for p in network_policies(spec)}


def test_mail_egress_opens_the_relays_port_to_pods_labelled_for_it_only(settings):
    settings.STORE_MAIL = None
    assert "allow-mail-egress" not in _policies(isolation.guardrail_spec("woocommerce"))
    settings.STORE_MAIL = _relay(security="tls")
    policies = _policies(isolation.guardrail_spec("woocommerce"))
    mail = policies["allow-mail-egress"]
    assert mail["podSelector"] == {"matchLabels": {"store-provisioner.io/mail": "relay"}}
    assert mail["egress"][0]["ports"] == [{"protocol": "TCP", "port": 465}]
    # Not through the private ranges (other stores, the metadata service), as for internet egress.
    assert mail["egress"][0]["to"] == policies["allow-internet-egress"]["egress"][0]["to"]
    # The internet egress keeps its own ports: the relay's is not opened to every downloading pod.
    assert [port["port"] for port in policies["allow-internet-egress"]["egress"][0]["ports"]] == [80, 443]


# --- the Secret and the values ------------------------------------------------------------


@pytest.fixture
def store(alice):
    return lifecycle.create_store(alice, "acme", "woocommerce")


@pytest.mark.django_db
def test_the_store_gets_the_relay_in_its_own_secret_and_values(store, fake_cluster, settings):
    settings.STORE_MAIL = _relay()
    releases.apply_mail_secret(store, fake_cluster)
    assert fake_cluster.secrets[(store.namespace, MAIL_SECRET_NAME)]["from"] == "shop-acme@example.net"
    spec = releases.store_spec(store)
    assert (spec.mail_secret, spec.mail_revision) == (MAIL_SECRET_NAME, _relay().revision("acme"))


@pytest.mark.django_db
def test_a_changed_password_replaces_the_old_one(store, fake_cluster, settings):
    settings.STORE_MAIL = _relay()
    releases.apply_mail_secret(store, fake_cluster)
    settings.STORE_MAIL = _relay(password="rotated")
    releases.apply_mail_secret(store, fake_cluster)
    assert fake_cluster.secrets[(store.namespace, MAIL_SECRET_NAME)]["password"] == "rotated"


@pytest.mark.django_db
def test_mail_turned_off_removes_the_secret_and_the_values(store, fake_cluster, settings):
    settings.STORE_MAIL = _relay()
    releases.apply_mail_secret(store, fake_cluster)
    settings.STORE_MAIL = None
    releases.apply_mail_secret(store, fake_cluster)
    assert (store.namespace, MAIL_SECRET_NAME) not in fake_cluster.secrets
    assert releases.store_spec(store).mail_secret == ""


@pytest.fixture
def mute_medusa(monkeypatch):
    """MedusaJS as an engine that sends no mail."""
    from dataclasses import replace

    from stores.engines import ENGINES

    monkeypatch.setitem(ENGINES, "medusa", replace(ENGINES["medusa"], mail_components=frozenset()))


@pytest.mark.django_db
def test_an_engine_that_sends_no_mail_gets_no_relay(alice, fake_cluster, settings, mute_medusa):
    settings.STORE_MAIL = _relay()
    medusa = lifecycle.create_store(alice, "med", "medusa")
    releases.apply_mail_secret(medusa, fake_cluster)
    assert (medusa.namespace, MAIL_SECRET_NAME) not in fake_cluster.secrets
    assert releases.store_spec(medusa).mail_secret == ""


@pytest.mark.django_db
def test_every_install_puts_the_relay_before_helm_runs(store, fake_cluster, settings):
    settings.STORE_MAIL = _relay()
    releases.install(store, fake_cluster, should_stop=lambda: None, progress=lambda _: None)
    assert ("put_secret", store.namespace, MAIL_SECRET_NAME) in fake_cluster.calls
    (_, _, _, values) = fake_cluster.helm.calls[-1]
    assert values["mail"] == {"existingSecret": MAIL_SECRET_NAME, "revision": _relay().revision("acme")}


# --- the store page ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_says_when_mail_is_off(alice_client, store, settings):
    settings.STORE_MAIL = None
    body = alice_client.get(reverse("store_detail", args=[store.pk])).content.decode()
    assert "The platform has no mail relay, so the shop sends no order or account mail." in body


@pytest.mark.django_db
def test_the_page_says_how_the_shop_sends_mail(alice_client, store, settings):
    settings.STORE_MAIL = _relay()
    body = alice_client.get(reverse("store_detail", args=[store.pk])).content.decode()
    assert "Sent as shop-acme@example.net through smtp.example.net." in body
    assert "relay-pass" not in body


@pytest.mark.django_db
def test_the_page_says_an_engine_sends_no_mail_yet(alice_client, alice, settings, mute_medusa):
    settings.STORE_MAIL = _relay()
    medusa = lifecycle.create_store(alice, "med", "medusa")
    body = alice_client.get(reverse("store_detail", args=[medusa.pk])).content.decode()
    assert "MedusaJS stores do not send mail through the relay yet." in body

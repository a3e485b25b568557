"""The guardrails a store namespace gets, as the settings shape them."""

import pytest
from django.test import override_settings

from provisioner.tests.settings_probe import run as _run
from provisioner.tests.settings_probe import settings_json as _settings_json
from stores import isolation
from stores.cluster.guardrails import DEFAULT_PRIVATE_CIDRS, network_policies

KUBE_SYSTEM = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}


def _denied(spec) -> list[str]:
    (policy,) = [p for p in network_policies(spec) if p["metadata"]["name"] == "allow-internet-egress"]
    (block,) = policy["spec"]["egress"][0]["to"]
    return block["ipBlock"]["except"]


def test_it_denies_link_local_and_cgnat_egress_by_default():
    denied = _denied(isolation.guardrail_spec())
    assert "169.254.0.0/16" in denied
    assert "100.64.0.0/10" in denied
    assert denied == DEFAULT_PRIVATE_CIDRS


@override_settings(EGRESS_DENIED_CIDRS=["10.0.0.0/8", "198.18.0.0/15"])
def test_it_takes_the_denied_ranges_from_the_setting():
    assert _denied(isolation.guardrail_spec()) == ["10.0.0.0/8", "198.18.0.0/15"]


def test_it_reads_the_denied_ranges_from_the_environment():
    read = _settings_json("settings.EGRESS_DENIED_CIDRS", EGRESS_DENIED_CIDRS="10.0.0.0/8, 169.254.0.0/16")
    assert read == ["10.0.0.0/8", "169.254.0.0/16"]
    assert _settings_json("settings.EGRESS_DENIED_CIDRS") == DEFAULT_PRIVATE_CIDRS


def test_it_refuses_a_malformed_denied_range():
    result = _run(["manage.py", "check"], EGRESS_DENIED_CIDRS="10.0.0.0/8,metadata")
    assert result.returncode != 0
    assert "EGRESS_DENIED_CIDRS: 'metadata' is not a CIDR range" in result.stderr


def _dns_peers(spec) -> list[dict]:
    (policy,) = [p for p in network_policies(spec) if p["metadata"]["name"] == "allow-dns"]
    (rule,) = policy["spec"]["egress"]
    return rule["to"]


def test_it_sends_dns_to_kube_system_by_default():
    assert _dns_peers(isolation.guardrail_spec()) == [KUBE_SYSTEM]
    assert _settings_json("settings.STORE_DNS_PEERS") == ["kube-system"]


@override_settings(STORE_DNS_PEERS=["kube-system", "169.254.20.10/32"])
def test_it_takes_the_dns_peers_from_the_setting():
    # NodeLocal DNSCache: its address, beside kube-system's CoreDNS.
    assert _dns_peers(isolation.guardrail_spec("woocommerce")) == [
        KUBE_SYSTEM,
        {"ipBlock": {"cidr": "169.254.20.10/32"}},
    ]


def test_it_reads_the_dns_peers_from_the_environment():
    read = _settings_json("settings.STORE_DNS_PEERS", STORE_DNS_PEERS="169.254.20.10, kube-system,10.96.0.10/32")
    assert read == ["169.254.20.10/32", "kube-system", "10.96.0.10/32"]


@pytest.mark.parametrize(
    "value, message",
    [
        ("kube-system,dns.example.com", "STORE_DNS_PEERS: 'dns.example.com' is neither a CIDR range"),
        ("169.254.20.10/40", "STORE_DNS_PEERS: '169.254.20.10/40' is neither a CIDR range"),
        (" , ", "STORE_DNS_PEERS is empty: store pods would have no DNS"),
    ],
)
def test_it_refuses_a_dns_peer_at_startup(value, message):
    result = _run(["manage.py", "check"], STORE_DNS_PEERS=value)
    assert result.returncode != 0
    assert message in result.stderr


def _internet_ports(spec) -> list[int]:
    (policy,) = [p for p in network_policies(spec) if p["metadata"]["name"] == "allow-internet-egress"]
    return [port["port"] for port in policy["spec"]["egress"][0]["ports"]]


def test_it_opens_http_and_https_to_the_internet_by_default():
    assert _internet_ports(isolation.guardrail_spec("woocommerce")) == [80, 443]
    assert _settings_json("settings.STORE_EGRESS_PORTS") == [80, 443]


@override_settings(STORE_EGRESS_PORTS=[80, 443, 587])
def test_it_takes_the_egress_ports_from_the_setting():
    assert _internet_ports(isolation.guardrail_spec("medusa")) == [80, 443, 587]


def test_it_reads_the_egress_ports_from_the_environment():
    assert _settings_json("settings.STORE_EGRESS_PORTS", STORE_EGRESS_PORTS="443, 80,587,443") == [443, 80, 587]


@pytest.mark.parametrize(
    "value, message",
    [
        ("80,smtp", "STORE_EGRESS_PORTS: 'smtp' is not a port number (1-65535)"),
        ("443,70000", "STORE_EGRESS_PORTS: '70000' is not a port number"),
        ("0", "STORE_EGRESS_PORTS: '0' is not a port number"),
        (" , ", "STORE_EGRESS_PORTS is empty: stores could download nothing; the default is 80,443"),
    ],
)
def test_it_refuses_an_egress_port_at_startup(value, message):
    result = _run(["manage.py", "check"], STORE_EGRESS_PORTS=value)
    assert result.returncode != 0
    assert message in result.stderr

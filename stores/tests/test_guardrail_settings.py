"""The guardrails a store namespace gets, as the settings shape them."""

from django.test import override_settings

from provisioner.tests.settings_probe import run as _run
from provisioner.tests.settings_probe import settings_json as _settings_json
from stores import isolation
from stores.cluster.guardrails import DEFAULT_PRIVATE_CIDRS, network_policies


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

"""The guardrail objects a store namespace gets."""

from __future__ import annotations

import ipaddress
from types import SimpleNamespace

import pytest
from kubernetes.client.exceptions import ApiException

from stores.cluster import ClusterError, GuardrailSpec
from stores.cluster.guardrails import (
    DEFAULT_PRIVATE_CIDRS,
    apply_guardrails,
    cluster_addresses,
    denying_addresses,
    guardrail_objects,
    limit_range,
    network_policies,
    resource_quota,
    wait_until_quota_counted,
)

from .fakes import FakeNamespacedObjects

WEB_PORTS = [{"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 443}]


def policies(spec=None) -> dict[str, dict]:
    return {p["metadata"]["name"]: p["spec"] for p in network_policies(spec or GuardrailSpec())}


def test_it_sets_the_default_quota():
    quota = resource_quota(GuardrailSpec())
    assert quota["metadata"]["name"] == "store-quota"
    assert quota["spec"]["hard"] == {
        "requests.cpu": "2",
        "requests.memory": "3Gi",
        "limits.cpu": "4",
        "limits.memory": "6Gi",
        "pods": "10",
        "persistentvolumeclaims": "4",
        "requests.storage": "20Gi",
        "requests.ephemeral-storage": "2Gi",
        "limits.ephemeral-storage": "4Gi",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }


def test_it_takes_quota_overrides_without_sharing_defaults():
    small = GuardrailSpec(quota={"pods": "3"})
    assert resource_quota(small)["spec"]["hard"] == {"pods": "3"}
    GuardrailSpec().quota["pods"] = "99"
    assert resource_quota(GuardrailSpec())["spec"]["hard"]["pods"] == "10"


def test_it_sets_container_defaults_and_maximum():
    limits = limit_range(GuardrailSpec())
    assert limits["metadata"]["name"] == "store-limits"
    assert limits["spec"]["limits"] == [
        {
            "type": "Container",
            "default": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "1Gi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "128Mi"},
            "max": {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "2Gi"},
        }
    ]


def test_it_bounds_every_containers_disk_on_the_node():
    spec = GuardrailSpec()
    limit = limit_range(spec)["spec"]["limits"][0]
    hard = resource_quota(spec)["spec"]["hard"]
    for key in ("default", "defaultRequest", "max"):
        assert "ephemeral-storage" in limit[key], key
    assert {"requests.ephemeral-storage", "limits.ephemeral-storage"} <= set(hard)


def test_it_creates_four_policies_without_a_mail_relay():
    assert sorted(policies()) == [
        "allow-dns",
        "allow-ingress-controller",
        "allow-internet-egress",
        "default-deny",
    ]


def test_it_denies_everything_by_default():
    assert policies()["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_it_allows_no_traffic_between_pods_of_the_namespace():
    # The engine's chart grants the paths its components need (web -> db);
    # a blanket same-namespace allow would open the database to every pod.
    for name, spec in policies().items():
        for rule in spec.get("ingress", []):
            assert all("podSelector" not in peer for peer in rule["from"]), name
        for rule in spec.get("egress", []):
            assert all("podSelector" not in peer for peer in rule["to"]), name


def test_it_gives_dns_to_every_pod():
    assert policies()["allow-dns"]["podSelector"] == {}


DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def test_it_allows_dns_to_kube_system_by_default():
    spec = policies()["allow-dns"]
    assert spec["policyTypes"] == ["Egress"]
    assert spec["egress"] == [
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
            "ports": DNS_PORTS,
        }
    ]


def test_it_allows_dns_to_the_dns_namespace_only():
    spec = policies(GuardrailSpec(dns_peers=["dns-system"]))["allow-dns"]
    assert spec["policyTypes"] == ["Egress"]
    assert spec["egress"] == [
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dns-system"}}}],
            "ports": DNS_PORTS,
        }
    ]


def test_it_allows_dns_to_a_node_local_dns_cache_by_its_address():
    # NodeLocal DNSCache listens on 169.254.20.10 on every node, in the host
    # network: no namespace selector matches it, only its address does.
    spec = policies(GuardrailSpec(dns_peers=["kube-system", "169.254.20.10/32", "fd00::a"]))["allow-dns"]
    assert spec["egress"] == [
        {
            "to": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}},
                {"ipBlock": {"cidr": "169.254.20.10/32"}},
                {"ipBlock": {"cidr": "fd00::a/128"}},
            ],
            "ports": DNS_PORTS,
        }
    ]


@pytest.mark.parametrize("peer", ["Kube-System", "169.254.20.10/33", "dns.example.com", ""])
def test_it_refuses_a_dns_peer_that_is_neither_a_range_nor_a_namespace(peer):
    with pytest.raises(ClusterError, match="invalid DNS peer"):
        policies(GuardrailSpec(dns_peers=[peer]))


def test_it_admits_the_ingress_controller_to_opted_in_pods_only():
    spec = policies(GuardrailSpec(ingress_controller_namespace="traefik"))["allow-ingress-controller"]
    assert spec["podSelector"] == {"matchLabels": {"store-provisioner.io/ingress": "true"}}
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["ingress"] == [
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}}]}
    ]


def test_it_allows_the_internet_to_opted_in_pods_only():
    spec = policies()["allow-internet-egress"]
    assert spec["podSelector"] == {"matchLabels": {"store-provisioner.io/egress": "internet"}}


def test_it_allows_the_internet_but_not_private_link_local_or_cgnat_ranges():
    spec = policies()["allow-internet-egress"]
    assert spec["policyTypes"] == ["Egress"]
    assert spec["egress"] == [
        {
            "to": [
                {
                    "ipBlock": {
                        "cidr": "0.0.0.0/0",
                        "except": [
                            "10.0.0.0/8",
                            "172.16.0.0/12",
                            "192.168.0.0/16",
                            "169.254.0.0/16",
                            "100.64.0.0/10",
                        ],
                    }
                }
            ],
            "ports": WEB_PORTS,
        }
    ]


def test_it_keeps_the_cloud_metadata_service_out_of_reach():
    (block,) = policies()["allow-internet-egress"]["egress"][0]["to"]
    excepted = [ipaddress.ip_network(cidr) for cidr in block["ipBlock"]["except"]]
    for address in ("169.254.169.254", "100.100.100.200", "10.96.0.1"):
        assert any(ipaddress.ip_address(address) in net for net in excepted), address


def test_it_puts_ipv6_exclusions_in_their_own_block():
    spec = policies(GuardrailSpec(private_cidrs=["100.64.0.0/10", "fd00::/8"]))["allow-internet-egress"]
    assert spec["egress"][0]["to"] == [
        {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["100.64.0.0/10"]}},
        {"ipBlock": {"cidr": "::/0", "except": ["fd00::/8"]}},
    ]


def test_it_allows_all_egress_when_nothing_is_private():
    spec = policies(GuardrailSpec(private_cidrs=[]))["allow-internet-egress"]
    assert spec["egress"] == [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": WEB_PORTS}]


def test_it_opens_the_internet_on_http_and_https_only():
    (rule,) = policies()["allow-internet-egress"]["egress"]
    opened = {(port["protocol"], port["port"]) for port in rule["ports"]}
    assert opened == {("TCP", 80), ("TCP", 443)}
    # SMTP (spam), a kubelet and an API server at a public address stay shut.
    assert not {25, 6443, 10250} & {port for _, port in opened}


def test_it_opens_the_ports_the_spec_names():
    (rule,) = policies(GuardrailSpec(egress_ports=[80, 443, 587]))["allow-internet-egress"]["egress"]
    assert [port["port"] for port in rule["ports"]] == [80, 443, 587]


def test_it_denies_the_clusters_own_public_addresses_as_hosts():
    spec = denying_addresses(
        GuardrailSpec(private_cidrs=["10.0.0.0/8", "fd00::/8"]),
        ["203.0.113.7", "10.0.0.5", "2001:db8::1", "198.51.100.2"],
    )
    # 10.0.0.5 is already denied by 10.0.0.0/8: not listed twice.
    assert spec.private_cidrs == ["10.0.0.0/8", "fd00::/8", "203.0.113.7/32", "2001:db8::1/128", "198.51.100.2/32"]
    blocks = policies(spec)["allow-internet-egress"]["egress"][0]["to"]
    assert blocks == [
        {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "203.0.113.7/32", "198.51.100.2/32"]}},
        {"ipBlock": {"cidr": "::/0", "except": ["fd00::/8", "2001:db8::1/128"]}},
    ]


def test_it_opens_no_ipv6_to_deny_a_nodes_ipv6_address():
    # Without an IPv6 range denied, the policy lets no IPv6 out at all; a
    # "::/0 except the node" block would open the rest of it.
    spec = denying_addresses(GuardrailSpec(private_cidrs=["10.0.0.0/8"]), ["2001:db8::1", "203.0.113.7"])
    assert spec.private_cidrs == ["10.0.0.0/8", "203.0.113.7/32"]
    blocks = policies(spec)["allow-internet-egress"]["egress"][0]["to"]
    assert blocks == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "203.0.113.7/32"]}}]


def test_it_leaves_the_spec_it_was_given_alone():
    spec = GuardrailSpec()
    denying_addresses(spec, ["203.0.113.7"])
    assert spec.private_cidrs == DEFAULT_PRIVATE_CIDRS


def _address_api(nodes, endpoint_ips, *, error=None):
    def list_node(**kwargs):
        if error is not None:
            raise error
        return SimpleNamespace(
            items=[
                SimpleNamespace(
                    status=SimpleNamespace(addresses=[SimpleNamespace(type=t, address=a) for t, a in addresses])
                )
                for addresses in nodes
            ]
        )

    def read_namespaced_endpoints(name, namespace, **kwargs):
        assert (name, namespace) == ("kubernetes", "default")
        return SimpleNamespace(subsets=[SimpleNamespace(addresses=[SimpleNamespace(ip=ip) for ip in endpoint_ips])])

    core = SimpleNamespace(list_node=list_node, read_namespaced_endpoints=read_namespaced_endpoints)
    return SimpleNamespace(core=core, timeout=(1, 1), host="https://fake-apiserver")


def test_it_reads_the_nodes_and_the_api_servers_addresses():
    api = _address_api(
        nodes=[
            [("InternalIP", "10.0.0.4"), ("ExternalIP", "203.0.113.7"), ("Hostname", "vps-1")],
            [("InternalIP", "10.0.0.5"), ("InternalDNS", "vps-2.internal")],
        ],
        endpoint_ips=["203.0.113.7", "198.51.100.2"],
    )
    # Names are not addresses an ipBlock can hold; a node serving the API is listed once.
    assert cluster_addresses(api) == ["10.0.0.4", "203.0.113.7", "10.0.0.5", "198.51.100.2"]


def test_it_says_when_it_may_not_read_the_clusters_addresses():
    api = _address_api(nodes=[], endpoint_ips=[], error=ApiException(status=403, reason="Forbidden"))
    with pytest.raises(ClusterError, match="reading the cluster's node and API server addresses"):
        cluster_addresses(api)


def test_it_rejects_a_malformed_cidr():
    with pytest.raises(ClusterError, match="invalid private CIDR 'ten-dot'"):
        network_policies(GuardrailSpec(private_cidrs=["ten-dot"]))


def test_it_applies_the_limit_range_before_the_quota():
    kinds = [obj["kind"] for obj in guardrail_objects(GuardrailSpec())]
    assert kinds[:2] == ["LimitRange", "ResourceQuota"]
    assert kinds.count("NetworkPolicy") == 4


def test_it_labels_what_it_manages():
    for obj in guardrail_objects(GuardrailSpec()):
        assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "store-provisioner"}


def test_it_builds_objects_the_client_models_accept():
    from kubernetes import client

    models = {
        "LimitRange": client.V1LimitRange,
        "ResourceQuota": client.V1ResourceQuota,
        "NetworkPolicy": client.V1NetworkPolicy,
    }
    serializer = client.ApiClient()
    for obj in guardrail_objects(GuardrailSpec()):
        model = models[obj["kind"]].model_validate(obj)
        # Nothing is lost on the way to the API server (e.g. the empty podSelector).
        assert serializer.sanitize_for_serialization(model) == obj


# ---------------------------------------------------------------- apply


def _kinds_and_names(objects) -> list[tuple[str, str]]:
    return [(o["kind"], o["metadata"]["name"]) for o in objects]


def test_it_applies_every_guardrail_object_to_the_namespace():
    spec = GuardrailSpec()
    cluster = FakeNamespacedObjects()

    apply_guardrails(cluster.api(), "store-acme", spec)

    assert _kinds_and_names(guardrail_objects(spec)) == [
        ("LimitRange", "store-limits"),
        ("ResourceQuota", "store-quota"),
        ("NetworkPolicy", "default-deny"),
        ("NetworkPolicy", "allow-dns"),
        ("NetworkPolicy", "allow-ingress-controller"),
        ("NetworkPolicy", "allow-internet-egress"),
    ]
    assert cluster.objects == {(o["kind"], "store-acme", o["metadata"]["name"]): o for o in guardrail_objects(spec)}


def test_it_creates_the_limit_range_in_the_cluster_before_the_quota():
    # With the quota in place first, a pod without requests would be refused.
    cluster = FakeNamespacedObjects()

    apply_guardrails(cluster.api(), "store-acme", GuardrailSpec())

    created = [kind for call, kind, _ in cluster.calls if call == "create"]
    assert created.index("LimitRange") < created.index("ResourceQuota")


def test_it_puts_back_guardrails_edited_by_hand():
    spec = GuardrailSpec()
    cluster = FakeNamespacedObjects()
    apply_guardrails(cluster.api(), "store-acme", spec)
    cluster.objects[("NetworkPolicy", "store-acme", "default-deny")] = {"edited": "by hand"}
    cluster.objects[("ResourceQuota", "store-acme", "store-quota")] = {"edited": "by hand"}

    apply_guardrails(cluster.api(), "store-acme", spec)

    assert cluster.objects == {(o["kind"], "store-acme", o["metadata"]["name"]): o for o in guardrail_objects(spec)}


def test_the_mail_egress_comes_with_the_relay_and_goes_with_it():
    cluster = FakeNamespacedObjects()
    apply_guardrails(cluster.api(), "store-acme", GuardrailSpec(mail_port=587))
    mail = cluster.objects[("NetworkPolicy", "store-acme", "allow-mail-egress")]
    assert mail["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 587}]

    apply_guardrails(cluster.api(), "store-acme", GuardrailSpec())
    assert ("NetworkPolicy", "store-acme", "allow-mail-egress") not in cluster.objects
    apply_guardrails(cluster.api(), "store-acme", GuardrailSpec())  # nothing left to remove: no error


# ---------------------------------------------------------------- quota counted


class _Quotas:
    """read_namespaced_resource_quota answering each status in turn (the last one repeats)."""

    def __init__(self, spec_hard, *statuses):
        self.spec_hard, self.statuses, self.reads = spec_hard, list(statuses), 0

    def read_namespaced_resource_quota(self, name, namespace, **kwargs):
        assert (name, namespace) == ("store-quota", "store-acme")
        status = self.statuses[min(self.reads, len(self.statuses) - 1)]
        self.reads += 1
        return SimpleNamespace(
            spec=SimpleNamespace(hard=self.spec_hard),
            status=None if status is None else SimpleNamespace(hard=status),
        )

    def api(self):
        return SimpleNamespace(core=self, timeout=(1, 1), host="https://fake-apiserver")


class _QuotaAdmission(_Quotas):
    """Also a dry-run PVC create: admitted `admitted` times, then refused as quota admission does."""

    def __init__(self, spec_hard, admitted):
        super().__init__(spec_hard, spec_hard)
        self.admitted, self.claims = admitted, []
        self.refusal = 'persistentvolumeclaims "quota-probe" is forbidden: exceeded quota: store-quota'

    def create_namespaced_persistent_volume_claim(self, namespace, body, dry_run=None, **kwargs):
        assert dry_run == "All"  # a probe: nothing is ever made
        self.claims.append(body["spec"]["resources"]["requests"]["storage"])
        if len(self.claims) > self.admitted:
            error = ApiException(status=403, reason="Forbidden")
            error.body = self.refusal
            raise error


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_it_waits_until_the_quota_controller_has_counted_the_quota():
    # Until status.hard is filled in, quota admission limits nothing.
    quotas = _Quotas({"requests.cpu": "2", "pods": "10"}, None, {}, {"requests.cpu": "2000m", "pods": "10"})
    clock = _Clock()
    wait_until_quota_counted(quotas.api(), "store-acme", clock=clock, sleep=clock.sleep)
    assert quotas.reads == 3  # "2000m" is "2": quantities, not strings, are compared


def test_it_waits_for_a_changed_quota_to_be_counted_again():
    quotas = _Quotas({"pods": "12"}, {"pods": "10"}, {"pods": "12"})
    clock = _Clock()
    wait_until_quota_counted(quotas.api(), "store-acme", clock=clock, sleep=clock.sleep)
    assert quotas.reads == 2


def test_it_says_when_the_quota_is_never_counted():
    quotas = _Quotas({"pods": "10"}, None)
    clock = _Clock()
    with pytest.raises(ClusterError, match="ResourceQuota store-quota in store-acme was not in force within 30 s"):
        wait_until_quota_counted(quotas.api(), "store-acme", clock=clock, sleep=clock.sleep)
    assert 30 <= clock.now < 31


def test_it_waits_until_admission_applies_the_quota():
    # Counted, but the API server's admission still works from a cache without it.
    quotas = _QuotaAdmission({"requests.storage": "20Gi"}, admitted=2)
    clock = _Clock()
    wait_until_quota_counted(quotas.api(), "store-acme", clock=clock, sleep=clock.sleep)
    # 1Gi over the quota each time, until refused.
    assert quotas.claims == [str(21 * 2**30)] * 3


def test_a_probe_refused_for_another_reason_is_an_error():
    quotas = _QuotaAdmission({"requests.storage": "20Gi"}, admitted=0)
    quotas.refusal = 'User "system:serviceaccount:platform:sp" cannot create resource "persistentvolumeclaims"'
    clock = _Clock()
    with pytest.raises(ClusterError, match="probing ResourceQuota store-quota in store-acme"):
        wait_until_quota_counted(quotas.api(), "store-acme", clock=clock, sleep=clock.sleep)

"""Who may talk to whom in a WooCommerce store's namespace.

The platform's guardrails (default deny, DNS, the two opt-in grants) and the
chart's own NetworkPolicies are evaluated together, the way a policy engine
would: a connection is allowed when the source's egress policies and the
destination's ingress policies both allow it (a side no policy selects is
open).

Every peer has an address, pods included, and an ipBlock is matched against
it whoever the peer is: whether an engine applies ipBlocks to pod traffic is
left to it by Kubernetes, and Calico, Cilium and kube-router do. So the
internet grant ("0.0.0.0/0 except ...") keeps a store away from the other
stores' pods only through its `except`, and this model sees that: the pods
live in 10.244/16, and a host in each denied range stands beside them. The
guardrails are the platform's own (stores.isolation, from its settings).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pytest

from stores.cluster.guardrails import GuardrailSpec, guardrail_objects
from stores.isolation import guardrail_spec
from tests.charts.woocommerce_chart_support import render

STORE_NS = "store-acme"


@dataclass(frozen=True)
class Peer:
    name: str
    namespace: str | None  # None: outside the cluster
    labels: dict = field(hash=False)
    ip: str


def _pods(objects) -> dict[str, Peer]:
    """This store's pods, one per workload, at addresses in the pod network (10.244.0.0/24)."""
    pods = {}
    for obj in objects:
        spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj.get("spec")
        if obj["kind"] in {"Deployment", "StatefulSet", "Job", "CronJob"}:
            labels = spec["template"]["metadata"]["labels"]
            component = labels["app.kubernetes.io/component"]
            pods[component] = Peer(component, STORE_NS, labels, f"10.244.0.{10 + len(pods)}")
    return pods


def _host(name: str, ip: str) -> Peer:
    return Peer(name, None, {}, ip)


INGRESS_CONTROLLER = Peer("ingress-controller", "ingress-nginx", {"app": "ingress-nginx"}, "10.244.1.5")
DNS = Peer("dns", "kube-system", {"k8s-app": "kube-dns"}, "10.244.1.2")
OTHER_STORE = Peer("other-store", "store-other", {"app.kubernetes.io/component": "wordpress"}, "10.244.2.7")
INTERNET = _host("internet", "93.184.216.34")
# One host in each range the internet grant must leave out (EGRESS_DENIED_CIDRS).
CLOUD_NETWORK = _host("cloud-private-network", "10.0.0.5")  # a VPS provider's private network
KIND_NODE = _host("kind-node", "172.18.0.2")  # the network docker gives kind's nodes
LAN = _host("lan-router", "192.168.1.1")  # the network a home or office cluster sits on
METADATA = _host("metadata", "169.254.169.254")
CGNAT = _host("cgnat", "100.100.100.200")
DENIED = [CLOUD_NETWORK, KIND_NODE, LAN, METADATA, CGNAT]


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _peer_matches(rule_peer: dict, peer: Peer) -> bool:
    if "ipBlock" in rule_peer:
        block = rule_peer["ipBlock"]
        address = ipaddress.ip_address(peer.ip)
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(cidr) for cidr in block.get("except", [])
        )
    if peer.namespace is None:
        return False
    if "namespaceSelector" in rule_peer:
        ns_labels = {"kubernetes.io/metadata.name": peer.namespace}
        if not _selects(rule_peer["namespaceSelector"], ns_labels):
            return False
    elif peer.namespace != STORE_NS:
        return False
    return _selects(rule_peer.get("podSelector") or {}, peer.labels)


def _port_matches(rule: dict, port: int) -> bool:
    return not rule.get("ports") or any(p.get("port") == port for p in rule["ports"])


def _side_allows(policies, pod: Peer, other: Peer, port: int, direction: str) -> bool:
    if pod.namespace != STORE_NS:
        return True  # not ours to police here
    selecting = [
        p["spec"]
        for p in policies
        if direction in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], pod.labels)
    ]
    if not selecting:
        return True
    key, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    return any(
        _port_matches(rule, port) and (not rule.get(peers) or any(_peer_matches(p, other) for p in rule[peers]))
        for spec in selecting
        for rule in spec.get(key, [])
    )


@pytest.fixture(scope="module")
def chart_objects(helm, platform_values_file):
    return render(helm, platform_values_file)


# The guardrails as the platform applies them (from its settings) and the
# cluster layer's own defaults: the denied ranges are written in both.
GUARDRAILS = {"platform": lambda: guardrail_spec("woocommerce"), "cluster-layer-defaults": GuardrailSpec}


@pytest.fixture(scope="module", params=sorted(GUARDRAILS))
def world(chart_objects, request):
    objects = chart_objects
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"] + [
        o for o in guardrail_objects(GUARDRAILS[request.param]()) if o["kind"] == "NetworkPolicy"
    ]

    def allowed(src: Peer, dst: Peer, port: int) -> bool:
        return _side_allows(policies, src, dst, port, "Egress") and _side_allows(policies, dst, src, port, "Ingress")

    return _pods(objects), allowed


def test_the_database_accepts_only_its_stores_web_setup_and_cron_pods(world):
    pods, allowed = world
    db = pods["mariadb"]
    assert allowed(pods["wordpress"], db, 3306)
    assert allowed(pods["setup"], db, 3306)
    assert allowed(pods["cron"], db, 3306)
    assert not allowed(pods["wordpress"], db, 22)
    assert not allowed(INGRESS_CONTROLLER, db, 3306)
    assert not allowed(OTHER_STORE, db, 3306)


def test_the_database_has_no_egress_but_dns(world):
    pods, allowed = world
    db = pods["mariadb"]
    assert allowed(db, DNS, 53)
    for target in (INTERNET, METADATA, pods["wordpress"], pods["setup"], pods["cron"], OTHER_STORE, INGRESS_CONTROLLER):
        assert not allowed(db, target, 443), target.name
        assert not allowed(db, target, 80), target.name


def test_only_the_web_server_is_reachable_from_the_ingress_controller(world):
    pods, allowed = world
    assert allowed(INGRESS_CONTROLLER, pods["wordpress"], 80)
    assert not allowed(INGRESS_CONTROLLER, pods["mariadb"], 3306)
    assert not allowed(INGRESS_CONTROLLER, pods["setup"], 80)
    assert not allowed(INGRESS_CONTROLLER, pods["cron"], 80)


# NodeLocal DNSCache: a DNS cache on every node at a link-local address, in the
# host network (so in no namespace's pods), inside the denied 169.254.0.0/16.
NODE_LOCAL_DNS = _host("node-local-dns", "169.254.20.10")


def test_store_pods_reach_a_node_local_dns_cache_only_when_its_address_is_a_dns_peer(chart_objects):
    def world_with(spec):
        policies = [o for o in chart_objects if o["kind"] == "NetworkPolicy"] + [
            o for o in guardrail_objects(spec) if o["kind"] == "NetworkPolicy"
        ]
        return lambda src, dst, port: (
            _side_allows(policies, src, dst, port, "Egress") and _side_allows(policies, dst, src, port, "Ingress")
        )

    pods = _pods(chart_objects)
    default, node_local = world_with(GuardrailSpec()), world_with(GuardrailSpec(dns_peers=["169.254.20.10/32"]))
    for pod in (pods["mariadb"], pods["wordpress"]):
        assert not default(pod, NODE_LOCAL_DNS, 53), pod.name
        assert node_local(pod, NODE_LOCAL_DNS, 53), pod.name
        # Its address only, and DNS only: the metadata service next door stays out of reach.
        assert not node_local(pod, NODE_LOCAL_DNS, 80), pod.name
        assert not node_local(pod, METADATA, 53), pod.name
        assert not node_local(pod, METADATA, 80), pod.name
        # kube-system's DNS is no longer a peer when only the cache is named.
        assert not node_local(pod, DNS, 53), pod.name


def test_the_setup_job_reaches_the_web_server_and_the_internet(world):
    pods, allowed = world
    assert allowed(pods["setup"], pods["wordpress"], 80)
    assert allowed(pods["setup"], INTERNET, 443)


def test_the_web_server_reaches_the_internet_but_not_metadata_or_other_stores(world):
    pods, allowed = world
    web = pods["wordpress"]
    assert allowed(web, INTERNET, 443)
    assert allowed(web, DNS, 53)
    assert not allowed(web, METADATA, 80)
    assert not allowed(web, CGNAT, 80)
    assert not allowed(web, OTHER_STORE, 80)
    assert not allowed(OTHER_STORE, web, 80)


def test_a_cron_run_reaches_the_database_and_the_internet_and_nothing_reaches_it(world):
    # `wp cron event run` runs the events in its own PHP process: it needs the
    # database, and the internet the events may call, not the web server.
    pods, allowed = world
    cron = pods["cron"]
    assert allowed(cron, pods["mariadb"], 3306)
    assert allowed(cron, DNS, 53)
    assert allowed(cron, INTERNET, 443)
    assert not allowed(cron, pods["wordpress"], 80)
    assert not allowed(cron, pods["mariadb"], 22)
    for source in (pods["wordpress"], pods["setup"], pods["mariadb"], INGRESS_CONTROLLER, OTHER_STORE):
        assert not allowed(source, cron, 80), source.name


def test_without_cron_runs_nothing_is_opened_for_them(helm, platform_values_file):
    objects = render(helm, platform_values_file, "--set", "cron.enabled=false")
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    names = {p["metadata"]["name"] for p in policies}
    assert names == {"store-acme-mariadb", "store-acme-wordpress", "store-acme-setup"}
    mariadb = next(p for p in policies if p["metadata"]["name"] == "store-acme-mariadb")
    peers = mariadb["spec"]["ingress"][0]["from"]
    sources = [peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in peers]
    assert sources == ["wordpress", "setup"]


@pytest.mark.parametrize("component", ["wordpress", "setup", "cron"])
def test_the_pods_with_internet_egress_reach_no_private_address(world, component):
    pods, allowed = world
    pod = pods[component]
    assert allowed(pod, INTERNET, 443)  # the grant is there: only its exceptions keep these out
    for target in (*DENIED, OTHER_STORE, INGRESS_CONTROLLER):
        for port in (80, 443, 3306):
            assert not allowed(pod, target, port), f"{component} -> {target.name} ({target.ip}):{port}"


@pytest.mark.parametrize("spec", sorted(GUARDRAILS))
def test_the_model_has_a_host_in_every_denied_range(spec):
    # A range added to the guardrails gets a host here, or nothing above tries it.
    for cidr in GUARDRAILS[spec]().private_cidrs:
        network = ipaddress.ip_network(cidr)
        assert any(ipaddress.ip_address(peer.ip) in network for peer in DENIED), cidr


def test_policies_can_be_left_to_the_operator(helm, platform_values_file):
    objects = render(helm, platform_values_file, "--set", "networkPolicy.enabled=false")
    assert not [o for o in objects if o["kind"] == "NetworkPolicy"]

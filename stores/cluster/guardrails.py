"""Per-store guardrails: a ResourceQuota, a LimitRange and NetworkPolicies.

The objects are built as plain dicts by pure functions (easy to test and to
read next to the Kubernetes docs) and applied with create-or-replace, so
re-running converges on the spec even if someone edited them by hand.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kubernetes.utils import parse_quantity

from .client import ApiGroups, api_errors, is_status
from .errors import ClusterError

QUOTA_NAME = "store-quota"
LIMIT_RANGE_NAME = "store-limits"
# The one definition of the managed-by label value (namespaces, secrets,
# guardrails); provisioning imports it to find its own namespaces.
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "store-provisioner"
MANAGED_BY = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
# The contract an engine's chart follows: the guardrails open the namespace to
# the ingress controller, and to the internet, only for pods that carry these
# labels. Everything else a chart needs inside its namespace (web -> database)
# it grants with its own NetworkPolicies.
INGRESS_LABEL = "store-provisioner.io/ingress"
INGRESS_LABEL_VALUE = "true"
EGRESS_LABEL = "store-provisioner.io/egress"
EGRESS_LABEL_VALUE = "internet"
# Pods that send the shop's mail carry this label to reach the platform's SMTP
# relay on its port (STORE_MAIL_*), and nowhere else by it.
MAIL_LABEL = "store-provisioner.io/mail"
MAIL_LABEL_VALUE = "relay"
# Written only while stores send mail (GuardrailSpec.mail_port), and removed
# by apply_guardrails once they no longer do.
MAIL_POLICY = "allow-mail-egress"
# The label every store pod names its component by (the engine contract's).
COMPONENT_LABEL = "app.kubernetes.io/component"
# A backup's or restore's Job pod (stores/backups/) carries this label to reach
# the store's database and the object store's endpoint, and nothing else.
BACKUP_LABEL = "store-provisioner.io/backup"
BACKUP_LABEL_VALUE = "transfer"
# Written only while the platform backs stores up (GuardrailSpec.backup).
BACKUP_POLICIES = ("allow-backup-egress", "allow-backup-to-database")
# Label every namespace carries since Kubernetes 1.22; lets a policy pick a
# namespace by name without us labelling foreign namespaces.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

DEFAULT_QUOTA = {
    "requests.cpu": "2",
    "requests.memory": "3Gi",
    "limits.cpu": "4",
    "limits.memory": "6Gi",
    "pods": "10",
    "persistentvolumeclaims": "4",
    "requests.storage": "20Gi",
    # Container writable layers, logs and emptyDirs live on the node's disk:
    # without a bound one store can fill it and get other stores evicted.
    "requests.ephemeral-storage": "2Gi",
    "limits.ephemeral-storage": "4Gi",
    # A store is reached through the shared ingress controller only.
    "services.loadbalancers": "0",
    "services.nodeports": "0",
}
# Never reachable through internet egress: the private ranges (cluster pod and
# service networks, so one store cannot reach another), link-local (the cloud
# metadata service at 169.254.169.254 hands out node credentials) and
# carrier-grade NAT (some clouds and VPNs put internal services there).
DEFAULT_PRIVATE_CIDRS = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
]

# The TCP ports a store may reach on the internet (STORE_EGRESS_PORTS): HTTP and
# HTTPS, for downloads and payment providers. Not SMTP (25: spam from a rented
# shop), nor a node's kubelet (10250) or an API server (6443) at a public address.
DEFAULT_EGRESS_PORTS = [80, 443]
# The node address types a NetworkPolicy's ipBlock can name (Hostname cannot).
_NODE_ADDRESS_TYPES = {"InternalIP", "ExternalIP"}

# Where cluster DNS runs unless STORE_DNS_PEERS says otherwise: kube-dns/CoreDNS.
DEFAULT_DNS_PEERS = ["kube-system"]
# A namespace's name: an RFC 1123 label.
_NAMESPACE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclass
class GuardrailSpec:
    # ResourceQuota .spec.hard
    quota: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_QUOTA))
    # LimitRange for containers. The quota covers requests/limits of cpu and
    # memory, so the API server rejects pods that do not state them; these
    # defaults fill them in for charts that leave resources empty.
    container_default: dict[str, str] = field(
        default_factory=lambda: {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "1Gi"}
    )
    container_default_request: dict[str, str] = field(
        default_factory=lambda: {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "128Mi"}
    )
    container_max: dict[str, str] = field(
        default_factory=lambda: {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "2Gi"}
    )
    ingress_controller_namespace: str = "ingress-nginx"
    # Where store pods may send DNS (port 53): namespace names (their pods) or
    # CIDR ranges, e.g. 169.254.20.10/32 for NodeLocal DNSCache, whose pods run
    # on the host network and so are matched by no namespace (STORE_DNS_PEERS).
    dns_peers: list[str] = field(default_factory=lambda: list(DEFAULT_DNS_PEERS))
    # Excluded from internet egress (DEFAULT_PRIVATE_CIDRS says why).
    private_cidrs: list[str] = field(default_factory=lambda: list(DEFAULT_PRIVATE_CIDRS))
    # The only ports internet egress opens (TCP).
    egress_ports: list[int] = field(default_factory=lambda: list(DEFAULT_EGRESS_PORTS))
    # The mail relay's port (STORE_MAIL_PORT) for pods labelled MAIL_LABEL;
    # None: mail is off and those pods get no way out by it.
    mail_port: int | None = None
    # Where backup Jobs may go (stores/backups/); None: backups are off.
    backup: BackupAccess | None = None


@dataclass(frozen=True)
class BackupAccess:
    """The paths a store's backup Job needs: its database, and the object store."""

    database_component: str
    database_port: int
    # The object store endpoint's addresses (resolved when the policy is written) and port.
    store_addresses: tuple[str, ...]
    store_port: int


# ---------------------------------------------------------------- builders


def resource_quota(spec: GuardrailSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": QUOTA_NAME, "labels": dict(MANAGED_BY)},
        "spec": {"hard": dict(spec.quota)},
    }


def limit_range(spec: GuardrailSpec) -> dict[str, Any]:
    limit: dict[str, Any] = {
        "type": "Container",
        "default": dict(spec.container_default),
        "defaultRequest": dict(spec.container_default_request),
    }
    if spec.container_max:
        limit["max"] = dict(spec.container_max)
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": LIMIT_RANGE_NAME, "labels": dict(MANAGED_BY)},
        "spec": {"limits": [limit]},
    }


def network_policies(spec: GuardrailSpec) -> list[dict[str, Any]]:
    """Default deny, DNS for every pod (to spec.dns_peers), and the two opt-in grants.

    Nothing here allows traffic between the pods of a namespace: the engine's
    chart grants exactly the paths its components need (e.g. web -> database),
    so a database is reachable from its own web pods only and has no egress
    but DNS.
    """
    everything: dict[str, Any] = {}  # empty podSelector = every pod in the namespace
    return [
        # Deny all traffic by default; the policies below are the only way in/out.
        _policy("default-deny", everything, ["Ingress", "Egress"]),
        _policy(
            "allow-dns",
            everything,
            ["Egress"],
            egress=[
                {
                    "to": [dns_peer(peer) for peer in spec.dns_peers],
                    "ports": [
                        {"protocol": "UDP", "port": 53},
                        {"protocol": "TCP", "port": 53},
                    ],
                }
            ],
        ),
        _policy(
            "allow-ingress-controller",
            {"matchLabels": {INGRESS_LABEL: INGRESS_LABEL_VALUE}},
            ["Ingress"],
            ingress=[{"from": [{"namespaceSelector": _namespace_named(spec.ingress_controller_namespace)}]}],
        ),
        _policy(
            "allow-internet-egress",
            {"matchLabels": {EGRESS_LABEL: EGRESS_LABEL_VALUE}},
            ["Egress"],
            egress=[
                {
                    "to": internet_ip_blocks(spec.private_cidrs),
                    "ports": [{"protocol": "TCP", "port": port} for port in spec.egress_ports],
                }
            ],
        ),
        *(
            [
                _policy(
                    MAIL_POLICY,
                    {"matchLabels": {MAIL_LABEL: MAIL_LABEL_VALUE}},
                    ["Egress"],
                    egress=[
                        {
                            "to": internet_ip_blocks(spec.private_cidrs),
                            "ports": [{"protocol": "TCP", "port": spec.mail_port}],
                        }
                    ],
                )
            ]
            if spec.mail_port
            else []
        ),
        *(backup_policies(spec.backup) if spec.backup else []),
    ]


def backup_policies(access: BackupAccess) -> list[dict[str, Any]]:
    """The backup Job's pod may reach the database's port, and the object store's
    endpoint (its addresses alone: a private one is no exception to deny)."""
    backup_pod = {"matchLabels": {BACKUP_LABEL: BACKUP_LABEL_VALUE}}
    database = {"matchLabels": {COMPONENT_LABEL: access.database_component}}
    database_port = [{"protocol": "TCP", "port": access.database_port}]
    return [
        _policy(
            BACKUP_POLICIES[0],
            backup_pod,
            ["Egress"],
            egress=[
                {"to": [{"podSelector": database}], "ports": database_port},
                {
                    "to": [_ip_block(_host_cidr(address), []) for address in access.store_addresses],
                    "ports": [{"protocol": "TCP", "port": access.store_port}],
                },
            ],
        ),
        _policy(
            BACKUP_POLICIES[1],
            database,
            ["Ingress"],
            ingress=[{"from": [{"podSelector": backup_pod}], "ports": database_port}],
        ),
    ]


def _host_cidr(address: str) -> str:
    return f"{address}/128" if ":" in address else f"{address}/32"


def dns_peer(value: str) -> dict[str, Any]:
    """The NetworkPolicy peer for one DNS peer: a CIDR range (or an address) as
    an ipBlock, a namespace name as a selector of all that namespace's pods."""
    value = value.strip()
    try:
        return _ip_block(str(ipaddress.ip_network(value, strict=False)), [])
    except ValueError:
        pass
    if not _NAMESPACE_NAME.fullmatch(value):
        raise ClusterError(
            f"invalid DNS peer {value!r}: neither a CIDR range like 169.254.20.10/32 "
            "nor a namespace name like kube-system"
        )
    return {"namespaceSelector": _namespace_named(value)}


def internet_ip_blocks(private_cidrs: list[str]) -> list[dict[str, Any]]:
    """ipBlock peers for "anywhere except these ranges".

    An ipBlock's ``except`` must lie inside its ``cidr``, so IPv6 exclusions
    get their own ``::/0`` block (added only when some are given).
    """
    by_version: dict[int, list[str]] = {4: [], 6: []}
    for cidr in private_cidrs:
        try:
            network = ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError as exc:
            raise ClusterError(f"invalid private CIDR {cidr!r}: {exc}") from exc
        by_version[network.version].append(str(network))
    blocks = [_ip_block("0.0.0.0/0", by_version[4])]
    if by_version[6]:
        blocks.append(_ip_block("::/0", by_version[6]))
    return blocks


def denying_addresses(spec: GuardrailSpec, addresses: list[str]) -> GuardrailSpec:
    """The spec with these addresses added to its denied ranges, each as a
    host route (/32 or /128), unless a denied range already holds it.

    An IPv6 address is added only when some IPv6 range is denied: without one
    the policy opens no IPv6 at all (internet_ip_blocks), and an exception
    would open the rest of it.
    """
    denied = []
    for cidr in spec.private_cidrs:
        try:
            denied.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            pass  # internet_ip_blocks names the malformed range
    open_versions = {4} | {net.version for net in denied}
    added: list[str] = []
    for address in addresses:
        host = ipaddress.ip_network(address)
        if host.version not in open_versions:
            continue
        if not any(host.version == net.version and host.subnet_of(net) for net in denied):  # type: ignore[arg-type]
            denied.append(host)
            added.append(str(host))
    return replace(spec, private_cidrs=[*spec.private_cidrs, *added])


def cluster_addresses(api: ApiGroups) -> list[str]:
    """The cluster's own addresses: every node's (internal and external) and
    the API server's (the endpoints of the `kubernetes` Service).

    On a VPS they are public, so no private range covers them, and a store's
    internet egress would reach the API server (managed clusters serve it on
    443) and whatever a node serves on 80 and 443. The Endpoints object, not
    an EndpointSlice, because RBAC can grant it by name: nothing else is listed.
    """
    found: list[str] = []
    with api_errors("reading the cluster's node and API server addresses", api.host):
        for node in api.core.list_node(_request_timeout=api.timeout).items:
            for address in (node.status and node.status.addresses) or []:
                if address.type in _NODE_ADDRESS_TYPES:
                    found.append(address.address)
        endpoints = api.core.read_namespaced_endpoints("kubernetes", "default", _request_timeout=api.timeout)
        for subset in endpoints.subsets or []:
            found.extend(address.ip for address in subset.addresses or [])
    addresses: list[str] = []
    for value in found:
        try:
            ip = str(ipaddress.ip_address(value))
        except ValueError:
            continue  # not an IP address (a node may report a name): no ipBlock can hold it
        if ip not in addresses:
            addresses.append(ip)
    return addresses


def guardrail_objects(spec: GuardrailSpec) -> list[dict[str, Any]]:
    """Everything apply_guardrails creates, in the order it is applied."""
    return [limit_range(spec), resource_quota(spec), *network_policies(spec)]


def _policy(
    name: str,
    pod_selector: dict[str, Any],
    types: list[str],
    *,
    ingress: list[dict[str, Any]] | None = None,
    egress: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": pod_selector, "policyTypes": types}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
        "spec": spec,
    }


def _namespace_named(name: str) -> dict[str, Any]:
    return {"matchLabels": {NAMESPACE_NAME_LABEL: name}}


def _ip_block(cidr: str, excluded: list[str]) -> dict[str, Any]:
    block: dict[str, Any] = {"cidr": cidr}
    if excluded:
        block["except"] = excluded
    return {"ipBlock": block}


# ---------------------------------------------------------------- apply


def apply_guardrails(api: ApiGroups, namespace: str, spec: GuardrailSpec) -> None:
    # LimitRange first: with the quota in place, pods without requests/limits
    # are rejected unless the LimitRange defaults are already there.
    objects = guardrail_objects(spec)
    for obj in objects:
        _create_or_replace(api, namespace, obj)
    written = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "NetworkPolicy"}
    for name in (MAIL_POLICY, *BACKUP_POLICIES):
        if name in written:
            continue
        with api_errors(f"removing NetworkPolicy {name} from {namespace}", api.host):
            try:
                api.networking.delete_namespaced_network_policy(name, namespace, _request_timeout=api.timeout)
            except Exception as exc:
                if not is_status(exc, 404):
                    raise


# How long the quota controller may take to count a new or changed quota.
QUOTA_COUNT_TIMEOUT = 30.0


def wait_until_quota_counted(
    api: ApiGroups,
    namespace: str,
    *,
    timeout: float = QUOTA_COUNT_TIMEOUT,
    interval: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once the store's quota is in force: counted by the quota
    controller, and applied by the API server's admission.

    Quota admission enforces what `status.hard` lists, not the spec, and reads
    quotas from the API server's own cache: until both have caught up (under
    load, seconds after the quota is made), pods are admitted with no limit at
    all, so a store installed at once could start beyond its quota. The proof
    of the second is a dry-run claim for more storage than the quota allows,
    which admission must refuse.
    """
    deadline = clock() + timeout
    while True:
        with api_errors(f"reading ResourceQuota {QUOTA_NAME} in {namespace}", api.host):
            quota = api.core.read_namespaced_resource_quota(QUOTA_NAME, namespace, _request_timeout=api.timeout)
        wanted = (quota.spec.hard if quota.spec else None) or {}
        counted = (quota.status.hard if quota.status else None) or {}
        if all(key in counted and _same_quantity(counted[key], value) for key, value in wanted.items()):
            if "requests.storage" not in wanted or _refuses_storage_over(api, namespace, wanted["requests.storage"]):
                return
        if clock() >= deadline:
            raise ClusterError(
                f"ResourceQuota {QUOTA_NAME} in {namespace} was not in force within {timeout:.0f} s (counted by "
                "the quota controller and applied by admission); is kube-controller-manager running?"
            )
        sleep(interval)


def _refuses_storage_over(api: ApiGroups, namespace: str, hard: str) -> bool:
    """Whether admission refuses a dry-run claim for 1Gi more storage than `hard`."""
    over = int(parse_quantity(hard)) + 2**30  # type: ignore[no-untyped-call]
    claim: Any = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "quota-probe"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": str(over)}}},
    }
    with api_errors(f"probing ResourceQuota {QUOTA_NAME} in {namespace}", api.host):
        try:
            api.core.create_namespaced_persistent_volume_claim(
                namespace, body=claim, dry_run="All", _request_timeout=api.timeout
            )
        except Exception as exc:
            if is_status(exc, 403) and "exceeded quota" in str(getattr(exc, "body", "") or exc):
                return True
            raise
    return False  # admitted: the quota is not applied yet


def add_quantities(a: str, b: str) -> str:
    """a + b, in the largest binary unit that states it exactly ("4Gi" + "2Gi" is "6Gi")."""
    # parse_quantity is not annotated; it returns a Decimal of the base unit.
    total = parse_quantity(a) + parse_quantity(b)  # type: ignore[no-untyped-call]
    if total != int(total):
        return str(total)
    whole = int(total)
    for suffix, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if whole and whole % size == 0:
            return f"{whole // size}{suffix}"
    return str(whole)


def _same_quantity(a: str, b: str) -> bool:
    # parse_quantity is not annotated; it returns a Decimal ("2000m" is "2").
    return bool(parse_quantity(a) == parse_quantity(b))  # type: ignore[no-untyped-call]


def _create_or_replace(api: ApiGroups, namespace: str, obj: dict[str, Any]) -> None:
    kind, name = obj["kind"], obj["metadata"]["name"]
    create, read, replace = _operations(api, kind)
    with api_errors(f"applying {kind} {name} in {namespace}", api.host):
        try:
            create(namespace, body=obj, _request_timeout=api.timeout)
            return
        except Exception as exc:
            if not is_status(exc, 409):
                raise
        # Someone may update it between our read and replace (409 again);
        # one more round settles that.
        for attempt in range(2):
            current = read(name, namespace, _request_timeout=api.timeout)
            body = {**obj, "metadata": {**obj["metadata"], "resourceVersion": current.metadata.resource_version}}
            try:
                replace(name, namespace, body=body, _request_timeout=api.timeout)
                return
            except Exception as exc:
                if attempt == 1 or not is_status(exc, 409):
                    raise


def _operations(api: ApiGroups, kind: str) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    if kind == "ResourceQuota":
        c = api.core
        return (
            c.create_namespaced_resource_quota,
            c.read_namespaced_resource_quota,
            c.replace_namespaced_resource_quota,
        )
    if kind == "LimitRange":
        c = api.core
        return (c.create_namespaced_limit_range, c.read_namespaced_limit_range, c.replace_namespaced_limit_range)
    if kind == "NetworkPolicy":
        n = api.networking
        return (
            n.create_namespaced_network_policy,
            n.read_namespaced_network_policy,
            n.replace_namespaced_network_policy,
        )
    raise ValueError(f"no operations for {kind}")

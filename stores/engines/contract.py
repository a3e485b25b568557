"""The engine contract: what the platform hands an engine's chart, and what it expects back.

Every engine is one `Engine` (stores/engines/<key>.py) and one chart
(charts/<key>/). The platform installs the chart as the Helm release
`RELEASE_NAME` in the store's own namespace, after it has put there the
namespace's guardrails (stores/isolation.py) and the Secret `SECRET_NAME`
holding exactly the keys the engine's `build_secret` generates.

What the platform hands the chart (`release_values`):
    store.name, store.host, store.url    the shop's title, host and public URL
    existingSecret                       the Secret's name
    ingress.enabled, ingress.className   the cluster's ingress class
    ingress.tls.enabled/.clusterIssuer   with a cert-manager issuer (TLS_CLUSTER_ISSUER)
plus the engine's values profile (charts/<key>/values-<CHART_VALUES_PROFILE>.yaml)
and the operator's STORE_VALUES_FILES.

What the chart gives back, checked for every engine and values profile by the
conformance suite (tests/engines/):
    - only the kinds in CHART_KINDS (the platform's store-manager ClusterRole
      grants exactly those), and no Secret of its own;
    - every pod that the ingress controller must reach carries INGRESS_LABEL,
      every pod that needs the internet EGRESS_LABEL; the chart's own
      NetworkPolicies open the paths inside the namespace;
    - a setup Job (if any) labelled SETUP_COMPONENT, so a retry can replace it;
    - requests and limits of cpu, memory and ephemeral-storage on every
      container, and a sum that fits the engine's quota;
    - images pinned to a tag (never `latest`);
    - PLACEMENT_VALUES honoured by every workload;
    - a values schema that rejects unknown keys, so a misspelt value in a
      values file fails the install instead of silently doing nothing.
"""

from __future__ import annotations

from typing import Any

from stores.cluster.guardrails import EGRESS_LABEL, EGRESS_LABEL_VALUE, INGRESS_LABEL, INGRESS_LABEL_VALUE
from stores.engines.base import StoreSpec

__all__ = [
    "CHART_KINDS",
    "EGRESS_LABEL",
    "EGRESS_LABEL_VALUE",
    "INGRESS_LABEL",
    "INGRESS_LABEL_VALUE",
    "PLACEMENT_VALUES",
    "RELEASE_NAME",
    "SECRET_NAME",
    "SETUP_COMPONENT",
    "SETUP_JOB_SELECTOR",
    "release_values",
]

# One release per store namespace; the namespace carries the store's name.
RELEASE_NAME = "store"
SECRET_NAME = "store-secret"  # noqa: S105 (a name, not a password)

# The setup Job's component label. Jobs matching it are removed before a
# retry or an upgrade installs again: a Job's pod template is immutable, and
# every engine's setup is idempotent.
SETUP_COMPONENT = "setup"
SETUP_JOB_SELECTOR = f"app.kubernetes.io/component={SETUP_COMPONENT}"

# Top-level values every chart takes and passes to every workload's pod spec,
# as Bitnami's charts do: an operator's values file pins stores to nodes.
PLACEMENT_VALUES = ("nodeSelector", "tolerations", "affinity")

# kind -> (API group, resource): what a chart may render. The platform's
# store-manager ClusterRole (charts/platform/templates/rbac.yaml) grants Helm
# these and nothing else in a store namespace.
CHART_KINDS: dict[str, tuple[str, str]] = {
    "ConfigMap": ("", "configmaps"),
    "Service": ("", "services"),
    "PersistentVolumeClaim": ("", "persistentvolumeclaims"),
    "Deployment": ("apps", "deployments"),
    "StatefulSet": ("apps", "statefulsets"),
    "Job": ("batch", "jobs"),
    "Ingress": ("networking.k8s.io", "ingresses"),
    "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
}


def release_values(spec: StoreSpec) -> dict[str, Any]:
    """The values every engine's chart takes from the platform: the store's name,
    host and URL, the secret holding its credentials, and its ingress (with TLS
    when a cert-manager issuer is set)."""
    ingress: dict[str, Any] = {"enabled": True, "className": spec.ingress_class}
    if spec.tls_cluster_issuer:
        ingress["tls"] = {"enabled": True, "clusterIssuer": spec.tls_cluster_issuer}
    return {
        "store": {"name": spec.slug.replace("-", " ").title(), "host": spec.host, "url": spec.url},
        "existingSecret": SECRET_NAME,
        "ingress": ingress,
    }

"""The engine contract: what the platform hands an engine's chart, and what it expects back.

Every engine is one `Engine` (stores/engines/<key>.py), one chart
(charts/<key>/) and one line in `stores.engines.ENGINES`. The platform installs
the chart as the Helm release `RELEASE_NAME` in the store's own namespace,
after it has put there the namespace's guardrails (stores/isolation.py) and
the Secret `SECRET_NAME` holding exactly the keys the engine's `build_secret`
generates.

What the platform hands the chart (`release_values`):
    store.name, store.host, store.url    the shop's title, host and public URL
    existingSecret                       the Secret's name
    mail.existingSecret, mail.revision   engines that send mail: the relay's Secret
                                         (MAIL_SECRET_NAME) and a digest of it; only
                                         when STORE_MAIL_HOST is set
    ingress.enabled, ingress.className   the cluster's ingress class
    ingress.tls.enabled/.clusterIssuer   with a cert-manager issuer (TLS_CLUSTER_ISSUER)
    ingress.tls.defaultCertificate       or the ingress controller's default (wildcard)
                                         certificate: the host under tls, no secretName (TLS_WILDCARD)
and, to the engines that set a shop up for a country (`store_values`):
    shop.country, shop.currency          ISO 3166-1 alpha-2 and ISO 4217 codes ("DE", "EUR")
plus the engine's values profile (charts/<key>/values-<CHART_VALUES_PROFILE>.yaml)
and the operator's STORE_VALUES_FILES, which may also set PLACEMENT_VALUES.

What the chart gives back, checked for every engine and values profile by the
conformance suite (tests/engines/):
    - only the kinds in CHART_KINDS (the platform's store-manager ClusterRole
      grants exactly those), no Secret of its own, nothing in another
      namespace, no Service reachable from outside the cluster;
    - every pod template labelled COMPONENT_LABEL; its Jobs are setup Jobs
      labelled SETUP_COMPONENT (plain Jobs, not Helm hooks), so a retry or an
      upgrade can replace them;
    - the pods behind the Ingress, and only those, carry INGRESS_LABEL; the
      pods of the engine's `internet_components`, and only those, carry
      EGRESS_LABEL; given mail values (the platform's relay, stores/mail.py),
      the pods of its `mail_components`, and only those, carry MAIL_LABEL and
      read the relay from the Secret the values name; the chart's own
      NetworkPolicies cover every pod and open
      paths inside the namespace only;
    - requests and limits of every CONTAINER_RESOURCES on every container
      (init containers too), each within the LimitRange's maximum, and a sum
      that fits the engine's quota (stores.isolation.guardrail_spec);
    - pods that Pod Security `restricted` admits (the namespace enforces
      `baseline` and warns of `restricted`), without a service account token;
    - images pinned to a tag (never `latest`) or a digest;
    - PLACEMENT_VALUES honoured by every workload, merged with any pod
      affinity of the chart's own;
    - a values schema that rejects unknown keys at every level but in
      OPEN_VALUES, so a misspelt value in a values file fails the install
      instead of silently doing nothing;
    - exactly the Secret keys `build_secret` generates, read from SECRET_NAME;
    - no kube-score finding but the engine's `accepted_findings`, each with
      its reason;
    - every object accepted by a real API server (a server-side dry run in a
      namespace labelled and guarded as a store's).
"""

from __future__ import annotations

from typing import Any

from stores.cluster.guardrails import (
    EGRESS_LABEL,
    EGRESS_LABEL_VALUE,
    INGRESS_LABEL,
    INGRESS_LABEL_VALUE,
    MAIL_LABEL,
    MAIL_LABEL_VALUE,
)
from stores.engines.base import StoreSpec

__all__ = [
    "CHART_KINDS",
    "COMPONENT_LABEL",
    "CONTAINER_RESOURCES",
    "EGRESS_LABEL",
    "EGRESS_LABEL_VALUE",
    "INGRESS_LABEL",
    "INGRESS_LABEL_VALUE",
    "MAIL_LABEL",
    "MAIL_LABEL_VALUE",
    "OPEN_VALUES",
    "PINNED_PULL_POLICY",
    "PLACEMENT_VALUES",
    "RELEASE_NAME",
    "SECRET_NAME",
    "SETUP_COMPONENT",
    "SETUP_JOB_SELECTOR",
    "WORKLOAD_KINDS",
    "release_values",
    "shop_values",
    "store_values",
]

# One release per store namespace; the namespace carries the store's name.
RELEASE_NAME = "store"
SECRET_NAME = "store-secret"  # noqa: S105 (a name, not a password)

# Every pod template names its component (web, database, setup...): the
# engine's `internet_components` and the chart's NetworkPolicies speak of them.
COMPONENT_LABEL = "app.kubernetes.io/component"

# The setup Job's component label. Jobs matching it are removed before a
# retry or an upgrade installs again: a Job's pod template is immutable, and
# every engine's setup is idempotent.
SETUP_COMPONENT = "setup"
SETUP_JOB_SELECTOR = f"{COMPONENT_LABEL}={SETUP_COMPONENT}"

# Top-level values every chart takes and passes to every workload's pod spec,
# as Bitnami's charts do: an operator's values file pins stores to nodes.
PLACEMENT_VALUES = ("nodeSelector", "tolerations", "affinity")

# The values a chart's schema may leave open: maps of the operator's own keys,
# and Kubernetes objects passed to the pods as they are. Every other object
# in a chart's values refuses keys its schema does not list.
OPEN_VALUES = (
    "annotations",
    "podAnnotations",
    "nodeSelector",
    "nodeAffinity",
    "podAffinity",
    "podAntiAffinity",
    "podSecurityContext",
    "containerSecurityContext",
    "extraEnv",
)

# The kinds that make pods; each one's pod template follows the contract (a
# CronJob's is its jobTemplate's).
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")

# What every container requests and is limited to: the namespace's quota
# counts all three, and ephemeral storage bounds its writes to the node's disk.
CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")

# Why a chart pulls its pinned images IfNotPresent, where kube-score asks for
# Always: an accepted finding every engine that pins tags shares.
PINNED_PULL_POLICY = (
    "the tags are full, immutable versions (never `latest`), so IfNotPresent pulls each once per "
    "node; Always would add a registry round trip to every pod start and stall stores when the "
    "registry rate-limits"
)

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
    "CronJob": ("batch", "cronjobs"),
    "Ingress": ("networking.k8s.io", "ingresses"),
    "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
}


def release_values(spec: StoreSpec) -> dict[str, Any]:
    """The values every engine's chart takes from the platform: the store's name,
    host and URL, the secret holding its credentials, its ingress (with TLS
    from a cert-manager issuer, or from the ingress controller's wildcard
    certificate), and the mail relay's Secret when it sends mail."""
    ingress: dict[str, Any] = {"enabled": True, "className": spec.ingress_class}
    if spec.tls_cluster_issuer:
        ingress["tls"] = {"enabled": True, "clusterIssuer": spec.tls_cluster_issuer}
    elif spec.tls_wildcard:
        # The profile's issuer (values-k3s.yaml names one) must not ask for a certificate per store.
        ingress["tls"] = {"enabled": True, "defaultCertificate": True, "clusterIssuer": ""}
    values: dict[str, Any] = {
        "store": {"name": spec.slug.replace("-", " ").title(), "host": spec.host, "url": spec.url},
        "existingSecret": SECRET_NAME,
        "ingress": ingress,
    }
    if spec.mail_secret:
        values["mail"] = {"existingSecret": spec.mail_secret, "revision": spec.mail_revision}
    return values


def shop_values(spec: StoreSpec) -> dict[str, Any]:
    """The shop's country and currency, as the engines' charts take them."""
    return {"shop": {"country": spec.country, "currency": spec.currency}}


def store_values(spec: StoreSpec) -> dict[str, Any]:
    """`release_values` and `shop_values`: what the product's engines build."""
    return {**release_values(spec), **shop_values(spec)}

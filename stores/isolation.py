"""What isolates one store from the others: its namespace's labels and its guardrails.

Both come from the platform's settings and the store's engine; the
provisioning steps apply them, and the engines' conformance suite builds its
test namespaces from the same two functions.
"""

from __future__ import annotations

from django.conf import settings

from stores import cluster
from stores.cluster.guardrails import MANAGED_BY_VALUE
from stores.engines import get_engine
from stores.models import Store

# Pod Security Admission: baseline is enforced (the official images need
# their own users and a writable root), restricted is warned about and audited.
POD_SECURITY = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}


def namespace_labels(store: Store) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": MANAGED_BY_VALUE,
        "store-provisioner.io/store-id": str(store.pk),
        "store-provisioner.io/owner": str(store.owner_id),
        "store-provisioner.io/engine": store.engine,
        **POD_SECURITY,
    }


def guardrail_spec(engine_key: str | None = None) -> cluster.GuardrailSpec:
    """The platform's guardrails, with the engine's own overrides (a Medusa
    store's build needs more memory than the defaults admit)."""
    spec = cluster.GuardrailSpec(
        ingress_controller_namespace=settings.INGRESS_CONTROLLER_NAMESPACE,
        private_cidrs=list(settings.EGRESS_DENIED_CIDRS),
    )
    if engine_key is not None:
        engine = get_engine(engine_key)
        spec.quota.update(engine.quota_overrides)
        spec.container_max.update(engine.container_max_overrides)
    return spec

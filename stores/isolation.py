"""What isolates one store from the others: its namespace's labels and its guardrails.

Both come from the platform's settings and the store's engine; the
provisioning steps apply them, and the engines' conformance suite builds its
test namespaces from the same two functions.
"""

from __future__ import annotations

import logging

from django.conf import settings

from stores import cluster
from stores.backups import jobs as backup_jobs
from stores.backups import storage as backup_storage
from stores.cluster.guardrails import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from stores.engines import get_engine
from stores.models import Store
from stores.objectstore import ObjectStoreError

log = logging.getLogger(__name__)

# Pod Security Admission: baseline is enforced (the official images need
# their own users and a writable root), restricted is warned about and audited.
POD_SECURITY = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}


# Which store a namespace was made for. With the managed-by label it is what
# proves a namespace is this platform's and which store's: provisioning adopts,
# a delete removes and the orphan sweep prunes only a namespace that carries
# both (namespace_store_id).
STORE_ID_LABEL = "store-provisioner.io/store-id"


def namespace_labels(store: Store) -> dict[str, str]:
    return {
        MANAGED_BY_LABEL: MANAGED_BY_VALUE,
        STORE_ID_LABEL: str(store.pk),
        "store-provisioner.io/owner": str(store.owner_id),
        "store-provisioner.io/engine": store.engine,
        **POD_SECURITY,
    }


def namespace_store_id(labels: dict[str, str]) -> str | None:
    """The id of the store of this platform a namespace was made for, from its
    labels; None when they do not say it is this platform's store namespace.

    Both labels must be there. The name store-<slug> proves nothing (anyone
    with the rights may create one), nor does the managed-by label alone (a
    common label; another tool may use the same value). Every namespace this
    platform made carries the store id label: namespace_labels has set it
    since the platform's first release, so there is no older kind of store
    namespace to recognise some other way, and a namespace labelled
    managed-by without an id is not provably any store's: it is left alone.
    One platform runs per cluster (charts/platform one-per-cluster.yaml), so
    the two labels name this platform's store.
    """
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE:
        return None
    return labels.get(STORE_ID_LABEL) or None


def owns_namespace(labels: dict[str, str], store: Store) -> bool:
    """Whether a namespace with these labels is `store`'s own."""
    return namespace_store_id(labels) == str(store.pk)


def guardrail_spec(engine_key: str | None = None) -> cluster.GuardrailSpec:
    """The platform's guardrails, with the engine's own overrides (a Medusa
    store's build needs more memory than the defaults admit)."""
    spec = cluster.GuardrailSpec(
        ingress_controller_namespace=settings.INGRESS_CONTROLLER_NAMESPACE,
        private_cidrs=list(settings.EGRESS_DENIED_CIDRS),
        dns_peers=list(settings.STORE_DNS_PEERS),
        egress_ports=list(settings.STORE_EGRESS_PORTS),
        mail_port=settings.STORE_MAIL.port if settings.STORE_MAIL is not None else None,
    )
    if engine_key is not None:
        engine = get_engine(engine_key)
        spec.quota.update(engine.quota_overrides)
        spec.container_max.update(engine.container_max_overrides)
        if engine.backup is not None and backup_storage.configured():
            # Room for one backup or restore Job beside the running store: its
            # work space (the dump and the archive) is ephemeral storage.
            for hard, section in (("requests.ephemeral-storage", "requests"), ("limits.ephemeral-storage", "limits")):
                if hard in spec.quota:
                    job = backup_jobs.RESOURCES[section]["ephemeral-storage"]
                    spec.quota[hard] = cluster.add_quantities(spec.quota[hard], job)
            try:
                spec.backup = backup_storage.endpoint_access(engine.backup)
            except ObjectStoreError as exc:
                # The store works without it; each backup writes the policy again, or fails saying why.
                log.warning("no backup network policy for a %s store: %s", engine.key, exc)
    return spec

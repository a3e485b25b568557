"""The platform's own access to a store namespace: one RoleBinding per store.

The platform's ServiceAccount holds no cluster-wide right to secrets or
workloads. Its rights inside a store come from a RoleBinding in the store's
namespace to the "store manager" ClusterRole (charts/platform), made here
right after the namespace itself; deleting the namespace removes it. Making
the binding is allowed by the ClusterRole's `bind` verb on that one role,
and the chart's admission policy only admits it in a store namespace, for
that role and that ServiceAccount.
"""

from __future__ import annotations

from typing import Any

from .client import ApiGroups, api_errors, is_status
from .guardrails import MANAGED_BY

RBAC_GROUP = "rbac.authorization.k8s.io"


def binding_name(service_account: str) -> str:
    """Named after the account, so a platform reinstalled under another
    ServiceAccount adds its own binding instead of finding the old one's."""
    namespace, name = split_service_account(service_account)
    return f"store-provisioner:{namespace}:{name}"


def split_service_account(service_account: str) -> tuple[str, str]:
    namespace, _, name = service_account.partition("/")
    if not namespace or not name or "/" in name:
        raise ValueError(f"a ServiceAccount is namespace/name, not {service_account!r}")
    return namespace, name


def role_binding(service_account: str, cluster_role: str) -> dict[str, Any]:
    namespace, name = split_service_account(service_account)
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "RoleBinding",
        "metadata": {"name": binding_name(service_account), "labels": dict(MANAGED_BY)},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": cluster_role},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }


def ensure_role_binding(api: ApiGroups, namespace: str, service_account: str, cluster_role: str) -> None:
    """Create the binding; one that already exists is left as it is.

    The platform may only create bindings (no get, update or delete), and a
    binding's roleRef cannot change anyway: one named after this account in
    this namespace can only have been made by this code.
    """
    body = role_binding(service_account, cluster_role)
    with api_errors(f"binding {cluster_role} to {service_account} in {namespace}", api.host):
        try:
            # The client validates a dict body into the model (pydantic's validate_call);
            # its annotation names the model only.
            api.rbac.create_namespaced_role_binding(
                namespace,
                body=body,  # type: ignore[arg-type]
                _request_timeout=api.timeout,
            )
        except Exception as exc:
            if not is_status(exc, 409):
                raise

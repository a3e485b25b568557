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

import time
from typing import Any

from .client import ApiGroups, api_errors, is_status
from .errors import ClusterError, FailureCode
from .guardrails import MANAGED_BY

RBAC_GROUP = "rbac.authorization.k8s.io"
# How long a new binding may take to reach the API server's authorizer. It
# reads bindings from a cache that a busy server fills some time after the
# create has answered; the next step's first create would be refused meanwhile.
BINDING_EFFECTIVE_SECONDS = 30.0
BINDING_POLL_SECONDS = 0.1


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
    wait_until_effective(api, namespace)


def wait_until_effective(api: ApiGroups, namespace: str) -> None:
    """Return once this account may create the next step's objects in `namespace`.

    Asks the API server (a SelfSubjectAccessReview, which every account may
    make) whether a LimitRange, the guardrails' first object, may be created."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": namespace, "verb": "create", "resource": "limitranges"}},
    }
    deadline = time.monotonic() + BINDING_EFFECTIVE_SECONDS
    while True:
        with api_errors(f"checking the platform's access to {namespace}", api.host):
            answer = api.authorization.create_self_subject_access_review(
                body=review,  # type: ignore[arg-type]
                _request_timeout=api.timeout,
            )
        status = answer.status
        if status is not None and status.allowed:
            return
        if time.monotonic() >= deadline:
            raise ClusterError(
                f"the platform's RoleBinding in {namespace} did not take effect within "
                f"{BINDING_EFFECTIVE_SECONDS:.0f} s ({(status.reason if status else None) or 'no reason given'})",
                FailureCode.CLUSTER,
            )
        time.sleep(BINDING_POLL_SECONDS)

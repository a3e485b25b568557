"""The platform's RoleBinding in a store namespace: its shape, and create-or-keep."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kubernetes.client.exceptions import ApiException

from stores.cluster import ClusterError
from stores.cluster.access import binding_name, ensure_role_binding, role_binding, split_service_account
from stores.cluster.guardrails import MANAGED_BY_VALUE

from .fakes import conflict


class FakeRbac:
    def __init__(self, error: Exception | None = None):
        self.error = error
        self.created = []

    def create_namespaced_role_binding(self, namespace, body, **kwargs):
        self.created.append((namespace, body, kwargs))
        if self.error is not None:
            raise self.error


def api_with(rbac) -> SimpleNamespace:
    return SimpleNamespace(rbac=rbac, timeout=(1, 1), host="https://fake-apiserver")


def test_it_binds_the_cluster_role_to_the_service_account():
    body = role_binding("platform/store-provisioner", "sp-store-manager")

    assert body["kind"] == "RoleBinding"
    assert body["metadata"]["name"] == "store-provisioner:platform:store-provisioner"
    assert body["metadata"]["labels"] == {"app.kubernetes.io/managed-by": MANAGED_BY_VALUE}
    assert body["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "sp-store-manager",
    }
    assert body["subjects"] == [{"kind": "ServiceAccount", "name": "store-provisioner", "namespace": "platform"}]


def test_it_names_the_binding_after_the_account():
    assert binding_name("a/b") != binding_name("a/c")


@pytest.mark.parametrize("value", ["", "platform", "platform/", "/sa", "a/b/c"])
def test_it_refuses_an_account_that_is_not_namespace_slash_name(value):
    with pytest.raises(ValueError):
        split_service_account(value)


def test_it_creates_the_binding_in_the_store_namespace():
    rbac = FakeRbac()

    ensure_role_binding(api_with(rbac), "store-acme", "platform/sp", "sp-store-manager")

    ((namespace, body, kwargs),) = rbac.created
    assert namespace == "store-acme"
    assert body["roleRef"]["name"] == "sp-store-manager"
    assert kwargs["_request_timeout"] == (1, 1)


def test_it_keeps_a_binding_that_already_exists():
    rbac = FakeRbac(error=conflict())

    ensure_role_binding(api_with(rbac), "store-acme", "platform/sp", "sp-store-manager")

    assert len(rbac.created) == 1


def test_it_reports_a_refused_binding_with_the_api_servers_reason():
    denied = ApiException(status=403, reason="Forbidden")
    denied.body = '{"message": "rolebindings is forbidden: ValidatingAdmissionPolicy denied request"}'
    rbac = FakeRbac(error=denied)

    with pytest.raises(ClusterError) as raised:
        ensure_role_binding(api_with(rbac), "default", "platform/sp", "sp-store-manager")

    assert str(raised.value) == (
        "binding sp-store-manager to platform/sp in default failed: "
        "rolebindings is forbidden: ValidatingAdmissionPolicy denied request"
    )

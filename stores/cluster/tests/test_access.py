"""The platform's RoleBinding in a store namespace: its shape, create-or-keep, and the wait
until the API server's authorizer has it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kubernetes.client.exceptions import ApiException

from stores.cluster import ClusterError, access
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


class FakeAuthorization:
    """SelfSubjectAccessReviews answered from a script: denied `denials` times, then allowed."""

    def __init__(self, denials: int = 0):
        self.denials = denials
        self.reviews = []

    def create_self_subject_access_review(self, body, **kwargs):
        self.reviews.append(body["spec"]["resourceAttributes"])
        allowed = len(self.reviews) > self.denials
        return SimpleNamespace(
            status=SimpleNamespace(allowed=allowed, reason="" if allowed else "no RBAC policy matched")
        )


def api_with(rbac, authorization=None) -> SimpleNamespace:
    return SimpleNamespace(
        rbac=rbac, authorization=authorization or FakeAuthorization(), timeout=(1, 1), host="https://fake-apiserver"
    )


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


def test_it_returns_once_the_binding_lets_it_make_the_guardrails(monkeypatch):
    # The authorizer reads bindings from a cache: the next step's create is refused until it has this one.
    monkeypatch.setattr(access, "BINDING_POLL_SECONDS", 0.01)
    authorization = FakeAuthorization(denials=3)

    ensure_role_binding(api_with(FakeRbac(), authorization), "store-acme", "platform/sp", "sp-store-manager")

    assert len(authorization.reviews) == 4
    assert authorization.reviews[0] == {"namespace": "store-acme", "verb": "create", "resource": "limitranges"}


def test_a_binding_that_never_takes_effect_fails_the_step_saying_so(monkeypatch):
    monkeypatch.setattr(access, "BINDING_POLL_SECONDS", 0.01)
    monkeypatch.setattr(access, "BINDING_EFFECTIVE_SECONDS", 0.05)

    with pytest.raises(ClusterError) as raised:
        ensure_role_binding(
            api_with(FakeRbac(), FakeAuthorization(denials=10_000)), "store-acme", "platform/sp", "sp-store-manager"
        )

    assert str(raised.value) == (
        "the platform's RoleBinding in store-acme did not take effect within 0 s (no RBAC policy matched)"
    )

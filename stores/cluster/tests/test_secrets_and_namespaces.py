"""Secrets never regenerate; namespaces are created idempotently and deleted with their claims first."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from stores.cluster import ClusterError
from stores.cluster.namespaces import _describe_leftovers, delete_namespace, ensure_namespace
from stores.cluster.secrets import ensure_secret, read_secret

from .fakes import conflict, not_found


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class FakeSecrets:
    def __init__(self, existing: dict[str, str] | None = None, *, created_meanwhile=None):
        self.data = {k: b64(v) for k, v in existing.items()} if existing is not None else None
        self.created_meanwhile = created_meanwhile
        self.calls = []

    def read_namespaced_secret(self, name, namespace, **kwargs):
        self.calls.append("read")
        if self.data is None:
            raise not_found()
        return SimpleNamespace(data=dict(self.data))

    def create_namespaced_secret(self, namespace, body, **kwargs):
        self.calls.append("create")
        if self.created_meanwhile is not None:
            self.data = {k: b64(v) for k, v in self.created_meanwhile.items()}
            raise conflict()
        self.data = dict(body["data"])
        self.body = body

    def patch_namespaced_secret(self, name, namespace, body, **kwargs):
        self.calls.append("patch")
        self.patch = body
        self.data.update(body["data"])


def api_with(core) -> SimpleNamespace:
    return SimpleNamespace(core=core, timeout=(1, 1), host="https://fake-apiserver")


def test_it_creates_a_missing_secret():
    core = FakeSecrets()
    stored = ensure_secret(api_with(core), "store-acme", "db", {"password": "s3cret"})
    assert stored == {"password": "s3cret"}
    assert core.calls == ["read", "create"]
    assert core.body["data"] == {"password": b64("s3cret")} and core.body["type"] == "Opaque"


def test_it_keeps_existing_credentials():
    core = FakeSecrets({"password": "first-run"})
    stored = ensure_secret(api_with(core), "store-acme", "db", {"password": "second-run"})
    assert stored == {"password": "first-run"}
    assert core.calls == ["read"]


def test_it_adds_only_the_missing_keys():
    core = FakeSecrets({"password": "first-run"})
    stored = ensure_secret(api_with(core), "store-acme", "db", {"password": "new", "root-password": "r00t"})
    assert stored == {"password": "first-run", "root-password": "r00t"}
    assert core.patch == {"data": {"root-password": b64("r00t")}}


def test_it_uses_the_secret_a_concurrent_run_created():
    core = FakeSecrets(created_meanwhile={"password": "theirs"})
    assert ensure_secret(api_with(core), "store-acme", "db", {"password": "ours"}) == {"password": "theirs"}


def test_it_reads_secrets_and_absence():
    assert read_secret(api_with(FakeSecrets({"a": "b"})), "store-acme", "db") == {"a": "b"}
    assert read_secret(api_with(FakeSecrets()), "store-acme", "db") is None


class FakeNamespaces:
    def __init__(self, phase=None):
        self.phase = phase
        self.patches = []

    def create_namespace(self, body, **kwargs):
        if self.phase is not None:
            raise conflict()
        self.created = body
        self.phase = "Active"

    def read_namespace(self, name, **kwargs):
        return SimpleNamespace(status=SimpleNamespace(phase=self.phase))

    def patch_namespace(self, name, body, **kwargs):
        self.patches.append(body)


def test_it_creates_a_namespace_with_labels():
    core = FakeNamespaces()
    ensure_namespace(api_with(core), "store-acme", {"app": "store"}, {"owner": "alice"})
    assert core.created["metadata"] == {
        "name": "store-acme",
        "labels": {"app": "store"},
        "annotations": {"owner": "alice"},
    }


def test_it_patches_labels_of_an_existing_namespace():
    core = FakeNamespaces("Active")
    ensure_namespace(api_with(core), "store-acme", {"app": "store"}, {})
    assert core.patches == [{"metadata": {"labels": {"app": "store"}, "annotations": {}}}]


def test_it_refuses_a_terminating_namespace():
    with pytest.raises(ClusterError, match=r"^namespace store-acme is still terminating$"):
        ensure_namespace(api_with(FakeNamespaces("Terminating")), "store-acme", {}, {})


def test_it_describes_what_keeps_a_namespace_alive():
    namespace = k8s.V1Namespace(
        metadata=k8s.V1ObjectMeta(name="store-acme"),
        spec=k8s.V1NamespaceSpec(finalizers=["kubernetes"]),
        status=k8s.V1NamespaceStatus(
            phase="Terminating",
            conditions=[
                k8s.V1NamespaceCondition(
                    type="NamespaceDeletionDiscoveryFailure",
                    status="False",
                    message="All resources successfully discovered",
                ),
                k8s.V1NamespaceCondition(
                    type="NamespaceContentRemaining",
                    status="True",
                    message="Some resources are remaining: pods. has 1 resource instances",
                ),
                k8s.V1NamespaceCondition(
                    type="NamespaceFinalizersRemaining",
                    status="True",
                    message="Some content in the namespace has finalizers remaining: "
                    "example.com/block in 1 resource instances",
                ),
            ],
        ),
    )
    assert _describe_leftovers(namespace) == (
        "namespace store-acme is still terminating: "
        "NamespaceContentRemaining: Some resources are remaining: pods. has 1 resource instances; "
        "NamespaceFinalizersRemaining: Some content in the namespace has finalizers remaining: "
        "example.com/block in 1 resource instances; namespace finalizers: kubernetes"
    )


class FakeDeletion:
    """A namespace with claims; it is gone as soon as it is deleted."""

    def __init__(self, claims, *, list_error=None, delete_error=None):
        self.claims = claims
        self.list_error = list_error
        self.delete_error = delete_error
        self.calls = []

    def list_namespaced_persistent_volume_claim(self, namespace, **kwargs):
        if self.list_error is not None:
            raise self.list_error
        items = [SimpleNamespace(metadata=SimpleNamespace(name=n, deletion_timestamp=d)) for n, d in self.claims]
        return SimpleNamespace(items=items)

    def delete_namespaced_persistent_volume_claim(self, name, namespace, **kwargs):
        self.calls.append(f"delete claim {name}")
        if self.delete_error is not None:
            raise self.delete_error

    def delete_namespace(self, name, **kwargs):
        self.calls.append(f"delete namespace {name}")

    def read_namespace(self, name, **kwargs):
        raise not_found()


def test_it_deletes_the_claims_before_the_namespace():
    # A StatefulSet's claim outlives `helm uninstall`; one already going is left alone.
    core = FakeDeletion([("data-store-mariadb-0", None), ("store-wordpress", "2026-01-01T00:00:00Z")])
    delete_namespace(api_with(core), "store-acme", should_stop=None, timeout=5)
    assert core.calls == ["delete claim data-store-mariadb-0", "delete namespace store-acme"]


@pytest.mark.parametrize(
    "errors",
    [
        {"list_error": ApiException(status=403, reason="Forbidden")},
        {"delete_error": ApiException(status=403, reason="Forbidden")},
        {"delete_error": not_found()},
    ],
)
def test_it_leaves_claims_it_may_not_delete_to_the_namespace_controller(errors):
    core = FakeDeletion([("data-store-mariadb-0", None)], **errors)
    delete_namespace(api_with(core), "store-acme", should_stop=None, timeout=5)
    assert core.calls[-1] == "delete namespace store-acme"


def test_it_reports_other_errors_listing_the_claims():
    core = FakeDeletion([], list_error=ApiException(status=500, reason="Internal Server Error"))
    with pytest.raises(ClusterError, match="deleting namespace store-acme failed"):
        delete_namespace(api_with(core), "store-acme", should_stop=None, timeout=5)
    assert core.calls == []

"""Store namespaces: create idempotently, list, and delete-and-wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s
from kubernetes import watch

from .client import ApiGroups, api_errors, is_status, metadata_of
from .errors import ClusterError, FailureCode, NamespaceStuck, Stopped

# A namespace deletion wait re-checks should_stop/the deadline at least this often.
DELETE_WATCH_CHUNK_SECONDS = 2


def ensure_namespace(api: ApiGroups, name: str, labels: dict[str, str], annotations: dict[str, str]) -> None:
    body: dict[str, Any] = {"metadata": {"name": name, "labels": dict(labels), "annotations": dict(annotations)}}
    with api_errors(f"creating namespace {name}", api.host):
        try:
            # The client validates a dict body into the model (pydantic's validate_call);
            # its annotation names the model only.
            api.core.create_namespace(body=body, _request_timeout=api.timeout)  # type: ignore[arg-type]
            return
        except Exception as exc:
            if not is_status(exc, 409):
                raise
        existing = api.core.read_namespace(name, _request_timeout=api.timeout)
        if existing.status and existing.status.phase == "Terminating":
            # A new store can not live in a namespace that is being emptied;
            # the caller retries once deletion has finished.
            raise ClusterError(f"namespace {name} is still terminating", FailureCode.NAMESPACE)
        # Merge patch: adds/overwrites our labels, leaves other labels alone.
        patch = {"metadata": {"labels": dict(labels), "annotations": dict(annotations)}}
        api.core.patch_namespace(name, body=patch, _request_timeout=api.timeout)


def namespace_phase(api: ApiGroups, name: str) -> str | None:
    with api_errors(f"reading namespace {name}", api.host):
        try:
            ns = api.core.read_namespace(name, _request_timeout=api.timeout)
        except Exception as exc:
            if is_status(exc, 404):
                return None
            raise
    return (ns.status.phase if ns.status else None) or "Active"


def list_namespaces(api: ApiGroups, label_selector: str) -> list[dict[str, Any]]:
    with api_errors("listing namespaces", api.host):
        result = api.core.list_namespace(label_selector=label_selector, _request_timeout=api.timeout)
    return [
        {
            "name": metadata_of(ns).name,
            "labels": dict(metadata_of(ns).labels or {}),
            "annotations": dict(metadata_of(ns).annotations or {}),
            "phase": (ns.status.phase if ns.status else None) or "Active",
            # Timezone-aware; lets a caller leave a namespace alone while it is new.
            "created_at": metadata_of(ns).creation_timestamp,
        }
        for ns in result.items
    ]


def delete_namespace(
    api: ApiGroups,
    name: str,
    *,
    should_stop: Callable[[], str | None] | None,
    timeout: float,
) -> None:
    """Delete the namespace and watch it until it is gone.

    Its PersistentVolumeClaims are asked to go first (`_delete_claims`), so
    that the namespace controller finds the namespace empty on its first pass.
    """
    deadline = time.monotonic() + timeout
    action = f"deleting namespace {name}"
    with api_errors(action, api.host):
        _delete_claims(api, name)
        try:
            api.core.delete_namespace(name, propagation_policy="Background", _request_timeout=api.timeout)
        except Exception as exc:
            # 404: already gone. 409: already terminating, which is what we want.
            if not is_status(exc, 404, 409):
                raise

        while True:
            if should_stop is not None:
                reason = should_stop()
                if reason:
                    raise Stopped(reason)
            try:
                ns = api.core.read_namespace(name, _request_timeout=api.timeout)
            except Exception as exc:
                if is_status(exc, 404):
                    return
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NamespaceStuck(_describe_leftovers(ns))
            chunk = max(1, min(DELETE_WATCH_CHUNK_SECONDS, int(remaining + 0.999)))
            if _watch_until_deleted(api, name, metadata_of(ns).resource_version, chunk):
                return


def _delete_claims(api: ApiGroups, namespace: str) -> None:
    """Delete the namespace's PersistentVolumeClaims, without waiting.

    A StatefulSet's claims are no part of its Helm release, so they outlive
    `helm uninstall`, and each keeps the kubernetes.io/pvc-protection
    finalizer until no pod uses it. The namespace controller makes its first
    pass 5 s after the namespace is deleted; a claim that it deletes then is
    still there when it looks again at once, so it records
    NamespaceContentRemaining and makes a second pass 5 s later: a store's
    namespace took 10 s to go instead of 5 (measured: bench/teardown.py).
    Deleted now, the claims are gone by the first pass once their pods are.
    A claim this account may not list or delete is left to the namespace
    controller, as before.
    """
    try:
        claims = api.core.list_namespaced_persistent_volume_claim(namespace, _request_timeout=api.timeout)
    except Exception as exc:
        if is_status(exc, 403, 404):
            return
        raise
    for claim in claims.items:
        meta = metadata_of(claim)
        if meta.deletion_timestamp:
            continue
        try:
            api.core.delete_namespaced_persistent_volume_claim(str(meta.name), namespace, _request_timeout=api.timeout)
        except Exception as exc:
            if not is_status(exc, 403, 404):
                raise


def _watch_until_deleted(api: ApiGroups, name: str, resource_version: str | None, seconds: int) -> bool:
    """True once a DELETED event arrives; False when the watch chunk ends."""
    # kubernetes.watch is not annotated, hence the ignores on its calls.
    w = watch.Watch()  # type: ignore[no-untyped-call]
    try:
        for event in w.stream(  # type: ignore[no-untyped-call]
            api.core.list_namespace,
            field_selector=f"metadata.name={name}",
            resource_version=resource_version,
            timeout_seconds=seconds,
            _request_timeout=api.watch_timeout(seconds),
        ):
            if event["type"] == "DELETED":
                return True
    except Exception as exc:
        # 410 Gone: our resourceVersion is too old; the caller simply re-reads.
        if not is_status(exc, 410):
            raise
    finally:
        w.stop()  # type: ignore[no-untyped-call]
    return False


def _describe_leftovers(ns: k8s.V1Namespace) -> str:
    meta = metadata_of(ns)
    name = meta.name
    parts = []
    for condition in (ns.status.conditions if ns.status else None) or []:
        # Deletion conditions are "True" when they describe a problem
        # (NamespaceContentRemaining, NamespaceFinalizersRemaining,
        # NamespaceDeletionContentFailure, ...).
        if condition.status == "True" and condition.message:
            parts.append(f"{condition.type}: {condition.message}")
    finalizers = (ns.spec.finalizers if ns.spec else None) or []
    if finalizers:
        parts.append("namespace finalizers: " + ", ".join(finalizers))
    if meta.finalizers:
        parts.append("metadata finalizers: " + ", ".join(meta.finalizers))
    detail = "; ".join(parts) or "no conditions reported yet"
    return f"namespace {name} is still terminating: {detail}"

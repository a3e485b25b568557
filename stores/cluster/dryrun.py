"""Server-side dry run: let the API server (and its admission chain, quota
and LimitRange included) judge manifests without persisting anything."""

from __future__ import annotations

from typing import Any

from .client import ApiGroups, api_errors, is_status, status_message
from .errors import ClusterError


def server_dry_run(api: ApiGroups, manifests: list[dict[str, Any]], namespace: str) -> None:
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    for manifest in manifests:
        if not manifest:
            continue  # empty YAML documents
        kind = manifest.get("kind") or "?"
        api_version = manifest.get("apiVersion") or "?"
        name = (manifest.get("metadata") or {}).get("name") or "?"
        with api_errors(f"dry-running {kind} {name}", api.host):
            try:
                resource = api.dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                raise ClusterError(f"{kind} {name}: the cluster does not know {api_version} {kind}") from None
            try:
                resource.create(
                    body=manifest,
                    namespace=namespace if resource.namespaced else None,
                    dry_run="All",
                    _request_timeout=api.timeout,
                )
            except Exception as exc:
                # Already existing is fine: the question is whether the
                # object is acceptable, not whether it is new.
                if is_status(exc, 409):
                    continue
                if is_status(exc, 400, 403, 404, 422):
                    raise ClusterError(f"{kind} {name} rejected: {status_message(exc)}") from exc
                raise

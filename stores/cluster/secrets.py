"""Store credentials kept in Kubernetes Secrets.

``ensure_secret`` never overwrites a value: a retried provisioning run must
keep the database password the first run handed to MariaDB and WordPress.
``put_secret`` replaces: for what the platform's settings own (the mail relay).
Error messages name the secret, never its data.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from .client import ApiGroups, api_errors, is_status
from .guardrails import MANAGED_BY


def ensure_secret(api: ApiGroups, namespace: str, name: str, data: dict[str, str]) -> dict[str, str]:
    """Create the Secret, or return what is already there, adding only the
    keys it is missing. Returns the data as stored."""
    with api_errors(f"storing secret {name} in {namespace}", api.host):
        existing = _read(api, namespace, name)
        if existing is None:
            body: dict[str, Any] = {
                "metadata": {"name": name, "labels": dict(MANAGED_BY)},
                "type": "Opaque",
                "data": _encode(data),
            }
            try:
                # The client validates a dict body into the model (pydantic's validate_call);
                # its annotation names the model only.
                api.core.create_namespaced_secret(
                    namespace,
                    body=body,  # type: ignore[arg-type]
                    _request_timeout=api.timeout,
                )
                return dict(data)
            except Exception as exc:
                # Another worker created it between our read and create: use theirs.
                if not is_status(exc, 409):
                    raise
            existing = _read(api, namespace, name) or {}

        missing = {key: value for key, value in data.items() if key not in existing}
        if missing:
            # Strategic merge of .data adds keys and leaves the others untouched.
            api.core.patch_namespaced_secret(
                name, namespace, body={"data": _encode(missing)}, _request_timeout=api.timeout
            )
        return {**missing, **existing}


def put_secret(api: ApiGroups, namespace: str, name: str, data: dict[str, str]) -> None:
    """Create the Secret, or replace its data whole: for settings the platform
    owns (the mail relay), where its value, not the first one, must win."""
    body: dict[str, Any] = {
        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
        "type": "Opaque",
        "data": _encode(data),
    }
    with api_errors(f"storing secret {name} in {namespace}", api.host):
        try:
            api.core.replace_namespaced_secret(name, namespace, body=body, _request_timeout=api.timeout)  # type: ignore[arg-type]
        except Exception as exc:
            if not is_status(exc, 404):
                raise
            api.core.create_namespaced_secret(namespace, body=body, _request_timeout=api.timeout)  # type: ignore[arg-type]


def delete_secret(api: ApiGroups, namespace: str, name: str) -> bool:
    """Delete the Secret; False when there was none."""
    with api_errors(f"deleting secret {name} in {namespace}", api.host):
        try:
            api.core.delete_namespaced_secret(name, namespace, _request_timeout=api.timeout)
        except Exception as exc:
            if is_status(exc, 404):
                return False
            raise
    return True


def read_secret(api: ApiGroups, namespace: str, name: str) -> dict[str, str] | None:
    with api_errors(f"reading secret {name} in {namespace}", api.host):
        return _read(api, namespace, name)


def _read(api: ApiGroups, namespace: str, name: str) -> dict[str, str] | None:
    try:
        secret = api.core.read_namespaced_secret(name, namespace, _request_timeout=api.timeout)
    except Exception as exc:
        if is_status(exc, 404):
            return None
        raise
    return _decode(secret.data or {})


def _encode(data: dict[str, str]) -> dict[str, str]:
    return {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}


def _decode(data: Mapping[str, str | bytes]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode("utf-8", errors="replace") for key, value in data.items()}

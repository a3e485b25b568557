"""The platform's object store, from its settings, and what a store's Job may reach of it."""

from __future__ import annotations

import ipaddress
import json
import socket
from urllib.parse import urlsplit

from django.conf import settings

from stores import cluster
from stores.engines.base import BackupPlan
from stores.objectstore import ObjectStore, ObjectStoreConfig, ObjectStoreError

# The store's Secret (SECRET_NAME), kept beside its backup: a store restored
# into a new namespace gets the credentials its restored database expects (the
# shop admin's password hash, the database user's password).
SECRET_OBJECT = "store-secret.json"  # noqa: S105 (an object name)
OFF_REASON = "backups are off: the platform has no object store (BACKUP_S3_ENDPOINT is not set)"


def configured() -> bool:
    return bool(settings.BACKUP_S3_ENDPOINT)


def object_store() -> ObjectStore:
    return ObjectStore(
        ObjectStoreConfig(
            endpoint=settings.BACKUP_S3_ENDPOINT,
            bucket=settings.BACKUP_S3_BUCKET,
            region=settings.BACKUP_S3_REGION,
            access_key_id=settings.BACKUP_S3_ACCESS_KEY_ID,
            secret_access_key=settings.BACKUP_S3_SECRET_ACCESS_KEY,
        )
    )


def endpoint_access(plan: BackupPlan) -> cluster.BackupAccess:
    """The network paths a backup Job of `plan` needs, with the endpoint's host
    resolved to its addresses now (a NetworkPolicy takes addresses, not names)."""
    parts = urlsplit(settings.BACKUP_S3_ENDPOINT)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses: tuple[str, ...]
    try:
        addresses = (str(ipaddress.ip_address(host)),)
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise ObjectStoreError(f"cannot resolve the object store's host {host}: {exc}") from exc
        addresses = tuple(sorted({str(info[4][0]) for info in infos}))
    return cluster.BackupAccess(
        database_component=plan.database_component,
        database_port=plan.database_port,
        store_addresses=addresses,
        store_port=port,
    )


def saved_secret(key_prefix: str) -> dict[str, str]:
    """The store's Secret as it was when the backup under `key_prefix` was made ({} if none was kept)."""
    bucket = object_store()
    if bucket.size(key_prefix + SECRET_OBJECT) is None:
        return {}
    data = json.loads(bucket.read(key_prefix + SECRET_OBJECT))
    return {str(key): str(value) for key, value in data.items()}

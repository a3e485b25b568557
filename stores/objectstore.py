"""The object store store backups go to: any S3-compatible service (SeaweedFS in the
local cluster and the tests, localcluster/objectstore.sh), through the MinIO client.

The platform never moves backup bytes itself: a backup job in the store's
namespace PUTs its archive to a presigned URL, and a restore job GETs one. A
presigned URL names one object and one method, so a store's job holding one can
neither read another store's backups nor overwrite them, and it holds no keys.

MinIO's client rather than boto3: every botocore release requires
python-dateutil<3, and the kubernetes client requires >=3, so the two cannot be
installed together.

This module is plain Python: no Django models, no settings.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

# A store's backup job waits on these calls, and so may a page of the platform:
# an object store that is down must fail in seconds, not after urllib3's
# default retries with back-off. Reads may be archives of a few hundred MB,
# hence the longer read timeout.
CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 60
RETRIES = 1

# S3's limit for one DeleteObjects request.
_DELETE_BATCH = 1000


class ObjectStoreError(Exception):
    """The object store failed or refused a request; the message names the endpoint and bucket."""


@dataclass(frozen=True)
class ObjectStoreConfig:
    endpoint: str  # http(s)://host:port, no path
    bucket: str
    region: str
    access_key_id: str
    secret_access_key: str = field(repr=False)


class ObjectStore:
    def __init__(self, config: ObjectStoreConfig) -> None:
        self.config = config
        url = urlsplit(config.endpoint)
        if url.scheme not in ("http", "https") or not url.netloc or url.path.strip("/"):
            raise ObjectStoreError(f"object store endpoint {config.endpoint!r}: expected http(s)://host[:port]")
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
            retries=urllib3.Retry(
                total=RETRIES,
                backoff_factor=0.2,
                status_forcelist=[500, 502, 503, 504],
                # A refused connection will not be accepted a fraction of a second later.
                connect=0,
            ),
        )
        # MinIO's client signs with SigV4 and addresses a non-AWS endpoint
        # path-style (http://host:port/bucket/key): the bucket needs no DNS
        # name of its own. With the region given it never asks the service for
        # the bucket's location, which some S3 implementations answer oddly.
        self._client = Minio(
            url.netloc,
            access_key=config.access_key_id,
            secret_key=config.secret_access_key,
            secure=url.scheme == "https",
            region=config.region,
            http_client=http,
        )

    def __repr__(self) -> str:
        return f"ObjectStore({self.config.endpoint}, bucket {self.config.bucket})"

    @contextmanager
    def _failing_as(self, action: str) -> Iterator[None]:
        where = f"object store {self.config.endpoint}, bucket {self.config.bucket}"
        try:
            yield
        except S3Error as exc:
            raise ObjectStoreError(f"{where}: {action} refused: {exc.code} {exc.message or ''}".rstrip()) from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise ObjectStoreError(f"{where}: {action} failed: {exc}") from exc

    def ensure_bucket(self) -> None:
        bucket = self.config.bucket
        with self._failing_as("creating the bucket"):
            if self._client.bucket_exists(bucket):
                return
            try:
                self._client.make_bucket(bucket, location=self.config.region)
            except S3Error as exc:
                # Another process created it between the two calls.
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def presign_put(self, key: str, seconds: int) -> str:
        """A URL that uploads `key` (HTTP PUT, the body is the object) until it expires."""
        with self._failing_as(f"presigning PUT {key}"):
            return self._client.presigned_put_object(self.config.bucket, key, expires=timedelta(seconds=seconds))

    def presign_get(self, key: str, seconds: int) -> str:
        """A URL that downloads `key` (HTTP GET) until it expires."""
        with self._failing_as(f"presigning GET {key}"):
            return self._client.presigned_get_object(self.config.bucket, key, expires=timedelta(seconds=seconds))

    def size(self, key: str) -> int | None:
        """The object's size in bytes, None when there is no such object."""
        with self._failing_as(f"reading the size of {key}"):
            try:
                stat = self._client.stat_object(self.config.bucket, key)
            except S3Error as exc:
                # A HEAD response has no body, so no error code: a 404 is all there is.
                if exc.code in ("NoSuchKey", "NotFound", "ResourceNotFound") or exc.response.status == 404:
                    return None
                raise
            return stat.size

    def read(self, key: str) -> bytes:
        with self._failing_as(f"reading {key}"):
            response = self._client.get_object(self.config.bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def write(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        with self._failing_as(f"writing {key}"):
            self._client.put_object(self.config.bucket, key, io.BytesIO(data), len(data), content_type=content_type)

    def keys(self, prefix: str) -> list[str]:
        """Every key under `prefix` (a plain string prefix, "stores/7/" for a store's backups)."""
        with self._failing_as(f"listing {prefix}"):
            # The client follows the continuation tokens: one call lists them all.
            objects = self._client.list_objects(self.config.bucket, prefix=prefix, recursive=True)
            return [obj.object_name for obj in objects if obj.object_name is not None]

    def delete_prefix(self, prefix: str) -> int:
        """Deletes every key under `prefix`; returns how many there were."""
        if not prefix:
            # An empty prefix would empty the bucket: every store's backups.
            raise ObjectStoreError(
                f"object store {self.config.endpoint}, bucket {self.config.bucket}: refusing to delete an empty prefix"
            )
        keys = self.keys(prefix)
        with self._failing_as(f"deleting {prefix}"):
            for start in range(0, len(keys), _DELETE_BATCH):
                batch = [DeleteObject(key) for key in keys[start : start + _DELETE_BATCH]]
                # remove_objects is lazy: the requests go out as its errors are read.
                errors = list(self._client.remove_objects(self.config.bucket, batch))
                if errors:
                    first = errors[0]
                    raise ObjectStoreError(
                        f"object store {self.config.endpoint}, bucket {self.config.bucket}: deleting {prefix}: "
                        f"{len(errors)} key(s) not deleted, first {first.name}: {first.code} {first.message}"
                    )
        return len(keys)

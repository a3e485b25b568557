"""The backups' object store client (stores/objectstore.py) against a real SeaweedFS
(the `object_store` fixture, tests/objectstore.py): no mocks, no database, no cluster.

The presigned URLs are what a store's backup and restore jobs hold, so most of
these tests are about what such a URL must not allow: another object (another
store's backups), another method, a forged signature, or use after it expired.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from stores.objectstore import ObjectStore, ObjectStoreError

# It never touches the platform's database; `make test` runs it in its SQLite pass, to even out
# the two passes (pytest.ini, scripts/test.sh).
pytestmark = pytest.mark.sqlite_pass


def http(method: str, url: str, data: bytes | None = None) -> tuple[int, bytes]:
    """The status and body of one plain HTTP request, as a store's job would send it."""
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=path))


@pytest.fixture
def prefix(object_store: ObjectStore) -> Iterator[str]:
    """A prefix of this test's own: the session's store is shared."""
    name = f"test-{uuid.uuid4().hex[:8]}/"
    yield name
    object_store.delete_prefix(name)


def test_a_presigned_put_then_a_presigned_get_round_trip_the_bytes(object_store, prefix):
    key = f"{prefix}stores/7/backup-1.tar.gz"
    body = bytes(range(256)) * 4096  # 1 MiB, every byte value

    status, _ = http("PUT", object_store.presign_put(key, 60), body)
    assert status == 200
    status, got = http("GET", object_store.presign_get(key, 60))

    assert (status, got) == (200, body)
    assert object_store.size(key) == len(body)
    assert object_store.read(key) == body


def test_write_read_size_keys_and_delete_prefix(object_store, prefix):
    object_store.write(f"{prefix}stores/7/a", b"first", content_type="text/plain")
    object_store.write(f"{prefix}stores/7/b/c", b"second")
    object_store.write(f"{prefix}stores/70/a", b"not store 7's")

    assert object_store.read(f"{prefix}stores/7/a") == b"first"
    assert object_store.size(f"{prefix}stores/7/b/c") == len(b"second")
    assert object_store.size(f"{prefix}stores/7/missing") is None
    assert object_store.keys(f"{prefix}stores/7/") == [f"{prefix}stores/7/a", f"{prefix}stores/7/b/c"]
    assert object_store.keys(f"{prefix}stores/") == [
        f"{prefix}stores/7/a",
        f"{prefix}stores/7/b/c",
        f"{prefix}stores/70/a",
    ]

    assert object_store.delete_prefix(f"{prefix}stores/7/") == 2
    assert object_store.keys(f"{prefix}stores/7/") == []
    assert object_store.size(f"{prefix}stores/7/a") is None
    assert object_store.keys(f"{prefix}stores/") == [f"{prefix}stores/70/a"]
    assert object_store.delete_prefix(f"{prefix}stores/7/") == 0


def test_keys_and_delete_prefix_go_past_one_page_of_a_thousand(object_store, prefix):
    # S3 lists at most 1000 keys a response, and deletes at most 1000 a request.
    keys = [f"{prefix}many/{n:04}" for n in range(1005)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: object_store.write(key, b"x"), keys))

    assert object_store.keys(f"{prefix}many/") == keys
    assert object_store.delete_prefix(f"{prefix}many/") == len(keys)
    assert object_store.keys(f"{prefix}many/") == []


def test_delete_prefix_refuses_the_empty_prefix_that_would_empty_the_bucket(object_store, prefix):
    object_store.write(f"{prefix}kept", b"x")

    with pytest.raises(ObjectStoreError, match="empty prefix"):
        object_store.delete_prefix("")

    assert object_store.size(f"{prefix}kept") == 1


def test_reading_a_missing_object_fails_naming_the_endpoint_and_the_bucket(object_store, prefix):
    with pytest.raises(ObjectStoreError) as raised:
        object_store.read(f"{prefix}missing")

    message = str(raised.value)
    assert object_store.config.endpoint in message
    assert object_store.config.bucket in message
    assert "NoSuchKey" in message


def test_an_expired_url_is_refused(object_store, prefix):
    key = f"{prefix}stores/7/backup.tar.gz"
    object_store.write(key, b"backup")
    expiring = object_store.presign_get(key, 1)
    lasting = object_store.presign_get(key, 60)

    # X-Amz-Date has whole seconds: the 1-second URL is past its expiry for
    # certain 2 seconds after it was signed.
    time.sleep(2.5)

    status, body = http("GET", expiring)
    assert status == 403, body
    assert b"AccessDenied" in body or b"expired" in body.lower()
    assert http("GET", lasting) == (200, b"backup")


def test_an_expired_put_url_is_refused(object_store, prefix):
    key = f"{prefix}stores/7/backup.tar.gz"
    expiring = object_store.presign_put(key, 1)
    time.sleep(2.5)

    status, body = http("PUT", expiring, b"too late")

    assert status == 403, body
    assert object_store.size(key) is None


def test_a_get_url_for_one_store_cannot_read_another_stores_object(object_store, prefix):
    object_store.write(f"{prefix}stores/7/backup.tar.gz", b"store 7")
    object_store.write(f"{prefix}stores/8/backup.tar.gz", b"store 8")
    url = object_store.presign_get(f"{prefix}stores/7/backup.tar.gz", 60)
    assert f"/{prefix}stores/7/" in urlsplit(url).path

    status, body = http("GET", url.replace(f"/{prefix}stores/7/", f"/{prefix}stores/8/"))

    assert status == 403
    assert b"store 8" not in body
    assert http("GET", url) == (200, b"store 7")


def test_a_put_url_for_one_store_cannot_write_another_stores_object(object_store, prefix):
    object_store.write(f"{prefix}stores/8/backup.tar.gz", b"store 8")
    url = object_store.presign_put(f"{prefix}stores/7/backup.tar.gz", 60)

    status, _ = http("PUT", url.replace(f"/{prefix}stores/7/", f"/{prefix}stores/8/"), b"overwritten")

    assert status == 403
    assert object_store.read(f"{prefix}stores/8/backup.tar.gz") == b"store 8"
    assert object_store.size(f"{prefix}stores/7/backup.tar.gz") is None


def test_a_url_is_for_one_object_not_its_bucket_or_a_neighbour(object_store, prefix):
    object_store.write(f"{prefix}stores/7/backup.tar.gz", b"store 7")
    url = object_store.presign_get(f"{prefix}stores/7/backup.tar.gz", 60)
    bucket = object_store.config.bucket

    # The bucket's listing, and a sibling object of the same store.
    assert http("GET", with_path(url, f"/{bucket}/"))[0] == 403
    assert http("GET", with_path(url, f"/{bucket}/{prefix}stores/7/backup.tar.gz.old"))[0] == 403


def test_a_put_url_cannot_be_used_to_get_and_a_get_url_cannot_be_used_to_put(object_store, prefix):
    key = f"{prefix}stores/7/backup.tar.gz"
    object_store.write(key, b"original")

    status, body = http("GET", object_store.presign_put(key, 60))
    assert status == 403
    assert b"original" not in body

    status, _ = http("PUT", object_store.presign_get(key, 60), b"overwritten")
    assert status == 403
    assert object_store.read(key) == b"original"

    status, _ = http("DELETE", object_store.presign_get(key, 60))
    assert status == 403
    assert object_store.read(key) == b"original"


def test_a_url_with_a_tampered_signature_is_refused(object_store, prefix):
    key = f"{prefix}stores/7/backup.tar.gz"
    object_store.write(key, b"store 7's data")
    url = object_store.presign_get(key, 60)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    signature = query["X-Amz-Signature"]
    query["X-Amz-Signature"] = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    tampered = urlunsplit(parts._replace(query=urlencode(query)))

    status, body = http("GET", tampered)

    assert status == 403
    assert b"store 7's data" not in body
    assert http("GET", url) == (200, b"store 7's data")


def test_a_url_with_a_lengthened_expiry_is_refused(object_store, prefix):
    key = f"{prefix}stores/7/backup.tar.gz"
    object_store.write(key, b"backup")
    parts = urlsplit(object_store.presign_get(key, 1))
    query = dict(parse_qsl(parts.query))
    query["X-Amz-Expires"] = "3600"
    time.sleep(2.5)

    status, _ = http("GET", urlunsplit(parts._replace(query=urlencode(query))))

    assert status == 403


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_object_store_that_is_down_fails_fast_naming_its_endpoint(object_store):
    endpoint = f"http://127.0.0.1:{_unused_port()}"
    down = ObjectStore(replace(object_store.config, endpoint=endpoint))

    for call in (
        down.ensure_bucket,
        lambda: down.size("stores/7/backup.tar.gz"),
        lambda: down.read("stores/7/backup.tar.gz"),
        lambda: down.write("stores/7/backup.tar.gz", b"x"),
        lambda: down.keys("stores/7/"),
        lambda: down.delete_prefix("stores/7/"),
    ):
        started = time.monotonic()
        with pytest.raises(ObjectStoreError) as raised:
            call()
        assert time.monotonic() - started < 5
        assert endpoint in str(raised.value)
        assert object_store.config.bucket in str(raised.value)


def test_the_secret_key_stays_out_of_the_config_repr(object_store):
    assert object_store.config.secret_access_key not in repr(object_store.config)
    assert object_store.config.secret_access_key not in repr(object_store)

"""A real S3-compatible object store for tests: SeaweedFS (localcluster/objectstore.sh),
one per test session, on free loopback ports, its data under the session's tmp.
Registered by the root conftest, so the `object_store` fixture is every test's (by name).

The weed binary is built from the Go module proxy on first use and cached
(`bash localcluster/build.sh objectstore`); with it cached the server answers in
a couple of seconds.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stores.objectstore import ObjectStore, ObjectStoreConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "localcluster" / "objectstore.sh"
# objectstore.sh takes the S3 port and the seven after it.
PORTS_TAKEN = 8


def _free_port_block(count: int) -> int:
    """The first of `count` consecutive loopback ports that are free now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first: int = probe.getsockname()[1]
        if first + count > 65535:
            continue
        held = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")


def parse_settings(output: str) -> dict[str, str]:
    """objectstore.sh up's KEY=value lines."""
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def config_from_settings(settings: dict[str, str]) -> ObjectStoreConfig:
    return ObjectStoreConfig(
        endpoint=settings["BACKUP_S3_ENDPOINT"],
        bucket=settings["BACKUP_S3_BUCKET"],
        region=settings["BACKUP_S3_REGION"],
        access_key_id=settings["BACKUP_S3_ACCESS_KEY_ID"],
        secret_access_key=settings["BACKUP_S3_SECRET_ACCESS_KEY"],
    )


@contextmanager
def running_object_store(workdir: Path, ip: str = "127.0.0.1") -> Iterator[ObjectStore]:
    """A SeaweedFS under `workdir`, bound to and advertised on `ip`, its bucket created."""
    up = subprocess.run(
        ["bash", str(SCRIPT), "up", str(workdir), str(_free_port_block(PORTS_TAKEN))],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "OBJECTSTORE_IP": ip},
    )
    try:
        if up.returncode != 0:
            raise RuntimeError(f"objectstore.sh up failed ({up.returncode}):\n{up.stderr}")
        store = ObjectStore(config_from_settings(parse_settings(up.stdout)))
        store.ensure_bucket()
        yield store
    finally:
        subprocess.run(["bash", str(SCRIPT), "down", str(workdir)], check=False, cwd=REPO_ROOT)


@pytest.fixture(scope="session")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """An ObjectStore on a SeaweedFS of this session's own, its bucket created;
    `.config` has the endpoint, bucket and keys (for presigned URLs, or a second client)."""
    with running_object_store(tmp_path_factory.mktemp("objectstore")) as store:
        yield store

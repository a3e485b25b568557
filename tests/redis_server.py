"""A private redis-server for tests that need a real Redis (Debian's package,
`make system-packages`): a free loopback port, nothing persisted, a log under
artifacts/logs."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.platform import LOG_DIR, free_port
from tests.waiting import wait_for

REDIS_SERVER = "/usr/bin/redis-server"


@contextmanager
def redis_server(workdir: Path, log_name: str) -> Iterator[str]:
    """Runs redis-server in `workdir` for the block; yields its URL (redis://127.0.0.1:<port>)."""
    if not Path(REDIS_SERVER).exists():
        raise RuntimeError("redis-server is missing: `make system-packages` installs Debian's package")
    port = free_port()
    log = open(LOG_DIR / log_name, "w")
    args = ["--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(workdir)]
    proc = subprocess.Popen([REDIS_SERVER, *args], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: answers_ping(port) or proc.poll() is not None, timeout=30, what="redis-server")
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited; see {log.name}")
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False

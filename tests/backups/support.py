"""What the backup scripts' tests share: where the scripts are, running one as
the backup Job would (a clean environment, a private backup directory), and a
free port for a private server."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "stores" / "backups" / "scripts"


def run_script(
    name: str, *args: str, env: dict[str, str], timeout: float = 60, **kwargs
) -> subprocess.CompletedProcess[str]:
    """Runs a backup script under `sh` (dash on Debian, as in the images) with
    only the given environment and PATH, returning what it printed."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", **env}
    return subprocess.run(
        ["sh", str(SCRIPTS / name), *args], env=full_env, capture_output=True, text=True, timeout=timeout, **kwargs
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

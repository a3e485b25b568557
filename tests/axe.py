"""axe-core, the accessibility engine, run inside a Playwright page.

axe-core comes from npm at a pinned version and is installed on first use
into ~/.cache/store-provisioner/axe-core-<version> (STORE_PROVISIONER_CACHE
moves it), as the project's other tools are, so a fresh machine needs only npm.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

AXE_VERSION = "4.14.1"
CACHE = Path(os.environ.get("STORE_PROVISIONER_CACHE", Path.home() / ".cache" / "store-provisioner"))
# What the accessibility checks refuse; "moderate" and "minor" findings are reported, not failed.
BLOCKING = ("serious", "critical")


def axe_script() -> Path:
    """axe.min.js of AXE_VERSION, installed from npm once."""
    home = CACHE / f"axe-core-{AXE_VERSION}"
    script = home / "node_modules" / "axe-core" / "axe.min.js"
    if script.exists():
        return script
    if shutil.which("npm") is None:
        raise RuntimeError("npm is needed once, to install axe-core from the npm registry (apt-get install npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    # Two test runs on one machine install it once: the second waits, then finds it.
    with open(CACHE / "axe-core.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if script.exists():
            return script
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            subprocess.run(
                [
                    "npm",
                    "install",
                    "--prefix",
                    tmp,
                    "--no-save",
                    "--no-audit",
                    "--no-fund",
                    "--silent",
                    f"axe-core@{AXE_VERSION}",
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            shutil.rmtree(home, ignore_errors=True)
            Path(tmp).rename(home)
            Path(tmp).mkdir()  # for TemporaryDirectory's own clean-up
    return script


def violations(page) -> list[dict]:
    """Every axe-core violation on the page as it is now: id, impact, help and the offending elements."""
    page.add_script_tag(path=str(axe_script()))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [" ".join(map(str, n["target"])) for n in v["nodes"]],
        }
        for v in result["violations"]
    ]


def blocking(found: list[dict]) -> list[dict]:
    return [v for v in found if v["impact"] in BLOCKING]

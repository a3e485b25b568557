"""The local cluster's scripts: shellcheck-clean, and the real node says why
it cannot run where it cannot (the real-node tests skip with that reason,
or fail in CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

from tests.conftest import REPO_ROOT

LOCALCLUSTER = REPO_ROOT / "localcluster"


def test_the_local_cluster_scripts_pass_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing: `make system-packages` installs Debian's package")
    scripts = sorted(str(p) for p in LOCALCLUSTER.glob("*.sh"))
    assert len(scripts) >= 4
    proc = subprocess.run(["shellcheck", "-x", "-P", str(LOCALCLUSTER), *scripts], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to drop to another user")
def test_the_real_node_says_it_needs_root():
    # A copy the unprivileged user can read, wherever the repository lives.
    with tempfile.TemporaryDirectory(dir="/tmp") as scratch:
        os.chmod(scratch, 0o755)
        for name in ("node.sh", "versions.env"):
            shutil.copy(LOCALCLUSTER / name, scratch)
        proc = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", f"{scratch}/node.sh", "check"],
            capture_output=True, text=True, cwd="/", env={**os.environ, "LOCALCLUSTER_DIR": f"{scratch}/state"},
        )
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.strip() == "not root (containerd, network namespaces and cgroups need root)"

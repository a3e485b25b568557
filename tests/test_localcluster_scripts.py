"""The local cluster's scripts: shellcheck-clean, and the real node says why
it cannot run where it cannot (the real-node tests skip with that reason,
or fail in CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.fixtures import REPO_ROOT

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
        os.chmod(scratch, 0o755)  # noqa: S103 (read by the unprivileged user)
        for name in ("node.sh", "versions.env"):
            shutil.copy(LOCALCLUSTER / name, scratch)
        proc = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", f"{scratch}/node.sh", "check"],
            capture_output=True,
            text=True,
            cwd="/",
            env={**os.environ, "LOCALCLUSTER_DIR": f"{scratch}/state"},
        )
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.strip() == "not root (containerd, network namespaces and cgroups need root)"


def _node_owner(owner_file: Path, state: Path) -> str:
    proc = subprocess.run(
        ["bash", str(LOCALCLUSTER / "node.sh"), "owner"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LOCALCLUSTER_DIR": str(state), "STORE_PROVISIONER_NODE_OWNER_FILE": str(owner_file)},
    )
    return proc.stdout.strip()


def test_only_a_live_node_of_another_cluster_owns_the_machine(tmp_path):
    """A node whose session ended without `down` left its owner file behind: that is no owner."""
    other_node = tmp_path / "other" / "node"
    other_node.mkdir(parents=True)
    owner_file = tmp_path / "owner"
    owner_file.write_text(f"{other_node}\n")
    this_cluster = tmp_path / "this"

    supervisor = other_node / "supervise.sh"
    supervisor.write_text("#!/usr/bin/env bash\nsleep 60\n")
    supervisor.chmod(0o755)
    running = subprocess.Popen([str(supervisor)])
    try:
        (other_node / "supervise.pid").write_text(f"{running.pid}\n")
        assert _node_owner(owner_file, this_cluster) == str(other_node)
        assert _node_owner(owner_file, tmp_path / "other") == "", "a cluster never stands in its own way"
    finally:
        running.kill()
        running.wait()
    assert _node_owner(owner_file, this_cluster) == "", "a dead supervisor owns nothing"

    unrelated = subprocess.Popen(["sleep", "60"])  # a live pid that is not the supervisor
    try:
        (other_node / "supervise.pid").write_text(f"{unrelated.pid}\n")
        assert _node_owner(owner_file, this_cluster) == ""
    finally:
        unrelated.kill()
        unrelated.wait()

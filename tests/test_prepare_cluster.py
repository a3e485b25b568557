"""`make run` preparing the local control plane beside the platform (scripts/prepare-cluster.sh,
localcluster/build.sh and up.sh reporting through localcluster/status.py).

A first build takes minutes of Go compiling, so the build here runs against a stand-in `go`
(tests/standin/go) that hands out tiny stand-in binaries at once, into an empty binary cache:
the steps, their order and their report are the real scripts'. The way through to a ready
cluster runs against the shared local control plane.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import REPO_ROOT, STATE_DIR

STANDIN = REPO_ROOT / "tests" / "standin"
BUILD_STEPS = ["etcd", "kwok", "kwokctl", "helm", "kube-modules", "kube"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    go_dir = tmp_path / "go-standin"
    go_dir.mkdir(exist_ok=True)
    if not (go_dir / "go").exists():
        (go_dir / "go").symlink_to(STANDIN / "go")
    env = {k: v for k, v in os.environ.items() if k not in {"KUBECONFIG", "HELM_BIN", "LOCALCLUSTER_DIR"}}
    env.update(
        PATH=f"{go_dir}:/usr/bin:/bin",
        STORE_PROVISIONER_CACHE=str(tmp_path / "cache"),
        LOCALCLUSTER_DIR=str(tmp_path / "localcluster"),
        STANDIN_LOG=str(tmp_path / "calls.log"),
        LOCALCLUSTER_PYTHON=sys.executable,
        PYTHON=sys.executable,
    )
    env.update(extra)
    return env


def _status(path: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "localcluster" / "status.py"), str(path), *args], env=env, check=True
    )


def test_make_run_leaves_the_local_control_plane_to_be_prepared_beside_the_platform(tmp_path):
    """run.sh asks run-cluster.sh not to wait for it: the exports say where its status goes."""
    env = _env(
        tmp_path,
        KUBECONFIG=str(tmp_path / "no-kubeconfig"),
        VAR_DIR=str(tmp_path / "var"),
        LOCALCLUSTER_BACKGROUND="1",
        HOME=str(tmp_path),
    )

    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "run-cluster.sh")],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 0, proc.stderr
    exports = dict(shlex.split(line)[1].split("=", 1) for line in proc.stdout.splitlines())
    state = tmp_path / "localcluster"
    assert exports == {
        "LOCALCLUSTER_PREPARE": "1",
        "CLUSTER_STATUS_FILE": str(tmp_path / "var" / "cluster-status.json"),
        "KUBECONFIG": str(state / "kubeconfig"),
        "HELM_BIN": str(state / "bin" / "helm"),
        "CHECK_STORE_URL": "false",
        "CLUSTER_MODE": "simulated",
    }
    assert "the local control plane is prepared beside the platform" in proc.stderr
    assert not state.exists()  # nothing built or started yet
    assert not (tmp_path / "calls.log").exists()


def test_the_plan_lists_what_is_left_to_build_in_order(tmp_path):
    env = _env(tmp_path)
    plan = subprocess.run(
        ["bash", str(REPO_ROOT / "localcluster" / "build.sh"), "plan"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert [line.split("=")[0] for line in plan] == BUILD_STEPS
    assert plan[-1] == "kube=Building kube-apiserver, kube-controller-manager, kube-scheduler and kubectl"

    versions = dict(
        line.split("#")[0].strip().split("=", 1)
        for line in (REPO_ROOT / "localcluster" / "versions.env").read_text().splitlines()
        if "=" in line
    )
    (tmp_path / "cache" / "bin").mkdir(parents=True, exist_ok=True)
    for name in ("etcd-" + versions["ETCD_VERSION"], "helm-" + versions["HELM_VERSION"]):
        (tmp_path / "cache" / "bin" / name).write_text("")
        (tmp_path / "cache" / "bin" / name).chmod(0o755)
    plan = subprocess.run(
        ["bash", str(REPO_ROOT / "localcluster" / "build.sh"), "plan"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert [line.split("=")[0] for line in plan] == ["kwok", "kwokctl", "kube-modules", "kube"]


def test_the_build_reports_each_step_and_keeps_how_long_they_took(tmp_path):
    status = tmp_path / "var" / "cluster-status.json"
    env = _env(tmp_path, LOCALCLUSTER_STATUS_FILE=str(status))
    plan = subprocess.run(
        ["bash", str(REPO_ROOT / "localcluster" / "build.sh"), "plan"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    _status(status, "begin", "--pid", str(os.getpid()), "--log", "build.log", env=env)
    _status(status, "plan", *plan, "start=Starting the control plane", env=env)

    subprocess.run(
        ["bash", str(REPO_ROOT / "localcluster" / "build.sh")], env=env, check=True, capture_output=True, text=True
    )

    report = json.loads(status.read_text())
    assert report["state"] == "preparing"
    assert (report["step"], report["of"]) == (6, 7)
    assert report["doing"] == "Building kube-apiserver, kube-controller-manager, kube-scheduler and kubectl"
    assert [(s["key"], s["state"]) for s in report["steps"]] == [
        *[(key, "done") for key in BUILD_STEPS[:-1]],
        ("kube", "running"),
        ("start", "pending"),
    ]
    # Every binary of the control plane is in the cache and linked, as after a real build.
    links = sorted(p.name for p in (tmp_path / "localcluster" / "bin").iterdir())
    assert links == [
        "etcd",
        "helm",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubectl",
        "kwok",
        "kwokctl",
    ]

    _status(status, "step", "start", env=env)
    _status(status, "ready", env=env)
    times = json.loads((tmp_path / "cache" / "build-times.json").read_text())
    assert sorted(times["steps"]) == sorted([*BUILD_STEPS, "start"])
    assert times["last_duration_seconds"] >= sum(times["steps"].values()) - 1


def test_a_build_that_fails_is_reported_with_its_last_words(tmp_path):
    var = tmp_path / "var"
    status = var / "cluster-status.json"
    env = _env(tmp_path, CLUSTER_STATUS_FILE=str(status), STANDIN_GO_FAIL="build")

    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "prepare-cluster.sh")],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert proc.returncode == 1, proc.stderr
    report = json.loads(status.read_text())
    assert report["state"] == "failed"
    assert report["reason"] == "localcluster/up.sh stopped (exit 1): stand-in go: build failed (STANDIN_GO_FAIL)"
    assert report["log"] == str(var / "cluster-prepare.log")
    assert [(s["key"], s["state"]) for s in report["steps"]][:2] == [("etcd", "failed"), ("kwok", "pending")]
    assert "could not be prepared (exit 1)" in proc.stderr
    assert "go build" in (tmp_path / "calls.log").read_text()
    assert not (tmp_path / "localcluster" / "kwok").exists()  # nothing was started


@pytest.mark.integration
def test_it_starts_the_stores_that_waited_once_the_cluster_answers(tmp_path, local_cluster):
    """The shared control plane already runs: the preparation finds it ready and starts the queue."""
    var = tmp_path / "var"
    status = var / "cluster-status.json"
    # The real go and binary cache: were the shared cluster to need building, this is what `make run` would do.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "LOCALCLUSTER_STATUS_FILE"}}
    env.update(
        CLUSTER_STATUS_FILE=str(status),
        LOCALCLUSTER_DIR=str(STATE_DIR),
        VAR_DIR=str(var),
        KUBECONFIG=str(local_cluster.kubeconfig),
        HELM_BIN=str(local_cluster.helm),
        CHECK_STORE_URL="false",
        CLUSTER_MODE="simulated",
        PYTHON=sys.executable,
    )

    def manage(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    manage("migrate", "--noinput")
    # Created before the preparation reports anything: it stays in line.
    manage("shell", "-c", "from django.contrib.auth.models import User; User.objects.create_user('owner')")
    assert "waiting-shop: queued" in manage(
        "stores", "create", "--owner", "owner", "--engine", "woocommerce", "--name", "waiting-shop"
    )
    assert "queued" in manage("stores", "list")

    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "prepare-cluster.sh")],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )

    assert proc.returncode == 0, proc.stderr
    assert json.loads(status.read_text())["state"] == "ready"
    assert "the local control plane is ready" in proc.stderr
    assert "started: waiting-shop" in proc.stderr
    assert "provisioning" in manage("stores", "list")
    # No worker runs here, so nothing was made in the cluster: the store goes with the database.
    assert "Kubernetes: v1." in proc.stderr  # stores doctor, once it is ready


def test_the_preparation_and_test_scripts_pass_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing: `make system-packages` installs Debian's package")
    scripts = [str(REPO_ROOT / "scripts" / name) for name in ("prepare-cluster.sh", "test.sh")]
    proc = subprocess.run(["shellcheck", *scripts], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
    proc = subprocess.run(["shellcheck", "-s", "sh", str(STANDIN / "go")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout

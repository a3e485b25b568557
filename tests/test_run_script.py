"""`make run`'s choice of cluster (scripts/run-cluster.sh).

kind and Docker cannot run here (no image can be pulled), so the kind path runs
against stand-in `kind`, `docker` and `kubectl` commands (tests/standin/) that
record their calls. The "current kubeconfig answers" and "local control plane"
paths run for real against the shared local control plane.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "run-cluster.sh"
STANDIN = REPO_ROOT / "tests" / "standin"
STATE_DIR = Path(os.environ.get("LOCALCLUSTER_DIR", REPO_ROOT / ".localcluster"))
MANIFEST = (
    "https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.12.1/"
    "deploy/static/provider/kind/deploy.yaml"
)


def run_cluster_script(tmp_path: Path, *, bin_dir: Path = STANDIN, kubeconfig: Path | None = None, **env: str):
    """Run the script with only `bin_dir` and the system's directories on PATH.

    Returns (exports, stderr, calls): the variables it prints for eval, its
    messages, and the stand-ins' recorded calls.
    """
    log = tmp_path / "calls.log"
    log.touch()
    proc = subprocess.run(
        ["bash", str(SCRIPT)],
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(tmp_path),  # no ~/.kube/config to fall back on
            "KUBECONFIG": str(kubeconfig or tmp_path / "no-such-kubeconfig"),
            "LOCALCLUSTER_DIR": str(STATE_DIR),
            "VAR_DIR": str(tmp_path / "var"),
            "PYTHON": sys.executable,
            "STANDIN_LOG": str(log),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    exports = {}
    for line in proc.stdout.splitlines():
        keyword, assignment = shlex.split(line)
        assert keyword == "export", line
        name, _, value = assignment.partition("=")
        exports[name] = value
    return exports, proc.stderr, log.read_text().splitlines()


# The chart's default Medusa image, which the kind path builds and loads.
MEDUSA_IMAGE = "localhost/store-provisioner/medusa:{}".format(
    yaml.safe_load((REPO_ROOT / "charts/medusa/values.yaml").read_text())["image"]["tag"]
)


def test_it_creates_the_kind_cluster_and_waits_for_ingress_nginx(tmp_path):
    exports, _, calls = run_cluster_script(tmp_path)

    kubeconfig = str(tmp_path / "var" / "kind-kubeconfig")
    assert calls == [
        "docker info",
        "kind get clusters",
        f"kind create cluster --config {REPO_ROOT}/kind-config.yaml --name store-provisioner",
        "kind get kubeconfig --name store-provisioner",
        f"kubectl --kubeconfig {kubeconfig} apply -f {MANIFEST}",
        f"kubectl --kubeconfig {kubeconfig} -n ingress-nginx rollout status deployment/ingress-nginx-controller "
        "--timeout=300s",
        f"kubectl --kubeconfig {kubeconfig} -n ingress-nginx wait --for=condition=ready pod "
        "-l app.kubernetes.io/component=controller --timeout=300s",
        f"docker image inspect {MEDUSA_IMAGE}",
        f"kind load docker-image {MEDUSA_IMAGE} --name store-provisioner",
    ]
    assert exports == {"KUBECONFIG": kubeconfig, "CLUSTER_MODE": "kind"}
    assert "kind-standin" in Path(kubeconfig).read_text()


def test_it_reuses_the_kind_cluster_when_it_exists(tmp_path):
    exports, stderr, calls = run_cluster_script(tmp_path, STANDIN_KIND_CLUSTERS="other store-provisioner")

    assert not [c for c in calls if c.startswith("kind create")]
    assert "kind get kubeconfig --name store-provisioner" in calls
    assert [c.split()[3] for c in calls if c.startswith("kubectl")] == ["apply", "-n", "-n"]
    assert calls[-3].endswith("wait --for=condition=ready pod -l app.kubernetes.io/component=controller --timeout=300s")
    assert exports["CLUSTER_MODE"] == "kind"
    assert "reusing the kind cluster store-provisioner" in stderr


def test_it_builds_the_medusa_store_image_for_kind_when_docker_lacks_it(tmp_path):
    _, stderr, calls = run_cluster_script(tmp_path, STANDIN_DOCKER_IMAGES="none")

    build = f"docker build -f {REPO_ROOT}/charts/medusa/image/Dockerfile -t {MEDUSA_IMAGE} {REPO_ROOT}"
    assert calls[-3:] == [
        f"docker image inspect {MEDUSA_IMAGE}",
        build,
        f"kind load docker-image {MEDUSA_IMAGE} --name store-provisioner",
    ]
    assert "building the Medusa store image" in stderr


def test_it_names_the_cluster_and_manifest_it_is_given(tmp_path):
    _, _, calls = run_cluster_script(tmp_path, KIND_CLUSTER_NAME="shops", INGRESS_NGINX_MANIFEST="/srv/ingress.yaml")

    assert f"kind create cluster --config {REPO_ROOT}/kind-config.yaml --name shops" in calls
    assert any(c.endswith("apply -f /srv/ingress.yaml") for c in calls)


def _assert_local_control_plane(exports: dict, stderr: str) -> None:
    assert exports == {
        "KUBECONFIG": str(STATE_DIR / "kubeconfig"),
        "HELM_BIN": str(STATE_DIR / "bin" / "helm"),
        "CHECK_STORE_URL": "false",
        "CLUSTER_MODE": "simulated",
    }
    assert "SIMULATED CLUSTER: stores are provisioned for real against a local" in stderr
    # The kubeconfig it hands over reaches a live API server.
    version = subprocess.run(
        [sys.executable, "-c", "from stores.cluster import connect; print(connect(request_timeout=5).version())"],
        cwd=REPO_ROOT,
        env={**os.environ, "KUBECONFIG": exports["KUBECONFIG"]},
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.startswith("v1.")


@pytest.mark.integration
def test_it_starts_the_local_control_plane_when_docker_is_not_running(tmp_path, local_cluster):
    exports, stderr, calls = run_cluster_script(tmp_path, STANDIN_DOCKER_INFO="fail")

    assert calls == ["docker info"]  # and never kind
    assert "docker info fails" in stderr
    _assert_local_control_plane(exports, stderr)


@pytest.mark.integration
def test_it_starts_the_local_control_plane_when_kind_is_missing(tmp_path, local_cluster):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("docker", "kubectl"):
        (bin_dir / tool).symlink_to(STANDIN / tool)
    assert shutil.which("kind", path=f"{bin_dir}:/usr/bin:/bin") is None

    exports, stderr, calls = run_cluster_script(tmp_path, bin_dir=bin_dir)

    assert calls == []
    assert "not found on PATH: kind" in stderr
    _assert_local_control_plane(exports, stderr)


@pytest.mark.integration
def test_it_uses_the_current_kubeconfig_as_is_when_its_cluster_answers(tmp_path, local_cluster):
    exports, stderr, calls = run_cluster_script(tmp_path, kubeconfig=local_cluster.kubeconfig)

    assert exports == {"CLUSTER_MODE": "kubeconfig"}
    assert calls == []  # neither docker nor kind nor kubectl
    assert "using the current kubeconfig's cluster (Kubernetes v1." in stderr
    assert "SIMULATED" not in stderr


@pytest.mark.integration
def test_it_goes_to_the_local_control_plane_when_asked_to_simulate(tmp_path, local_cluster):
    # `make demo`: even a kubeconfig that answers is passed over.
    exports, stderr, calls = run_cluster_script(tmp_path, kubeconfig=local_cluster.kubeconfig, CLUSTER_MODE="simulated")

    assert calls == []
    _assert_local_control_plane(exports, stderr)


def test_the_scripts_pass_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing: `make system-packages` installs Debian's package")
    for script in ("scripts/run.sh", "scripts/run-cluster.sh"):
        proc = subprocess.run(["shellcheck", str(REPO_ROOT / script)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{script}:\n{proc.stdout}"
    for standin in ("kind", "docker", "kubectl"):
        proc = subprocess.run(["shellcheck", "-s", "sh", str(STANDIN / standin)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{standin}:\n{proc.stdout}"

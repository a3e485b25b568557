"""charts/platform against the local control plane (real API server, real helm).

Lint with every values file, a strict server-side dry run of everything it
renders in a namespace that enforces Pod Security `restricted`, then the
platform installed from its chart with values-local.yaml and `helm install
--wait --wait-for-jobs`, refused a second install beside it, upgraded (a new
migrations Job), and uninstalled.
kwok simulates the pods: any image "runs", Jobs complete, claims bind; what
this proves is what the API server and Helm accept and how the objects fit
together, not that the image serves (the Dockerfile cannot be built here).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.waiting import wait_for

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "platform"
VALUES_FILES = ["values.yaml", "values-local.yaml", "values-k3s.yaml"]
# Cluster-scoped objects (RBAC) carry the release name: one no other test uses.
RELEASE = "platform-ct"
INSTALL_NAMESPACE = "platform-chart-test"
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"}


def run(local_cluster, tool: str, *args: str, stdin: str | None = None, timeout: int = 300):
    env = {**os.environ, "KUBECONFIG": str(local_cluster.kubeconfig)}
    for name in ("HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"):
        env.setdefault(name, f"/tmp/platform-chart-tests/{name.lower()}")
    binary = str(local_cluster.helm) if tool == "helm" else str(local_cluster.bin_dir / "kubectl")
    return subprocess.run(
        [binary, *args], input=stdin, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def kubectl_json(local_cluster, *args: str) -> dict:
    result = run(local_cluster, "kubectl", *args, "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@contextmanager
def namespace(local_cluster, name: str, labels: dict | None = None) -> Iterator[str]:
    run(local_cluster, "kubectl", "delete", "namespace", name, "--ignore-not-found", "--wait=true", timeout=120)
    result = run(local_cluster, "kubectl", "create", "namespace", name)
    assert result.returncode == 0, result.stderr
    try:
        if labels:
            pairs = [f"{k}={v}" for k, v in labels.items()]
            assert run(local_cluster, "kubectl", "label", "namespace", name, *pairs).returncode == 0
        yield name
    finally:
        run(local_cluster, "kubectl", "delete", "namespace", name, "--wait=false")


def create_secret(local_cluster, ns: str) -> None:
    # What README "Production" tells an operator to create; hex passwords are URL-safe.
    result = run(
        local_cluster,
        "kubectl",
        "-n",
        ns,
        "create",
        "secret",
        "generic",
        "platform-secrets",
        f"--from-literal=secret-key={secrets.token_urlsafe(50)}",
        f"--from-literal=postgres-password={secrets.token_hex(24)}",
        f"--from-literal=database-url=postgres://provisioner:{secrets.token_hex(8)}@db.example:5432/p",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_it_lints_strictly(local_cluster, values_file):
    result = run(local_cluster, "helm", "lint", "--strict", str(CHART_DIR), "-f", str(CHART_DIR / values_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_every_object_passes_a_server_side_dry_run(local_cluster, values_file):
    with namespace(local_cluster, f"platform-chart-dry-{secrets.token_hex(3)}", RESTRICTED) as ns:
        rendered = run(
            local_cluster, "helm", "template", RELEASE, str(CHART_DIR), "-n", ns, "-f", str(CHART_DIR / values_file)
        )
        assert rendered.returncode == 0, rendered.stderr
        result = run(
            local_cluster,
            "kubectl",
            "apply",
            "-n",
            ns,
            "--dry-run=server",
            "--validate=strict",
            "-f",
            "-",
            stdin=rendered.stdout,
        )
        assert result.returncode == 0, result.stderr
        applied = [line for line in result.stdout.splitlines() if line.endswith("(server dry run)")]
        assert len(applied) == rendered.stdout.count("\nkind: "), result.stdout
        # Pod Security `restricted` is enforced here: a pod template that
        # breaks it draws a warning on its Deployment, StatefulSet or Job.
        assert "Warning" not in result.stderr, result.stderr


def test_the_platform_installs_comes_up_upgrades_and_uninstalls(local_cluster):
    values = str(CHART_DIR / "values-local.yaml")
    with namespace(local_cluster, INSTALL_NAMESPACE) as ns:
        create_secret(local_cluster, ns)
        try:
            result = run(
                local_cluster,
                "helm",
                "install",
                RELEASE,
                str(CHART_DIR),
                "-n",
                ns,
                "-f",
                values,
                "--wait",
                "--wait-for-jobs",
                "--timeout",
                "4m",
            )
            assert result.returncode == 0, result.stderr

            deployments = {
                d["metadata"]["name"]: d["status"]
                for d in kubectl_json(local_cluster, "-n", ns, "get", "deployments")["items"]
            }
            assert {name: (s.get("availableReplicas"), s.get("replicas")) for name, s in deployments.items()} == {
                f"{RELEASE}-web": (2, 2),
                f"{RELEASE}-provision": (2, 2),
                f"{RELEASE}-control": (2, 2),
            }
            job = kubectl_json(local_cluster, "-n", ns, "get", "job", f"{RELEASE}-migrate-1")
            assert job["status"].get("succeeded") == 1
            sts = kubectl_json(local_cluster, "-n", ns, "get", "statefulset", f"{RELEASE}-postgresql")
            assert sts["status"].get("readyReplicas") == 1
            claim = kubectl_json(local_cluster, "-n", ns, "get", "pvc", f"data-{RELEASE}-postgresql-0")
            assert claim["status"]["phase"] == "Bound"
            pods = kubectl_json(local_cluster, "-n", ns, "get", "pods", "-l", f"app.kubernetes.io/instance={RELEASE}")[
                "items"
            ]
            accounts = {
                p["metadata"]["labels"]["app.kubernetes.io/component"]: p["spec"].get("serviceAccountName")
                for p in pods
            }
            assert accounts == {
                "web": f"{RELEASE}-web",
                "provision": RELEASE,
                "control": RELEASE,
                "migrate": RELEASE,
                "postgresql": "default",
            }

            # A second platform in the same cluster is refused before anything
            # is created (it would take the first one's stores for its own).
            second = run(
                local_cluster,
                "helm",
                "install",
                f"{RELEASE}-second",
                str(CHART_DIR),
                "-n",
                ns,
                "-f",
                values,
                "--timeout",
                "1m",
            )
            assert second.returncode != 0
            assert "this cluster already runs Store Provisioner" in second.stderr, second.stderr
            assert f'release "{RELEASE}" in namespace "{ns}"' in second.stderr, second.stderr
            releases = json.loads(run(local_cluster, "helm", "list", "-n", ns, "-a", "-o", "json").stdout)
            assert [r["name"] for r in releases] == [RELEASE]

            # An upgrade runs the migrations again under a new name and drops
            # the old Job; the pods roll (the configuration changed).
            result = run(
                local_cluster,
                "helm",
                "upgrade",
                RELEASE,
                str(CHART_DIR),
                "-n",
                ns,
                "-f",
                values,
                "--set-string",
                "config.MAX_STORES_PER_USER=4",
                "--wait",
                "--wait-for-jobs",
                "--timeout",
                "4m",
            )
            assert result.returncode == 0, result.stderr
            jobs = {
                j["metadata"]["name"]: j["status"].get("succeeded")
                for j in kubectl_json(local_cluster, "-n", ns, "get", "jobs")["items"]
            }
            assert jobs == {f"{RELEASE}-migrate-2": 1}
            config = kubectl_json(local_cluster, "-n", ns, "get", "configmap", RELEASE)["data"]
            assert config["MAX_STORES_PER_USER"] == "4"
        finally:
            uninstalled = run(local_cluster, "helm", "uninstall", RELEASE, "-n", ns, "--wait", "--timeout", "2m")
        assert uninstalled.returncode == 0, uninstalled.stderr
        wait_for(
            lambda: (
                not kubectl_json(local_cluster, "-n", ns, "get", "pods", "-l", f"app.kubernetes.io/instance={RELEASE}")[
                    "items"
                ]
            ),
            timeout=120,
            interval=1,
            what="the platform's pods to be gone",
        )

"""Connecting to the cluster and Helm with the platform's settings.

Every module of the work layer reaches the cluster through `connect()` and
`helm()` here (looked up on this module at call time, so the unit tests'
fakes replace both in one place: stores/tests/fixtures.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.conf import settings

from stores import cluster


def helm_binary() -> str:
    """HELM_BIN, else `helm` on PATH, else the build `make cluster` caches."""
    if settings.HELM_BIN:
        return settings.HELM_BIN
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    for candidate in _built_helm_candidates():
        if candidate.exists():
            return str(candidate)
    return "helm"


def _built_helm_candidates() -> list[Path]:
    base = Path(settings.BASE_DIR)
    candidates = [base / ".localcluster" / "bin" / "helm"]
    versions = base / "localcluster" / "versions.env"
    if versions.exists():
        pinned = dict(
            line.split("#")[0].strip().split("=", 1)
            for line in versions.read_text().splitlines()
            if "=" in line.split("#")[0]
        )
        cache = Path(os.environ.get("STORE_PROVISIONER_CACHE", Path.home() / ".cache" / "store-provisioner"))
        if "HELM_VERSION" in pinned:
            candidates.append(cache / "bin" / f"helm-{pinned['HELM_VERSION']}")
    return candidates


def connect(request_timeout: float | None = None) -> cluster.Kubernetes:
    return cluster.connect(
        kubeconfig=settings.KUBECONFIG or None,
        context=settings.KUBE_CONTEXT or None,
        request_timeout=request_timeout or settings.KUBE_REQUEST_TIMEOUT,
    )


def helm() -> cluster.Helm:
    return cluster.HelmCli(
        helm_binary(), kubeconfig=settings.KUBECONFIG or None, kube_context=settings.KUBE_CONTEXT or None
    )

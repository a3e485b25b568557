"""Helpers for the woocommerce chart tests (no cluster needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from stores.engines import StoreSpec
from stores.engines.woocommerce import WOOCOMMERCE

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "woocommerce"

RELEASE = "store-acme"
NAMESPACE = "store-acme"



def platform_values(release: str = RELEASE) -> dict:
    """The values the platform itself passes for the store behind `release`,
    built by the WooCommerce engine, so the chart is tested against them."""
    slug = release.removeprefix("store-")
    host = f"store-{slug}.127.0.0.1.nip.io"
    spec = StoreSpec(
        slug=slug, store_id=1, owner="alice", owner_email="alice@example.org",
        host=host, url=f"http://{host}", ingress_class="nginx",
    )
    return WOOCOMMERCE.build_values(spec)


PLATFORM_VALUES = platform_values()


def find_helm() -> str | None:
    """HELM_BIN, else the local cluster's helm, else helm on PATH."""
    candidates = [
        os.environ.get("HELM_BIN"),
        str(Path(os.environ.get("LOCALCLUSTER_DIR", REPO_ROOT / ".localcluster")) / "bin" / "helm"),
        shutil.which("helm"),
    ]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_helm(helm: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # Keep helm away from any user configuration or cache.
    env.setdefault("HELM_CONFIG_HOME", "/tmp/woocommerce-chart-tests/helm-config")
    env.setdefault("HELM_CACHE_HOME", "/tmp/woocommerce-chart-tests/helm-cache")
    env.setdefault("HELM_DATA_HOME", "/tmp/woocommerce-chart-tests/helm-data")
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120, env=env, check=False)


def render(helm: str, values_file: Path, *extra: str, release: str = RELEASE) -> list[dict]:
    """`helm template` the chart and return the rendered objects."""
    result = run_helm(helm, "template", release, str(CHART_DIR), "-n", NAMESPACE, "-f", str(values_file), *extra)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

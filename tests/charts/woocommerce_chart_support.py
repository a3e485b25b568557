"""Helpers for the woocommerce chart tests (no cluster needed)."""

from __future__ import annotations

from pathlib import Path

from stores.engines import StoreSpec
from stores.engines.woocommerce import WOOCOMMERCE
from tests.chart_tools import REPO_ROOT, run_helm, template

__all__ = ["CHART_DIR", "NAMESPACE", "PLATFORM_VALUES", "RELEASE", "platform_values", "render", "run_helm"]

CHART_DIR = REPO_ROOT / "charts" / "woocommerce"

RELEASE = "store-acme"
NAMESPACE = "store-acme"


def platform_values(release: str = RELEASE) -> dict:
    """The values the platform itself passes for the store behind `release`,
    built by the WooCommerce engine, so the chart is tested against them."""
    slug = release.removeprefix("store-")
    host = f"store-{slug}.127.0.0.1.nip.io"
    spec = StoreSpec(
        slug=slug,
        store_id=1,
        owner="alice",
        owner_email="alice@example.org",
        host=host,
        url=f"http://{host}",
        ingress_class="nginx",
    )
    return WOOCOMMERCE.build_values(spec)


PLATFORM_VALUES = platform_values()


def render(helm: str, values_file: Path, *extra: str, release: str = RELEASE) -> list[dict]:
    """`helm template` the chart and return the rendered objects."""
    return template(helm, release, CHART_DIR, "-n", NAMESPACE, "-f", str(values_file), *extra)

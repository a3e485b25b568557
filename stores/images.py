"""The image doctor (`manage.py stores doctor`): can every image the engines pin be pulled?"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from stores import releases
from stores.cluster import registry
from stores.engines import ENGINES


def pinned_images() -> list[str]:
    """Every image the available engines' charts pull, as a release would get
    them (an image mirror in a values file wins), for `stores doctor`."""
    images: list[str] = []
    for engine in ENGINES.values():
        chart = Path(settings.CHARTS_DIR) / engine.chart
        if not engine.available or not (chart / "values.yaml").exists():
            continue
        images += [ref for ref in releases.chart_images(chart) if ref not in images]
    return images


def check_pinned_images() -> registry.ImageReport:
    """Whether each pinned image can be pulled."""
    return registry.check_images(pinned_images(), docker_hub_url=settings.IMAGE_REGISTRY_URL)

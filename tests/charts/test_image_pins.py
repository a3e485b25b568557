"""The chart's image pins are tags the Docker official-images library lists."""

from __future__ import annotations

import re

import yaml

from tests.charts.official_images import LIBRARY_TAGS
from tests.charts.woocommerce_chart_support import CHART_DIR

VALUES = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
CHART = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())


def _pin(component: str) -> tuple[str, str]:
    image = VALUES[component]["image"]
    return image["repository"].removeprefix("docker.io/library/"), str(image["tag"])


def test_it_pins_tags_the_library_lists():
    for component in ("wordpress", "mariadb", "cli"):
        name, tag = _pin(component)
        assert tag in LIBRARY_TAGS[name], f"{component}: {name}:{tag} is not in library/{name}"


def test_it_pins_full_versions_not_moving_tags():
    assert re.fullmatch(r"\d+\.\d+\.\d+-php\d+\.\d+-apache", _pin("wordpress")[1])
    assert re.fullmatch(r"11\.8\.\d+", _pin("mariadb")[1])
    assert re.fullmatch(r"cli-\d+\.\d+\.\d+-php\d+\.\d+", _pin("cli")[1])


def test_it_runs_wp_cli_on_the_php_of_the_web_server():
    web_php = re.search(r"-php(\d+\.\d+)-", _pin("wordpress")[1]).group(1)
    cli_php = re.search(r"-php(\d+\.\d+)$", _pin("cli")[1]).group(1)
    assert web_php == cli_php


def test_it_states_the_wordpress_version_as_the_app_version():
    assert _pin("wordpress")[1].startswith(f"{CHART['appVersion']}-")

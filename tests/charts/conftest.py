"""Fixtures for the chart tests (no cluster needed); `helm` and `kube_score` are
tests/chart_tools.py's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.charts.woocommerce_chart_support import PLATFORM_VALUES


@pytest.fixture(scope="session")
def platform_values_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("values") / "platform-values.yaml"
    path.write_text(yaml.safe_dump(PLATFORM_VALUES, sort_keys=False))
    return path

"""Fixtures for the chart tests (no cluster needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from woocommerce_chart_support import PLATFORM_VALUES, find_helm


@pytest.fixture(scope="session")
def helm() -> str:
    path = find_helm()
    if path is None:
        pytest.skip("no helm binary (HELM_BIN, .localcluster/bin/helm or PATH)")
    return path


@pytest.fixture(scope="session")
def kube_score() -> str:
    from test_kube_score import find_kube_score

    path = find_kube_score()
    if path is None:
        pytest.skip("no kube-score binary: make kube-score builds it")
    return path


@pytest.fixture(scope="session")
def platform_values_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("values") / "platform-values.yaml"
    path.write_text(yaml.safe_dump(PLATFORM_VALUES, sort_keys=False))
    return path

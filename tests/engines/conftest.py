"""Fixtures of the engines' conformance suite."""

from __future__ import annotations

import pytest

from tests.engines.support import Charts, Scores


@pytest.fixture(scope="session")
def charts(helm, tmp_path_factory) -> Charts:
    """Every engine's chart, rendered with the platform's values once per session."""
    return Charts(helm, tmp_path_factory.mktemp("engine-values"))


@pytest.fixture(scope="session")
def scores(kube_score, charts, tmp_path_factory) -> Scores:
    """kube-score's findings in each engine's store namespace, once per profile and session."""
    return Scores(kube_score, charts, tmp_path_factory.mktemp("kube-score"))

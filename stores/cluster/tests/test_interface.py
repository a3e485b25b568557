"""The real Cluster and Helm, and the unit tests' fakes, all implement the layer's Protocols."""

from __future__ import annotations

import inspect

import pytest

from stores.cluster import Cluster, ClusterApi, Helm, HelmApi
from stores.tests.fakes import FakeCluster, FakeHelm

P = inspect.Parameter


def _methods(protocol) -> list[str]:
    return sorted(n for n, v in vars(protocol).items() if inspect.isfunction(v) and not n.startswith("_"))


def _mismatches(impl, protocol) -> list[str]:
    """How `impl` fails to accept every call the protocol allows (empty when it conforms)."""
    problems = []
    for name in _methods(protocol):
        if not callable(getattr(impl, name, None)):
            problems.append(f"{name}: missing")
            continue
        wanted = list(inspect.signature(getattr(protocol, name)).parameters.values())[1:]
        given = list(inspect.signature(getattr(impl, name)).parameters.values())[1:]
        by_name = {p.name: p for p in given}
        takes_kwargs = any(p.kind is P.VAR_KEYWORD for p in given)
        positional = [p.name for p in given if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
        for index, want in enumerate(wanted):
            have = by_name.get(want.name)
            if have is None:
                # A keyword-only argument may land in **kwargs; a positional one may not.
                if not (want.kind is P.KEYWORD_ONLY and takes_kwargs):
                    problems.append(f"{name}: no parameter {want.name}")
                continue
            if want.kind is P.POSITIONAL_OR_KEYWORD and (
                have.kind is not P.POSITIONAL_OR_KEYWORD or positional.index(have.name) != index
            ):
                problems.append(f"{name}: {want.name} must be positional #{index + 1}")
            if want.kind is P.KEYWORD_ONLY and have.kind not in (P.KEYWORD_ONLY, P.POSITIONAL_OR_KEYWORD):
                problems.append(f"{name}: {want.name} must be accepted by keyword")
            if want.default is not P.empty and have.default is P.empty:
                problems.append(f"{name}: {want.name} needs a default, callers may leave it out")
        for extra in given:
            if extra.name not in {w.name for w in wanted} and extra.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD):
                if extra.default is P.empty:
                    problems.append(f"{name}: extra parameter {extra.name} needs a default")
    return problems


@pytest.mark.parametrize(
    "impl, protocol",
    [(Cluster, ClusterApi), (FakeCluster, ClusterApi), (Helm, HelmApi), (FakeHelm, HelmApi)],
    ids=["Cluster", "FakeCluster", "Helm", "FakeHelm"],
)
def test_it_implements_the_protocol(impl, protocol):
    assert _methods(protocol), "the protocol lists no methods"
    assert _mismatches(impl, protocol) == []


def test_it_catches_a_drifted_signature():
    class Drifted:
        def version(self, verbose):  # an argument no caller passes
            return "v1"

        def read_secret(self, name, namespace):  # swapped
            return None

        def delete_unfinished_jobs(self, namespace, label_selector):  # lost its default
            return []

        def wait_until_ready(self, namespace, *, should_stop, **_):  # the rest in **kwargs is fine
            pass

    problems = _mismatches(Drifted, ClusterApi)

    assert "version: extra parameter verbose needs a default" in problems
    assert "read_secret: namespace must be positional #1" in problems
    assert "delete_unfinished_jobs: label_selector needs a default, callers may leave it out" in problems
    assert "ensure_namespace: missing" in problems
    assert not [p for p in problems if p.startswith("wait_until_ready")]


def test_an_instance_passes_the_runtime_check():
    assert isinstance(FakeCluster(), ClusterApi)
    assert isinstance(FakeHelm(), HelmApi)

"""charts/platform's store-manager ClusterRole covers every kind an engine's chart may create.

The engine contract names those kinds (`contract.CHART_KINDS`), and the
engines' conformance suite (tests/engines/) holds every chart to them. A new
kind in a chart (a CronJob, a PodDisruptionBudget...) would be refused to the
platform's ServiceAccount at install time on a real cluster; the suite says so
first, and this test says what the ClusterRole must then grant, without a
cluster.
"""

from __future__ import annotations

from stores.engines.contract import CHART_KINDS, SECRET_NAME
from tests.chart_tools import REPO_ROOT, template

RELEASE = "sp"
# What Helm does to a chart's objects: read the live one, create, three-way patch, delete.
HELM_VERBS = {"get", "create", "patch", "delete"}


def _render(helm: str, chart: str, *args: str) -> list[dict]:
    return template(helm, RELEASE, REPO_ROOT / "charts" / chart, "-n", "store-acme", *args)


def _role(helm: str, role: str) -> dict:
    (cluster_role,) = [
        doc
        for doc in _render(helm, "platform", "--show-only", "templates/rbac.yaml")
        if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == role
    ]
    return cluster_role


def _rules(helm: str, role: str) -> dict[tuple[str, str], set[str]]:
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in _role(helm, role)["rules"]:
        assert not rule.get("resourceNames") or role in (f"{RELEASE}-platform", f"{RELEASE}-store-reader"), rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    return granted


def test_it_lets_helm_manage_every_kind_an_engine_may_render(helm):
    granted = _rules(helm, f"{RELEASE}-store-manager")
    for kind, resource in sorted(CHART_KINDS.items()):
        missing = HELM_VERBS - granted.get(resource, set())
        assert not missing, f"{kind}: the store manager lacks {sorted(missing)} (charts/platform/templates/rbac.yaml)"


def test_it_lets_helm_keep_its_release_records(helm):
    # Helm stores each revision as a Secret: it lists them, creates one, marks the
    # previous one superseded (update) and deletes those past --history-max.
    assert {"get", "list", "create", "update", "delete"} <= _rules(helm, f"{RELEASE}-store-manager")[("", "secrets")]


def test_it_grants_no_secrets_and_no_workloads_cluster_wide(helm):
    granted = _rules(helm, f"{RELEASE}-platform")
    assert set(granted) == {
        ("", "namespaces"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("", "nodes"),
        ("", "endpoints"),
    }
    assert granted[("rbac.authorization.k8s.io", "clusterroles")] == {"bind"}
    assert granted[("rbac.authorization.k8s.io", "rolebindings")] == {"create"}
    # The cluster's own addresses, which store egress must not reach: reads only.
    assert granted[("", "nodes")] == {"list"}
    assert granted[("", "endpoints")] == {"get"}


def _platform_rules(helm) -> list[dict]:
    """The rules of the platform's cluster-wide ClusterRole."""
    return [
        rule
        for doc in _render(helm, "platform", "--show-only", "templates/rbac.yaml")
        if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == f"{RELEASE}-platform"
        for rule in doc["rules"]
    ]


def test_it_reads_the_api_servers_endpoints_by_name_only(helm):
    (endpoints,) = [rule for rule in _platform_rules(helm) if "endpoints" in rule["resources"]]
    assert endpoints["resourceNames"] == ["kubernetes"]


def test_it_lets_the_platform_bind_the_two_store_roles_only(helm):
    (bind,) = [rule for rule in _platform_rules(helm) if "bind" in rule["verbs"]]
    assert bind["resourceNames"] == [f"{RELEASE}-store-manager", f"{RELEASE}-store-reader"]


def test_the_store_reader_grants_exactly_the_store_pages_reads(helm):
    # stores/credentials.py reads the store's Secret by name; stores/live.py lists
    # pods, Events and ResourceQuotas. Nothing else, nothing that writes.
    rules = _role(helm, f"{RELEASE}-store-reader")["rules"]
    assert sorted(
        (tuple(r["apiGroups"]), tuple(sorted(r["resources"])), tuple(r["verbs"]), tuple(r.get("resourceNames", [])))
        for r in rules
    ) == [
        (("",), ("events", "pods", "resourcequotas"), ("list",), ()),
        (("",), ("secrets",), ("get",), (SECRET_NAME,)),
    ]

"""charts/platform's store-manager ClusterRole covers every kind the engines' charts create.

A new kind in an engine's chart (a CronJob, a PodDisruptionBudget...) would be
refused to the platform's ServiceAccount at install time on a real cluster;
this test says so first, without a cluster.
"""

from __future__ import annotations

import pytest
import yaml

from stores.engines import ENGINES, StoreSpec
from woocommerce_chart_support import REPO_ROOT, run_helm

RELEASE = "sp"
# kind -> (API group, resource) for the kinds the engines' charts render today.
RESOURCES = {
    "ConfigMap": ("", "configmaps"),
    "Service": ("", "services"),
    "PersistentVolumeClaim": ("", "persistentvolumeclaims"),
    "Secret": ("", "secrets"),
    "Deployment": ("apps", "deployments"),
    "StatefulSet": ("apps", "statefulsets"),
    "Job": ("batch", "jobs"),
    "Ingress": ("networking.k8s.io", "ingresses"),
    "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
}
# What Helm does to a chart's objects: read the live one, create, three-way patch, delete.
HELM_VERBS = {"get", "create", "patch", "delete"}


def _render(helm: str, chart: str, *args: str) -> list[dict]:
    result = run_helm(helm, "template", RELEASE, str(REPO_ROOT / "charts" / chart), "-n", "store-acme", *args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _rules(helm: str, role: str) -> dict[tuple[str, str], set[str]]:
    (cluster_role,) = [
        doc for doc in _render(helm, "platform", "--show-only", "templates/rbac.yaml")
        if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == role
    ]
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in cluster_role["rules"]:
        assert not rule.get("resourceNames") or role == f"{RELEASE}-platform", rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    return granted


def _engine_kinds(helm: str, tmp_path, key: str, profile: str) -> set[str]:
    engine = ENGINES[key]
    spec = StoreSpec(slug="acme", store_id=1, owner="alice", owner_email="alice@example.org",
                     host="store-acme.example.org", url="http://store-acme.example.org", ingress_class="nginx")
    values = tmp_path / f"{key}-values.yaml"
    values.write_text(yaml.safe_dump(engine.build_values(spec)))
    chart = REPO_ROOT / "charts" / engine.chart
    profile_args = ["-f", str(chart / f"values-{profile}.yaml")] if profile else []
    return {doc["kind"] for doc in _render(helm, engine.chart, *profile_args, "-f", str(values))}


@pytest.mark.parametrize("key", sorted(ENGINES))
@pytest.mark.parametrize("profile", ["", "kind", "k3s"])
def test_it_lets_helm_manage_every_kind_an_engine_renders(helm, tmp_path, key, profile):
    granted = _rules(helm, f"{RELEASE}-store-manager")
    for kind in sorted(_engine_kinds(helm, tmp_path, key, profile)):
        assert kind in RESOURCES, f"{key} renders a {kind}: add it to the store-manager ClusterRole (charts/platform/templates/rbac.yaml) and here"
        missing = HELM_VERBS - granted.get(RESOURCES[kind], set())
        assert not missing, f"{key}'s {kind}: the store manager lacks {sorted(missing)}"


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
    }
    assert granted[("rbac.authorization.k8s.io", "clusterroles")] == {"bind"}
    assert granted[("rbac.authorization.k8s.io", "rolebindings")] == {"create"}


def test_it_lets_the_platform_bind_the_store_manager_only(helm):
    (bind,) = [
        rule
        for doc in _render(helm, "platform", "--show-only", "templates/rbac.yaml")
        if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == f"{RELEASE}-platform"
        for rule in doc["rules"] if "bind" in rule["verbs"]
    ]
    assert bind["resourceNames"] == [f"{RELEASE}-store-manager"]

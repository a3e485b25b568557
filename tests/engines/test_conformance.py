"""The engine contract (stores/engines/contract.py), held for every engine.

Each engine of `stores.engines.ENGINES`, and the test-only webshop engine
(tests/engines/webshop.py), with each values profile its chart ships: the chart
is rendered as the platform installs it, with the values the engine's own
`build_values` gives (tests/engines/support.py), once per session. What is
particular to one engine stays in that engine's own chart tests
(tests/charts/test_<engine>_chart.py); the server-side dry run is in
test_conformance_dry_run.py.
"""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml

from stores.engines.contract import (
    CHART_KINDS,
    COMPONENT_LABEL,
    CONTAINER_RESOURCES,
    EGRESS_LABEL,
    EGRESS_LABEL_VALUE,
    INGRESS_LABEL,
    INGRESS_LABEL_VALUE,
    MAIL_LABEL,
    MAIL_LABEL_VALUE,
    OPEN_VALUES,
    PLACEMENT_VALUES,
    SECRET_NAME,
    SETUP_COMPONENT,
)
from stores.mail import MAIL_SECRET_NAME
from tests.engines.support import (
    MAIL_SPEC,
    SPEC,
    TLS_SPEC,
    WILDCARD_SPEC,
    case_params,
    chart_dir,
    component,
    containers,
    engine_params,
    guardrails,
    name_of,
    pod_labels,
    profiles,
    quantity,
    secret_keys_read,
    secret_refs,
    selects,
    workloads,
)

CASES = case_params()
ENGINES = engine_params()

# --- lint and render ----------------------------------------------------------------


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_it_lints_strict_clean(charts, engine, profile):
    result = charts.run(engine, "lint", "--strict", profile=profile)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[WARNING]" not in output and "[ERROR]" not in output, output


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_it_renders_with_the_platforms_values(charts, engine, profile):
    objects = charts.render(engine, profile)
    assert workloads(objects), "no Deployment, StatefulSet or Job: nothing would run"


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_it_renders_only_the_kinds_the_platform_may_manage_and_no_secret(charts, engine, profile):
    kinds = {obj["kind"] for obj in charts.render(engine, profile)}
    assert "Secret" not in kinds, "the store's Secret is the platform's (contract.SECRET_NAME)"
    assert kinds <= set(CHART_KINDS), (
        f"{sorted(kinds - set(CHART_KINDS))}: add to contract.CHART_KINDS and to the store-manager "
        "ClusterRole (charts/platform/templates/rbac.yaml), or the platform cannot install it"
    )


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_nothing_leaves_the_stores_namespace(charts, engine, profile):
    for obj in charts.render(engine, profile):
        assert "namespace" not in obj["metadata"], f"{name_of(obj)} names a namespace of its own"
        if obj["kind"] == "Service":
            # The quota allows no NodePort or LoadBalancer: a store is reached through the ingress.
            assert obj["spec"].get("type", "ClusterIP") == "ClusterIP", name_of(obj)


# --- labels and network -----------------------------------------------------------------


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_every_pod_names_its_component(charts, engine, profile):
    for workload in workloads(charts.render(engine, profile)):
        assert pod_labels(workload).get(COMPONENT_LABEL), f"{name_of(workload)}: no {COMPONENT_LABEL} on its pods"


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_a_setup_job_is_labelled_for_the_platform_and_is_no_hook(charts, engine, profile):
    # The platform deletes Jobs labelled setup before a retry or an upgrade (a Job's pod
    # template is immutable) and waits for them itself: a Helm hook would escape both.
    for job in (obj for obj in charts.render(engine, profile) if obj["kind"] == "Job"):
        assert job["metadata"]["labels"][COMPONENT_LABEL] == SETUP_COMPONENT, name_of(job)
        assert pod_labels(job)[COMPONENT_LABEL] == SETUP_COMPONENT, name_of(job)
        annotations = job["metadata"].get("annotations") or {}
        assert not [key for key in annotations if key.startswith("helm.sh/hook")], name_of(job)


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_the_pods_behind_the_ingress_and_only_those_are_labelled_for_it(charts, engine, profile):
    objects = charts.render(engine, profile)
    services = {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == "Service"}
    ingresses = [obj for obj in objects if obj["kind"] == "Ingress"]
    assert ingresses, "the platform enables the ingress (ingress.enabled): the chart renders an Ingress"
    backends = set()
    for ingress in ingresses:
        assert ingress["spec"]["ingressClassName"] == SPEC.ingress_class, name_of(ingress)
        for rule in ingress["spec"]["rules"]:
            assert rule["host"] == SPEC.host, name_of(ingress)
            backends |= {path["backend"]["service"]["name"] for path in rule["http"]["paths"]}
    reached = set()
    for name in backends:
        assert name in services, f"the Ingress routes to Service {name}, which the chart does not render"
        selector = {"matchLabels": services[name]["spec"]["selector"]}
        behind = {component(w) for w in workloads(objects) if selects(selector, pod_labels(w))}
        assert behind, f"Service {name} selects no pod"
        reached |= behind
    labelled = {component(w) for w in workloads(objects) if INGRESS_LABEL in pod_labels(w)}
    assert labelled == reached
    for workload in workloads(objects):
        assert pod_labels(workload).get(INGRESS_LABEL, INGRESS_LABEL_VALUE) == INGRESS_LABEL_VALUE


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_only_the_engines_internet_components_reach_the_internet(charts, engine, profile):
    objects = charts.render(engine, profile)
    labelled = {component(w) for w in workloads(objects) if EGRESS_LABEL in pod_labels(w)}
    assert labelled == engine.internet_components
    for workload in workloads(objects):
        assert pod_labels(workload).get(EGRESS_LABEL, EGRESS_LABEL_VALUE) == EGRESS_LABEL_VALUE


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_only_the_engines_mail_components_reach_the_mail_relay_and_only_when_there_is_one(charts, engine, profile):
    assert not [w for w in workloads(charts.render(engine, profile)) if MAIL_LABEL in pod_labels(w)]
    if not engine.sends_mail:
        return  # the platform gives it no mail values (stores/releases.py)
    objects = charts.render(engine, profile, spec=MAIL_SPEC)
    labelled = {component(w) for w in workloads(objects) if MAIL_LABEL in pod_labels(w)}
    assert labelled == engine.mail_components
    for workload in workloads(objects):
        assert pod_labels(workload).get(MAIL_LABEL, MAIL_LABEL_VALUE) == MAIL_LABEL_VALUE
    # Those pods read the relay, every key of it, from the Secret the values name.
    refs = secret_refs(objects, frozenset({SECRET_NAME, MAIL_SECRET_NAME}))
    relay_keys = {"host", "port", "security", "username", "password", "from"}
    assert {key for name, key in refs if name == MAIL_SECRET_NAME} == relay_keys
    for workload in workloads(objects):
        if component(workload) in engine.mail_components:
            read = secret_refs([workload], frozenset({SECRET_NAME, MAIL_SECRET_NAME}))
            assert {(MAIL_SECRET_NAME, key) for key in relay_keys} <= read, name_of(workload)


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_its_own_network_policies_cover_every_pod_inside_the_namespace(charts, engine, profile):
    objects = charts.render(engine, profile)
    pods = [pod_labels(w) for w in workloads(objects)]
    policies = [obj for obj in objects if obj["kind"] == "NetworkPolicy"]
    assert policies, "the chart states the paths between its pods with NetworkPolicies of its own"
    for workload in workloads(objects):
        covering = [p for p in policies if selects(p["spec"]["podSelector"], pod_labels(workload))]
        types = {kind for policy in covering for kind in policy["spec"]["policyTypes"]}
        assert types == {"Ingress", "Egress"}, f"{name_of(workload)}: the chart's policies state only {types}"
    for policy in policies:
        spec = policy["spec"]
        assert any(selects(spec["podSelector"], labels) for labels in pods), f"{name_of(policy)} selects no pod"
        for rule in spec.get("ingress", []) + spec.get("egress", []):
            for peer in rule.get("from", []) + rule.get("to", []):
                # Other namespaces and the internet are the guardrails' to grant, by label.
                assert set(peer) == {"podSelector"}, f"{name_of(policy)} reaches outside the namespace: {peer}"
                assert any(selects(peer["podSelector"], labels) for labels in pods), f"{name_of(policy)}: {peer}"


# --- resources --------------------------------------------------------------------------


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_every_container_states_requests_and_limits(charts, engine, profile):
    for workload in workloads(charts.render(engine, profile)):
        for container in containers(workload["spec"]["template"]["spec"]):
            resources = container.get("resources") or {}
            for section in ("requests", "limits"):
                missing = set(CONTAINER_RESOURCES) - set(resources.get(section) or {})
                assert not missing, f"{name_of(workload)} container {container['name']}: no {section} {missing}"


def _pod_resources(pod_spec: dict) -> dict[str, float]:
    # A pod asks for the larger of its init containers (one runs at a time) and the sum of its containers.
    totals = {}
    for section in ("requests", "limits"):
        for resource in CONTAINER_RESOURCES:
            main = sum(quantity(c["resources"][section][resource]) for c in pod_spec["containers"])
            init = [quantity(c["resources"][section][resource]) for c in pod_spec.get("initContainers", [])]
            totals[f"{section}.{resource}"] = max([main, *init])
    return {**totals, "pods": 1}


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_it_fits_the_guardrails_its_stores_get(charts, engine, profile):
    spec = guardrails(engine)
    objects = charts.render(engine, profile)
    # The LimitRange's maximum, container by container.
    for workload in workloads(objects):
        for container in containers(workload["spec"]["template"]["spec"]):
            resources = container["resources"]
            for resource, most in spec.container_max.items():
                where = f"{name_of(workload)} container {container['name']} {resource}"
                assert quantity(resources["limits"][resource]) <= quantity(most), f"{where}: over {most}"
                assert quantity(resources["requests"][resource]) <= quantity(resources["limits"][resource]), where
    # The quota: every pod at once, the setup Job's included, plus the largest pod a
    # rolling update adds beside the one it replaces (Recreate adds none).
    totals: dict[str, float] = {}
    surge: dict[str, float] = {}
    for workload in workloads(objects):
        pod = _pod_resources(workload["spec"]["template"]["spec"])
        replicas = workload["spec"].get("replicas", workload["spec"].get("parallelism", 1))
        for key, value in pod.items():
            totals[key] = totals.get(key, 0) + value * replicas
        strategy = (workload["spec"].get("strategy") or {}).get("type", "RollingUpdate")
        if workload["kind"] == "Deployment" and strategy == "RollingUpdate":
            for key, value in pod.items():
                surge[key] = max(surge.get(key, 0), value)
    for key, value in surge.items():
        totals[key] += value
    claims = [obj["spec"] for obj in objects if obj["kind"] == "PersistentVolumeClaim"]
    for sts in (obj for obj in objects if obj["kind"] == "StatefulSet"):
        claims += [t["spec"] for t in sts["spec"].get("volumeClaimTemplates", [])] * sts["spec"].get("replicas", 1)
    totals["persistentvolumeclaims"] = len(claims)
    totals["requests.storage"] = sum(quantity(claim["resources"]["requests"]["storage"]) for claim in claims)
    services = [obj["spec"] for obj in objects if obj["kind"] == "Service"]
    totals["services.loadbalancers"] = sum(s.get("type") == "LoadBalancer" for s in services)
    totals["services.nodeports"] = sum(s.get("type") in ("NodePort", "LoadBalancer") for s in services)
    assert set(spec.quota) <= set(totals), f"quota entries this test does not add up: {set(spec.quota) - set(totals)}"
    over = {key: (totals[key], hard) for key, hard in spec.quota.items() if totals[key] > quantity(hard)}
    assert over == {}


# --- pods ---------------------------------------------------------------------------------

# What Pod Security `restricted` admits, beyond `baseline`.
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected"}


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_its_pods_meet_the_restricted_pod_security_profile(charts, engine, profile):
    for workload in workloads(charts.render(engine, profile)):
        spec, where = workload["spec"]["template"]["spec"], name_of(workload)
        # No store pod talks to the Kubernetes API.
        assert spec.get("automountServiceAccountToken") is False, where
        assert not any(spec.get(key) for key in ("hostNetwork", "hostPID", "hostIPC")), where
        for volume in spec.get("volumes", []):
            assert set(volume) - {"name"} <= RESTRICTED_VOLUMES, f"{where}: volume {volume['name']}"
        pod = spec.get("securityContext") or {}
        for container in containers(spec):
            context = container.get("securityContext") or {}
            inherited = {**pod, **context}
            who = f"{where} container {container['name']}"
            assert inherited.get("runAsNonRoot") is True, who
            assert inherited.get("runAsUser", 1) != 0, who
            assert (inherited.get("seccompProfile") or {}).get("type") in ("RuntimeDefault", "Localhost"), who
            assert not context.get("privileged"), who
            assert context.get("allowPrivilegeEscalation") is False, who
            assert "ALL" in (context.get("capabilities") or {}).get("drop", []), who
            assert set((context.get("capabilities") or {}).get("add", [])) <= {"NET_BIND_SERVICE"}, who
            assert all("hostPort" not in port for port in container.get("ports", [])), who


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_every_image_is_pinned(charts, engine, profile):
    for workload in workloads(charts.render(engine, profile)):
        for container in containers(workload["spec"]["template"]["spec"]):
            image = container["image"]
            if "@sha256:" in image:
                continue
            repository, _, tag = image.rpartition(":")
            assert repository and "/" not in tag, f"{name_of(workload)}: {image} names no tag"
            assert tag != "latest", f"{name_of(workload)}: {image}"


# The operator's placement: a node label, a taint tolerated, and an affinity of each kind.
PLACEMENT = {
    "nodeSelector": {"store-provisioner.io/pool": "stores"},
    "tolerations": [
        {"key": "store-provisioner.io/pool", "operator": "Equal", "value": "stores", "effect": "NoSchedule"}
    ],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}]}
                ]
            }
        },
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "topology.kubernetes.io/zone", "labelSelector": {"matchLabels": {"tier": "shops"}}}
            ]
        },
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 10,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"tier": "batch"}},
                    },
                }
            ]
        },
    },
}
assert set(PLACEMENT) == set(PLACEMENT_VALUES)


def _affinity_terms(affinity: dict) -> set[str]:
    """Each term of an affinity, as (kind, field, term): what must survive a merge."""
    terms = set()
    for kind, fields in (affinity or {}).items():
        for field, value in fields.items():
            items = value["nodeSelectorTerms"] if isinstance(value, dict) else value
            terms |= {json.dumps([kind, field, item], sort_keys=True) for item in items}
    return terms


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_placement_values_reach_every_pod_beside_its_own_affinity(charts, engine, profile):
    own = {name_of(w): w["spec"]["template"]["spec"] for w in workloads(charts.render(engine, profile))}
    placed = {
        name_of(w): w["spec"]["template"]["spec"] for w in workloads(charts.render(engine, profile, operator=PLACEMENT))
    }
    assert set(placed) == set(own)
    for name, spec in placed.items():
        assert PLACEMENT["nodeSelector"].items() <= (spec.get("nodeSelector") or {}).items(), name
        assert all(toleration in (spec.get("tolerations") or []) for toleration in PLACEMENT["tolerations"]), name
        wanted = _affinity_terms(PLACEMENT["affinity"]) | _affinity_terms(own[name].get("affinity"))
        assert wanted <= _affinity_terms(spec.get("affinity")), f"{name} dropped an affinity term"


# --- values -------------------------------------------------------------------------------

UNKNOWN = "notAValue"
_REFUSED = re.compile(r"at '(?P<where>[^']*)': additional propert(?:y|ies) (?P<keys>.+) not allowed")


def _closed_objects(values: dict, where: str = "") -> list[str]:
    """JSON pointers of every object of a values.yaml that its schema must close: all but OPEN_VALUES."""
    pointers = [where]
    for key, value in values.items():
        if isinstance(value, dict) and key not in OPEN_VALUES:
            pointers += _closed_objects(value, f"{where}/{key}")
    return pointers


@pytest.mark.parametrize("engine", ENGINES)
def test_its_schema_refuses_an_unknown_key_at_every_level(charts, engine, tmp_path):
    defaults = yaml.safe_load((chart_dir(engine) / "values.yaml").read_text())
    pointers = _closed_objects(defaults)
    assert len(pointers) > 1, "a nested object at least"
    misspelt = copy.deepcopy(defaults)
    for pointer in pointers:
        node = misspelt
        for key in filter(None, pointer.split("/")):
            node = node[key]
        node[UNKNOWN] = "x"
    path = tmp_path / "misspelt.yaml"
    path.write_text(yaml.safe_dump(misspelt))
    result = charts.run(engine, "template", "-f", str(path))
    assert result.returncode != 0, f"{UNKNOWN} at {pointers} was taken"
    refused = {m["where"] for m in _REFUSED.finditer(result.stderr) if UNKNOWN in m["keys"]}
    assert refused == set(pointers), result.stderr


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_it_reads_exactly_the_secret_keys_its_engine_generates(charts, engine, profile):
    assert secret_keys_read(charts.render(engine, profile)) == set(engine.build_secret(SPEC))


@pytest.mark.parametrize("engine", ENGINES)
def test_it_serves_the_store_over_tls_when_the_platform_asks(charts, engine):
    for ingress in (obj for obj in charts.render(engine) if obj["kind"] == "Ingress"):
        assert "tls" not in ingress["spec"], name_of(ingress)
    tls = [obj for obj in charts.render(engine, spec=TLS_SPEC) if obj["kind"] == "Ingress"]
    assert tls
    for ingress in tls:
        assert [entry["hosts"] for entry in ingress["spec"]["tls"]] == [[TLS_SPEC.host]], name_of(ingress)
        issuer = (ingress["metadata"].get("annotations") or {}).get("cert-manager.io/cluster-issuer")
        assert issuer == TLS_SPEC.tls_cluster_issuer, name_of(ingress)


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_it_serves_the_store_with_the_wildcard_certificate_when_the_platform_asks(charts, engine, profile):
    # One certificate for every store: no Secret named (the ingress controller's
    # default serves the host) and no issuer asked for one, even by a profile
    # that names one (values-k3s.yaml).
    wildcard = [obj for obj in charts.render(engine, profile, spec=WILDCARD_SPEC) if obj["kind"] == "Ingress"]
    assert wildcard
    for ingress in wildcard:
        assert ingress["spec"]["tls"] == [{"hosts": [WILDCARD_SPEC.host]}], name_of(ingress)
        assert "cert-manager.io/cluster-issuer" not in (ingress["metadata"].get("annotations") or {}), name_of(ingress)


# --- kube-score ---------------------------------------------------------------------------


@pytest.mark.parametrize(("engine", "profile"), CASES)
def test_kube_score_finds_only_what_the_engine_accepts(scores, engine, profile):
    found = scores.findings(engine, profile)
    assert {key: comments for key, comments in found.items() if key not in engine.accepted_findings} == {}


@pytest.mark.parametrize("engine", ENGINES)
def test_every_finding_the_engine_accepts_still_occurs_and_says_why(scores, engine):
    # An accepted finding that no longer occurs is a stale excuse: remove it.
    seen = set().union(*(scores.findings(engine, profile) for profile in profiles(engine)))
    assert set(engine.accepted_findings) - seen == set()
    assert all(reason.strip() for reason in engine.accepted_findings.values())

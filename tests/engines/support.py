"""What the engines' conformance suite works with: every engine under test and its
chart's values profiles, the chart rendered as the platform installs it (once per
session), the parts of the rendered objects the contract speaks of, and a namespace
labelled and guarded as a store's, made by the platform's own cluster layer.

The per-engine chart tests import these helpers too; they hold nothing of one engine.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

from stores import isolation
from stores.backups.jobs import JobRequest
from stores.backups.jobs import objects as backup_objects
from stores.backups.jobs import render as render_backup_job
from stores.cluster import GuardrailSpec, KubernetesClient
from stores.cluster.guardrails import guardrail_objects
from stores.engines import ENGINES, Engine, StoreSpec
from stores.engines.contract import COMPONENT_LABEL, RELEASE_NAME, SECRET_NAME, WORKLOAD_KINDS
from stores.mail import MAIL_SECRET_NAME
from stores.models import Store
from tests.chart_tools import kube_score_findings, run_helm, template
from tests.engines.webshop import WEBSHOP

# The product's engines, and one registered only in tests: the suite holds for any engine.
ENGINES_UNDER_TEST: tuple[Engine, ...] = (*ENGINES.values(), WEBSHOP)

NAMESPACE = "store-acme"
SPEC = StoreSpec(
    slug="acme",
    store_id=1,
    owner="alice",
    owner_email="alice@example.org",
    host="store-acme.127.0.0.1.nip.io",
    url="http://store-acme.127.0.0.1.nip.io",
    ingress_class="nginx",
)
# The same store on a cluster with a cert-manager issuer (TLS_CLUSTER_ISSUER).
TLS_SPEC = replace(SPEC, url="https://store-acme.127.0.0.1.nip.io", tls_cluster_issuer="letsencrypt-prod")
# ... or with the ingress controller's wildcard certificate (TLS_WILDCARD).
WILDCARD_SPEC = replace(SPEC, url="https://store-acme.127.0.0.1.nip.io", tls_wildcard=True)
# ... with the platform's mail relay (STORE_MAIL_HOST), for an engine that sends mail.
MAIL_SPEC = replace(SPEC, mail_secret=MAIL_SECRET_NAME, mail_revision="0123456789abcdef")


def chart_dir(engine: Engine) -> Path:
    return Path(settings.CHARTS_DIR) / engine.chart


def profiles(engine: Engine) -> list[str | None]:
    """No profile, and each values-<profile>.yaml the chart ships (CHART_VALUES_PROFILE picks one)."""
    return [None, *sorted(path.name for path in chart_dir(engine).glob("values-*.yaml"))]


def engine_params() -> list[Any]:
    return [pytest.param(engine, id=engine.key) for engine in ENGINES_UNDER_TEST]


def case_params() -> list[Any]:
    """(engine, profile) for every engine under test and each of its values profiles."""
    return [
        pytest.param(engine, profile, id=f"{engine.key}-{(profile or 'values.yaml').removesuffix('.yaml')}")
        for engine in ENGINES_UNDER_TEST
        for profile in profiles(engine)
    ]


@contextmanager
def registered(engine: Engine) -> Iterator[Engine]:
    """The engine in `stores.engines.ENGINES` while the block runs (a test-only engine is not)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(ENGINES, engine.key, engine)
        yield engine


def guardrails(engine: Engine) -> GuardrailSpec:
    """The guardrails a store of this engine gets: the platform's, with the engine's overrides."""
    with registered(engine):
        return isolation.guardrail_spec(engine.key)


class Charts:
    """Each engine's chart rendered as the platform installs it: release RELEASE_NAME, its values
    profile, then the operator's values files, then the engine's own `build_values` (the order
    of HelmCli.upgrade_install). Each distinct rendering is made once and kept."""

    def __init__(self, helm: str, workdir: Path):
        self.helm = helm
        self.workdir = workdir
        self._rendered: dict[str, list[dict]] = {}

    def values_files(
        self, engine: Engine, profile: str | None = None, *, spec: StoreSpec = SPEC, operator: dict | None = None
    ) -> list[str]:
        files = [str(chart_dir(engine) / profile)] if profile else []
        if operator is not None:
            files.append(self._write(operator))
        return [*files, self._write(engine.build_values(spec))]

    def render(
        self, engine: Engine, profile: str | None = None, *, spec: StoreSpec = SPEC, operator: dict | None = None
    ) -> list[dict]:
        files = self.values_files(engine, profile, spec=spec, operator=operator)
        key = json.dumps([engine.key, files])
        if key not in self._rendered:
            self._rendered[key] = template(self.helm, RELEASE_NAME, chart_dir(engine), *self._args(files))
        return self._rendered[key]

    def run(self, engine: Engine, command: str, *args: str, profile: str | None = None) -> subprocess.CompletedProcess:
        """`helm <command>` (lint, template) on the chart with the platform's values, not kept."""
        release = [RELEASE_NAME] if command == "template" else []
        files = self.values_files(engine, profile)
        return run_helm(self.helm, command, *release, str(chart_dir(engine)), *self._args(files), *args)

    def _args(self, files: list[str]) -> list[str]:
        return ["-n", NAMESPACE, *[arg for path in files for arg in ("-f", path)]]

    def _write(self, values: dict) -> str:
        text = yaml.safe_dump(values, sort_keys=True)
        path = self.workdir / f"values-{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml"
        path.write_text(text)
        return str(path)


# --- the rendered objects ---------------------------------------------------------


def workloads(objects: list[dict]) -> list[dict]:
    """Every object that makes pods, each with its pod template at spec.template:
    a CronJob is given as its jobTemplate's Job spec (its kind and name kept), once
    (workloads of workloads are the same)."""
    found = []
    for obj in objects:
        if obj["kind"] == "CronJob" and "jobTemplate" in obj["spec"]:
            found.append({**obj, "spec": obj["spec"]["jobTemplate"]["spec"]})
        elif obj["kind"] in WORKLOAD_KINDS:
            found.append(obj)
    return found


def name_of(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def containers(pod_spec: dict) -> list[dict]:
    return pod_spec.get("initContainers", []) + pod_spec["containers"]


def pod_labels(workload: dict) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"].get("labels") or {}


def component(workload: dict) -> str:
    return pod_labels(workload)[COMPONENT_LABEL]


def selects(selector: dict, labels: dict) -> bool:
    """A matchLabels selector (the only form the charts use) against labels."""
    assert set(selector) <= {"matchLabels"}, f"only matchLabels selectors are understood here: {selector}"
    return all(labels.get(key) == value for key, value in (selector.get("matchLabels") or {}).items())


_UNITS = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def quantity(value: object) -> float:
    """A Kubernetes quantity ("250m", "1Gi", 2) as a number."""
    text = str(value)
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * _UNITS[unit]
    return float(text)


def secret_keys_read(objects: list[dict], allowed: frozenset[str] = frozenset({SECRET_NAME})) -> set[str]:
    """The keys of the store's Secret the pods read; any other Secret a pod names fails."""
    return {key for name, key in secret_refs(objects, allowed) if name == SECRET_NAME}


def secret_refs(objects: list[dict], allowed: frozenset[str]) -> set[tuple[str, str]]:
    """(Secret, key) for every Secret key the pods read; a Secret not in `allowed`,
    a whole Secret as environment, or a Secret volume fails."""
    refs = set()
    for workload in workloads(objects):
        spec = workload["spec"]["template"]["spec"]
        for container in containers(spec):
            for env in container.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in allowed, f"{name_of(workload)} reads Secret {ref['name']}"
                    refs.add((ref["name"], ref["key"]))
            for source in container.get("envFrom", []):
                assert "secretRef" not in source, f"{name_of(workload)} takes a whole Secret as its environment"
        for volume in spec.get("volumes", []):
            assert "secret" not in volume, f"{name_of(workload)} mounts a Secret"
    return refs


def probe_pods(objects: list[dict]) -> list[dict]:
    """A bare Pod for every pod template, as its controller would create it."""
    pods = []
    for obj in workloads(objects):
        template = copy.deepcopy(obj["spec"]["template"])
        spec = template["spec"]
        if obj["kind"] == "StatefulSet":
            spec["volumes"] = spec.get("volumes", []) + [
                {
                    "name": claim["metadata"]["name"],
                    "persistentVolumeClaim": {"claimName": f"{claim['metadata']['name']}-{obj['metadata']['name']}-0"},
                }
                for claim in obj["spec"].get("volumeClaimTemplates", [])
            ]
        metadata = {**template.get("metadata", {}), "name": f"{obj['metadata']['name']}-probe"}
        pods.append({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
    return pods


# --- a store's namespace on the local control plane --------------------------------


def make_store_namespace(kube: KubernetesClient, engine: Engine, prefix: str = "conformance") -> str:
    """A namespace labelled and guarded as one of this engine's stores is, by the platform's own
    functions (isolation.namespace_labels, isolation.guardrail_spec) and cluster layer."""
    name = f"{prefix}-{engine.key}-{secrets.token_hex(3)}"
    store = Store(pk=0, owner_id=0, slug=name, engine=engine.key)
    kube.ensure_namespace(name, isolation.namespace_labels(store))
    try:
        kube.apply_guardrails(name, guardrails(engine))
        # Quota admission refuses pods until the quota controller has counted the namespace.
        deadline = time.monotonic() + 60
        while not all(line.used for line in kube.quota_usage(name)):
            assert time.monotonic() < deadline, f"the ResourceQuota of {name} was never counted"
            time.sleep(0.2)
    except BaseException:
        kube.delete_namespace(name, timeout=120)
        raise
    return name


@contextmanager
def store_namespace(
    kube: KubernetesClient, engine: Engine, prefix: str = "conformance", *, wait: bool = True
) -> Iterator[str]:
    """make_store_namespace, deleted afterwards: waited for until it is gone, or (`wait=False`)
    left to the namespace controller, whose passes take 5 s each once pods are in it."""
    name = make_store_namespace(kube, engine, prefix)
    try:
        yield name
    finally:
        if wait:
            kube.delete_namespace(name, timeout=120)
        else:
            kube.api.core.delete_namespace(name)


def dry_run(kube: KubernetesClient, obj: dict, namespace: str) -> list[str]:
    """Create `obj` with dryRun=All and strict field validation (through the cluster layer's
    dynamic client); return the API server's warnings. A refusal raises."""
    resource = kube.api.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    response = resource.create(
        body=obj,
        namespace=namespace,
        query_params=[("dryRun", "All"), ("fieldValidation", "Strict")],
        serialize=False,
    )
    headers = response.headers
    warnings = headers.getlist("Warning") if hasattr(headers, "getlist") else [headers.get("Warning", "")]
    return [warning for warning in warnings if warning]


class Scores:
    """kube-score's findings in a store's namespace (the guardrails and the rendered chart,
    scored together so the policy checks see the pods they select), once per engine and profile."""

    def __init__(self, kube_score: str, charts: Charts, workdir: Path):
        self.kube_score = kube_score
        self.charts = charts
        self.workdir = workdir
        self._found: dict[tuple[str, str | None], dict[tuple[str, str], list[str]]] = {}

    def findings(self, engine: Engine, profile: str | None) -> dict[tuple[str, str], list[str]]:
        key = (engine.key, profile)
        if key not in self._found:
            objects = guardrail_objects(guardrails(engine)) + self.charts.render(engine, profile)
            workdir = self.workdir / f"{engine.key}-{profile or 'values.yaml'}"
            workdir.mkdir()
            self._found[key] = kube_score_findings(self.kube_score, objects, workdir)
        return self._found[key]


# --- the platform's backup and restore Jobs (stores/backups/jobs.py) -------------------

# What a signed URL looks like to the Job; the real ones are made per backup.
SIGNED_URL = "https://objects.example.org/store-backups/stores/1/backups/1/{name}?X-Amz-Signature=0"


def backup_jobs(engine: Engine, objects: list[dict]) -> list[dict]:
    """The backup Job and the restore Job the platform renders for a store of the engine
    from the chart's rendered pod templates, as it does from the cluster's ([] when the
    engine's stores are not backed up)."""
    plan = engine.backup
    if plan is None:
        return []
    templates = {
        component(w): w["spec"]["template"] for w in workloads(objects) if w["kind"] in ("Deployment", "StatefulSet")
    }
    urls = tuple(SIGNED_URL.format(name=name) for name in backup_objects(plan))
    return [
        render_backup_job(
            plan,
            templates,
            JobRequest(name=f"{kind}-1", restore=kind == "restore", urls=urls, deadline_seconds=1800, labels={}),
        )
        for kind in ("backup", "restore")
    ]

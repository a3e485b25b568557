"""Stand-ins for the cluster layer's two entry points (the Kubernetes and Helm Protocols).

They implement its Protocols, ``cluster.Kubernetes`` and ``cluster.Helm``,
structurally (no subclassing: a method missing here must not be filled in by the
Protocol's empty one); mypy checks them against the Protocols (end of module).

They are the only fakes in the unit tests: everything above the cluster
boundary (lifecycle, steps, tasks, views) runs for real against the test DB.
"""

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from stores import cluster

# Namespaces a test puts in place directly are old (past any grace period).
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


class FakeCluster:
    def __init__(self):
        self.calls: list[tuple] = []
        self.namespaces: dict[str, dict] = {}
        self.created_at: dict[str, datetime] = {}
        self.secrets: dict[tuple[str, str], dict] = {}
        # (namespace, "sa-namespace/sa-name") -> ClusterRole bound there
        self.bindings: dict[tuple[str, str], str] = {}
        self.wait_error: Exception | None = None
        self.wait_forever = False
        self.unreachable = False

    def version(self) -> str:
        if self.unreachable:
            raise cluster.ClusterUnavailable("cannot reach the Kubernetes API server at https://127.0.0.1:1")
        return "v1.35.4"

    def ensure_namespace(self, name, labels, annotations=None):
        self.calls.append(("ensure_namespace", name))
        self.namespaces[name] = dict(labels)
        self.created_at.setdefault(name, datetime.now(UTC))

    def namespace_phase(self, name):
        return "Active" if name in self.namespaces else None

    def list_namespaces(self, label_selector):
        # Understands the selectors the platform uses: one label equal to a value
        # (by name, through the label every namespace carries; or "all managed").
        key, _, value = label_selector.partition("=")
        return [
            {"name": n, "labels": labels, "phase": "Active", "created_at": self.created_at.get(n, LONG_AGO)}
            for n, labels in self.namespaces.items()
            if (n if key == "kubernetes.io/metadata.name" else labels.get(key)) == value
        ]

    def bind_store_role(self, namespace, service_account, cluster_role):
        self.calls.append(("bind_store_role", namespace, service_account, cluster_role))
        if namespace not in self.namespaces:
            raise cluster.ClusterError(f'binding {cluster_role} failed: namespaces "{namespace}" not found')
        self.bindings[(namespace, service_account)] = cluster_role

    def apply_guardrails(self, namespace, spec):
        self.calls.append(("apply_guardrails", namespace))

    def ensure_secret(self, namespace, name, data):
        self.calls.append(("ensure_secret", namespace, name))
        existing = self.secrets.setdefault((namespace, name), {})
        for key, value in data.items():
            existing.setdefault(key, value)
        return dict(existing)

    def put_secret(self, namespace, name, data):
        self.calls.append(("put_secret", namespace, name))
        self.secrets[(namespace, name)] = dict(data)

    def delete_secret(self, namespace, name):
        self.calls.append(("delete_secret", namespace, name))
        return self.secrets.pop((namespace, name), None) is not None

    def read_secret(self, namespace, name):
        if self.unreachable:
            raise cluster.ClusterUnavailable("cannot reach the Kubernetes API server")
        return self.secrets.get((namespace, name))

    def delete_unfinished_jobs(self, namespace, label_selector=None):
        self.calls.append(("delete_unfinished_jobs", namespace, label_selector))
        return []

    def delete_jobs(self, namespace, label_selector):
        self.calls.append(("delete_jobs", namespace, label_selector))
        return ["store-setup"]

    def wait_until_ready(self, namespace, *, should_stop, on_progress=None, **_):
        self.calls.append(("wait_until_ready", namespace))
        if self.wait_error:
            raise self.wait_error
        while self.wait_forever:
            reason = should_stop()
            if reason:
                raise cluster.Stopped(reason)
            time.sleep(0.05)
        if on_progress:
            on_progress("wordpress 1/1 ready")

    def delete_namespace(self, name, *, should_stop=None, timeout=300):
        self.calls.append(("delete_namespace", name))
        self.namespaces.pop(name, None)
        self.created_at.pop(name, None)
        # As in Kubernetes: a namespace takes its RoleBindings with it.
        self.bindings = {k: v for k, v in self.bindings.items() if k[0] != name}

    def server_dry_run(self, manifests, namespace):
        self.calls.append(("server_dry_run", namespace, len(manifests)))

    # The store page's reads. A test sets what a namespace holds (lists of
    # stores.cluster.reads dataclasses, keyed by namespace), or `read_error`
    # to make every read fail as a slow or absent API server would.
    live_pods: dict | None = None
    live_events: dict | None = None
    live_quota: dict | None = None
    read_error: Exception | None = None

    def _read(self, what, namespace):
        self.calls.append((what, namespace))
        if self.unreachable:
            raise cluster.ClusterUnavailable("Kubernetes API at https://127.0.0.1:1 is unreachable")
        if self.read_error is not None:
            raise self.read_error
        return list((getattr(self, f"live_{what}") or {}).get(namespace, []))

    def list_pods(self, namespace):
        return self._read("pods", namespace)

    def list_events(self, namespace, limit=50):
        return self._read("events", namespace)[:limit]

    def quota_usage(self, namespace):
        return self._read("quota", namespace)

    # Backups: the pod templates a test puts in place (component -> template),
    # the Jobs created, and how each ends (job_states: name -> JobOutcome;
    # a Job with none set ends as job_default says, by default it succeeds).
    templates: dict | None = None
    jobs: dict | None = None
    job_states: dict | None = None
    job_default: object = None
    job_created: object = None  # called with (namespace, manifest) when a Job is created

    def pod_templates(self, namespace):
        self.calls.append(("pod_templates", namespace))
        if self.unreachable:
            raise cluster.ClusterUnavailable("cannot reach the Kubernetes API server")
        return dict((self.templates or {}).get(namespace, {}))

    def create_job(self, namespace, manifest):
        self.calls.append(("create_job", namespace, manifest["metadata"]["name"]))
        if self.jobs is None:
            self.jobs = {}
        self.jobs[(namespace, manifest["metadata"]["name"])] = manifest
        if callable(self.job_created):
            self.job_created(namespace, manifest)

    def job_outcome(self, namespace, name):
        if (namespace, name) not in (self.jobs or {}):
            return cluster.JobOutcome("gone", f"Job {name} is gone")
        return (self.job_states or {}).get(name, self.job_default or cluster.JobOutcome("succeeded"))

    def wait_for_job(self, namespace, name, *, should_stop):
        self.calls.append(("wait_for_job", namespace, name))
        return self.job_outcome(namespace, name)

    def restart_workloads(self, namespace, components):
        self.calls.append(("restart_workloads", namespace, tuple(components)))
        return [f"store-{c}" for c in components]


class FakeHelm:
    """Releases and their revisions, as helm keeps them: each install, upgrade or
    rollback adds a revision with the chart ("<name>-<version>", read from the
    chart directory's Chart.yaml as helm would) and the values it was given,
    merged over the chart's values.yaml."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.releases: dict[tuple[str, str], dict] = {}
        self.revisions: dict[tuple[str, str], list[dict]] = {}
        self.upgrade_error: Exception | None = None

    def upgrade_install(self, release, chart_path, namespace, values, *, timeout_seconds, should_stop, **_):
        self.calls.append(("upgrade_install", release, namespace, values))
        if self.upgrade_error is not None:
            raise self.upgrade_error
        chart = _chart_of(chart_path)
        rel = self.releases.setdefault((namespace, release), {"name": release, "namespace": namespace, "version": 0})
        rel["version"] += 1
        rel["status"] = "deployed"
        self._add_revision(
            namespace,
            release,
            rel["version"],
            chart["name_version"],
            {**chart["values"], **values},
            "Upgrade complete" if rel["version"] > 1 else "Install complete",
        )
        return {
            "name": release,
            "version": rel["version"],
            "info": {"status": "deployed"},
            "chart": {"metadata": {"name": chart["name"], "version": chart["version"]}},
        }

    def rollback(self, release, namespace, revision, *, timeout_seconds=120, should_stop=None):
        self.calls.append(("rollback", release, namespace, revision))
        target = next(r for r in self.revisions[(namespace, release)] if r["revision"] == revision)
        rel = self.releases[(namespace, release)]
        rel["version"] += 1
        self._add_revision(
            namespace, release, rel["version"], target["chart"], target["values"], f"Rollback to {revision}"
        )

    def _add_revision(self, namespace, release, number, chart, values, description):
        revisions = self.revisions.setdefault((namespace, release), [])
        for old in revisions:
            old["status"] = "superseded"
        revisions.append(
            {"revision": number, "status": "deployed", "chart": chart, "values": values, "description": description}
        )

    def uninstall(self, release, namespace, **_):
        self.calls.append(("uninstall", release, namespace))
        self.revisions.pop((namespace, release), None)
        return self.releases.pop((namespace, release), None) is not None

    def status(self, release, namespace):
        rel = self.releases.get((namespace, release))
        return dict(rel) if rel else None

    def history(self, release, namespace):
        rel = self.releases.get((namespace, release))
        if not rel:
            return []
        if (namespace, release) in self.revisions:
            return [{k: v for k, v in r.items() if k != "values"} for r in self.revisions[(namespace, release)]]
        return [
            {"revision": n, "status": "deployed" if n == rel["version"] else "superseded"}
            for n in range(1, rel["version"] + 1)
        ]

    def get_values(self, release, namespace, revision=None):
        revisions = self.revisions.get((namespace, release)) or []
        for r in revisions:
            if r["revision"] == (revision or revisions[-1]["revision"]):
                return dict(r["values"])
        return {}

    def list_releases(self, all_namespaces=True, namespace=None):
        return [dict(r) for r in self.releases.values() if all_namespaces or r["namespace"] == namespace]


def _chart_of(chart_path) -> dict:
    path = Path(chart_path)
    meta = yaml.safe_load((path / "Chart.yaml").read_text()) if (path / "Chart.yaml").exists() else {}
    values = yaml.safe_load((path / "values.yaml").read_text()) if (path / "values.yaml").exists() else {}
    name, version = meta.get("name", path.name), str(meta.get("version", "0.0.0"))
    return {"name": name, "version": version, "name_version": f"{name}-{version}", "values": values or {}}


if TYPE_CHECKING:
    # mypy (make lint) checks that the fakes give the product what the real classes give it.
    _kubernetes: cluster.Kubernetes = FakeCluster()
    _helm: cluster.Helm = FakeHelm()

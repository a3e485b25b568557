"""Stand-ins for the cluster layer's two entry points (Cluster and Helm).

They implement its Protocols, ``cluster.ClusterApi`` and ``cluster.HelmApi``,
structurally (no subclassing: a method missing here must not be filled in by the
Protocol's empty one); ``stores/cluster/tests/test_interface.py`` checks them.

They are the only fakes in the unit tests: everything above the cluster
boundary (lifecycle, steps, tasks, views) runs for real against the test DB.
"""

import time
from datetime import datetime, timezone

from stores import cluster

# Namespaces a test puts in place directly are old (past any grace period).
LONG_AGO = datetime(2020, 1, 1, tzinfo=timezone.utc)


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
        self.created_at.setdefault(name, datetime.now(timezone.utc))

    def namespace_phase(self, name):
        return "Active" if name in self.namespaces else None

    def list_namespaces(self, label_selector):
        # Understands the two selectors the platform uses: by name, or "all managed".
        key, _, value = label_selector.partition("=")
        return [
            {"name": n, "labels": l, "phase": "Active", "created_at": self.created_at.get(n, LONG_AGO)}
            for n, l in self.namespaces.items()
            if key != "kubernetes.io/metadata.name" or n == value
        ]

    def bind_store_role(self, namespace, service_account, cluster_role):
        self.calls.append(("bind_store_role", namespace, service_account, cluster_role))
        if namespace not in self.namespaces:
            raise cluster.ClusterError(f"binding {cluster_role} failed: namespaces \"{namespace}\" not found")
        self.bindings[(namespace, service_account)] = cluster_role

    def apply_guardrails(self, namespace, spec):
        self.calls.append(("apply_guardrails", namespace))

    def ensure_secret(self, namespace, name, data):
        self.calls.append(("ensure_secret", namespace, name))
        existing = self.secrets.setdefault((namespace, name), {})
        for key, value in data.items():
            existing.setdefault(key, value)
        return dict(existing)

    def read_secret(self, namespace, name):
        if self.unreachable:
            raise cluster.ClusterUnavailable("cannot reach the Kubernetes API server")
        return self.secrets.get((namespace, name))

    def delete_unfinished_jobs(self, namespace, label_selector=None):
        self.calls.append(("delete_unfinished_jobs", namespace, label_selector))
        return []

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


class FakeHelm:
    def __init__(self):
        self.calls: list[tuple] = []
        self.releases: dict[tuple[str, str], dict] = {}

    def upgrade_install(self, release, chart_path, namespace, values, *, timeout_seconds, should_stop, **_):
        self.calls.append(("upgrade_install", release, namespace, values))
        rel = self.releases.setdefault((namespace, release), {"name": release, "namespace": namespace, "version": 0})
        rel["version"] += 1
        rel["status"] = "deployed"
        return {"name": release, "version": rel["version"], "info": {"status": "deployed"}}

    def uninstall(self, release, namespace, **_):
        self.calls.append(("uninstall", release, namespace))
        return self.releases.pop((namespace, release), None) is not None

    def status(self, release, namespace):
        rel = self.releases.get((namespace, release))
        return dict(rel) if rel else None

    def history(self, release, namespace):
        rel = self.releases.get((namespace, release))
        return [{"revision": n, "status": "deployed" if n == rel["version"] else "superseded"}
                for n in range(1, rel["version"] + 1)] if rel else []

    def list_releases(self, all_namespaces=True, namespace=None):
        return [dict(r) for r in self.releases.values() if all_namespaces or r["namespace"] == namespace]

"""What the product may ask of the cluster layer, as Protocols.

``KubernetesClient`` and ``HelmCli`` implement them, and so do the unit tests' fakes
(``stores/tests/fakes.py``). mypy checks each against its Protocol (the fakes
declare it at the end of their module), so they cannot drift apart. A new
method goes into the class, here (one block, with its docstring) and into the
fake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from .backup_jobs import JobOutcome
from .guardrails import GuardrailSpec
from .reads import ClusterEvent, PodStatus, QuotaUsage

# Called between steps and inside waits: a reason to stop, or None to go on.
StopCheck = Callable[[], str | None]


@runtime_checkable
class Kubernetes(Protocol):
    """The Kubernetes API, through the official client. Every call has a timeout."""

    def version(self) -> str:
        """The server's gitVersion; ClusterUnavailable if it does not answer."""
        ...

    def ensure_namespace(self, name: str, labels: dict[str, str], annotations: dict[str, str] | None = None) -> None:
        """Create the namespace, or merge labels and annotations into an existing one.

        ClusterError if it is Terminating."""
        ...

    def namespace_phase(self, name: str) -> str | None:
        """ "Active", "Terminating", or None when there is no such namespace."""
        ...

    def list_namespaces(self, label_selector: str) -> list[dict[str, Any]]:
        """Namespaces matching the selector: dicts with name, labels, annotations, phase and
        created_at (an aware datetime, or None)."""
        ...

    def delete_namespace(self, name: str, *, should_stop: StopCheck | None = None, timeout: float = 300) -> None:
        """Delete and wait until it is gone; NamespaceStuck (with what is left) after `timeout`.

        Its PersistentVolumeClaims are deleted first, so the namespace controller finds it empty sooner."""
        ...

    def bind_store_role(self, namespace: str, service_account: str, cluster_role: str) -> None:
        """RoleBinding of the ClusterRole `cluster_role` to the ServiceAccount
        `service_account` ("namespace/name") inside `namespace`; one that already
        exists is kept. How the platform's own account gets its rights in a store."""
        ...

    def apply_guardrails(self, namespace: str, spec: GuardrailSpec) -> None:
        """LimitRange "store-limits", ResourceQuota "store-quota" and the NetworkPolicies
        (default-deny, allow-dns, and for pods that opt in by label allow-ingress-controller
        and allow-internet-egress); create-or-replace, so re-running converges."""
        ...

    def ensure_secret(self, namespace: str, name: str, data: dict[str, str]) -> dict[str, str]:
        """Add missing keys, never overwrite a value; returns the data as stored."""
        ...

    def put_secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """Create the secret or replace its data whole."""
        ...

    def delete_secret(self, namespace: str, name: str) -> bool:
        """Delete the secret; False when there was none."""
        ...

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The secret's decoded data, or None when there is no such secret."""
        ...

    def delete_unfinished_jobs(self, namespace: str, label_selector: str | None = None) -> list[str]:
        """Delete failed or still-running Jobs (succeeded ones stay); their names."""
        ...

    def delete_jobs(self, namespace: str, label_selector: str) -> list[str]:
        """Delete every Job matching the selector, finished or not (an upgrade's new chart
        may change a Job's immutable pod template); their names."""
        ...

    def wait_until_ready(
        self,
        namespace: str,
        *,
        should_stop: StopCheck,
        on_progress: Callable[[str], None] | None = None,
        poll_seconds: float = 1.0,
        settle_seconds: float = 0,
        quota_grace_seconds: float = 0,
    ) -> None:
        """Watch until every Deployment, StatefulSet and Job is ready or complete (and there
        is at least one). WorkloadFailed with the real reason when it cannot get there by
        itself; Stopped when `should_stop` gives a reason. A quota refusal fails the wait only
        once it has lasted `quota_grace_seconds` (pods that replace others: see readiness)."""
        ...

    def server_dry_run(self, manifests: list[dict[str, Any]], namespace: str) -> None:
        """Submit the manifests as a server-side dry run; ClusterError when one is rejected."""
        ...

    def list_pods(self, namespace: str) -> list[PodStatus]:
        """The namespace's pods by name: ready containers, restarts and the reason a
        container waits or died (ImagePullBackOff, OOMKilled...); [] when there is no
        such namespace. One request, bounded by the request timeout."""
        ...

    def list_events(self, namespace: str, limit: int = 50) -> list[ClusterEvent]:
        """The namespace's Kubernetes Events, newest first, at most `limit`, repeats (same
        type, reason, object and message) folded into one with their total count.
        One request, bounded by the request timeout."""
        ...

    def quota_usage(self, namespace: str) -> list[QuotaUsage]:
        """Used against hard for every resource of every ResourceQuota in the namespace
        ([] when there is none). One request, bounded by the request timeout."""
        ...

    # backups (stores/backups/)

    def pod_templates(self, namespace: str) -> dict[str, dict[str, Any]]:
        """The pod template of every Deployment and StatefulSet, by component label."""
        ...

    def create_job(self, namespace: str, manifest: dict[str, Any]) -> None:
        """Create the Job; ClusterError when it is refused."""
        ...

    def job_outcome(self, namespace: str, name: str) -> JobOutcome:
        """Whether the Job runs, succeeded, failed (with why: the failed step's last
        output) or is gone."""
        ...

    def wait_for_job(self, namespace: str, name: str, *, should_stop: StopCheck) -> JobOutcome:
        """job_outcome once the Job has ended; Stopped when `should_stop` gives a reason."""
        ...

    def restart_workloads(self, namespace: str, components: tuple[str, ...]) -> list[str]:
        """Restart the Deployments and StatefulSets of these components (as `kubectl rollout
        restart`); their names."""
        ...


@runtime_checkable
class Helm(Protocol):
    """The `helm` CLI, with JSON output."""

    def status(self, release: str, namespace: str) -> dict[str, Any] | None:
        """`helm status`, or None when there is no such release."""
        ...

    def history(self, release: str, namespace: str) -> list[dict[str, Any]]:
        """The release's revisions, oldest first ([] when there is none)."""
        ...

    def list_releases(self, all_namespaces: bool = True, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every release in every state: dicts with name, namespace, status, revision, chart..."""
        ...

    def get_values(self, release: str, namespace: str, revision: int | None = None) -> dict[str, Any]:
        """The values a revision (default: the current one) was rendered with, chart defaults
        included; {} when there is no such release."""
        ...

    def rollback(
        self,
        release: str,
        namespace: str,
        revision: int,
        *,
        timeout_seconds: int = 120,
        should_stop: StopCheck | None = None,
    ) -> None:
        """`helm rollback` to `revision` (a new revision with that one's chart and values)."""
        ...

    def upgrade_install(
        self,
        release: str,
        chart_path: str,
        namespace: str,
        values: dict[str, Any],
        *,
        timeout_seconds: int,
        should_stop: StopCheck,
        values_files: Sequence[str] = (),
    ) -> dict[str, Any]:
        """`helm upgrade --install` without --wait (use Kubernetes.wait_until_ready).

        `values_files` come first and `values` last. A stuck upgrade is rolled back to its
        last deployed revision and a release that never deployed is uninstalled first.
        Returns the release summary: name, namespace, version, info, chart."""
        ...

    def uninstall(
        self, release: str, namespace: str, *, timeout_seconds: int = 120, should_stop: StopCheck | None = None
    ) -> bool:
        """Remove the release; False when there was no such release."""
        ...

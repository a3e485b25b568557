"""``KubernetesClient``: the ``Kubernetes`` Protocol over the official client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s

from . import access, backup_jobs, dryrun, guardrails, jobs, namespaces, readiness, reads, secrets
from .backup_jobs import JobOutcome
from .client import ApiGroups, api_errors, load_api_client
from .errors import ClusterUnavailable
from .guardrails import GuardrailSpec
from .reads import ClusterEvent, PodStatus, QuotaUsage

# /version is the cheapest request there is; if it is slow the API server is
# in trouble, so version() does not wait the full request timeout.
VERSION_TIMEOUT_SECONDS = 5


def connect(kubeconfig: str | None = None, context: str | None = None, request_timeout: float = 10) -> KubernetesClient:
    """Build a client from a kubeconfig path (None: $KUBECONFIG, in-cluster
    service account, ~/.kube/config). Does not contact the API server; call
    ``version()`` for that. Raises ClusterUnavailable when no usable
    configuration is found."""
    return KubernetesClient(ApiGroups(load_api_client(kubeconfig, context, request_timeout), request_timeout))


class KubernetesClient:
    def __init__(self, api: ApiGroups):
        self.api = api

    @property
    def host(self) -> str:
        return self.api.host

    def version(self) -> str:
        timeout = min(self.api.request_timeout, VERSION_TIMEOUT_SECONDS)
        with api_errors("reading the server version", self.api.host):
            info = k8s.VersionApi(self.api.api_client).get_code(_request_timeout=(timeout, timeout))
        if not info.git_version:
            raise ClusterUnavailable(f"Kubernetes API at {self.api.host} did not report a version")
        return info.git_version

    # namespaces

    def ensure_namespace(self, name: str, labels: dict[str, str], annotations: dict[str, str] | None = None) -> None:
        namespaces.ensure_namespace(self.api, name, labels, annotations or {})

    def namespace_phase(self, name: str) -> str | None:
        return namespaces.namespace_phase(self.api, name)

    def list_namespaces(self, label_selector: str) -> list[dict[str, Any]]:
        return namespaces.list_namespaces(self.api, label_selector)

    def delete_namespace(
        self, name: str, *, should_stop: Callable[[], str | None] | None = None, timeout: float = 300
    ) -> None:
        namespaces.delete_namespace(self.api, name, should_stop=should_stop, timeout=timeout)

    def bind_store_role(self, namespace: str, service_account: str, cluster_role: str) -> None:
        access.ensure_role_binding(self.api, namespace, service_account, cluster_role)

    # guardrails and credentials

    def apply_guardrails(self, namespace: str, spec: GuardrailSpec) -> None:
        # The addresses as they are now: a node that joins later is covered by
        # the ranges in EGRESS_DENIED_CIDRS only (docs/production.md).
        spec = guardrails.denying_addresses(spec, guardrails.cluster_addresses(self.api))
        guardrails.apply_guardrails(self.api, namespace, spec)
        guardrails.wait_until_quota_counted(self.api, namespace)

    def ensure_secret(self, namespace: str, name: str, data: dict[str, str]) -> dict[str, str]:
        return secrets.ensure_secret(self.api, namespace, name, data)

    def put_secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        secrets.put_secret(self.api, namespace, name, data)

    def delete_secret(self, namespace: str, name: str) -> bool:
        return secrets.delete_secret(self.api, namespace, name)

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        return secrets.read_secret(self.api, namespace, name)

    # workloads

    def delete_unfinished_jobs(self, namespace: str, label_selector: str | None = None) -> list[str]:
        return jobs.delete_unfinished_jobs(self.api, namespace, label_selector)

    def delete_jobs(self, namespace: str, label_selector: str) -> list[str]:
        return jobs.delete_jobs(self.api, namespace, label_selector)

    def wait_until_ready(
        self,
        namespace: str,
        *,
        should_stop: Callable[[], str | None],
        on_progress: Callable[[str], None] | None = None,
        poll_seconds: float = 1.0,
        settle_seconds: float = 0,
        quota_grace_seconds: float = 0,
    ) -> None:
        readiness.wait_until_ready(
            self.api,
            namespace,
            should_stop=should_stop,
            on_progress=on_progress,
            poll_seconds=poll_seconds,
            settle_seconds=settle_seconds,
            quota_grace_seconds=quota_grace_seconds,
        )

    def server_dry_run(self, manifests: list[dict[str, Any]], namespace: str) -> None:
        dryrun.server_dry_run(self.api, manifests, namespace)

    # small reads for the store page (one list call each, bounded by the
    # request timeout: the page connects with a short one)

    def list_pods(self, namespace: str) -> list[PodStatus]:
        return reads.list_pods(self.api, namespace)

    def list_events(self, namespace: str, limit: int = 50) -> list[ClusterEvent]:
        return reads.list_events(self.api, namespace, limit)

    def quota_usage(self, namespace: str) -> list[QuotaUsage]:
        return reads.quota_usage(self.api, namespace)

    # backups

    def pod_templates(self, namespace: str) -> dict[str, dict[str, Any]]:
        return backup_jobs.pod_templates(self.api, namespace)

    def create_job(self, namespace: str, manifest: dict[str, Any]) -> None:
        backup_jobs.create_job(self.api, namespace, manifest)

    def job_outcome(self, namespace: str, name: str) -> JobOutcome:
        return backup_jobs.job_outcome(self.api, namespace, name)

    def wait_for_job(self, namespace: str, name: str, *, should_stop: Callable[[], str | None]) -> JobOutcome:
        return backup_jobs.wait_for_job(self.api, namespace, name, should_stop=should_stop)

    def restart_workloads(self, namespace: str, components: tuple[str, ...]) -> list[str]:
        return backup_jobs.restart(self.api, namespace, components)

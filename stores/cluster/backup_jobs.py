"""What a backup or restore asks of the cluster: the store's pod templates, its
Job run to an end, and the workloads a restore restarts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from .client import ApiGroups, api_errors, is_status, metadata_of
from .errors import Stopped
from .guardrails import COMPONENT_LABEL
from .jobs import job_failed, job_succeeded

# Written on a restarted workload's pod template, as `kubectl rollout restart` does.
RESTARTED_AT = "store-provisioner.io/restartedAt"


@dataclass(frozen=True)
class JobOutcome:
    """Where a Job stands: "running", "succeeded", "failed" or "gone", and why it failed."""

    state: str
    message: str = ""


def pod_templates(api: ApiGroups, namespace: str) -> dict[str, dict[str, Any]]:
    """The pod template of each Deployment and StatefulSet, by its component label."""
    found: dict[str, dict[str, Any]] = {}
    with api_errors(f"reading the workloads of {namespace}", api.host):
        for listing in (
            api.apps.list_namespaced_deployment(namespace, _request_timeout=api.timeout),
            api.apps.list_namespaced_stateful_set(namespace, _request_timeout=api.timeout),
        ):
            for workload in listing.items:
                template = api.to_dict(workload)["spec"]["template"]
                component = ((template.get("metadata") or {}).get("labels") or {}).get(COMPONENT_LABEL)
                if component:
                    found.setdefault(component, template)
    return found


def create_job(api: ApiGroups, namespace: str, manifest: dict[str, Any]) -> None:
    with api_errors(f"creating Job {manifest['metadata']['name']} in {namespace}", api.host):
        # The client takes a plain dict as the body as well as a V1Job.
        api.batch.create_namespaced_job(namespace, manifest, _request_timeout=api.timeout)  # type: ignore[arg-type]


def job_outcome(api: ApiGroups, namespace: str, name: str) -> JobOutcome:
    with api_errors(f"reading Job {name} in {namespace}", api.host):
        try:
            job = api.to_dict(api.batch.read_namespaced_job(name, namespace, _request_timeout=api.timeout))
        except Exception as exc:
            if is_status(exc, 404):
                return JobOutcome("gone", f"Job {name} is gone")
            raise
        if job_succeeded(job):
            return JobOutcome("succeeded")
        if not job_failed(job):
            return JobOutcome("running")
        return JobOutcome("failed", _failure(api, namespace, name, job))


def wait_for_job(
    api: ApiGroups,
    namespace: str,
    name: str,
    *,
    should_stop: Callable[[], str | None],
    poll_seconds: float = 2.0,
) -> JobOutcome:
    """Until the Job ends (its own activeDeadlineSeconds bounds it)."""
    while True:
        outcome = job_outcome(api, namespace, name)
        if outcome.state != "running":
            return outcome
        reason = should_stop()
        if reason:
            raise Stopped(reason)
        time.sleep(poll_seconds)


def restart(api: ApiGroups, namespace: str, components: tuple[str, ...]) -> list[str]:
    """Restart the Deployments and StatefulSets of these components; their names."""
    restarted: list[str] = []
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: datetime.now(UTC).isoformat()}}}}}
    selector = f"{COMPONENT_LABEL} in ({','.join(components)})"
    with api_errors(f"restarting {', '.join(components)} in {namespace}", api.host):
        for list_fn, patch_fn in (
            (api.apps.list_namespaced_deployment, api.apps.patch_namespaced_deployment),
            (api.apps.list_namespaced_stateful_set, api.apps.patch_namespaced_stateful_set),
        ):
            for workload in list_fn(namespace, label_selector=selector, _request_timeout=api.timeout).items:
                name = cast(str, metadata_of(workload).name)
                patch_fn(name, namespace, patch, _request_timeout=api.timeout)
                restarted.append(name)
    return restarted


def _failure(api: ApiGroups, namespace: str, name: str, job: dict[str, Any]) -> str:
    """Why the Job failed: the failed container's last output, else the Job's condition."""
    pods = api.core.list_namespaced_pod(namespace, label_selector=f"job-name={name}", _request_timeout=api.timeout)
    for pod in pods.items:
        status = api.to_dict(pod).get("status") or {}
        for container in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
            terminated = (container.get("state") or {}).get("terminated") or {}
            if terminated and terminated.get("exitCode"):
                message = (terminated.get("message") or "").strip()
                tail = " | ".join(message.splitlines()[-5:])[-600:]
                return f"step {container['name']} exited with {terminated['exitCode']}" + (f": {tail}" if tail else "")
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Failed", "FailureTarget") and condition.get("status") == "True":
            return f"{condition.get('reason') or 'Failed'}: {condition.get('message') or ''}".strip(": ")
    return "the Job failed"

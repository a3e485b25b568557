"""Clearing unfinished Jobs before a retry.

A Job's pod template is immutable and Helm does not recreate a Job that
already exists, so a failed setup Job would stay failed across
``helm upgrade`` runs, and one left running by a killed attempt may carry an
older template. Removing them lets the next upgrade create a fresh one; a
Job that succeeded is kept, its work is done.
"""

from __future__ import annotations

from typing import Any, cast

from .client import ApiGroups, api_errors, is_status, metadata_of


def job_failed(job: dict[str, Any]) -> bool:
    """True when the Job controller has given up on the Job.

    ``FailureTarget`` (Kubernetes 1.31+) is set as soon as the Job is doomed;
    ``Failed`` follows once its pods have terminated.
    """
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Failed", "FailureTarget") and condition.get("status") == "True":
            return True
    return False


def job_succeeded(job: dict[str, Any]) -> bool:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Complete" and condition.get("status") == "True":
            return True
    return False


def delete_unfinished_jobs(api: ApiGroups, namespace: str, label_selector: str | None) -> list[str]:
    return _delete_jobs(api, namespace, label_selector, keep_succeeded=True)


def delete_jobs(api: ApiGroups, namespace: str, label_selector: str) -> list[str]:
    """Every matching Job, succeeded ones too: before an upgrade or rollback whose
    chart may render the Job's pod template differently (Helm would fail with
    "field is immutable"). Helm creates the Job again, and it runs again."""
    return _delete_jobs(api, namespace, label_selector, keep_succeeded=False)


def _delete_jobs(api: ApiGroups, namespace: str, label_selector: str | None, *, keep_succeeded: bool) -> list[str]:
    deleted: list[str] = []
    with api_errors(f"deleting unfinished jobs in {namespace}", api.host):
        jobs = api.batch.list_namespaced_job(
            namespace, label_selector=label_selector or None, _request_timeout=api.timeout
        )
        for job in jobs.items:
            # The API server names every Job it lists; the model makes the name optional.
            name = cast(str, metadata_of(job).name)
            if keep_succeeded and job_succeeded(api.to_dict(job)):
                continue
            try:
                # batch/v1 Jobs orphan their pods unless told otherwise;
                # Background removes the Job at once and its pods after.
                api.batch.delete_namespaced_job(
                    name,
                    namespace,
                    propagation_policy="Background",
                    _request_timeout=api.timeout,
                )
            except Exception as exc:
                if not is_status(exc, 404):
                    raise
            deleted.append(name)
    return deleted

"""Judging a store namespace: is everything ready, and if not, is it stuck?

Pure functions over plain dicts in the API server's JSON shape (camelCase
keys), so they work the same on watch events, listed objects and test
fixtures. ``readiness`` feeds them; nothing here talks to the cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from .errors import Failure, FailureCode
from .jobs import job_failed

# Container waiting reasons that do not fix themselves: retrying pulls the same
# missing image, restarts the same crashing binary, reads the same broken
# config. ContainerCreating / PodInitializing are normal and not listed.
FATAL_WAITING_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "InvalidImageName",
        "CreateContainerError",
    }
)

# How the kubelet reports a container the kernel killed at its memory limit,
# and how the platform says it to the owner.
OOM_KILLED = "OOMKilled"
OUT_OF_MEMORY = "out of memory"

# What each fatal waiting reason is, as a code.
WAITING_CODES = {
    "ErrImagePull": FailureCode.IMAGE,
    "ImagePullBackOff": FailureCode.IMAGE,
    "InvalidImageName": FailureCode.IMAGE,
    "CrashLoopBackOff": FailureCode.CRASH,
    "CreateContainerConfigError": FailureCode.CONTAINER,
    "CreateContainerError": FailureCode.CONTAINER,
}

# Controllers that create pods/claims and report FailedCreate events.
POD_CREATING_KINDS = frozenset({"ReplicaSet", "StatefulSet", "Job", "DaemonSet"})

# Failure texts that clear up by themselves a moment later, because Helm
# creates a chart's objects all at once and in no guaranteed order.
TRANSIENT_MARKERS = (
    # the scheduler waits for a StatefulSet's claim to be bound
    "unbound immediate PersistentVolumeClaims",
    # a pod created before its ServiceAccount (the namespace's "default" one
    # is added by a controller just after the namespace appears)
    "error looking up service account",
    # quota admission waits for the quota controller's first count
    "status unknown for quota",
    # a pod that must run beside another (the setup Job beside WordPress, for
    # its volume) waits until that pod is placed; if it never is, the other
    # pod's own failure (quota, image) is the reason to report
    "didn't match pod affinity rules",
    # a kubelet that has not yet been allowed to read a new pod's secret or
    # config map (the Node authorizer learns of the pod a moment after it is
    # bound) retries; a missing secret or key says "not found" instead
    "failed to sync secret cache",
    "failed to sync configmap cache",
    # the scheduler binding a claim while its provisioner updates it: an
    # optimistic-concurrency conflict, retried on the next scheduling attempt
    "the object has been modified; please apply your changes to the latest version",
    # the scheduler's own copy of a claim or volume lagging behind the API
    # server's ("out of sync (stored: 8631, assume: 8576)"): it drops its
    # assumption and tries the pod again
    "is out of sync (stored:",
)


@dataclass
class Snapshot:
    """What the namespace looks like right now (lists of API object dicts)."""

    deployments: list[dict[str, Any]] = field(default_factory=list)
    statefulsets: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Assessment:
    ready: bool
    # one short line per workload, keyed by "<kind>/<name>"
    progress: dict[str, str]


# ---------------------------------------------------------------- readiness


def assess(snapshot: Snapshot) -> Assessment:
    progress: dict[str, str] = {}
    all_ready = True
    for deployment in snapshot.deployments:
        ready, line = deployment_readiness(deployment)
        progress[f"Deployment/{_name(deployment)}"] = line
        all_ready &= ready
    for statefulset in snapshot.statefulsets:
        ready, line = statefulset_readiness(statefulset)
        progress[f"StatefulSet/{_name(statefulset)}"] = line
        all_ready &= ready
    for job in tracked_jobs(snapshot.jobs):
        ready, line = job_readiness(job)
        progress[f"Job/{_name(job)}"] = line
        all_ready &= ready
    # An empty namespace is not a ready store: the chart has not created
    # anything yet (or created nothing we know how to wait for).
    return Assessment(ready=all_ready and bool(progress), progress=progress)


def deployment_readiness(deployment: dict[str, Any]) -> tuple[bool, str]:
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    wanted = _int(spec.get("replicas"), 1)
    updated = _int(status.get("updatedReplicas"))
    available = _int(status.get("availableReplicas"))
    total = _int(status.get("replicas"))
    ready = (
        _observed_current(deployment)
        and updated == wanted
        and available >= wanted
        # pods of the previous revision are gone (what `kubectl rollout status` waits for)
        and total == wanted
    )
    return ready, f"{_name(deployment)} {min(available, wanted)}/{wanted} ready"


def statefulset_readiness(statefulset: dict[str, Any]) -> tuple[bool, str]:
    spec, status = statefulset.get("spec") or {}, statefulset.get("status") or {}
    wanted = _int(spec.get("replicas"), 1)
    ready_replicas = _int(status.get("readyReplicas"))
    ready = _observed_current(statefulset) and ready_replicas == wanted
    current, update = status.get("currentRevision"), status.get("updateRevision")
    rolling = ((spec.get("updateStrategy") or {}).get("type") or "RollingUpdate") != "OnDelete"
    if rolling and current and update and current != update:
        ready = False  # a rolling update is still replacing pods
    return ready, f"{_name(statefulset)} {min(ready_replicas, wanted)}/{wanted} ready"


def job_readiness(job: dict[str, Any]) -> tuple[bool, str]:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    completions = _int(spec.get("completions"), 1)
    succeeded = _int(status.get("succeeded"))
    complete = succeeded >= completions or _condition_true(job, "Complete")
    return complete, f"job {_name(job)} {min(succeeded, completions)}/{completions} succeeded"


def tracked_jobs(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Jobs the store waits for: not the runs of a CronJob, which come and go."""
    return [
        job for job in jobs if not any(ref.get("kind") == "CronJob" for ref in _meta(job).get("ownerReferences") or [])
    ]


# ---------------------------------------------------------------- failures


def find_failure(snapshot: Snapshot, events_since: datetime | None = None) -> Failure | None:
    """The first reason the namespace will not become ready by itself (with its code), or None.

    ``events_since`` drops Events last seen before that time, so a warning left
    over from an earlier attempt does not fail a retry.
    """
    for job in tracked_jobs(snapshot.jobs):
        reason = job_failure(job, snapshot.pods)
        if reason:
            return reason
    for pod in snapshot.pods:
        reason = pod_failure(pod)
        if reason:
            return reason
    for deployment in snapshot.deployments:
        reason = deployment_failure(deployment)
        if reason:
            return reason
    for event in snapshot.events:
        reason = event_failure(event, snapshot, events_since)
        if reason:
            return reason
    return None


def job_failure(job: dict[str, Any], pods: Sequence[dict[str, Any]] = ()) -> Failure | None:
    if not job_failed(job):
        return None
    # What its pods say beats the controller's "reached the backoff limit":
    # killed for memory, or the last line the setup script printed.
    for pod in pods:
        if _job_of(pod) != _name(job):
            continue
        for container in _container_statuses(pod):
            terminated = _terminated(container)
            if terminated.get("reason") == OOM_KILLED:
                return _join(
                    f"job {_name(job)} failed",
                    OUT_OF_MEMORY,
                    f"container {container.get('name')} was OOMKilled",
                    code=FailureCode.OOM,
                )
        for container in _container_statuses(pod):
            line = _last_line(_terminated(container).get("message"))
            if line:
                return _join(f"job {_name(job)} failed", line, None, code=FailureCode.SETUP)
    conditions = {c.get("type"): c for c in (job.get("status") or {}).get("conditions") or []}
    condition = conditions.get("Failed") or conditions.get("FailureTarget") or {}
    return _join(f"job {_name(job)} failed", condition.get("reason"), condition.get("message"), code=FailureCode.SETUP)


def pod_failure(pod: dict[str, Any]) -> Failure | None:
    if _meta(pod).get("deletionTimestamp"):
        return None  # on its way out; whatever replaces it gets judged instead
    status = pod.get("status") or {}
    for container in _container_statuses(pod):
        # Killed for memory: the same work under the same limit dies the same
        # way (a setup Job's next pod, a restarted server), so say so now.
        if _terminated(container).get("reason") == OOM_KILLED:
            return _join(
                f"pod {_name(pod)}",
                OUT_OF_MEMORY,
                f"container {container.get('name')} was OOMKilled",
                code=FailureCode.OOM,
            )
    for container in _container_statuses(pod):
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in FATAL_WAITING_REASONS and not _transient(waiting.get("message")):
            return _join(f"pod {_name(pod)}", reason, waiting.get("message"), code=WAITING_CODES[reason])
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
            and not _transient(condition.get("message"))
        ):
            return _join(f"pod {_name(pod)}", "FailedScheduling", condition.get("message"), code=FailureCode.SCHEDULING)
    return None


def deployment_failure(deployment: dict[str, Any]) -> Failure | None:
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        kind, state = condition.get("type"), condition.get("status")
        message = condition.get("message") or ""
        # The ReplicaSet controller reports pods it could not create (quota,
        # LimitRange, admission) here, and clears it once creation works.
        if kind == "ReplicaFailure" and state == "True" and not _transient(message):
            return _creation_failure("deployment", _name(deployment), condition.get("reason"), message)
        if kind == "Progressing" and state == "False" and condition.get("reason") == "ProgressDeadlineExceeded":
            return _join(
                f"deployment {_name(deployment)}", "ProgressDeadlineExceeded", message, code=FailureCode.ROLLOUT
            )
    return None


def event_failure(event: dict[str, Any], snapshot: Snapshot, since: datetime | None) -> Failure | None:
    if event.get("type") != "Warning":
        return None
    reason = event.get("reason")
    if reason not in ("FailedCreate", "FailedScheduling"):
        return None
    message = event.get("message") or event.get("note") or ""
    if _transient(message):
        return None
    if since is not None:
        seen = event_last_seen(event)
        if seen is None or seen < since:
            return None
    involved = event.get("involvedObject") or event.get("regarding") or {}
    kind, name = involved.get("kind"), involved.get("name") or "?"
    if not _still_pending(involved, snapshot):
        return None
    if reason == "FailedScheduling" and kind == "Pod":
        return _join(f"pod {name}", "FailedScheduling", message, code=FailureCode.SCHEDULING)
    if reason == "FailedCreate" and kind in POD_CREATING_KINDS:
        if "exceeded quota" in message or "forbidden" in message:
            # Same wording as the Deployment's ReplicaFailure condition, which
            # reports the same failure a moment later.
            message = message.removeprefix("Error creating: ")
            if kind == "ReplicaSet":
                return _creation_failure("deployment", _replicaset_owner(name), reason, message)
            return _creation_failure(kind.lower(), name, reason, message)
    return None


def event_last_seen(event: dict[str, Any]) -> datetime | None:
    """Latest of the timestamps an Event carries (which ones are set depends on
    the API version and the reporter)."""
    candidates = [
        event.get("lastTimestamp"),
        event.get("eventTime"),
        (event.get("series") or {}).get("lastObservedTime"),
        event.get("firstTimestamp"),
        _meta(event).get("creationTimestamp"),
    ]
    parsed = [t for t in (parse_time(c) for c in candidates) if t is not None]
    return max(parsed) if parsed else None


def parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---------------------------------------------------------------- helpers


def _still_pending(involved: dict[str, Any], snapshot: Snapshot) -> bool:
    """Does the object an Event is about still exist and still need pods?

    A warning about an object that has since recovered, or was replaced by a
    new one with the same name, is history, not a failure.
    """
    kind, name, uid = involved.get("kind"), involved.get("name"), involved.get("uid")

    def same(obj: dict[str, Any]) -> bool:
        meta = _meta(obj)
        return meta.get("name") == name and (not uid or not meta.get("uid") or meta.get("uid") == uid)

    if kind == "Pod":
        return any(same(p) and not _condition_true(p, "PodScheduled") for p in snapshot.pods)
    if kind == "StatefulSet":
        return any(same(s) and not statefulset_readiness(s)[0] for s in snapshot.statefulsets)
    if kind == "Job":
        return any(same(j) and not job_readiness(j)[0] for j in snapshot.jobs)
    if kind == "ReplicaSet":
        owner = _replicaset_owner(name or "")
        return any(_name(d) == owner and not deployment_readiness(d)[0] for d in snapshot.deployments)
    return kind in POD_CREATING_KINDS  # e.g. DaemonSet: nothing to check against


def _container_statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status") or {}
    return (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])


def _terminated(container: dict[str, Any]) -> dict[str, Any]:
    """The container's termination: the current one (a pod that does not
    restart), else the previous one (a container restarting after it)."""
    current: dict[str, Any] | None = (container.get("state") or {}).get("terminated")
    if current:
        return current
    if (container.get("state") or {}).get("running"):
        return {}  # it came back; an earlier termination is history
    return (container.get("lastState") or {}).get("terminated") or {}


def _job_of(pod: dict[str, Any]) -> str | None:
    labels = _meta(pod).get("labels") or {}
    for ref in _meta(pod).get("ownerReferences") or []:
        if ref.get("kind") == "Job":
            return cast("str | None", ref.get("name"))
    return labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")


def _last_line(message: str | None) -> str:
    """The line that says why, from a termination message (a script's last
    log lines with terminationMessagePolicy FallbackToLogsOnError)."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("setup failed:"):
            return line
    return lines[-1][:300] if lines else ""


def _replicaset_owner(replicaset_name: str) -> str:
    # We do not watch ReplicaSets; "<deployment>-<pod-template-hash>" names
    # the Deployment that owns one.
    return replicaset_name.rsplit("-", 1)[0]


def _creation_failure(kind: str, name: str, reason: str | None, message: str) -> Failure:
    # The API server's refusal is the only word on which admission refused a
    # pod: the quota's ("exceeded quota"), or a LimitRange's or Pod Security's.
    if "exceeded quota" in message:
        return Failure(f"quota exceeded: {message}", FailureCode.QUOTA)
    return _join(f"{kind} {name}", reason or "FailedCreate", message, code=FailureCode.ADMISSION)


def _transient(message: str | None) -> bool:
    # bool() does not narrow `message` for mypy; it is a non-empty str here.
    return bool(message) and any(marker in cast(str, message) for marker in TRANSIENT_MARKERS)


def _condition_true(obj: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in (obj.get("status") or {}).get("conditions") or []
    )


def _observed_current(obj: dict[str, Any]) -> bool:
    """The controller has seen the latest spec (else its status is stale)."""
    generation = _meta(obj).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    return generation is None or (observed is not None and observed >= generation)


def _join(subject: str, reason: str | None, message: str | None, *, code: FailureCode) -> Failure:
    parts = [subject] + [p.strip() for p in (reason, message) if p and p.strip()]
    return Failure(": ".join(parts), code)


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _name(obj: dict[str, Any]) -> str:
    return _meta(obj).get("name") or "?"


def _int(value: int | str | None, default: int = 0) -> int:
    return default if value is None else int(value)

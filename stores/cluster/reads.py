"""Small reads for the store page: pods, Events and quota usage of a namespace.

They run on a web request, so they return plain frozen dataclasses (cheap to
cache and to render) and each is a single list call bounded by the client's
request timeout; the store page connects with a short one. The pure functions
below turn API-shaped dicts (camelCase keys) into those dataclasses, so they
work the same on listed objects and test fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kubernetes.utils import parse_quantity

from .client import ApiGroups, api_errors
from .diagnosis import OOM_KILLED, event_last_seen, parse_time

# A store namespace holds a handful of objects, but a crash-looping pod or a
# controller refused by the quota keeps adding Events; the API server cannot
# sort them by time, so this many are listed and the newest kept.
EVENT_LIST_LIMIT = 500


@dataclass(frozen=True)
class PodStatus:
    name: str
    phase: str
    ready: int  # containers ready
    containers: int  # containers in the spec (init containers not counted, as kubectl does)
    restarts: int
    # Why it is not simply running: a container's waiting or terminated reason
    # (ImagePullBackOff, OOMKilled, CreateContainerConfigError...), the pod's
    # own (Evicted, Unschedulable) or "Terminating"; "" when there is none.
    reason: str
    message: str
    # The reason the container last died, when it has restarted since
    # (CrashLoopBackOff hides an OOMKilled that way).
    last_reason: str
    created_at: datetime | None

    @property
    def healthy(self) -> bool:
        return self.phase == "Succeeded" or (
            self.phase == "Running" and self.ready == self.containers and not self.reason
        )


@dataclass(frozen=True)
class ClusterEvent:
    time: datetime | None  # when it was last seen
    first_time: datetime | None
    type: str  # "Normal" or "Warning"
    reason: str
    object: str  # "Pod/store-wordpress-5d8f9", "ReplicaSet/..."
    message: str
    count: int  # how many times it happened, repeats folded in

    @property
    def warning(self) -> bool:
        return self.type == "Warning"


@dataclass(frozen=True)
class QuotaUsage:
    quota: str
    resource: str  # "requests.cpu", "pods", "requests.storage"...
    used: str  # as the API server reports it ("750m", "1152Mi"); "" before the first count
    hard: str
    fraction: float | None  # used / hard; None when either cannot be read

    @property
    def exhausted(self) -> bool:
        return self.fraction is not None and self.fraction >= 1


# ---------------------------------------------------------------- reads


def list_pods(api: ApiGroups, namespace: str) -> list[PodStatus]:
    with api_errors(f"listing pods in {namespace}", api.host):
        result = api.core.list_namespaced_pod(namespace, _request_timeout=api.timeout)
    pods = [pod_status(api.to_dict(item)) for item in result.items]
    return sorted(pods, key=lambda p: p.name)


def list_events(api: ApiGroups, namespace: str, limit: int = 50) -> list[ClusterEvent]:
    with api_errors(f"listing events in {namespace}", api.host):
        result = api.core.list_namespaced_event(namespace, limit=EVENT_LIST_LIMIT, _request_timeout=api.timeout)
    return fold_events([api.to_dict(item) for item in result.items])[:limit]


def quota_usage(api: ApiGroups, namespace: str) -> list[QuotaUsage]:
    with api_errors(f"reading the resource quota of {namespace}", api.host):
        result = api.core.list_namespaced_resource_quota(namespace, _request_timeout=api.timeout)
    lines: list[QuotaUsage] = []
    for item in sorted((api.to_dict(i) for i in result.items), key=lambda q: _name(q)):
        lines.extend(quota_lines(item))
    return lines


# ---------------------------------------------------------------- pure parts


def pod_status(pod: dict[str, Any]) -> PodStatus:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    init = status.get("initContainerStatuses") or []
    main = status.get("containerStatuses") or []
    reason, message, last_reason = "", "", ""
    for container in init + main:
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
        previous = (container.get("lastState") or {}).get("terminated") or {}
        if not last_reason and previous.get("reason") and not terminated:
            last_reason = previous["reason"]
        if reason:
            continue
        if waiting.get("reason"):
            reason, message = waiting["reason"], waiting.get("message") or ""
        elif terminated.get("reason") and (terminated.get("exitCode") or terminated["reason"] == OOM_KILLED):
            # A container that exited 0 (a finished init container, a Job's
            # pod) has nothing to explain.
            reason, message = terminated["reason"], terminated.get("message") or ""
    if meta.get("deletionTimestamp"):
        reason, message = "Terminating", ""
    elif not reason and status.get("reason"):
        reason, message = status["reason"], status.get("message") or ""  # Evicted, OutOfpods...
    elif not reason:
        for condition in status.get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                reason, message = condition.get("reason") or "Unschedulable", condition.get("message") or ""
    return PodStatus(
        name=meta.get("name") or "?",
        phase=status.get("phase") or "Pending",
        ready=sum(1 for c in main if c.get("ready")),
        containers=len(spec.get("containers") or []) or len(main),
        restarts=sum(int(c.get("restartCount") or 0) for c in main),
        reason=reason,
        message=" ".join(message.split()),
        last_reason=last_reason if last_reason != reason else "",
        created_at=parse_time(meta.get("creationTimestamp")),
    )


def fold_events(events: list[dict[str, Any]]) -> list[ClusterEvent]:
    """Events newest first, repeats folded into one with their total count.

    Kubernetes already folds an exact repeat into one Event (``count``, or
    ``series.count`` for events.k8s.io reporters); a controller that retries
    (a ReplicaSet refused by the quota, a pod backing off) may still write
    several objects with the same reason, object and message, so those are
    folded here too.
    """
    # (type, reason, object, message)
    folded: dict[tuple[str, str, str, str], ClusterEvent] = {}
    for event in events:
        involved = event.get("involvedObject") or event.get("regarding") or {}
        subject = "/".join(p for p in (involved.get("kind"), involved.get("name")) if p)
        message = " ".join((event.get("message") or event.get("note") or "").split())
        count = max(int(event.get("count") or 0), int((event.get("series") or {}).get("count") or 0), 1)
        key = (event.get("type") or "Normal", event.get("reason") or "", subject, message)
        seen = event_last_seen(event)
        first = parse_time(event.get("firstTimestamp")) or parse_time(event.get("eventTime")) or seen
        earlier = folded.get(key)
        if earlier is not None:
            count += earlier.count
            seen = _latest(seen, earlier.time)
            first = _earliest(first, earlier.first_time)
        folded[key] = ClusterEvent(
            time=seen, first_time=first, type=key[0], reason=key[1], object=subject, message=message, count=count
        )
    return sorted(folded.values(), key=lambda e: (e.time is not None, e.time or datetime.min), reverse=True)


def quota_lines(quota: dict[str, Any]) -> list[QuotaUsage]:
    hard = (quota.get("spec") or {}).get("hard") or {}
    status = quota.get("status") or {}
    used = status.get("used") or {}
    lines = []
    for resource, limit in hard.items():
        value = used.get(resource)
        lines.append(
            QuotaUsage(
                quota=_name(quota),
                resource=resource,
                used="" if value is None else str(value),
                hard=str(limit),
                fraction=_fraction(value, limit),
            )
        )
    return lines


def _fraction(used: object, hard: object) -> float | None:
    if used is None or hard is None:
        return None
    try:
        # parse_quantity is not annotated; it returns a Decimal.
        numerator, denominator = parse_quantity(used), parse_quantity(hard)  # type: ignore[no-untyped-call]
    except (ValueError, InvalidOperation, TypeError):
        return None
    if denominator == 0:
        return 1.0 if numerator > 0 else 0.0
    return float(Decimal(numerator) / Decimal(denominator))


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((t for t in (a, b) if t is not None), default=None)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min((t for t in (a, b) if t is not None), default=None)


def _name(obj: dict[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("name") or "?"

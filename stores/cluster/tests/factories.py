"""Builders for API object dicts in the API server's JSON shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> datetime:
    return datetime.now(UTC)


def meta(name: str, **extra) -> dict:
    return {"name": name, "namespace": "store-acme", "uid": f"uid-{name}", **extra}


def pod(name="web-abc", *, waiting=None, message="", init_waiting=None, scheduled=None, deleting=False) -> dict:
    metadata = meta(name)
    if deleting:
        metadata["deletionTimestamp"] = iso(now())
    status: dict = {"phase": "Pending", "conditions": []}
    if waiting:
        status["containerStatuses"] = [
            {"name": "app", "ready": False, "state": {"waiting": {"reason": waiting, "message": message}}}
        ]
    if init_waiting:
        status["initContainerStatuses"] = [
            {"name": "init", "ready": False, "state": {"waiting": {"reason": init_waiting, "message": message}}}
        ]
    if scheduled is not None:
        reason, scheduled_message = scheduled
        status["conditions"].append(
            {"type": "PodScheduled", "status": "False", "reason": reason, "message": scheduled_message}
        )
    return {"metadata": metadata, "status": status}


def deployment(
    name="web", *, replicas=1, updated=None, available=None, total=None, generation=1, observed=1, conditions=None
) -> dict:
    return {
        "metadata": meta(name, generation=generation),
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas if total is None else total,
            "updatedReplicas": replicas if updated is None else updated,
            "availableReplicas": replicas if available is None else available,
            "conditions": conditions or [],
        },
    }


def statefulset(
    name="db", *, replicas=1, ready=None, current="db-1", update="db-1", generation=1, observed=1, strategy=None
) -> dict:
    spec = {"replicas": replicas}
    if strategy:
        spec["updateStrategy"] = {"type": strategy}
    return {
        "metadata": meta(name, generation=generation),
        "spec": spec,
        "status": {
            "observedGeneration": observed,
            "readyReplicas": replicas if ready is None else ready,
            "currentRevision": current,
            "updateRevision": update,
        },
    }


def job(name="store-acme-setup", *, completions=None, succeeded=0, conditions=None, owner_kind=None) -> dict:
    metadata = meta(name)
    if owner_kind:
        metadata["ownerReferences"] = [{"kind": owner_kind, "name": "owner"}]
    spec = {} if completions is None else {"completions": completions}
    return {"metadata": metadata, "spec": spec, "status": {"succeeded": succeeded, "conditions": conditions or []}}


def condition(type_, status="True", reason=None, message=None) -> dict:
    cond = {"type": type_, "status": status}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def event(reason, message, *, kind="ReplicaSet", name="web-5d4f", uid=None, type_="Warning", age_seconds=1) -> dict:
    seen = iso(now() - timedelta(seconds=age_seconds))
    return {
        "metadata": meta(f"{name}.{reason.lower()}", creationTimestamp=seen),
        "type": type_,
        "reason": reason,
        "message": message,
        "involvedObject": {"kind": kind, "name": name, **({"uid": uid} if uid else {})},
        "firstTimestamp": seen,
        "lastTimestamp": seen,
    }

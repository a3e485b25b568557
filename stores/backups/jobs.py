"""The Job that backs a store up, or restores it: rendered from the engine's
`BackupPlan` and the store's own pod templates, as the cluster runs them.

Nothing here talks to the cluster or the object store: the caller reads the
pod templates (stores.cluster `pod_templates`), signs the URLs
(stores/backups/storage.py) and creates the Job. The conformance suite renders
it from each chart's templates and holds it to the chart contract.

A backup runs three containers in turn, sharing an emptyDir at BACKUP_DIR:
    database   the database component's image and environment: the dump
    files      the files component's image, its volume at FILES_DIR: the archive
    transfer   the transfer component's image: checksums, then a PUT per object
A restore runs them the other way round: transfer (GET, then the checksums
checked), files (the volume's contents replaced), database (the restore).
The first two are init containers, so each starts only when the one before
it succeeded, and the pod's resources are those of the biggest one.
"""

from __future__ import annotations

import copy
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stores.cluster.guardrails import BACKUP_LABEL, BACKUP_LABEL_VALUE, MANAGED_BY
from stores.engines.base import BackupPlan
from stores.engines.contract import COMPONENT_LABEL

SCRIPTS = Path(__file__).resolve().parent / "scripts"
BACKUP_COMPONENT = "backup"
BACKUP_JOB_SELECTOR = f"{COMPONENT_LABEL}={BACKUP_COMPONENT}"
BACKUP_DIR = "/backup"
FILES_DIR = "/files"
FILES_OBJECT = "files.tar.gz"
SUMS_OBJECT = "SHA256SUMS"
DATABASE_OBJECTS = {"mariadb": "database.sql.gz", "postgres": "database.dump"}
# A backup's containers are light (a dump client, tar, curl or node): small
# requests, so the Job fits beside the running store in the namespace's quota.
# Its disk is the emptyDir, which the whole backup must fit in.
RESOURCES = {
    "requests": {"cpu": "50m", "memory": "64Mi", "ephemeral-storage": "64Mi"},
    "limits": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "2Gi"},
}
WORK_SIZE_LIMIT = "2Gi"


def objects(plan: BackupPlan) -> tuple[str, ...]:
    """The objects a backup of `plan` consists of, in the order the Job names their URLs."""
    return (DATABASE_OBJECTS[plan.database], FILES_OBJECT, SUMS_OBJECT)


@dataclass(frozen=True)
class JobRequest:
    """One backup or restore Job: its name, what it does, and one signed URL per object."""

    name: str
    restore: bool
    urls: tuple[str, ...]
    deadline_seconds: int
    # Extra labels (the backup's id, so a Job is found again by it).
    labels: dict[str, str]


class TemplateMissing(Exception):
    """The store runs no workload of a component the engine's plan names."""


def render(plan: BackupPlan, templates: dict[str, dict[str, Any]], request: JobRequest) -> dict[str, Any]:
    """The Job's manifest. `templates` maps each component to its pod template
    ({"metadata": ..., "spec": ...}, as the API server sends it)."""
    for component in plan.components:
        if component not in templates:
            raise TemplateMissing(f"the store runs no {component} workload, which its backup needs")
    files_template = templates[plan.files_component]
    files_volume, files_mount = _files_volume(plan, files_template)
    names = objects(plan)
    if len(request.urls) != len(names):
        raise ValueError(f"{len(names)} URLs needed ({', '.join(names)}), {len(request.urls)} given")

    database = _container(
        "database",
        templates[plan.database_component],
        f"{plan.database}-{'restore' if request.restore else 'dump'}.sh",
        env=[
            *copy.deepcopy(_main_container(templates[plan.database_component]).get("env") or []),
            {"name": "DB_HOST", "value": plan.database_host},
            {"name": "DB_PORT", "value": str(plan.database_port)},
        ],
    )
    files = _container(
        "files",
        files_template,
        "files-extract.sh" if request.restore else "files-archive.sh",
        env=[{"name": "FILES_DIR", "value": FILES_DIR}],
        mounts=[{**files_mount, "readOnly": not request.restore}],
    )
    transfer = _container(
        "transfer",
        templates[plan.transfer_component],
        "transfer.sh",
        args=["get" if request.restore else "put"],
        env=[
            {"name": "BACKUP_OBJECTS", "value": " ".join(names)},
            *({"name": f"BACKUP_URL_{i}", "value": url} for i, url in enumerate(request.urls)),
        ],
    )
    order = [transfer, files, database] if request.restore else [database, files, transfer]
    labels = {**MANAGED_BY, COMPONENT_LABEL: BACKUP_COMPONENT, BACKUP_LABEL: BACKUP_LABEL_VALUE, **request.labels}
    files_spec = files_template.get("spec") or {}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        # The files component's: its fsGroup is what makes the volume's files its own.
        "securityContext": {
            **copy.deepcopy(files_spec.get("securityContext") or {}),
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": order[:2],
        "containers": order[2:],
        "volumes": [
            {"name": "work", "emptyDir": {"sizeLimit": WORK_SIZE_LIMIT}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
            files_volume,
        ],
        # A ReadWriteOnce volume is mounted on one node: the Job's pod goes
        # where the pods that mount it are.
        "affinity": {
            **copy.deepcopy(files_spec.get("affinity") or {}),
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": {COMPONENT_LABEL: plan.files_component}},
                        "topologyKey": "kubernetes.io/hostname",
                    }
                ]
            },
        },
    }
    for key in ("nodeSelector", "tolerations"):
        if files_spec.get(key):
            pod_spec[key] = copy.deepcopy(files_spec[key])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": request.name, "labels": labels},
        "spec": {
            # A backup that failed is tried again by the next round, not by
            # the Job: a half-done restore must not be run twice unseen.
            "backoffLimit": 0,
            "activeDeadlineSeconds": request.deadline_seconds,
            "ttlSecondsAfterFinished": 86400,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def script(name: str) -> str:
    return (SCRIPTS / name).read_text()


def _main_container(template: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = (template.get("spec") or {}).get("containers") or []
    if not containers:
        raise TemplateMissing("a workload of the store has no container")
    return containers[0]


def _container(
    name: str,
    template: dict[str, Any],
    script_name: str,
    *,
    env: list[dict[str, Any]],
    args: list[str] | None = None,
    mounts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    source = _main_container(template)
    security = copy.deepcopy(source.get("securityContext") or {})
    security.update(
        {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        }
    )
    return {
        "name": name,
        "image": source["image"],
        "imagePullPolicy": source.get("imagePullPolicy") or "IfNotPresent",
        # The script's text, run by the image's own sh: nothing is added to the image.
        "command": ["sh", "-c", script(script_name), script_name, *(args or [])],
        "env": [*env, {"name": "BACKUP_DIR", "value": BACKUP_DIR}],
        "securityContext": security,
        "resources": copy.deepcopy(RESOURCES),
        "volumeMounts": [
            {"name": "work", "mountPath": BACKUP_DIR},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 (the pod's own emptyDir)
            *(mounts or []),
        ],
        # A failed step's last lines of output become its termination message,
        # which the platform shows as the reason.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def _files_volume(plan: BackupPlan, template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod volume holding the files, and the mount that puts them at FILES_DIR.

    Found from the files component's own mounts: the one whose path holds
    `plan.files_path`, with the rest of the path added to its subPath."""
    spec = template.get("spec") or {}
    best: dict[str, Any] | None = None
    for mount in _main_container(template).get("volumeMounts") or []:
        path = mount["mountPath"].rstrip("/") or "/"
        if plan.files_path == path or plan.files_path.startswith(path + "/"):
            if best is None or len(path) > len(best["mountPath"].rstrip("/")):
                best = mount
    if best is None:
        raise TemplateMissing(f"the {plan.files_component} workload mounts no volume at {plan.files_path}")
    rest = plan.files_path[len(best["mountPath"].rstrip("/")) :].lstrip("/")
    sub_path = "" if plan.files_whole_volume else posixpath.join(best.get("subPath") or "", rest).strip("/")
    volume = next((v for v in spec.get("volumes") or [] if v.get("name") == best["name"]), None)
    if volume is None or "persistentVolumeClaim" not in volume:
        raise TemplateMissing(
            f"the {plan.files_component} workload's files at {plan.files_path} are on no volume claim"
        )
    files_mount: dict[str, Any] = {"name": "files", "mountPath": FILES_DIR}
    if sub_path:
        files_mount["subPath"] = sub_path
    return {"name": "files", "persistentVolumeClaim": copy.deepcopy(volume["persistentVolumeClaim"])}, files_mount

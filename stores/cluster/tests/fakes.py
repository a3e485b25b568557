"""Fakes at the client boundary: list methods that also feed watch events.

They stand in for the ``kubernetes`` client *below* ``Kubernetes``, so the
layer's own code runs in its tests; the fakes of ``Kubernetes``/``Helm``
themselves are in ``stores/tests/fakes.py``.
"""

from __future__ import annotations

import queue
import threading
import time
from types import SimpleNamespace

from kubernetes.client.exceptions import ApiException


class FakeKind:
    """Stands in for one ``list_namespaced_*`` method.

    Calling it lists the current objects; ``put``/``delete`` change them and
    queue the matching watch event for ``FakeWatch``.
    """

    def __init__(self, *objects: dict):
        self.objects = {o["metadata"]["name"]: o for o in objects}
        self.events: queue.Queue = queue.Queue()
        self.list_error: Exception | None = None
        self.watch_error: Exception | None = None
        self.version = 1

    def __call__(self, namespace, **kwargs):
        if self.list_error is not None:
            raise self.list_error
        return SimpleNamespace(
            items=list(self.objects.values()), metadata=SimpleNamespace(resource_version=str(self.version))
        )

    def put(self, obj: dict) -> None:
        event_type = "MODIFIED" if obj["metadata"]["name"] in self.objects else "ADDED"
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.objects[obj["metadata"]["name"]] = obj
        self.events.put({"type": event_type, "raw_object": obj})

    def delete(self, name: str) -> None:
        obj = self.objects.pop(name)
        self.events.put({"type": "DELETED", "raw_object": obj})


class FakeWatch:
    """``kubernetes.watch.Watch`` over a FakeKind's event queue."""

    instances: list[FakeWatch] = []

    def __init__(self):
        self._stopped = threading.Event()
        FakeWatch.instances.append(self)

    def stream(self, func: FakeKind, namespace, *, timeout_seconds, **kwargs):
        if func.watch_error is not None:
            raise func.watch_error
        deadline = time.monotonic() + timeout_seconds
        while not self._stopped.is_set() and time.monotonic() < deadline:
            try:
                yield func.events.get(timeout=0.02)
            except queue.Empty:
                continue

    def stop(self):
        self._stopped.set()


def fake_api(phase: str = "Active", **kinds: FakeKind) -> SimpleNamespace:
    """A ApiGroups stand-in whose list methods are the given FakeKinds, for a
    namespace in the given phase."""
    kind = {
        name: kinds.get(name) or FakeKind()
        for name in ("deployments", "statefulsets", "jobs", "pods", "events", "resourcequotas")
    }
    return SimpleNamespace(
        apps=SimpleNamespace(
            list_namespaced_deployment=kind["deployments"],
            list_namespaced_stateful_set=kind["statefulsets"],
        ),
        batch=SimpleNamespace(list_namespaced_job=kind["jobs"]),
        core=SimpleNamespace(
            list_namespaced_pod=kind["pods"],
            list_namespaced_event=kind["events"],
            list_namespaced_resource_quota=kind["resourcequotas"],
            read_namespace=lambda name, **kwargs: SimpleNamespace(status=SimpleNamespace(phase=phase)),
        ),
        timeout=(1, 1),
        watch_timeout=lambda seconds: (1, seconds + 1),
        host="https://fake-apiserver",
        to_dict=lambda obj: obj,
        kinds=kind,
    )


def not_found() -> ApiException:
    return ApiException(status=404, reason="Not Found", body='{"message": "not found"}')


def conflict() -> ApiException:
    return ApiException(status=409, reason="Conflict", body='{"message": "already exists"}')


def raising(exc: Exception):
    """A stand-in API method that always fails with ``exc``."""

    def method(*args, **kwargs):
        raise exc

    return method


class FakeNamespacedObjects:
    """The create/read/replace/delete methods of namespaced kinds, over one dict.

    ``objects`` maps (kind, namespace, name) to the body last written; a
    create of an existing object answers 409 as the API server does, and a
    replace must carry the current resourceVersion.
    """

    KINDS = {
        "ResourceQuota": "resource_quota",
        "LimitRange": "limit_range",
        "NetworkPolicy": "network_policy",
    }

    def __init__(self):
        self.objects: dict[tuple[str, str, str], dict] = {}
        self.versions: dict[tuple[str, str, str], int] = {}
        self.calls: list[tuple[str, str, str]] = []
        for kind, suffix in self.KINDS.items():
            setattr(self, f"create_namespaced_{suffix}", self._create(kind))
            setattr(self, f"read_namespaced_{suffix}", self._read(kind))
            setattr(self, f"replace_namespaced_{suffix}", self._replace(kind))
            setattr(self, f"delete_namespaced_{suffix}", self._delete(kind))

    def _create(self, kind):
        def create(namespace, body, **kwargs):
            key = (kind, namespace, body["metadata"]["name"])
            self.calls.append(("create", kind, key[2]))
            if key in self.objects:
                raise conflict()
            self._store(key, body)

        return create

    def _read(self, kind):
        def read(name, namespace, **kwargs):
            key = (kind, namespace, name)
            self.calls.append(("read", kind, name))
            if key not in self.objects:
                raise not_found()
            return SimpleNamespace(metadata=SimpleNamespace(resource_version=str(self.versions[key])))

        return read

    def _replace(self, kind):
        def replace(name, namespace, body, **kwargs):
            key = (kind, namespace, name)
            self.calls.append(("replace", kind, name))
            if key not in self.objects:
                raise not_found()
            if body["metadata"].get("resourceVersion") != str(self.versions[key]):
                raise conflict()
            self._store(key, body)

        return replace

    def _delete(self, kind):
        def delete(name, namespace, **kwargs):
            key = (kind, namespace, name)
            self.calls.append(("delete", kind, name))
            if key not in self.objects:
                raise not_found()
            del self.objects[key]

        return delete

    def _store(self, key, body):
        self.versions[key] = self.versions.get(key, 0) + 1
        stored = {**body, "metadata": {k: v for k, v in body["metadata"].items() if k != "resourceVersion"}}
        self.objects[key] = stored

    def api(self) -> SimpleNamespace:
        """An ApiGroups stand-in whose core and networking groups are these methods."""
        return SimpleNamespace(core=self, networking=self, timeout=(1, 1), host="https://fake-apiserver")

"""Waiting for a store namespace to become ready, driven by watches.

The namespace's Deployments, StatefulSets, Jobs, Pods and Events are listed
once. If that first look settles nothing, one background thread per kind
watches from the list's resourceVersion and keeps a local copy up to date (a
small informer). The caller's thread sleeps on a condition until any copy
changes - or at most ``poll_seconds``, so ``should_stop()`` is asked often -
and judges the copies with ``diagnosis``. There is no polling of the API.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from kubernetes import watch

from .client import ApiGroups, is_status, translate
from .diagnosis import Snapshot, assess, find_failure
from .errors import ClusterError, ClusterUnavailable, FailureCode, Stopped, WorkloadFailed
from .namespaces import namespace_phase

# Server-side length of one watch request. Watches are restarted from the last
# resourceVersion, so this only bounds how long a silent connection can hide.
WATCH_CHUNK_SECONDS = 15
# Warning Events are kept for an hour; only recent ones say something about
# this attempt (helm install runs just before the wait starts).
EVENT_LOOKBACK_SECONDS = 120
# How long a watch may keep failing to reconnect before the wait gives up.
RECONNECT_GRACE_SECONDS = 30
# Burst of watch events (a pod going Running -> Ready touches pod, ReplicaSet,
# Deployment and Events) is judged once, after this short pause.
COALESCE_SECONDS = 0.05
# The wait's clock: how long ready has lasted, when should_stop() is due, how
# long a watch has failed. Tests replace it (and the wait for a change) to run
# the loop in scripted time.
clock: Callable[[], float] = time.monotonic


class _Reflector:
    """Keeps an up-to-date copy of one resource kind in one namespace."""

    def __init__(
        self,
        api: ApiGroups,
        kind: str,
        list_fn: Callable[..., Any],
        namespace: str,
        notify: Callable[[], None],
        stopping: threading.Event,
    ):
        self.api, self.kind, self.list_fn, self.namespace = api, kind, list_fn, namespace
        self._notify, self._stopping = notify, stopping
        self._lock = threading.Lock()
        self._objects: dict[str, dict[str, Any]] = {}
        self._resource_version: str | None = None
        self._watch: watch.Watch | None = None
        self._thread: threading.Thread | None = None
        self.failure: ClusterError | None = None
        self.failing_since: float | None = None

    def objects(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._objects.values())

    def sync(self) -> None:
        """List everything and remember where the list left off."""
        result = self.list_fn(self.namespace, _request_timeout=self.api.timeout)
        fresh: dict[str, dict[str, Any]] = {}
        for item in result.items:
            obj = self.api.to_dict(item)
            fresh[obj["metadata"]["name"]] = obj
        with self._lock:
            self._objects = fresh
        self._resource_version = result.metadata.resource_version
        self._notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"watch-{self.kind}-{self.namespace}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        current = self._watch
        if current is not None:
            # Also shuts the socket, so the thread wakes up now. (kubernetes.watch is not annotated.)
            current.stop()  # type: ignore[no-untyped-call]

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                if self._resource_version is None:
                    self.sync()
                self._watch_once()
                self.failure, self.failing_since, backoff = None, None, 0.5
            except Exception as exc:
                if self._stopping.is_set():
                    break
                # 410 Gone: our resourceVersion was compacted away. Any other
                # error: reconnect. Both start again from a fresh list.
                self._resource_version = None
                if not is_status(exc, 410):
                    self.failure = translate(exc, f"watching {self.kind}", self.api.host) or ClusterError(
                        f"watching {self.kind} in {self.namespace} failed: {type(exc).__name__}"
                    )
                    if self.failing_since is None:
                        self.failing_since = clock()
                    self._notify()
                    self._stopping.wait(backoff)
                    backoff = min(backoff * 2, 5)

    def _watch_once(self) -> None:
        # kubernetes.watch is not annotated, hence the ignores on its calls.
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        if self._stopping.is_set():  # stop() may have run just before we got here
            return
        try:
            for event in self._watch.stream(  # type: ignore[no-untyped-call]
                self.list_fn,
                self.namespace,
                resource_version=self._resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=WATCH_CHUNK_SECONDS,
                _request_timeout=self.api.watch_timeout(WATCH_CHUNK_SECONDS),
            ):
                if self._stopping.is_set():
                    return
                obj: dict[str, Any] = event["raw_object"]
                meta: dict[str, Any] = obj.get("metadata") or {}
                if meta.get("resourceVersion"):
                    self._resource_version = meta["resourceVersion"]
                if event["type"] == "BOOKMARK":
                    continue
                # Every object a watch sends is named (a BOOKMARK, which is not, was skipped).
                name = cast(str, meta.get("name"))
                with self._lock:
                    if event["type"] == "DELETED":
                        self._objects.pop(name, None)
                    else:
                        self._objects[name] = obj
                self._notify()
        finally:
            self._watch = None


class NamespaceWatch:
    """Context manager holding one reflector per kind the wait looks at."""

    def __init__(self, api: ApiGroups, namespace: str):
        self._changed = threading.Condition()
        self._dirty = False
        self._stopping = threading.Event()
        self._started = False
        kinds = {
            "deployments": api.apps.list_namespaced_deployment,
            "statefulsets": api.apps.list_namespaced_stateful_set,
            "jobs": api.batch.list_namespaced_job,
            "pods": api.core.list_namespaced_pod,
            "events": api.core.list_namespaced_event,
        }
        self._reflectors = {
            kind: _Reflector(api, kind, list_fn, namespace, self._mark_dirty, self._stopping)
            for kind, list_fn in kinds.items()
        }
        self._host = api.host

    def __enter__(self) -> NamespaceWatch:
        # The first list runs here, in the caller's thread, so a broken
        # connection fails the wait at once instead of after the grace period.
        try:
            for reflector in self._reflectors.values():
                reflector.sync()
        except Exception as exc:
            translated = translate(exc, "listing workloads", self._host)
            if translated is None or translated is exc:
                raise
            raise translated from exc
        return self

    def start_watching(self) -> None:
        """Start the watch threads (once). Deferred until the first look at
        the listed state was not enough, so an already-ready namespace costs
        five list requests and no watches."""
        if self._started:
            return
        self._started = True
        for reflector in self._reflectors.values():
            reflector.start()

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        for reflector in self._reflectors.values():
            reflector.stop()
        # A watch request still being sent when stop() came can only notice
        # at its next event or when the server ends it (WATCH_CHUNK_SECONDS);
        # those daemon threads finish on their own, so do not wait for them.
        deadline = time.monotonic() + 0.5
        for reflector in self._reflectors.values():
            reflector.join(timeout=max(0.0, deadline - time.monotonic()))

    def snapshot(self) -> Snapshot:
        with self._changed:
            self._dirty = False
        return Snapshot(**{kind: r.objects() for kind, r in self._reflectors.items()})

    def wait_for_change(self, timeout: float) -> bool:
        with self._changed:
            changed = self._changed.wait_for(lambda: self._dirty, timeout=timeout)
        if changed:
            time.sleep(COALESCE_SECONDS)
        return changed

    def raise_if_broken(self) -> None:
        for reflector in self._reflectors.values():
            failure, since = reflector.failure, reflector.failing_since
            if failure is None or since is None:
                continue
            # Permission or API errors will not heal; a lost connection may.
            if not isinstance(failure, ClusterUnavailable):
                raise failure
            if clock() - since > RECONNECT_GRACE_SECONDS:
                raise failure

    def _mark_dirty(self) -> None:
        with self._changed:
            self._dirty = True
            self._changed.notify_all()


def wait_until_ready(
    api: ApiGroups,
    namespace: str,
    *,
    should_stop: Callable[[], str | None],
    on_progress: Callable[[str], None] | None = None,
    poll_seconds: float = 1.0,
    settle_seconds: float = 0,
    quota_grace_seconds: float = 0,
) -> None:
    """Return once every workload is ready (and has stayed so for
    ``settle_seconds``); raise WorkloadFailed, Stopped or ClusterUnavailable.

    A quota refusal fails the wait at once, unless ``quota_grace_seconds``: then
    only once it has lasted that long. Pods that replace others (an upgrade, a
    rollback, a retry) can be refused for a moment by a quota that still counts
    the pods just deleted: the quota controller recounts a little later, and
    the ReplicaSet or Job controller tries again."""
    # Listing a missing namespace just returns nothing, which would look
    # like "no workloads yet" forever.
    phase = namespace_phase(api, namespace)
    if phase != "Active":
        raise ClusterError(f"namespace {namespace} is {'terminating' if phase else 'missing'}", FailureCode.NAMESPACE)

    events_since = datetime.now(UTC) - timedelta(seconds=EVENT_LOOKBACK_SECONDS)
    reported: dict[str, str] = {}
    ready_since: float | None = None
    quota_refused_since: float | None = None
    last_stop_check = 0.0

    with NamespaceWatch(api, namespace) as namespace_watch:
        while True:
            now = clock()
            # should_stop() may hit a database; ask it at most twice per poll
            # interval even when watch events pour in.
            if now - last_stop_check >= poll_seconds / 2:
                last_stop_check = now
                reason = should_stop()
                if reason:
                    raise Stopped(reason)

            snapshot = namespace_watch.snapshot()
            assessment = assess(snapshot)
            _report(assessment.progress, reported, on_progress)

            if assessment.ready:
                ready_since = ready_since if ready_since is not None else now
                if now - ready_since >= settle_seconds:
                    return
            else:
                ready_since = None
                failure = find_failure(snapshot, events_since)
                if failure and failure.code == FailureCode.QUOTA and quota_grace_seconds:
                    quota_refused_since = quota_refused_since if quota_refused_since is not None else now
                    if now - quota_refused_since < quota_grace_seconds:
                        failure = None
                elif not failure:
                    quota_refused_since = None
                if failure:
                    raise WorkloadFailed(failure, failure.code)

            namespace_watch.start_watching()
            namespace_watch.raise_if_broken()
            timeout = poll_seconds
            if ready_since is not None:
                timeout = min(timeout, max(0.0, settle_seconds - (now - ready_since)))
            namespace_watch.wait_for_change(timeout)


def _report(progress: dict[str, str], reported: dict[str, str], on_progress: Callable[[str], None] | None) -> None:
    """Pass on the lines that are new or different since the last report."""
    for key, line in progress.items():
        if reported.get(key) != line:
            reported[key] = line
            if on_progress is not None:
                on_progress(line)

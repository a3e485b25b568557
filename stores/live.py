"""What the store page shows of the cluster: pods, Kubernetes Events, quota usage.

These are read on the request path, so every read is bounded (the cluster is
connected with ``CLUSTER_READ_TIMEOUT``) and its answer is cached per
namespace for ``CLUSTER_READ_CACHE_SECONDS``: however many tabs poll a store,
its namespace is read about once per period per web process. A cluster that
cannot be read becomes a message on the page, cached the same way (a little
longer), never a hung request or a 500.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from stores import clients, cluster
from stores.models import Status, Store
from stores.templatetags.store_tags import duration

logger = logging.getLogger(__name__)

# Entries in the activity feed, the platform's and the cluster's together.
FEED_LENGTH = 50
# An unreachable cluster costs up to two timeouts per read (the client retries
# once), so the failure is remembered longer than a good answer: a page polled
# every 2 s then waits on a dead API server at most once per this period.
ERROR_CACHE_SECONDS = 15
UNREACHABLE = "The cluster is unreachable right now, so pods, quota usage and Kubernetes events are not shown."
# The quota lines the page shows, in this order, with their labels; a quota's
# other lines (claims, ephemeral storage, service counts) stay in kubectl.
QUOTA_SHOWN = [
    ("requests.cpu", "CPU requested"),
    ("limits.cpu", "CPU limits"),
    ("requests.memory", "Memory requested"),
    ("limits.memory", "Memory limits"),
    ("pods", "Pods"),
    ("requests.storage", "Storage"),
]


@dataclass(frozen=True)
class ClusterView:
    """One read of a store's namespace; `error` is set when it could not be read."""

    pods: list = field(default_factory=list)  # stores.cluster.reads.PodStatus
    events: list = field(default_factory=list)  # stores.cluster.reads.ClusterEvent, newest first
    quota: list = field(default_factory=list)  # QuotaRow
    error: str = ""
    # What was read, as a short digest: the status fragment's ETag includes it,
    # so a poll is answered 304 until the namespace shows something new. It
    # comes from the content, not the time of the read, so every web process
    # gives the same answer the same version.
    version: str = ""


def _versioned(view: ClusterView) -> ClusterView:
    digest = hashlib.blake2b(repr((view.pods, view.events, view.quota, view.error)).encode(), digest_size=8)
    return ClusterView(
        pods=view.pods, events=view.events, quota=view.quota, error=view.error, version=digest.hexdigest()
    )


@dataclass(frozen=True)
class QuotaRow:
    label: str
    used: str
    hard: str
    percent: int | None  # 0-100 for the bar; None when the usage is not known yet
    exhausted: bool


def cache_key(store: Store) -> str:
    # The status and step are part of the key: the fragment that tells the page
    # a store has failed is its last (polling stops), so it must not show what
    # the namespace looked like a few seconds before, when the refused pod or
    # the Event that explains the failure was not there yet.
    return f"store-live:{store.namespace}:{store.status}:{store.step}"


def read(store: Store) -> ClusterView | None:
    """The store's namespace as the cluster sees it now (or a few seconds ago);
    None when there is nothing to read (deleted, or never started)."""
    if store.status == Status.DELETED or (store.status == Status.QUEUED and not store.started_at):
        return None
    key = cache_key(store)
    view = cache.get(key)
    if view is None:
        view = _versioned(_read_cluster(store.namespace))
        ttl = ERROR_CACHE_SECONDS if view.error else settings.CLUSTER_READ_CACHE_SECONDS
        if ttl:
            cache.set(key, view, ttl)
    return view


def _read_cluster(namespace: str) -> ClusterView:
    try:
        kube = clients.connect(request_timeout=settings.CLUSTER_READ_TIMEOUT)
        # One after the other, stopping at the first failure: a server that
        # does not answer is waited for once, not three times.
        pods = kube.list_pods(namespace)
        events = kube.list_events(namespace, FEED_LENGTH)
        quota = kube.quota_usage(namespace)
    except cluster.ClusterError as exc:
        logger.warning("store page: cannot read namespace %s: %s", namespace, exc)
        return ClusterView(error=UNREACHABLE)
    return ClusterView(pods=pods, events=events, quota=_quota_rows(quota))


def _quota_rows(usage: list) -> list[QuotaRow]:
    by_resource: dict[str, Any] = {}
    for line in usage:
        # Two quotas on one resource: the tighter one is what refuses pods.
        earlier = by_resource.get(line.resource)
        if earlier is None or (line.fraction or 0) > (earlier.fraction or 0):
            by_resource[line.resource] = line
    rows = []
    for resource, label in QUOTA_SHOWN:
        line = by_resource.get(resource)
        if line is None:
            continue
        percent = None if line.fraction is None else max(0, min(100, round(line.fraction * 100)))
        rows.append(
            QuotaRow(label=label, used=line.used or "0", hard=line.hard, percent=percent, exhausted=line.exhausted)
        )
    return rows


@dataclass(frozen=True)
class FeedItem:
    """One line of the activity feed: the platform's own event or a Kubernetes one."""

    time: datetime | None
    message: str
    source: str  # "platform" or "cluster"
    kind: str  # platform: info / step / error; cluster: normal / warning
    duration_ms: int | None = None
    reason: str = ""
    object: str = ""
    count: int = 1

    @property
    def warning(self) -> bool:
        return self.kind in ("warning", "error")

    # The time as the page prints it, formatted here rather than by the `date`
    # and `time` filters: the feed is the bulk of every poll's rendering, and
    # those filters cost more than the rest of an entry.
    @property
    def iso_time(self) -> str:
        return timezone.localtime(self.time).isoformat() if self.time else ""

    @property
    def clock(self) -> str:
        return timezone.localtime(self.time).strftime("%H:%M:%S") if self.time else ""

    # The entry's markup, built here rather than in _store_feed.html: fifty
    # entries are most of a changed poll's rendering, and the template engine
    # spent about 4 ms of it resolving their variables and tags. Every value
    # goes through format_html's escaping as it would through the template's.
    @property
    def html(self) -> str:
        when = format_html('<time datetime="{}">{}</time> ', self.iso_time, self.clock)
        if self.source == "cluster":
            tag = WARNING_TAG if self.warning else KUBERNETES_TAG
            repeat = format_html(REPEAT, count=self.count) if self.count > 1 else ""
            return format_html(
                '<li class="event event-cluster{}">{}{} <strong class="reason">{}</strong>'
                ' <span class="object">{}</span> <span class="event-text">{}</span>{}</li>',
                " event-warning" if self.warning else "",
                when,
                tag,
                self.reason,
                self.object,
                self.message,
                repeat,
            )
        took = (
            format_html(' <small class="muted">({})</small>', duration(self.duration_ms))
            if self.duration_ms is not None
            else ""
        )
        return format_html(
            '<li class="event event-{}">{}{}<span class="event-text">{}</span>{}</li>',
            self.kind,
            when,
            ERROR_TAG if self.kind == "error" else "",
            self.message,
            took,
        )


WARNING_TAG = mark_safe('<span class="tag tag-warning"><span aria-hidden="true">⚠</span> Warning</span>')
KUBERNETES_TAG = mark_safe('<span class="tag">Kubernetes</span>')
ERROR_TAG = mark_safe('<span class="tag tag-warning"><span aria-hidden="true">⚠</span> Error</span> ')
REPEAT = (
    ' <span class="repeat" title="happened {count} times"><span aria-hidden="true">×{count}</span>'
    '<span class="visually-hidden">, {count} times</span></span>'
)


def feed(events: list, view: ClusterView | None) -> list[FeedItem]:
    """The platform's events (StoreEvents, or rows with their created_at, message,
    kind and duration_ms) and the namespace's Kubernetes Events, newest first."""
    items = [
        FeedItem(time=e.created_at, message=e.message, source="platform", kind=e.kind, duration_ms=e.duration_ms)
        for e in events
    ]
    if view is not None:
        items += [
            FeedItem(
                time=e.time,
                message=e.message,
                source="cluster",
                kind="warning" if e.warning else "normal",
                reason=e.reason,
                object=e.object,
                count=e.count,
            )
            for e in view.events
        ]
    # Stable sort: at the same instant the platform's order (newest first) holds.
    items.sort(key=lambda i: (i.time is not None, i.time or datetime.min), reverse=True)
    return items[:FEED_LENGTH]

"""Namespaces and releases this platform made that belong to no live store (reconcile)."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from stores import clients, cluster, isolation
from stores.cluster.guardrails import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from stores.models import LIVE, Store

log = logging.getLogger(__name__)


def find_orphans(kube: cluster.Kubernetes, helm_client: cluster.Helm) -> dict[str, list[str]]:
    """Namespaces and releases this platform made that belong to no live store.

    The cluster is listed before the database is read: a store claimed in
    between then has its row read here, so its new namespace is never taken
    for an orphan. Anything younger than ORPHAN_GRACE_SECONDS (or of unknown
    age) is reported under "too_new" and never pruned. A namespace labelled
    managed-by this platform but naming no store is reported under "foreign"
    and never pruned.
    """
    managed = kube.list_namespaces(f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}")
    # Only a namespace whose labels name a store of this platform can be one
    # of its orphans (isolation.namespace_store_id: the managed-by label alone
    # proves nothing); any other is reported under "foreign", never pruned, and
    # its releases are not even listed.
    listed = [ns for ns in managed if isolation.namespace_store_id(ns["labels"]) is not None]
    foreign = sorted(ns["name"] for ns in managed if isolation.namespace_store_id(ns["labels"]) is None)
    live_namespaces = {s.namespace for s in Store.objects.filter(status__in=LIVE)}
    # One `helm list` per store namespace rather than --all-namespaces: Helm
    # keeps releases in Secrets, and the platform may read Secrets only in
    # the store namespaces it is bound in (docs/architecture.md, Least
    # privilege); a release in a namespace that is not a store's is not ours.
    # Only namespaces of no live store are asked: a live store's release is
    # never an orphan. Listing them after the database read is safe: such a
    # namespace's store is gone, and a new store cannot take its name while
    # the namespace exists.
    releases = [r for ns in listed if ns["name"] not in live_namespaces for r in _releases_in(helm_client, ns["name"])]
    created = {ns["name"]: ns.get("created_at") for ns in listed}
    cutoff = timezone.now() - timedelta(seconds=settings.ORPHAN_GRACE_SECONDS)
    found: dict[str, list[str]] = {"namespaces": [], "releases": [], "too_new": [], "known": [], "foreign": foreign}
    for ns in listed:
        if ns["name"] in live_namespaces:
            found["known"].append(ns["name"])
            continue
        old = ns.get("created_at") is not None and ns["created_at"] < cutoff
        found["namespaces" if old else "too_new"].append(ns["name"])
    for r in releases:
        if r["namespace"] in live_namespaces:
            continue
        ref = f"{r['namespace']}/{r['name']}"
        # Its own last change and its namespace's creation, where known: the youngest decides.
        times = [t for t in (created.get(r["namespace"]), _helm_time(r.get("updated"))) if t is not None]
        old = bool(times) and max(times) < cutoff
        found["releases" if old else "too_new"].append(ref)
    return found


def _releases_in(helm_client: cluster.Helm, namespace: str) -> list[dict]:
    """The namespace's releases; [] when this account may not read them (a
    store namespace it was never bound in, e.g. made by another platform or
    by a run that stopped between the namespace and its binding). The
    namespace itself is still reported, and pruning it removes its release."""
    try:
        return helm_client.list_releases(all_namespaces=False, namespace=namespace)
    except cluster.ClusterUnavailable:
        raise
    except cluster.ClusterError as exc:
        log.warning("cannot list the releases in %s: %s", namespace, exc)
        return []


def _helm_time(text: str | None) -> datetime | None:
    """`helm list -o json`'s "updated" ("2026-01-02 03:04:05.123 +0000 UTC"), or None."""
    match = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? ([+-]\d{4})", text or "")
    if not match:
        return None
    return datetime.strptime(f"{match[1]} {match[2]}", "%Y-%m-%d %H:%M:%S %z")


def prune_orphans(kube: cluster.Kubernetes, helm_client: cluster.Helm, orphans: dict[str, list[str]]) -> None:
    for ref in orphans["releases"]:
        namespace, name = ref.split("/", 1)
        helm_client.uninstall(name, namespace)
    for namespace in orphans["namespaces"]:
        kube.delete_namespace(namespace, timeout=settings.DELETE_TIMEOUT)


class PruneRefused(Exception):
    """A prune that looks like a mistake: this database knows none of the cluster's stores."""


def reconcile_orphans(*, prune: bool = False, even_if_unknown: bool = False) -> dict[str, list[str]]:
    """Find the orphaned namespaces and releases and, with `prune`, remove them.

    A database that knows none of the cluster's store namespaces is an empty
    or a wrong one (another platform's cluster, a fresh DATABASE_URL): to it
    every store is an orphan. The prune is refused then, saying how much would
    go, unless `even_if_unknown`."""
    kube, helm_client = clients.connect(), clients.helm()
    orphans = find_orphans(kube, helm_client)
    doomed = len(orphans["namespaces"]) + len(orphans["releases"])
    if prune and doomed and not orphans["known"] and not even_if_unknown:
        raise PruneRefused(
            f"refusing to prune: this database knows none of the store namespaces in the cluster "
            f"(an empty or wrong database?); {len(orphans['namespaces'])} namespaces and "
            f"{len(orphans['releases'])} releases would go. Run again with --yes-i-mean-it to remove them."
        )
    if prune:
        prune_orphans(kube, helm_client, orphans)
    return orphans

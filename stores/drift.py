"""Ready stores whose namespace or release is gone: deleted outside the platform,
or a cluster replaced under it (a kind cluster deleted and created again).

Such a store becomes *lost* with the reason, an event and one mail; its owner
recreates it (provisioned again under the same name) or deletes it. Run by the
"check store drift" schedule every minute and by `manage.py stores reconcile`.

Namespaces cost one list for every store, so each run checks them all. A
release costs a `helm status` per store, so each run checks the
RELEASE_CHECKS_PER_RUN stores checked longest ago: a platform of 1,000 stores
checks each release every 50 minutes.
"""

from __future__ import annotations

import logging

from django.db.models import F
from django.utils import timezone

from stores import cluster, lifecycle
from stores.cluster.guardrails import MANAGED_BY_VALUE
from stores.engines.contract import RELEASE_NAME
from stores.models import Status, Store

log = logging.getLogger(__name__)

RELEASE_CHECKS_PER_RUN = 20


def find_lost(kube: cluster.Kubernetes, helm: cluster.Helm) -> dict[str, str]:
    """Mark lost the ready stores whose namespace or release is gone: {slug: reason}."""
    # The cluster is listed before the database is read, and only stores ready
    # before the listing are judged: one that became ready since has its
    # namespace even if the list does not show it.
    listed_at = timezone.now()
    present = {
        ns["name"]
        for ns in kube.list_namespaces(f"app.kubernetes.io/managed-by={MANAGED_BY_VALUE}")
        if ns.get("phase") != "Terminating"
    }
    ready = Store.objects.filter(status=Status.READY, ready_at__lt=listed_at)
    lost: dict[str, str] = {}
    for store in ready.only("pk", "slug"):
        if store.namespace not in present:
            lost[store.slug] = _lose(
                store, f"its namespace {store.namespace} is gone (removed outside the platform, or a new cluster)"
            )
    due = ready.exclude(slug__in=list(lost)).order_by(F("release_checked_at").asc(nulls_first=True), "pk")
    for store in due.only("pk", "slug")[:RELEASE_CHECKS_PER_RUN]:
        release = _release(helm, store)
        # Checked, whatever helm said: a store whose check failed goes to the back of the line.
        Store.objects.filter(pk=store.pk).update(release_checked_at=timezone.now())
        if release is None:
            lost[store.slug] = _lose(
                store,
                f"its Helm release {RELEASE_NAME} is gone from {store.namespace} (uninstalled outside the platform)",
            )
    _find_again(present, helm)
    return {slug: reason for slug, reason in lost.items() if reason}


def _release(helm: cluster.Helm, store: Store) -> dict | bool | None:
    """The store's release, None when helm says there is none, True when helm could not tell."""
    try:
        return helm.status(RELEASE_NAME, store.namespace)
    except cluster.ClusterUnavailable:
        raise
    except cluster.ClusterError as exc:
        log.warning("cannot tell whether %s has its release: %s", store.namespace, exc)
        return True


def _find_again(present: set[str], helm: cluster.Helm) -> None:
    """Lost stores whose namespace and release are there again (a wrong kubeconfig
    fixed, a namespace list that missed them) go back to ready."""
    for store in Store.objects.filter(status=Status.LOST).only("pk", "slug"):
        if store.namespace in present and _release(helm, store) not in (None, True):
            try:
                lifecycle.mark_found(store.pk)
            except lifecycle.TransitionRefused:
                continue
            log.warning("store %s is back: its namespace and release are there again", store.slug)


def _lose(store: Store, reason: str) -> str:
    try:
        lifecycle.mark_lost(store.pk, reason)
    except lifecycle.TransitionRefused:
        return ""  # deleted or changed meanwhile: not lost
    log.warning("store %s is lost: %s", store.slug, reason)
    return reason

"""An email to a store's owner when the store becomes ready or fails.

The lifecycle calls `store_finished` on commit of the guarded transition, so
a mail goes out only for a change that really happened, once: a task that is
delivered twice or a reconcile that races the worker loses the transition and
sends nothing. The mail itself is sent by a task on the control queue, not
by the worker that made the transition: a slow or unreachable mail server
must not hold a provisioning slot (the worker hands its slot on right after),
and a mail that cannot be sent is logged, never a failure of the store.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django_q.tasks import async_task

from observability.logging import store_context
from stores.engines import get_engine
from stores.failure_hints import FAILURE_HINTS
from stores.models import Status, Store

log = logging.getLogger(__name__)


def store_finished(store_id: int, status: str, reason: str = "") -> None:
    """Queue the owner's mail about a transition that has just committed."""
    try:
        async_task(
            "stores.notifications.send_status_mail",
            store_id,
            status,
            reason,
            cluster=settings.CONTROL_QUEUE,
            task_name=f"notify-store-{store_id}-{status}",
        )
    except Exception:  # the broker is down: the store's state is already committed and stays
        log.exception("could not queue the %s mail for store %s", status, store_id)


def send_status_mail(store_id: int, status: str, reason: str = "") -> bool:
    """Send the owner the mail for `status` (ready or failed); False when nothing was sent."""
    store = Store.objects.select_related("owner").filter(pk=store_id).first()
    if store is None:
        log.info("store %s is gone; no %s mail", store_id, status)
        return False
    with store_context(store.pk, store.slug):
        address = store.owner.email
        if not address:
            log.info("owner %s has no email address; no %s mail", store.owner.get_username(), status)
            return False
        subject, body = _compose(store, status, reason)
        try:
            send_mail(subject, body, None, [address])
        except Exception:
            log.warning("could not send the %s mail to the owner", status, exc_info=True)
            return False
        log.info("sent the %s mail to the owner", status)
        return True


def store_page_url(store: Store) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("store_detail", args=[store.pk])


# The changes the checks of a ready store mail about (stores/monitoring.py),
# besides the lifecycle's "ready" and "failed": subject, then what happened.
CHECK_MAILS = {
    "down": ("Your store {slug} is down", "Your store {slug} stopped answering its checks: {reason}."),
    "up": ("Your store {slug} is up again", "Your store {slug} answers again."),
    "checkout_failing": (
        "Checkout fails on your store {slug}",
        "A test order on your store {slug} could not go through, so shoppers may not be able to buy: {reason}. "
        "The shop's admin shows what is missing (a product in stock, a shipping option, cash on delivery).",
    ),
    "lost": (
        "Your store {slug} is lost",
        "Your store {slug} is gone from the cluster: {reason}. Recreate it from its store page to provision it "
        "again under the same name (what was removed is not brought back), or delete it.",
    ),
    "found": ("Your store {slug} is back", "Your store {slug} is in the cluster again and ready."),
    "backup_failed": (
        "A backup of your store {slug} failed",
        "A backup of your store {slug} failed: {reason}. Your earlier backups are kept; the store page lists them "
        "and has Back up now to try again.",
    ),
    "recovered": (
        "Your store {slug} is being recovered",
        "Your store {slug} was gone from the cluster, so the platform is recreating it and restoring its latest "
        "backup ({reason}). What changed after that backup is not brought back.",
    ),
    "checkout_back": (
        "Checkout works again on your store {slug}",
        "A test order on your store {slug} went through again.",
    ),
}


def _compose(store: Store, status: str, reason: str) -> tuple[str, str]:
    engine = get_engine(store.engine).label
    hello = f"Hello {store.owner.get_username()},"
    if status in CHECK_MAILS:
        subject, what = (text.format(slug=store.slug, reason=reason.rstrip(".")) for text in CHECK_MAILS[status])
        lines = [hello, "", what, "", f"Storefront: {store.url}", f"Store page: {store_page_url(store)}"]
    elif status == Status.READY:
        subject = f"Your store {store.slug} is ready"
        lines = [
            hello,
            "",
            f"Your {engine} store {store.slug} is ready.",
            "",
            f"Storefront: {store.url}",
            f"Store page (shop admin login, activity): {store_page_url(store)}",
        ]
    else:
        subject = f"Your store {store.slug} failed"
        lines = [
            hello,
            "",
            f"Your {engine} store {store.slug} could not be provisioned.",
            "",
            f"Reason: {reason or store.failure_reason or 'unknown'}",
            "",
        ]
        # What to do about it, by the failure's code (the reason's wording may change).
        hint = FAILURE_HINTS.get(store.failure_code, "")
        if hint:
            lines += [hint, ""]
        lines.append(f"Store page (retry or delete it there): {store_page_url(store)}")
    return subject, "\n".join([*lines, "", "-- ", "Store Provisioner"]) + "\n"

import functools
import hashlib
from collections import Counter
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Min, OuterRef, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import get_conditional_response, patch_cache_control
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING

from accounts.models import store_limit_for
from accounts.throttle import throttle
from audit import log as audit
from stores import credentials, lifecycle, live, mail, monitoring, preparation, queue, runs, tasks, upgrades
from stores.backups import panel as backup_panel
from stores.backups import service as backup_service
from stores.engines import ENGINES
from stores.failure_hints import FAILURE_HINTS
from stores.forms import CreateStoreForm, RestoreIntoNewStoreForm
from stores.models import FINAL, Backup, Status, Store, StoreEvent


def _get_store_for_owner(request, pk: int, stores=None, *, audit_action=None) -> Store:
    """The store if it belongs to the signed-in user; 404 otherwise (never 403: ids are not a hint).

    With `audit_action`, a miss is recorded as a refused attempt (someone
    acting on a store id that is not theirs).
    """
    try:
        return get_object_or_404(
            stores if stores is not None else Store.objects.select_related("owner"), pk=pk, owner=request.user
        )
    except Http404:
        if audit_action:
            someone_elses = Store.objects.select_related("owner").filter(pk=pk).first()
            audit.record_not_owner(audit_action, request=request, pk=pk, store=someone_elses)
        raise


def _status_counts(stores) -> list[tuple[int, str]]:
    """(count, label) for each state present, in lifecycle order: "2 ready · 1 queued" in words."""
    counts = Counter(s.status for s in stores)
    return [(counts[status], label.lower()) for status, label in Status.choices if counts[status]]


def _dashboard_context(request, form=None) -> dict:
    # Elapsed time comes annotated on the same query and the places in line from
    # two more, so the list costs the same number of queries however many stores it shows.
    stores = list(Store.objects.owned_by(request.user).live().with_busy_since().order_by("created_at"))
    line = queue.places() if any(s.status == Status.QUEUED for s in stores) else {}
    for store in stores:
        store.line_place = line.get(store.pk)  # type: ignore[attr-defined]  # shown in the row
        store.chart_available = upgrades.available_chart(store)  # type: ignore[attr-defined]  # shown in the row
    limit = store_limit_for(request.user)
    return {
        "stores": stores,
        "status_counts": _status_counts(stores),
        "store_limit": limit,
        "at_limit": len(stores) >= limit,
        "form": form or CreateStoreForm(),
        "engines": ENGINES,
        "polling": any(not s.is_final for s in stores),
        "cluster_waiting": preparation.waiting_reason(),
        "recently_deleted": backup_panel.recently_deleted(request.user),
    }


# Said in words beside each step's dot, for those who cannot tell its colour.
STEP_STATE_LABELS = {
    "done": "Done",
    "skipped": "Skipped",
    "running": "Running",
    "failed": "Failed",
    "pending": "Pending",
}


def _step_rows(store: Store) -> list[dict]:
    """The step list: each step's state and duration, from the store's events."""
    # Only this attempt's steps: a retry starts the list afresh. The first
    # event of a step is the provision's (a delete's come later); the database
    # picks it per step, so a store with thousands of events still sends back
    # one row per step rather than every step event of the attempt.
    events = store.events.filter(kind="step")
    if store.started_at:
        events = events.filter(created_at__gte=store.started_at)
    firsts = events.order_by().values("step").annotate(first=Min("pk")).values("first")
    finished = dict(StoreEvent.objects.filter(pk__in=firsts).order_by().values_list("step", "duration_ms"))
    rows = []
    for key, label in runs.STEPS:
        if key in finished:
            state = "done"
        elif store.status == Status.READY:
            state = "skipped"  # e.g. the storefront check with CHECK_STORE_URL off
        elif store.step == key and store.status == Status.PROVISIONING:
            state = "running"
        elif store.step == key and store.status == Status.FAILED:
            state = "failed"
        else:
            state = "pending"
        rows.append(
            {
                "key": key,
                "label": label,
                "state": state,
                "state_label": STEP_STATE_LABELS[state],
                "ms": finished.get(key),
            }
        )
    return rows


def _latest_events(store: Store) -> list:
    # Rows rather than model instances: the feed reads four columns of fifty
    # events on every poll that changed, and building models cost a third of it.
    latest = store.events.order_by("-created_at", "-pk").values_list(
        "created_at", "message", "kind", "duration_ms", named=True
    )
    return list(latest[: live.FEED_LENGTH])


def _status_inputs(store: Store, cluster_view: live.ClusterView | None) -> dict[str, Any]:
    """What the status fragment shows besides its steps and activity: cheap to
    gather, and all of it goes into the poll's ETag (_status_etag)."""
    backups_panel = backup_panel.panel(store)
    return {
        "store": store,
        "engine": ENGINES[store.engine],
        "cluster": cluster_view,
        "place_in_line": queue.place_of(store),
        "max_concurrent": settings.MAX_CONCURRENT_PROVISIONS,
        # While `make run` prepares the cluster, queued stores wait for it (stores/tasks.py).
        "cluster_waiting": preparation.waiting_reason() if store.status == Status.QUEUED else "",
        "chart_available": upgrades.available_chart(store),
        "failure_hint": FAILURE_HINTS.get(store.failure_code, "") if store.status == Status.FAILED else "",
        # The checks of the last day (stores/monitoring.py), for a store that is up.
        "health": monitoring.summary(store) if store.status in (Status.READY, Status.UPDATING) else None,
        "mail": mail.describe(
            settings.STORE_MAIL, ENGINES[store.engine].label, ENGINES[store.engine].sends_mail, store.slug
        ),
        "backups": backups_panel,
        # A running backup keeps the panel polling on a ready store, to show its end.
        "polling": not store.is_final or backups_panel.running,
    }


def _status_context(store: Store, cluster_view: live.ClusterView | None = None) -> dict[str, Any]:
    if cluster_view is None:
        cluster_view = live.read(store)
    return {
        **_status_inputs(store, cluster_view),
        # Made from the store's events: its newest event's id stands for both in the ETag.
        "steps": _step_rows(store),
        "feed": live.feed(_latest_events(store), cluster_view),
    }


@login_required
@require_GET
def dashboard(request):
    return render(request, "stores/dashboard.html", _dashboard_context(request))


@login_required
@require_GET
@vary_on_headers("HX-Request")
def store_list(request):
    """The store list as a fragment; the dashboard polls it while a store is busy.

    The count, the limit notice and the Create button come along out of band:
    they change when a store appears or goes away, and they live outside the list.
    """
    if not request.htmx:
        return redirect("dashboard")
    context = {**_dashboard_context(request), "oob": True}
    status = HTMX_STOP_POLLING if not context["polling"] else 200
    return render(request, "stores/_store_list.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@throttle("store-create", key="user", rate="STORE_CREATE_RATE")
def create_store(request):
    if request.method == "GET":
        return redirect("dashboard")
    form = CreateStoreForm(request.POST)
    if form.is_valid():
        name, engine = form.cleaned_data["name"], form.cleaned_data["engine"]
        try:
            with transaction.atomic():
                store = tasks.request_create(
                    request.user,
                    name,
                    engine,
                    country=form.cleaned_data["country"],
                    currency=form.cleaned_data["currency"],
                )
                audit.record(audit.Action.CREATE, request=request, store=store)
        except (lifecycle.StoreLimitReached, lifecycle.SlugTaken) as exc:
            audit.record(
                audit.Action.CREATE,
                request=request,
                slug=name,
                engine=engine,
                outcome=audit.Outcome.REFUSED,
                detail=str(exc),
            )
            form.add_error("name" if isinstance(exc, lifecycle.SlugTaken) else None, str(exc))
        else:
            messages.success(request, f"Store “{store.slug}” is queued.")
            return redirect("store_detail", pk=store.pk)
    return render(request, "stores/dashboard.html", _dashboard_context(request, form), status=400)


@login_required
@require_GET
def store_detail(request, pk: int):
    store = _get_store_for_owner(request, pk)
    return render(request, "stores/store_detail.html", _status_context(store))


@functools.cache
def _templates_version() -> str:
    """A digest of the store templates: a deploy that changes them changes every ETag."""
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted((settings.BASE_DIR / "templates" / "stores").glob("*.html")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _status_etag(store: Store, newest_event: int | None, cluster_view: live.ClusterView | None) -> str:
    """A digest of everything the status fragment is made from, short of rendering it.

    The inputs are `_status_inputs` itself, with every column of the store
    (not a chosen few: a new field can never leave a poll stale), the cluster
    read's version, the settings the templates read, and the templates. Events
    are only ever added, so the newest one's id stands for the steps and the
    activity.
    """
    inputs = _status_inputs(store, cluster_view)
    row = [getattr(store, f.attname) for f in Store._meta.concrete_fields]
    parts = [
        _templates_version(),
        row,
        newest_event,
        cluster_view.version if cluster_view else None,
        settings.INGRESS_DOMAIN_SUFFIX,
        settings.STORE_URL_SCHEME,
        # The store, its engine and the cluster read are in the row and the version above.
        *[(key, value) for key, value in inputs.items() if key not in ("store", "engine", "cluster")],
    ]
    return f'W/"{hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()}"'


@login_required
@require_GET
@vary_on_headers("HX-Request")
def store_status(request, pk: int):
    """The status panel (steps, activity, pods, quota); 286 tells htmx to stop polling once final.

    A poll is a conditional GET: the fragment carries an ETag and `no-cache`,
    so the browser asks again with If-None-Match every 2 s and, while nothing
    changed, gets a 304 made from a few indexed queries instead of the
    rendered steps and activity (htmx sees the cached 200). The final
    fragment has no ETag: it must arrive whole, with its 286.
    """
    # The newest event's id comes with the store, for the ETag: one query fewer on every poll.
    newest = StoreEvent.objects.filter(store=OuterRef("pk")).order_by("-pk").values("pk")[:1]
    store = _get_store_for_owner(request, pk, Store.objects.annotate(newest_event=Subquery(newest)))
    if store.status in FINAL and not store.backups.filter(state=Backup.State.RUNNING).exists():
        return render(request, "stores/_store_status.html", _status_context(store), status=HTMX_STOP_POLLING)
    cluster_view = live.read(store)
    newest_event = store.newest_event  # type: ignore[attr-defined]  # annotated above
    etag = _status_etag(store, newest_event, cluster_view)
    response = get_conditional_response(request, etag=etag)
    if response is None:
        response = render(request, "stores/_store_status.html", _status_context(store, cluster_view))
    response["ETag"] = etag
    patch_cache_control(response, private=True, no_cache=True)
    return response


def _refuse(request, action: str, store: Store, reason: str, message: str | None = None) -> None:
    """A store action the lifecycle refused: audited as refused, and told to the user (the reason itself
    when it is already written for them)."""
    audit.record(action, request=request, store=store, outcome=audit.Outcome.REFUSED, detail=reason)
    messages.info(request, message or reason)


@login_required
@require_http_methods(["GET", "POST"])
@throttle("store-action", key="user", rate="STORE_ACTION_RATE")
def delete_store(request, pk: int):
    store = _get_store_for_owner(request, pk, audit_action=audit.Action.DELETE if request.method == "POST" else None)
    if request.method == "GET":
        return render(request, "stores/store_delete.html", {"store": store})
    try:
        with transaction.atomic():
            tasks.request_delete(store.pk)
            audit.record(audit.Action.DELETE, request=request, store=store)
    except lifecycle.TransitionRefused:
        status = Store.objects.filter(pk=store.pk).values_list("status", flat=True).first()
        if status == Status.RESTORING:
            _refuse(
                request,
                audit.Action.DELETE,
                store,
                "a restore is running",
                f"“{store.slug}” is being restored; delete it once that has ended.",
            )
        elif status == Status.UPDATING:
            _refuse(
                request,
                audit.Action.DELETE,
                store,
                "an upgrade or rollback is running",
                f"“{store.slug}” is being updated by an operator; delete it once that has ended.",
            )
        else:
            state = "deleted" if store.status == Status.DELETED else "being deleted"
            _refuse(request, audit.Action.DELETE, store, f"already {state}", f"“{store.slug}” is already {state}.")
    else:
        messages.success(request, f"Deleting “{store.slug}”: its release and namespace are being removed.")
    return redirect("store_detail", pk=store.pk)


@login_required
@require_POST
@throttle("store-action", key="user", rate="STORE_ACTION_RATE")
def retry_store(request, pk: int):
    store = _get_store_for_owner(request, pk, audit_action=audit.Action.RETRY)
    try:
        with transaction.atomic():
            tasks.request_retry(store.pk)
            audit.record(audit.Action.RETRY, request=request, store=store)
    except lifecycle.TransitionRefused:
        _refuse(
            request,
            audit.Action.RETRY,
            store,
            f"only a failed or lost store can be retried; it is {store.status}",
            f"Only a failed or lost store can be retried; “{store.slug}” is {store.get_status_display().lower()}.",
        )
    else:
        verb = "Recreating" if store.status == Status.LOST else "Retrying"
        messages.success(request, f"{verb} “{store.slug}”.")
    return redirect("store_detail", pk=store.pk)


@login_required
@require_POST
@never_cache
@throttle("store-action", key="user", rate="STORE_ACTION_RATE")
def store_credentials(request, pk: int):
    """Read the shop admin login from the namespace secret, on demand only."""
    store = _get_store_for_owner(request, pk, audit_action=audit.Action.REVEAL_CREDENTIALS)
    context = {"store": store, "engine": ENGINES[store.engine], "credentials": None, "error": None}
    if store.status != Status.READY:
        context["error"] = "Credentials are available once the store is ready."
        outcome, detail = audit.Outcome.REFUSED, f"the store is {store.status}, not ready"
    else:
        try:
            context["credentials"] = credentials.credentials_for(store)
            outcome, detail = audit.Outcome.DONE, ""
        except credentials.CredentialsUnavailable as exc:
            context["error"] = f"Could not read the credentials: {exc}"
            outcome, detail = audit.Outcome.FAILED, str(exc)
    # Only the attempt is recorded, never the credentials.
    audit.record(audit.Action.REVEAL_CREDENTIALS, request=request, store=store, outcome=outcome, detail=detail)
    template = "stores/_credentials.html" if request.htmx else "stores/store_credentials.html"
    return render(request, template, context)


@require_GET
@never_cache
def cluster_preparation(request):
    """The banner of the local cluster's preparation (`make run`, stores/preparation.py).

    Every page carries it while the cluster is prepared and polls it; the poll
    stops (286) once the cluster is ready, saying so, or failed, saying why.
    Open to visitors too: the sign-up page shows it as well.
    """
    current = preparation.current()
    status = 200 if current is not None and current.is_preparing else HTMX_STOP_POLLING
    context = {"cluster_preparation": current, "steps_open": request.GET.get("steps") == "1"}
    return render(request, "_cluster_preparation.html", context, status=status)


# --- Backups (stores/backups/) ---------------------------------------------------


@login_required
@require_POST
@throttle("store-action", key="user", rate="STORE_ACTION_RATE")
def back_up_store(request, pk: int):
    """*Back up now*."""
    store = _get_store_for_owner(request, pk, audit_action=audit.Action.BACKUP)
    try:
        with transaction.atomic():
            tasks.request_backup(store.pk)
            audit.record(audit.Action.BACKUP, request=request, store=store)
    except backup_service.Refused as refused:
        _refuse(request, audit.Action.BACKUP, store, str(refused))
    else:
        messages.success(request, f"Backing up “{store.slug}”: its database and uploads go to the object store.")
    return redirect("store_detail", pk=store.pk)


@login_required
@require_http_methods(["GET", "POST"])
@throttle("store-action", key="user", rate="STORE_ACTION_RATE")
def restore_store(request, pk: int, backup_pk: int):
    """*Restore*: a confirmation naming the backup's time, then the restore."""
    store = _get_store_for_owner(request, pk, audit_action=audit.Action.RESTORE if request.method == "POST" else None)
    backup = get_object_or_404(Backup, pk=backup_pk, store=store)
    if request.method == "GET":
        try:
            backup_service.refuse_restore(store, backup.pk)
            refusal = ""
        except backup_service.Refused as refused:
            refusal = str(refused)
        return render(
            request,
            "stores/store_restore.html",
            {
                "store": store,
                "backup": backup,
                "size": backup_service.human_size(backup.size_bytes),
                "refusal": refusal,
            },
        )
    try:
        with transaction.atomic():
            tasks.request_restore(store.pk, backup.pk)
            audit.record(audit.Action.RESTORE, request=request, store=store, detail=f"backup {backup.pk}")
    except backup_service.Refused as refused:
        _refuse(request, audit.Action.RESTORE, store, str(refused))
    else:
        messages.success(request, f"Restoring “{store.slug}” from its backup of {backup.created_at:%b %-d, %H:%M}.")
    return redirect("store_detail", pk=store.pk)


@login_required
@require_http_methods(["GET", "POST"])
@throttle("store-create", key="user", rate="STORE_CREATE_RATE")
def restore_deleted_store(request, pk: int):
    """A recently deleted store, restored into a new store from its final backup."""
    deleted = _get_store_for_owner(request, pk, audit_action=audit.Action.CREATE if request.method == "POST" else None)
    backup = next((d.backup for d in backup_panel.recently_deleted(request.user) if d.store.pk == deleted.pk), None)
    if backup is None:
        messages.info(request, f"“{deleted.slug}” has no final backup to restore any more.")
        return redirect("dashboard")
    form = RestoreIntoNewStoreForm(request.POST or None, initial={"name": deleted.slug})
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"]
        try:
            with transaction.atomic():
                store = tasks.request_restore_into_new_store(request.user, backup, name)
                audit.record(audit.Action.CREATE, request=request, store=store, detail=f"from backup {backup.pk}")
        except (lifecycle.StoreLimitReached, lifecycle.SlugTaken) as exc:
            form.add_error("name" if isinstance(exc, lifecycle.SlugTaken) else None, str(exc))
        else:
            messages.success(request, f"Store “{store.slug}” is queued; the backup of “{deleted.slug}” follows.")
            return redirect("store_detail", pk=store.pk)
    return render(
        request,
        "stores/store_restore_deleted.html",
        {"deleted": deleted, "backup": backup, "size": backup_service.human_size(backup.size_bytes), "form": form},
        status=400 if request.method == "POST" else 200,
    )

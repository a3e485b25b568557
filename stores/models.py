"""Stores, their activity feed and checks, and the one lock row that serialises slot claims."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Case, DateTimeField, F, OuterRef, Q, Subquery, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from stores.cluster.errors import FailureCode
from stores.engines import ENGINE_CHOICES, locales


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROVISIONING = "provisioning", "Provisioning"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    # An operator's upgrade or rollback of a ready store's release is running
    # (stores/upgrades.py); delete and retry wait until it ends ready or failed.
    UPDATING = "updating", "Updating"
    # A backup is being restored into the store (stores/backups/); it ends
    # ready once its storefront (and checkout) check passes, or failed.
    RESTORING = "restoring", "Restoring"
    DELETING = "deleting", "Deleting"
    # The platform stopped retrying a delete that did not finish; an operator
    # restarts it from the admin once what is left (failure_reason) is fixed.
    DELETE_STUCK = "delete_stuck", "Delete stuck"
    DELETED = "deleted", "Deleted"
    # A ready store whose namespace or release was removed outside the
    # platform (stores/drift.py); its owner recreates or deletes it.
    LOST = "lost", "Lost"


# Where a store may go from each state. "Any state -> deleting" covers a
# store that is still queued or provisioning: deleting it cancels the work.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.QUEUED: frozenset({Status.PROVISIONING, Status.DELETING}),
    Status.PROVISIONING: frozenset({Status.READY, Status.FAILED, Status.DELETING}),
    Status.READY: frozenset({Status.DELETING, Status.UPDATING, Status.LOST, Status.RESTORING}),
    # A failed store may be rolled back (not upgraded: a retry installs the
    # current chart), or restored from a backup.
    Status.FAILED: frozenset({Status.QUEUED, Status.DELETING, Status.UPDATING, Status.RESTORING}),
    # Not to deleting: a helm upgrade or rollback cut off half-way leaves the
    # release pending; the update runs to its end (or its deadline) first.
    Status.UPDATING: frozenset({Status.READY, Status.FAILED}),
    # Not to deleting either: a restore half-done is finished or failed first.
    Status.RESTORING: frozenset({Status.READY, Status.FAILED}),
    Status.DELETING: frozenset({Status.DELETED, Status.DELETE_STUCK}),
    Status.DELETE_STUCK: frozenset({Status.DELETING}),
    Status.DELETED: frozenset(),
    # Recreate: provisioned again under the same name; found again: its
    # namespace and release are back (the drift check).
    Status.LOST: frozenset({Status.QUEUED, Status.DELETING, Status.READY}),
}
# What a store's owner may ask for, as the state each one moves the store to.
# Whether the owner may, in a given state, follows from TRANSITIONS; the one
# exception is a stuck delete, which only an operator restarts.
OWNER_ACTIONS = {"retry": Status.QUEUED, "delete": Status.DELETING}
OPERATOR_ONLY = {("delete", Status.DELETE_STUCK)}


def owner_may(action: str, status: str) -> bool:
    """Whether the owner may `action` ("retry", "delete") a store in `status`."""
    return OWNER_ACTIONS[action] in TRANSITIONS[status] and (action, status) not in OPERATOR_ONLY


# States in which nothing happens until someone acts (polling can stop).
FINAL = frozenset({Status.READY, Status.FAILED, Status.DELETE_STUCK, Status.DELETED, Status.LOST})
# Every state but deleted counts against the owner's limit and holds the slug
# (a stuck delete still has its namespace).
LIVE = frozenset(set(Status) - {Status.DELETED})

# A DNS-1123 label, short enough that "store-<slug>" (the namespace) is one too.
SLUG_MAX_LENGTH = 57
slug_validator = RegexValidator(
    r"\A[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z",
    "Use lowercase letters, digits and dashes, starting and ending with a letter or digit.",
)


class EventCode(models.TextChoices):
    """What an activity event is, for the code that reads events (metrics, timers,
    mails, the store page); the message is for people and may be reworded.

    Set where the thing is known: the lifecycle's transitions, a step that
    finished (its key), and a failed provision's category (FailureCode, from
    where the failure was recognised). Blank: a line only people read."""

    # Lifecycle transitions
    REQUESTED = "requested", "Store requested"
    STARTED = "started", "Provisioning started"
    READY = "ready", "Ready"
    STOPPED = "stopped", "Provisioning stopped"
    RESUMED = "resumed", "Resumed after a lost worker"
    RETRY_REQUESTED = "retry_requested", "Retry requested"
    LOST = "lost", "Lost"
    RECREATE_REQUESTED = "recreate_requested", "Recreate requested"
    FOUND = "found", "Found again"
    DELETE_REQUESTED = "delete_requested", "Delete requested"
    DELETE_RESTARTED = "delete_restarted", "Delete restarted"
    DELETE_RETRY = "delete_retry", "Delete did not finish"
    DELETE_STUCK = "delete_stuck", "Delete stuck"
    DELETED = "deleted", "Deleted"
    # A delete that found the store's namespace gone, or not the store's own: nothing removed
    NAMESPACE_LEFT_ALONE = "namespace_left_alone", "Namespace left alone"
    UPDATE_REQUESTED = "update_requested", "Upgrade or rollback requested"
    UPDATED = "updated", "Upgraded or rolled back"
    UPDATE_FAILED = "update_failed", "Upgrade or rollback failed"
    # Backups and restores (stores/backups/)
    BACKUP_STARTED = "backup_started", "Backup started"
    BACKED_UP = "backed_up", "Backed up"
    BACKUP_FAILED = "backup_failed", "Backup failed"
    RESTORE_REQUESTED = "restore_requested", "Restore requested"
    RESTORED = "restored", "Restored"
    RESTORE_FAILED = "restore_failed", "Restore failed"
    # A step that finished (the keys of runs.STEPS), and a line of progress
    NAMESPACE = "namespace", "Step: namespace"
    GUARDRAILS = "guardrails", "Step: guardrails"
    CREDENTIALS = "credentials", "Step: credentials"
    RELEASE = "release", "Step: Helm release"
    WORKLOADS = "workloads", "Step: workloads"
    STOREFRONT = "storefront", "Step: storefront check"
    CHECKOUT = "checkout", "Step: checkout check"
    CHECKOUT_UNVERIFIED = "checkout_unverified", "Checkout not verified"
    # The checks of a ready store (stores/monitoring.py): changes of state only
    STORE_DOWN = "store_down", "Store down"
    STORE_UP = "store_up", "Store up again"
    CHECKOUT_FAILING = "checkout_failing", "Checkout failing"
    CHECKOUT_BACK = "checkout_back", "Checkout works again"
    PROGRESS = "progress", "Progress"
    # A provision failed, by category (stores.cluster.FailureCode)
    QUOTA = FailureCode.QUOTA.value, "Failed: quota"
    ADMISSION = FailureCode.ADMISSION.value, "Failed: admission"
    IMAGE = FailureCode.IMAGE.value, "Failed: image"
    OOM = FailureCode.OOM.value, "Failed: out of memory"
    CRASH = FailureCode.CRASH.value, "Failed: crash loop"
    CONTAINER = FailureCode.CONTAINER.value, "Failed: container"
    SCHEDULING = FailureCode.SCHEDULING.value, "Failed: scheduling"
    SETUP = FailureCode.SETUP.value, "Failed: setup job"
    ROLLOUT = FailureCode.ROLLOUT.value, "Failed: rollout"
    CLUSTER = FailureCode.CLUSTER.value, "Failed: cluster unreachable"
    HELM = FailureCode.HELM.value, "Failed: helm"
    NAMESPACE_STATE = FailureCode.NAMESPACE.value, "Failed: namespace"
    CONFLICT = FailureCode.CONFLICT.value, "Failed: namespace taken"
    DNS = FailureCode.DNS.value, "Failed: DNS"
    CHECKOUT_FAILED = FailureCode.CHECKOUT.value, "Failed: checkout"
    TIMEOUT = FailureCode.TIMEOUT.value, "Failed: timed out"
    UNAVAILABLE = FailureCode.UNAVAILABLE.value, "Failed: engine unavailable"
    INTERNAL = FailureCode.INTERNAL.value, "Failed: internal error"
    OTHER = FailureCode.OTHER.value, "Failed: other"


# The codes of a failed provision's event; the metrics count these.
FAILURE_CODES = frozenset(code.value for code in FailureCode)
# A delete's elapsed time counts from the latest of these (see with_busy_since).
DELETE_STARTED_CODES = (EventCode.DELETE_REQUESTED, EventCode.DELETE_RESTARTED)


class Health(models.TextChoices):
    UNKNOWN = "", "Not checked"
    UP = "up", "Up"
    DOWN = "down", "Down"


class StoreQuerySet(models.QuerySet["Store"]):
    def live(self) -> "StoreQuerySet":
        return self.exclude(status=Status.DELETED)

    def owned_by(self, user: object) -> "StoreQuerySet":
        return self.filter(owner=user)

    def with_busy_since(self) -> "StoreQuerySet":
        """Annotate `busy_since`: when the current provision or delete began (None otherwise).

        A provision's start is `started_at`. A delete has no column of its own
        and `updated_at` moves with each of its steps, so it is the time of the
        event that started it (the request, or an operator's restart).
        """
        delete_began = (
            StoreEvent.objects.filter(store=OuterRef("pk"), code__in=DELETE_STARTED_CODES)
            .order_by("-created_at", "-pk")
            .values("created_at")[:1]
        )
        return self.annotate(
            busy_since=Case(
                When(status=Status.PROVISIONING, then=F("started_at")),
                When(
                    status=Status.DELETING,
                    then=Coalesce(Subquery(delete_began, output_field=DateTimeField()), F("updated_at")),
                ),
                default=None,
                output_field=DateTimeField(),
            )
        )


class Store(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stores")
    slug = models.CharField(max_length=SLUG_MAX_LENGTH, validators=[slug_validator])
    engine = models.CharField(max_length=20, choices=ENGINE_CHOICES)
    # Blank on stores made before the shop's country and currency were asked
    # for: their release gets the platform's defaults.
    country = models.CharField(max_length=2, blank=True, help_text="The shop's country (ISO 3166-1 alpha-2).")
    currency = models.CharField(max_length=3, blank=True, help_text="The shop's currency (ISO 4217).")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    step = models.CharField(max_length=40, blank=True, help_text="The step running now, or the last one that ran.")
    failure_reason = models.TextField(blank=True)
    failure_code = models.CharField(
        max_length=20,
        blank=True,
        choices=[(c.value, c.value) for c in FailureCode],
        help_text="Why it failed, as a code.",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="Place in line is by this time.")
    started_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    checkout_verified_at = models.DateTimeField(
        null=True, blank=True, help_text="When a checkout check last placed, found and cancelled an order."
    )
    checkout_unverified_reason = models.CharField(
        max_length=300, blank=True, help_text="Why the store's checkout is not verified, when it is not."
    )
    # What the checks of a ready store last found (stores/monitoring.py).
    health = models.CharField(max_length=10, choices=Health.choices, blank=True, default=Health.UNKNOWN)
    health_failures = models.PositiveSmallIntegerField(default=0, help_text="Storefront checks that failed in a row.")
    health_checked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    checkout_checked_at = models.DateTimeField(null=True, blank=True)
    checkout_failing = models.BooleanField(default=False, help_text="The last checkout check after ready failed.")
    release_checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the drift check last found the store's Helm release."
    )
    deleted_at = models.DateTimeField(null=True, blank=True)

    # A worker holds the lease while it runs this store's provision or delete
    # and renews it while waiting; an expired lease means the worker was lost.
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Who took the lease (stores/leaseholder.py), meaningful while lease_token
    # is set: a holder on this host whose process is gone is taken over at once.
    lease_host = models.CharField(
        max_length=255, blank=True, help_text="The host (name, boot, PID namespace) of the lease's holder."
    )
    lease_pid = models.PositiveIntegerField(null=True, blank=True, help_text="The lease holder's process id.")
    lease_pid_started = models.BigIntegerField(
        null=True, blank=True, help_text="When the lease holder's process started (clock ticks after boot)."
    )
    attempts = models.PositiveIntegerField(default=0, help_text="How many times provisioning has started.")
    delete_attempts = models.PositiveIntegerField(
        default=0, help_text="How many times the current delete has started; an operator's restart resets it."
    )
    # What the store's release runs, recorded at install and after each
    # upgrade or rollback: the dashboard compares it with the current chart.
    chart_version = models.CharField(max_length=40, blank=True, help_text="The chart version the release runs.")
    images = models.JSONField(default=list, blank=True, help_text="The images the release pins (repository:tag).")
    # What the shop's software runs, as the platform found it ({"WordPress":
    # "6.8.1", "WooCommerce": "9.9.5"}, in the order shown).
    versions = models.JSONField(default=dict, blank=True, help_text="The versions the platform found the shop runs.")
    # A backup to restore once the store is provisioned: a deleted store's
    # final backup restored into this new one, or a lost store's latest.
    restore_from = models.ForeignKey(
        "Backup",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The backup restored into the store when its provision ends ready.",
    )

    objects = StoreQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["slug"], condition=~Q(status="deleted"), name="store_slug_unique_among_live"
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def namespace(self) -> str:
        return f"store-{self.slug}"

    @property
    def host(self) -> str:
        return f"store-{self.slug}.{settings.INGRESS_DOMAIN_SUFFIX}"

    @property
    def url(self) -> str:
        return f"{settings.STORE_URL_SCHEME}://{self.host}"

    @property
    def country_name(self) -> str:
        return locales.country_name(self.country)

    @property
    def currency_label(self) -> str:
        return locales.currency_label(self.currency)

    @property
    def versions_line(self) -> str:
        """ "WordPress 6.8.1 · WooCommerce 9.9.5"; "" when none was found."""
        return " · ".join(f"{name} {version}" for name, version in (self.versions or {}).items())

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    @property
    def owner_may_retry(self) -> bool:
        return owner_may("retry", self.status)

    @property
    def owner_may_delete(self) -> bool:
        return owner_may("delete", self.status)


class StoreEvent(models.Model):
    class Kind(models.TextChoices):
        INFO = "info", "Info"
        STEP = "step", "Step"
        ERROR = "error", "Error"

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INFO)
    step = models.CharField(max_length=40, blank=True)
    code = models.CharField(max_length=20, blank=True, choices=EventCode.choices, db_index=True)
    message = models.TextField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            # The store page reads a store's newest events and its current
            # attempt's steps: both are ranges of one store's events by time.
            models.Index(fields=["store", "created_at"], name="storeevent_store_created"),
        ]

    def __str__(self) -> str:
        return f"{self.store}: {self.message}"

    @property
    def duration_seconds(self) -> float | None:
        return None if self.duration_ms is None else self.duration_ms / 1000


class StoreCheck(models.Model):
    """One check of a ready store: its storefront answered, or an order went through.

    Kept for STORE_CHECK_RETENTION_DAYS; the store page's uptime and latency
    are read from them."""

    class Kind(models.TextChoices):
        STOREFRONT = "storefront", "Storefront"
        CHECKOUT = "checkout", "Checkout"

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="checks")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    ok = models.BooleanField()
    # Blank when ok; else what failed: "http_503", "no_answer", "checkout_failed".
    code = models.CharField(max_length=20, blank=True)
    latency_ms = models.PositiveIntegerField()
    detail = models.CharField(max_length=300, blank=True)
    checked_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-checked_at"]
        indexes = [models.Index(fields=["store", "kind", "checked_at"], name="storecheck_store_kind_time")]

    def __str__(self) -> str:
        return f"{self.store} {self.kind} {'ok' if self.ok else self.code}"


class Backup(models.Model):
    """One backup of a store: a database dump, an archive of its uploads, their
    checksums and a manifest, under `key_prefix` in the object store."""

    class Kind(models.TextChoices):
        NIGHTLY = "nightly", "Nightly"
        MANUAL = "manual", "Manual"
        FINAL = "final", "Final"

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="backups")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    job_name = models.CharField(max_length=63, blank=True, help_text="The Job that writes it.")
    size_bytes = models.BigIntegerField(null=True, blank=True, help_text="The objects' total size.")
    # engine, chart version, images, and each object's size and SHA-256
    manifest = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # A final backup is kept until then (BACKUP_AFTER_DELETE_DAYS after the
    # delete); the others are kept while they are among the newest BACKUP_KEEP.
    keep_until = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(
        null=True, blank=True, help_text="When its objects were removed from the object store."
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One backup at a time per store: a double click makes one.
            models.UniqueConstraint(
                fields=["store"], condition=Q(state="running"), name="backup_one_running_per_store"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store} {self.kind} backup {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def key_prefix(self) -> str:
        return f"stores/{self.store_id}/backups/{self.pk}/"

    @property
    def restorable(self) -> bool:
        return self.state == self.State.DONE and self.removed_at is None


class ProvisioningGate(models.Model):
    """One row, locked while a worker claims provisioning slots.

    Counting the stores in `provisioning` and then claiming one must not
    interleave between processes; on Postgres this row's lock serialises
    them, on SQLite the IMMEDIATE transaction already does.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)

    def __str__(self) -> str:
        return "provisioning gate"

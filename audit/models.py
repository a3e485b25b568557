from django.conf import settings
from django.db import models
from django.utils import timezone


class Action(models.TextChoices):
    CREATE = "create", "Create"
    DELETE = "delete", "Delete"
    RETRY = "retry", "Retry"
    REVEAL_CREDENTIALS = "reveal_credentials", "Reveal credentials"
    RESTART_DELETE = "restart_delete", "Restart delete"
    UPGRADE = "upgrade", "Upgrade"
    ROLLBACK = "rollback", "Rollback"
    BACKUP = "backup", "Back up"
    RESTORE = "restore", "Restore"
    # `manage.py audit prune`: the retention job leaves a trace of what it removed.
    PRUNE = "prune", "Prune audit log"
    # Accounts: every sign-in on a page (refused: a failed admin login), and the
    # admin's changes to users and groups, which say what changed (never a password).
    SIGN_IN = "sign_in", "Sign in"
    ADD_USER = "add_user", "Add user"
    CHANGE_USER = "change_user", "Change user"
    DELETE_USER = "delete_user", "Delete user"
    ADD_GROUP = "add_group", "Add group"
    CHANGE_GROUP = "change_group", "Change group"
    DELETE_GROUP = "delete_group", "Delete group"


class Channel(models.TextChoices):
    WEB = "web", "Web"
    ADMIN = "admin", "Admin"
    MANAGE_PY = "manage.py", "manage.py"


class Outcome(models.TextChoices):
    DONE = "done", "Done"
    # The platform said no (not the owner, wrong state, limit): nothing changed.
    REFUSED = "refused", "Refused"
    # Allowed, but it could not be carried out (e.g. the cluster did not answer).
    FAILED = "failed", "Failed"


class AuditEntryQuerySet(models.QuerySet):
    def for_store(self, store):
        return self.filter(store_pk=store.pk)


class AuditEntry(models.Model):
    """One attempt at an audited action. Written once, never changed.

    Everything that names a user or a store is copied as text beside the
    foreign key: the keys go NULL when the user or the store row is deleted,
    and the entry must still say who did what to which store.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.DONE)
    detail = models.CharField(max_length=500, blank=True, help_text="Why it was refused or failed.")

    # Who: the Django user (web and admin), or nobody for manage.py, where the
    # OS user and host below say who ran it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    username = models.CharField(max_length=150, blank=True)

    # Which store. `store_pk` outlives the row (slugs are reused once a store is
    # deleted, ids are not), so a store's whole history stays one filter away.
    store = models.ForeignKey(
        "stores.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    store_pk = models.BigIntegerField(null=True, blank=True, db_index=True, verbose_name="store id")
    store_slug = models.CharField(max_length=63, blank=True, verbose_name="store name")
    engine = models.CharField(max_length=20, blank=True)

    # From where.
    channel = models.CharField(max_length=10, choices=Channel.choices)
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name="client IP")
    user_agent = models.CharField(max_length=300, blank=True)
    os_user = models.CharField(max_length=150, blank=True, verbose_name="OS user")
    host = models.CharField(max_length=255, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.who} {self.get_action_display().lower()} {self.store_slug or '-'} ({self.outcome})"

    def save(self, *args, **kwargs):
        # An audit trail that can be edited proves nothing: rows are only ever added.
        if not self._state.adding:
            raise ValueError("audit entries cannot be changed")
        super().save(*args, **kwargs)

    @property
    def who(self) -> str:
        if self.username:
            return self.username
        if self.os_user or self.host:
            return f"{self.os_user or '?'}@{self.host or '?'}"
        return "-"

"""`manage.py stores list|create|delete|retry|backup|backups|restore|check|upgrade|rollback|doctor|reconcile|bind-web|
guardrails` for operators and scripts."""

import functools
import subprocess
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit import log as audit
from stores import clients, cluster, drift, images, isolation, lifecycle, monitoring, orphans, tasks, upgrades
from stores.backups import service as backup_service
from stores.cluster.guardrails import MANAGED_BY_VALUE
from stores.engines import ENGINES
from stores.forms import CreateStoreForm
from stores.models import FINAL, Backup, Status, Store

POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "Create, list, delete, retry and reconcile stores."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="List stores.")
        listing.add_argument("--all", action="store_true", help="Include deleted stores.")

        create = sub.add_parser("create", help="Create a store.")
        create.add_argument("--owner", required=True, help="User name of the owner.")
        create.add_argument("--engine", required=True, choices=sorted(ENGINES))
        create.add_argument("--name", required=True, help="The store's name (a DNS label).")
        create.add_argument(
            "--country",
            default=None,
            help="The shop's country, an ISO 3166-1 alpha-2 code such as DE (default: STORE_DEFAULT_COUNTRY).",
        )
        create.add_argument(
            "--currency",
            default=None,
            help="The shop's currency, an ISO 4217 code such as EUR (default: STORE_DEFAULT_CURRENCY).",
        )
        create.add_argument("--wait", action="store_true", help="Wait until it is ready or failed.")
        create.add_argument(
            "--timeout",
            type=int,
            default=None,
            help="With --wait: give up waiting after this many seconds "
            "(default: PROVISION_TIMEOUT plus 10 minutes in line); the store carries on.",
        )

        delete = sub.add_parser("delete", help="Delete a live store.")
        delete.add_argument("slug")
        delete.add_argument("--wait", action="store_true", help="Wait until it is deleted (or its delete is stuck).")

        retry = sub.add_parser("retry", help="Retry a failed store.")
        retry.add_argument("slug")

        backup = sub.add_parser("backup", help="Back a ready store up now (runs here, until the backup ends).")
        backup.add_argument("slug")
        backups = sub.add_parser("backups", help="List a store's backups (a deleted store's final one too).")
        backups.add_argument("slug")
        restore = sub.add_parser(
            "restore", help="Restore a store from its latest backup, or the one given (runs here, until it ends)."
        )
        restore.add_argument("slug")
        restore.add_argument("--backup", type=int, help="The backup's id (manage.py stores backups SLUG lists them).")

        upgrade = sub.add_parser(
            "upgrade", help="Move a ready store to the current chart and image pins (runs here, until it ends)."
        )
        upgrade.add_argument("slug")

        rollback = sub.add_parser(
            "rollback", help="Return a ready or failed store's release to its previous revision (runs here)."
        )
        rollback.add_argument("slug")
        rollback.add_argument(
            "--force",
            action="store_true",
            help="Roll back even to images whose migrations are older than the store's database "
            "(only after restoring the database from before the upgrade).",
        )

        check = sub.add_parser(
            "check",
            help="Check a ready store now, a line per call: its storefront, and with --checkout an order "
            "placed with cash on delivery, found in the shop's admin and cancelled.",
        )
        check.add_argument("slug")
        check.add_argument("--checkout", action="store_true", help="Also place, find and cancel a test order.")

        sub.add_parser("doctor", help="Check that the cluster and helm are reachable; say what to do if not.")

        reconcile = sub.add_parser(
            "reconcile",
            help="Resume lost work; mark lost the ready stores whose namespace or release is gone; "
            "report orphaned namespaces and releases.",
        )
        reconcile.add_argument("--prune", action="store_true", help="Remove the orphans found.")
        reconcile.add_argument(
            "--yes-i-mean-it",
            action="store_true",
            dest="even_if_unknown",
            help="Prune even when this database knows none of the cluster's stores.",
        )

        sub.add_parser(
            "bind-web",
            help="Bind the web pods' account (PLATFORM_WEB_SERVICE_ACCOUNT) to PLATFORM_WEB_ROLE in every live "
            "store's namespace, as the namespace step does for a new store: once, after moving from a platform "
            "whose web pods ran as the workers' account.",
        )

        sub.add_parser(
            "guardrails",
            help="Apply the current guardrails (quota, limits, NetworkPolicies, from the settings and the cluster's "
            "node and API server addresses) in every live store's own namespace: a store keeps those it was "
            "provisioned with until then.",
        )

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action.replace('-', '_')}")(**options)

    # --- actions ---------------------------------------------------------------

    def do_list(self, *, all=False, **_):
        stores = Store.objects.select_related("owner").order_by("created_at")
        if not all:
            stores = stores.live()
        rows = [("SLUG", "OWNER", "ENGINE", "STATUS", "STEP", "URL")]
        rows += [(s.slug, s.owner.get_username(), s.engine, s.status, s.step or "-", s.url) for s in stores]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())

    def do_create(self, *, owner, engine, name, country=None, currency=None, wait=False, timeout=None, **_):
        user = get_user_model().objects.filter(username=owner).first()
        if user is None:
            raise CommandError(f"no user named {owner!r}")
        form = CreateStoreForm(
            {
                "name": name,
                "engine": engine,
                "country": (country or settings.STORE_DEFAULT_COUNTRY).upper(),
                "currency": (currency or settings.STORE_DEFAULT_CURRENCY).upper(),
            }
        )
        if not form.is_valid():
            raise CommandError("; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items()))
        try:
            with transaction.atomic():
                store = tasks.request_create(
                    user,
                    form.cleaned_data["name"],
                    form.cleaned_data["engine"],
                    country=form.cleaned_data["country"],
                    currency=form.cleaned_data["currency"],
                )
                audit.record(audit.Action.CREATE, store=store)
        except (lifecycle.StoreLimitReached, lifecycle.SlugTaken) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{store.slug}: queued (id {store.pk}, {store.url}) in {store.country_name}, selling in {store.currency}"
        )
        if wait:
            final = self._follow(store.pk, until=FINAL, timeout=timeout or settings.PROVISION_TIMEOUT + 600)
            if final.status != Status.READY:
                raise CommandError(f"{store.slug}: {final.status}: {final.failure_reason or 'no reason recorded'}")

    def do_delete(self, *, slug, wait=False, **_):
        store = self._live_store(slug)
        try:
            with transaction.atomic():
                tasks.request_delete(store.pk)
                audit.record(audit.Action.DELETE, store=store)
        except lifecycle.TransitionRefused:
            if Store.objects.filter(pk=store.pk, status=Status.UPDATING).exists():
                raise CommandError(f"{slug}: an upgrade or rollback is running; delete it once it has ended") from None
            self.stdout.write(f"{slug}: already being deleted")
        else:
            self.stdout.write(f"{slug}: deleting")
        if wait:
            final = self._follow(
                store.pk, until={Status.DELETED, Status.DELETE_STUCK}, timeout=settings.DELETE_TIMEOUT * 10
            )
            if final.status == Status.DELETE_STUCK:
                raise CommandError(f"{slug}: delete stuck: {final.failure_reason or 'no reason recorded'}")
            self.stdout.write(f"{slug}: {final.status}")

    def do_retry(self, *, slug, **_):
        store = self._live_store(slug)
        try:
            with transaction.atomic():
                tasks.request_retry(store.pk)
                audit.record(audit.Action.RETRY, store=store)
        except lifecycle.TransitionRefused:
            raise CommandError(f"{slug} is {store.status}; only a failed or lost store can be retried") from None
        self.stdout.write(f"{slug}: queued again")

    def do_backup(self, *, slug, **_):
        store = self._live_store(slug)
        try:
            outcome = backup_service.run(store, Backup.Kind.MANUAL)
        except backup_service.Refused as refused:
            audit.record(audit.Action.BACKUP, store=store, outcome=audit.Outcome.REFUSED, detail=str(refused))
            raise CommandError(f"cannot back {slug} up: {refused}") from None
        backup = outcome.backup
        if backup.state != Backup.State.DONE:
            audit.record(audit.Action.BACKUP, store=store, outcome=audit.Outcome.FAILED, detail=backup.error)
            raise CommandError(f"{slug}: backup {backup.pk} failed: {backup.error}")
        audit.record(audit.Action.BACKUP, store=store, detail=f"backup {backup.pk}")
        self.stdout.write(
            f"{slug}: backup {backup.pk} done, {backup_service.human_size(backup.size_bytes)} "
            f"in {outcome.seconds:.1f} s ({backup.key_prefix})"
        )
        for name, meta in (backup.manifest.get("objects") or {}).items():
            digest = f"  sha256 {meta['sha256']}" if meta["sha256"] else ""
            self.stdout.write(f"  {name}  {meta['size']} bytes{digest}")

    def do_backups(self, *, slug, **_):
        store = Store.objects.filter(slug=slug).order_by("-created_at").first()
        if store is None:
            raise CommandError(f"no store named {slug!r}")
        rows = [("ID", "KIND", "STATE", "CREATED", "SIZE", "NOTE")]
        for b in store.backups.all():
            note = b.error[:60] if b.error else ("removed" if b.removed_at else "")
            if b.keep_until and not b.removed_at:
                note = f"kept until {b.keep_until:%Y-%m-%d}"
            rows.append(
                (
                    str(b.pk),
                    b.kind,
                    b.state,
                    f"{b.created_at:%Y-%m-%d %H:%M}",
                    backup_service.human_size(b.size_bytes),
                    note,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())

    def do_restore(self, *, slug, backup=None, **_):
        store = self._live_store(slug)
        last = store.events.order_by("-pk").values_list("pk", flat=True).first() or 0
        try:
            chosen = backup_service.refuse_restore(store, backup)
            final = backup_service.restore(store.pk, chosen.pk)
        except backup_service.Refused as refused:
            audit.record(audit.Action.RESTORE, store=store, outcome=audit.Outcome.REFUSED, detail=str(refused))
            raise CommandError(f"cannot restore {slug}: {refused}") from None
        for event in store.events.filter(pk__gt=last).order_by("pk"):
            took = f" ({event.duration_seconds:.1f} s)" if event.duration_seconds is not None else ""
            self.stdout.write(f"{slug}: {event.message}{took}")
        if final.status != Status.READY:
            audit.record(audit.Action.RESTORE, store=final, outcome=audit.Outcome.FAILED, detail=final.failure_reason)
            raise CommandError(f"{slug}: {final.status}: {final.failure_reason or 'no reason recorded'}")
        audit.record(audit.Action.RESTORE, store=final, detail=f"backup {chosen.pk}")

    def do_check(self, *, slug, checkout=False, **_):
        store = self._live_store(slug)
        if store.status != Status.READY:
            raise CommandError(f"{slug} is {store.status}; only a ready store is checked")
        front = monitoring.check_storefront(store)
        self.stdout.write(f"storefront: {front.detail or 'GET / answered'} ({front.latency_ms} ms)")
        results = [front]
        if checkout:
            engine = ENGINES[store.engine]
            if engine.checkout is None:
                raise CommandError(f"{engine.label} stores have no checkout check yet")
            try:
                kube = clients.connect(request_timeout=settings.STORE_CHECK_TIMEOUT)
            except cluster.ClusterError as exc:
                raise CommandError(str(exc)) from None
            done = monitoring.check_checkout(store, kube, on_call=lambda call: self.stdout.write(f"  {call}"))
            self.stdout.write(f"checkout: {done.detail or f'order {done.order} placed, found and cancelled'}")
            results.append(done)
        # Recorded as the schedule's checks are: the store page and its state follow.
        monitoring.record(results)
        if not all(r.ok for r in results):
            raise CommandError(f"{slug}: a check failed")

    def do_upgrade(self, *, slug, **_):
        self._update(slug, upgrades.upgrade, "upgrade", audit.Action.UPGRADE)

    def do_rollback(self, *, slug, force=False, **_):
        self._update(slug, functools.partial(upgrades.rollback, force=force), "roll back", audit.Action.ROLLBACK)

    def _update(self, slug: str, action, verb: str, audited) -> None:
        """Run an upgrade or rollback here and print its events; an error when it ended failed."""
        store = self._live_store(slug)
        last = store.events.order_by("-pk").values_list("pk", flat=True).first() or 0
        try:
            final = action(store.pk)
        except upgrades.Refused as exc:
            audit.record(audited, store=store, outcome=audit.Outcome.REFUSED, detail=str(exc))
            raise CommandError(f"cannot {verb} {slug}: {exc}") from None
        if final.status == Status.READY:
            audit.record(audited, store=final, detail=f"chart {final.chart_version}" if final.chart_version else "")
        else:
            audit.record(audited, store=final, outcome=audit.Outcome.FAILED, detail=final.failure_reason)
        for event in store.events.filter(pk__gt=last).order_by("pk"):
            took = f" ({event.duration_seconds:.1f} s)" if event.duration_seconds is not None else ""
            self.stdout.write(f"{slug}: {event.message}{took}")
        if final.status != Status.READY:
            raise CommandError(f"{slug}: {final.status}: {final.failure_reason or 'no reason recorded'}")

    def do_reconcile(self, *, prune=False, even_if_unknown=False, **_):
        report = tasks.reconcile()
        for key, ids in report.items():
            if ids:
                slugs = ", ".join(Store.objects.filter(pk__in=ids).values_list("slug", flat=True))
                self.stdout.write(f"{key.replace('_', ' ')}: {slugs}")
        try:
            lost = drift.find_lost(clients.connect(), clients.helm())
            found = orphans.reconcile_orphans(prune=prune, even_if_unknown=even_if_unknown)
        except cluster.ClusterError as exc:
            raise CommandError(f"cannot look for lost stores and orphans: {exc}") from None
        except orphans.PruneRefused as exc:
            raise CommandError(str(exc)) from None
        for slug, reason in lost.items():
            self.stdout.write(f"lost: {slug} ({reason})")
        for ns in found["foreign"]:
            self.stdout.write(f"left alone (labelled managed-by {MANAGED_BY_VALUE} but naming no store): {ns}")
        for ref in found["too_new"]:
            self.stdout.write(f"not yet an orphan (younger than {settings.ORPHAN_GRACE_SECONDS} s): {ref}")
        if not found["namespaces"] and not found["releases"]:
            self.stdout.write("no orphaned namespaces or releases")
            return
        for ns in found["namespaces"]:
            self.stdout.write(f"orphaned namespace: {ns}")
        for rel in found["releases"]:
            self.stdout.write(f"orphaned release: {rel}")
        self.stdout.write("pruned" if prune else "run with --prune to remove them")

    def do_bind_web(self, **_):
        if not settings.PLATFORM_WEB_SERVICE_ACCOUNT:
            raise CommandError("PLATFORM_WEB_SERVICE_ACCOUNT is not set: there is no web account to bind")
        kube = clients.connect()
        try:
            present = {ns["name"] for ns in kube.list_namespaces(f"app.kubernetes.io/managed-by={MANAGED_BY_VALUE}")}
        except cluster.ClusterError as exc:
            raise CommandError(f"cannot list the store namespaces: {exc}") from None
        failed = []
        for store in Store.objects.live().order_by("created_at"):
            if store.namespace not in present:
                continue
            try:
                kube.bind_store_role(store.namespace, settings.PLATFORM_WEB_SERVICE_ACCOUNT, settings.PLATFORM_WEB_ROLE)
            except cluster.ClusterError as exc:
                failed.append(store.slug)
                self.stdout.write(f"{store.slug}: not bound: {exc}")
                continue
            self.stdout.write(
                f"{store.slug}: {settings.PLATFORM_WEB_ROLE} bound to {settings.PLATFORM_WEB_SERVICE_ACCOUNT}"
            )
        if failed:
            raise CommandError(f"not bound in {len(failed)} store(s): {', '.join(failed)}")

    def do_guardrails(self, **_):
        kube = clients.connect()
        try:
            labels = {
                ns["name"]: ns["labels"]
                for ns in kube.list_namespaces(f"app.kubernetes.io/managed-by={MANAGED_BY_VALUE}")
            }
        except cluster.ClusterError as exc:
            raise CommandError(f"cannot list the store namespaces: {exc}") from None
        failed = []
        for store in Store.objects.live().order_by("created_at"):
            if store.namespace not in labels:
                continue  # not provisioned yet: its namespace step applies the current ones
            if not isolation.owns_namespace(labels[store.namespace], store):
                self.stdout.write(f"{store.slug}: left alone: {store.namespace} is not this store's namespace")
                continue
            try:
                kube.apply_guardrails(store.namespace, isolation.guardrail_spec(store.engine))
            except cluster.ClusterError as exc:
                failed.append(store.slug)
                self.stdout.write(f"{store.slug}: not applied: {exc}")
                continue
            self.stdout.write(f"{store.slug}: guardrails applied in {store.namespace}")
        if failed:
            raise CommandError(f"not applied in {len(failed)} store(s): {', '.join(failed)}")

    def do_doctor(self, **_):
        problems = []
        try:
            version = clients.connect(request_timeout=5).version()
            self.stdout.write(f"Kubernetes: {version} ({settings.KUBECONFIG or 'default kubeconfig'})")
        except cluster.ClusterError as exc:
            problems.append(
                f"No Kubernetes cluster is reachable: {exc}\n"
                "  - for the offline test cluster: make cluster, then make demo\n"
                "  - for real stores: kind create cluster --config kind-config.yaml, install ingress-nginx "
                "(docs/production.md, 'kind'), then make run\n"
                "  The dashboard still starts; provisions fail with this reason until a cluster is reachable."
            )
        helm_bin = clients.helm_binary()
        try:
            out = subprocess.run([helm_bin, "version", "--short"], capture_output=True, text=True, timeout=10)
            self.stdout.write(f"Helm: {out.stdout.strip() or out.stderr.strip()} ({helm_bin})")
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"helm is not usable ({helm_bin}: {exc}); set HELM_BIN or run make cluster to build it")
        self.stdout.write(
            f"Stores: http://store-<name>.{settings.INGRESS_DOMAIN_SUFFIX} via ingress class {settings.INGRESS_CLASS}"
        )
        # A tag the registry no longer lists fails every store at ErrImagePull.
        report = images.check_pinned_images()
        for base, reason in report.unreachable.items():
            self.stdout.write(f"Images: registry {base} is not reachable ({reason}); pinned images not checked")
        for ref in report.local:
            self.stdout.write(f"Image: {ref} is built here and loaded into the cluster, not pulled (make medusa-image)")
        for check in report.checked:
            if check.pullable:
                self.stdout.write(f"Image: {check.image} can be pulled")
            else:
                problems.append(
                    f"Image {check.image} cannot be pulled: {check.detail}; pin a tag the registry lists "
                    "(charts/<engine>/README.md says how)"
                )
        if problems:
            raise CommandError("\n".join(problems))

    # --- helpers ------------------------------------------------------------------

    def _live_store(self, slug: str) -> Store:
        store = Store.objects.live().filter(slug=slug).first()
        if store is None:
            raise CommandError(f"no live store named {slug!r}")
        return store

    def _follow(self, store_id: int, *, until, timeout: float) -> Store:
        """Print each new event until the store reaches one of `until`; an error after `timeout` seconds."""
        seen = 0
        deadline = time.monotonic() + timeout
        while True:
            store = Store.objects.get(pk=store_id)
            for event in store.events.order_by("created_at", "pk")[seen:]:
                seen += 1
                took = f" ({event.duration_seconds:.1f} s)" if event.duration_seconds is not None else ""
                self.stdout.write(f"{store.slug}: {event.message}{took}")
            if store.status in until:
                return store
            if time.monotonic() >= deadline:
                raise CommandError(
                    f"{store.slug}: still {store.status} after {timeout:.0f} s; it carries on without this command "
                    "(manage.py stores list)"
                )
            time.sleep(POLL_SECONDS)

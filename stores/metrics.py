"""The stores' figures on /metrics, read from the database at scrape time.

Every figure comes from rows every process already writes (stores, their
events, django-q2's task results), with a fixed number of aggregate queries
whatever the number of stores (observability.metrics says why not counters).
"""

from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Q, Sum
from django_q.models import Task
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from observability.metrics import PREFIX
from stores.engines import ENGINES
from stores.models import FAILURE_CODES, Backup, Health, Status, Store, StoreCheck, StoreEvent

# Seconds from "provisioning started" to "ready": a WooCommerce store takes
# one to a few minutes, a first Medusa store up to PROVISION_TIMEOUT.
DURATION_BUCKETS = (15, 30, 60, 120, 180, 300, 450, 600, 900, 1200)
# Seconds a checkout check takes (a real Medusa store: about 2.5).
CHECKOUT_BUCKETS = (0.5, 1, 2, 3, 5, 10, 20, 30, 60)


class StoreCollector:
    """Reads the platform's figures from the database each time it is collected."""

    def collect(self):
        yield from self._stores()
        yield self._failures()
        yield from self._durations()
        yield self._task_failures()
        yield self._store_up()
        yield self._checkout_durations()
        yield from self._backups()

    def _stores(self):
        counts = {
            (row["status"], row["engine"]): row["n"]
            for row in Store.objects.order_by().values("status", "engine").annotate(n=Count("pk"))
        }
        stores = GaugeMetricFamily(
            f"{PREFIX}_stores",
            "Stores by status and engine (deleted ones stay as history).",
            labels=["status", "engine"],
        )
        engines = sorted(set(ENGINES) | {engine for _, engine in counts})
        for status in Status.values:
            for engine in engines:
                stores.add_metric([status, engine], counts.get((status, engine), 0))
        yield stores
        queued = sum(n for (status, _), n in counts.items() if status == Status.QUEUED)
        yield GaugeMetricFamily(f"{PREFIX}_queue_length", "Stores waiting for a provisioning slot.", value=queued)

    def _failures(self):
        # Counted by the code set where each failure was recognised
        # (stores.cluster.FailureCode): rewording a message changes no number.
        rows = (
            StoreEvent.objects.filter(code__in=FAILURE_CODES)
            .order_by()
            .values("code", "store__engine")
            .annotate(n=Count("pk"))
        )
        family = CounterMetricFamily(
            f"{PREFIX}_provision_failures",
            "Provisions that failed, by engine and reason (a FailureCode).",
            labels=["engine", "reason"],
        )
        for row in rows:
            family.add_metric([row["store__engine"], row["code"]], row["n"])
        return family

    def _durations(self):
        took = ExpressionWrapper(F("ready_at") - F("started_at"), output_field=DurationField())
        bounds = [timedelta(seconds=bound) for bound in DURATION_BUCKETS]
        rows = (
            Store.objects.filter(ready_at__isnull=False, started_at__isnull=False)
            .order_by()
            .annotate(took=took)
            .values("engine")
            .annotate(**_bucket_counts("took", bounds))
        )
        family = HistogramMetricFamily(
            f"{PREFIX}_provision_duration_seconds",
            "Seconds from the start of provisioning to ready, by engine (each store's last attempt).",
            labels=["engine"],
        )
        for row in rows:
            total = row["sum"] or timedelta(0)
            family.add_metric([row["engine"]], _buckets(row, DURATION_BUCKETS), total.total_seconds())
        yield family

    def _task_failures(self):
        family = CounterMetricFamily(
            f"{PREFIX}_task_failures",
            "Task runs that raised, from django-q2's results, by task function.",
            labels=["func"],
        )
        for row in Task.objects.filter(success=False).order_by().values("func").annotate(n=Count("pk")):
            family.add_metric([row["func"]], row["n"])
        return family

    def _store_up(self):
        # One series per ready store that has been checked: an alert names the store.
        family = GaugeMetricFamily(
            f"{PREFIX}_store_up",
            "1 when a ready store's storefront answered its last checks, 0 when it is down.",
            labels=["store", "engine"],
        )
        rows = (
            Store.objects.filter(status=Status.READY)
            .exclude(health=Health.UNKNOWN)
            .values_list("slug", "engine", "health")
        )
        for slug, engine, health in rows.order_by("slug"):
            family.add_metric([slug, engine], 1 if health == Health.UP else 0)
        return family

    def _checkout_durations(self):
        # The checks kept (STORE_CHECK_RETENTION_DAYS), passed ones: how long buying takes.
        rows = (
            StoreCheck.objects.filter(kind=StoreCheck.Kind.CHECKOUT, ok=True)
            .order_by()
            .values("store__engine")
            .annotate(**_bucket_counts("latency_ms", [bound * 1000 for bound in CHECKOUT_BUCKETS]))
        )
        family = HistogramMetricFamily(
            f"{PREFIX}_checkout_duration_seconds",
            "Seconds a checkout check took to place, find and cancel an order, by engine (checks kept).",
            labels=["engine"],
        )
        for row in rows:
            family.add_metric([row["store__engine"]], _buckets(row, CHECKOUT_BUCKETS), (row["sum"] or 0) / 1000)
        return family

    def _backups(self):
        """Backups by kind and result (failed ones are what an alert watches), and the
        age of the newest successful one per engine."""
        rows = Backup.objects.order_by().values("kind", "state", "store__engine").annotate(n=Count("pk"))
        counted = CounterMetricFamily(
            f"{PREFIX}_backups",
            "Backups by kind (nightly, manual, final), state (running, done, failed) and engine.",
            labels=["kind", "state", "engine"],
        )
        counts = {(row["kind"], row["state"], row["store__engine"]): row["n"] for row in rows}
        for kind in Backup.Kind.values:
            for state in Backup.State.values:
                for engine in sorted(ENGINES):
                    counted.add_metric([kind, state, engine], counts.get((kind, state, engine), 0))
        yield counted
        newest = (
            Backup.objects.filter(state=Backup.State.DONE)
            .order_by()
            .values("store__engine")
            .annotate(last=Max("finished_at"))
        )
        last = GaugeMetricFamily(
            f"{PREFIX}_backup_last_success_timestamp_seconds",
            "When the newest successful backup of a store of the engine ended (Unix time).",
            labels=["engine"],
        )
        for row in newest:
            if row["last"] is not None:
                last.add_metric([row["store__engine"]], row["last"].timestamp())
        yield last


def _bucket_counts(field: str, bounds) -> dict:
    """The aggregates of a histogram over `field`: count, sum and one cumulative count per bound."""
    aggregates = {"count": Count("pk"), "sum": Sum(field)}
    for i, bound in enumerate(bounds):
        aggregates[f"le{i}"] = Count("pk", filter=Q(**{f"{field}__lte": bound}))
    return aggregates


def _buckets(row: dict, bounds) -> list[tuple[str, int]]:
    """A row of `_bucket_counts` as Prometheus buckets, in seconds, +Inf last."""
    return [(str(float(bound)), row[f"le{i}"]) for i, bound in enumerate(bounds)] + [("+Inf", row["count"])]

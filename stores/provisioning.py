"""The provisioning and deletion steps a worker runs for one store.

Every step is idempotent, so a provision can be re-run from the top after a
crash (a killed worker) and converge on the same namespace and release.
Between steps and inside every wait the run asks `should_stop()`: a delete,
a lost lease or the deadline ends it promptly.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from django.conf import settings
from django.utils import timezone

from observability.logging import set_step as set_log_step
from stores import cluster, lifecycle
from stores.cluster import registry
from stores.cluster.guardrails import MANAGED_BY_VALUE as MANAGED_BY
from stores.engines import ENGINES, StoreSpec, get_engine
from stores.models import LIVE, Status, Store, StoreEvent

log = logging.getLogger(__name__)

# One release per store namespace; the namespace carries the store's name.
RELEASE_NAME = "store"
SECRET_NAME = "store-secret"  # noqa: S105 (a name, not a password)

STEPS = (
    ("namespace", "Namespace"),
    ("guardrails", "Quota, limits and network policies"),
    ("credentials", "Credentials"),
    ("release", "Helm release"),
    ("workloads", "Workloads and setup job"),
    ("storefront", "Storefront check"),
)
STEP_LABELS = dict(STEPS)


# --- Connecting ---------------------------------------------------------------


def helm_binary() -> str:
    """HELM_BIN, else `helm` on PATH, else the build `make cluster` caches."""
    if settings.HELM_BIN:
        return settings.HELM_BIN
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    for candidate in _built_helm_candidates():
        if candidate.exists():
            return str(candidate)
    return "helm"


def _built_helm_candidates() -> list[Path]:
    base = Path(settings.BASE_DIR)
    candidates = [base / ".localcluster" / "bin" / "helm"]
    versions = base / "localcluster" / "versions.env"
    if versions.exists():
        pinned = dict(
            line.split("#")[0].strip().split("=", 1)
            for line in versions.read_text().splitlines()
            if "=" in line.split("#")[0]
        )
        cache = Path(os.environ.get("STORE_PROVISIONER_CACHE", Path.home() / ".cache" / "store-provisioner"))
        if "HELM_VERSION" in pinned:
            candidates.append(cache / "bin" / f"helm-{pinned['HELM_VERSION']}")
    return candidates


def connect(request_timeout: float | None = None) -> cluster.Kubernetes:
    return cluster.connect(
        kubeconfig=settings.KUBECONFIG or None,
        context=settings.KUBE_CONTEXT or None,
        request_timeout=request_timeout or settings.KUBE_REQUEST_TIMEOUT,
    )


def helm() -> cluster.Helm:
    return cluster.HelmCli(
        helm_binary(), kubeconfig=settings.KUBECONFIG or None, kube_context=settings.KUBE_CONTEXT or None
    )


def guardrail_spec(store: Store | None = None) -> cluster.GuardrailSpec:
    """The platform's guardrails, with the store's engine's own overrides
    (a Medusa store's build needs more memory than the defaults admit)."""
    spec = cluster.GuardrailSpec(
        ingress_controller_namespace=settings.INGRESS_CONTROLLER_NAMESPACE,
        private_cidrs=list(settings.EGRESS_DENIED_CIDRS),
    )
    if store is not None:
        engine = get_engine(store.engine)
        spec.quota.update(engine.quota_overrides)
        spec.container_max.update(engine.container_max_overrides)
    return spec


def store_spec(store: Store) -> StoreSpec:
    return StoreSpec(
        slug=store.slug,
        store_id=store.pk,
        owner=store.owner.get_username(),
        owner_email=store.owner.email,
        host=store.host,
        url=store.url,
        ingress_class=settings.INGRESS_CLASS,
        tls_cluster_issuer=settings.TLS_CLUSTER_ISSUER,
    )


def namespace_labels(store: Store) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "store-provisioner.io/store-id": str(store.pk),
        "store-provisioner.io/owner": str(store.owner_id),
        "store-provisioner.io/engine": store.engine,
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


def chart_values_files(chart_dir: Path) -> list[str]:
    """The engine's profile values (kind, k3s) and the operator's extra files, in order."""
    files = []
    profile = chart_dir / f"values-{settings.CHART_VALUES_PROFILE}.yaml"
    if settings.CHART_VALUES_PROFILE and profile.exists():
        files.append(str(profile))
    return files + list(settings.STORE_VALUES_FILES)


# --- A provision run -----------------------------------------------------------

# The work that has a deadline (`Store.deadline_at`): a provision, and an
# operator's upgrade or rollback (stores/upgrades.py).
DEADLINED = frozenset({Status.PROVISIONING, Status.UPDATING})


class Run:
    """One worker's run of one store's steps, holding the store's lease."""

    def __init__(self, store_id: int, token: str, *, status: str):
        self.store_id = store_id
        self.token = token
        self.status = status
        self.step = ""
        self.timed_out = False
        self._last_check = 0.0
        self._stop_reason: str | None = None

    def should_stop(self) -> str | None:
        """Why this run must stop now, or None. Renews the lease as a side effect."""
        if self._stop_reason:
            return self._stop_reason
        now = time.monotonic()
        if now - self._last_check < 1.0:
            return None
        self._last_check = now
        row = Store.objects.filter(pk=self.store_id).values("status", "lease_token", "deadline_at").first()
        if row is None or row["status"] != self.status:
            now_status = row["status"] if row else "gone"
            self._stop_reason = (
                "cancelled: the store is being deleted"
                if now_status == Status.DELETING
                else f"the store is {now_status} now"
            )
        elif row["lease_token"] != self.token:
            self._stop_reason = "another worker took over this store"
        elif self.status in DEADLINED and row["deadline_at"] and timezone.now() >= row["deadline_at"]:
            self.timed_out = True
            self._stop_reason = f"timed out while {STEP_LABELS.get(self.step, self.step).lower()}"
        else:
            lifecycle.renew_lease(self.store_id, self.token)
        return self._stop_reason

    def check(self) -> None:
        reason = self.should_stop()
        if reason:
            raise cluster.Stopped(reason)

    def progress(self, line: str) -> None:
        lifecycle.record(self.store_id, line, step=self.step)

    def run_step(self, key: str, action, done_message) -> object:
        self._last_check = 0.0
        self.check()
        self.step = key
        set_log_step(key)
        lifecycle.set_step(self.store_id, self.token, key)
        started = time.monotonic()
        result = action()
        elapsed = time.monotonic() - started
        message = done_message(result) if callable(done_message) else done_message
        log.info("%s (%d ms)", message, elapsed * 1000)
        lifecycle.record(self.store_id, message, kind=StoreEvent.Kind.STEP, step=key, duration_ms=int(elapsed * 1000))
        return result


def provision(store_id: int, token: str) -> None:
    """Run every step for a store this worker holds the lease on."""
    store = Store.objects.select_related("owner").get(pk=store_id)
    engine = get_engine(store.engine)
    run = Run(store_id, token, status=Status.PROVISIONING)
    try:
        if not engine.available:
            raise cluster.ClusterError(engine.unavailable_reason)
        spec = store_spec(store)
        run.step = "namespace"
        kube = connect()
        lifecycle.record(store_id, f"Connected to Kubernetes {kube.version()}.", step="namespace")
        _provision_steps(run, store, spec, engine, kube)
    except cluster.Stopped as stopped:
        if run.timed_out:
            _fail(store_id, stopped.reason, run)
        else:
            lifecycle.record(store_id, f"Provisioning stopped: {stopped.reason}.")
            lifecycle.release_lease(store_id, token)
    except cluster.ClusterError as exc:
        _fail(store_id, str(exc), run)
    except lifecycle.TransitionRefused:
        # Deleted (or taken over) while the last step ran, so it could not be
        # marked ready. Let go: a delete waits for this lease.
        run._last_check = 0.0
        lifecycle.record(store_id, f"Provisioning stopped: {run.should_stop() or 'the store changed state'}.")
        lifecycle.release_lease(store_id, token)
    except Exception as exc:  # a bug must still end the store, not strand it
        log.exception("provision of store %s crashed during %s", store_id, run.step)
        _fail(store_id, f"internal error during {STEP_LABELS.get(run.step, run.step)}: {type(exc).__name__}", run)


def _fail(store_id: int, reason: str, run: Run) -> None:
    try:
        lifecycle.mark_failed(store_id, reason, step=run.step, token=run.token)
    except lifecycle.TransitionRefused:
        log.info("store %s left provisioning before it could be failed (%s)", store_id, reason)
        # Deleted meanwhile: let go now, the delete waits for this lease.
        lifecycle.release_lease(store_id, run.token)


def _provision_steps(run: Run, store: Store, spec: StoreSpec, engine, kube: cluster.Kubernetes) -> None:
    ns = store.namespace

    def namespace():
        # Never adopt a namespace left by another store (its volumes, its credentials).
        for existing in kube.list_namespaces(f"kubernetes.io/metadata.name={ns}"):
            owner_id = existing["labels"].get("store-provisioner.io/store-id")
            if owner_id != str(store.pk):
                raise cluster.ClusterError(
                    f"namespace {ns} already exists and belongs to {'store ' + owner_id if owner_id else 'no store'}; "
                    "an operator can remove it with `manage.py stores reconcile --prune`"
                )
        kube.ensure_namespace(ns, namespace_labels(store))
        if settings.PLATFORM_SERVICE_ACCOUNT:
            # The platform's own rights in this store: every later step needs them.
            kube.bind_store_role(ns, settings.PLATFORM_SERVICE_ACCOUNT, settings.PLATFORM_STORE_ROLE)

    run.run_step("namespace", namespace, f"Namespace {ns} is in place.")
    run.run_step(
        "guardrails",
        lambda: kube.apply_guardrails(ns, guardrail_spec(store)),
        "ResourceQuota, LimitRange and NetworkPolicies applied.",
    )
    run.run_step(
        "credentials",
        lambda: kube.ensure_secret(ns, SECRET_NAME, engine.build_secret(spec)),
        f"Secret {SECRET_NAME} holds the store's credentials.",
    )
    chart_dir = Path(settings.CHARTS_DIR) / engine.chart

    def install():
        if engine.setup_job_selector:
            for name in kube.delete_unfinished_jobs(ns, engine.setup_job_selector):
                run.progress(f"Removed unfinished job {name} so it runs again.")
            if store.chart_version and store.chart_version != chart_version(chart_dir):
                # A retry after the chart changed: its setup Job's pod template may
                # differ, and a Job's template is immutable (the setup is idempotent).
                for name in kube.delete_jobs(ns, engine.setup_job_selector):
                    run.progress(f"Removed setup job {name} of chart {store.chart_version} so the new one runs.")
        return helm().upgrade_install(
            RELEASE_NAME,
            str(chart_dir),
            ns,
            engine.build_values(spec),
            values_files=chart_values_files(chart_dir),
            timeout_seconds=max(30, int(settings.PROVISION_TIMEOUT)),
            should_stop=run.should_stop,
        )

    release = run.run_step(
        "release", install, lambda r: f"Helm release {RELEASE_NAME} revision {r.get('version', '?')} installed."
    )
    lifecycle.record_release(
        store.pk, run.token, chart_version=installed_chart_version(release, chart_dir), images=chart_images(chart_dir)
    )
    run.run_step(
        "workloads",
        lambda: kube.wait_until_ready(ns, should_stop=run.should_stop, on_progress=run.progress),
        "Every workload is ready and the setup job succeeded.",
    )
    if settings.CHECK_STORE_URL:
        run.run_step("storefront", lambda: _wait_for_storefront(store.url, run), f"{store.url} answers.")
    else:
        lifecycle.record(
            store.pk,
            "Storefront check skipped (CHECK_STORE_URL is off: the cluster's ingress is not reachable from here).",
            step="storefront",
        )
    lifecycle.mark_ready(store.pk, run.token, f"Store is ready at {store.url}.")


def chart_version(chart_dir: Path) -> str:
    """The `version` in a chart directory's Chart.yaml ("" when unreadable)."""
    return _chart_version(str(chart_dir / "Chart.yaml"), _mtime(chart_dir / "Chart.yaml"))


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


@functools.lru_cache(maxsize=32)
def _chart_version(path: str, mtime: int) -> str:
    # Keyed by the file's mtime: the dashboard asks on every page, a deploy changes the file.
    try:
        return str((yaml.safe_load(Path(path).read_text()) or {}).get("version", ""))
    except (OSError, yaml.YAMLError):
        return ""


def installed_chart_version(release: dict, chart_dir: Path) -> str:
    """The chart version helm says it installed, else the chart directory's."""
    return str(((release or {}).get("chart") or {}).get("metadata", {}).get("version") or chart_version(chart_dir))


def chart_images(chart_dir: Path) -> list[str]:
    """The images a release of this chart pins: its values.yaml, then the profile
    and operator values files (an image mirror there wins), as helm merges them."""
    values: dict = {}
    for path in [chart_dir / "values.yaml", *map(Path, chart_values_files(chart_dir))]:
        if path.exists():
            values = _merged(values, yaml.safe_load(path.read_text()) or {})
    return registry.images_in_values(values)


# Seconds between two tries of the storefront.
STOREFRONT_POLL_SECONDS = 3
# A name the resolver says does not exist will not exist 15 minutes later either
# (no wildcard record, a typo in INGRESS_DOMAIN_SUFFIX, nip.io out of reach), so
# the check fails at once instead of waiting for the deadline. Only "try again"
# (a resolver that did not answer) earns a quick second try.
DNS_ATTEMPTS = 2
DNS_RETRY_SECONDS = 1.0


def _wait_for_storefront(url: str, run: Run) -> None:
    """Poll the storefront over the ingress until it answers below 500."""
    host = urllib.parse.urlsplit(url).hostname or ""
    unresolved = None if _sent_through_a_proxy(url, host) else _does_not_resolve(host)
    if unresolved:
        raise cluster.ClusterError(_unresolved_advice(host, unresolved))
    last_error = "no answer yet"
    # An opener of its own reads the proxy settings now (urlopen's shared one
    # keeps those of its first use), as _sent_through_a_proxy just did.
    opener = urllib.request.build_opener()
    while True:
        run.check()
        try:
            with opener.open(url, timeout=5) as response:
                if response.status < 500:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(getattr(exc, "reason", exc))
        run.progress(f"Waiting for {url}: {last_error}")
        time.sleep(STOREFRONT_POLL_SECONDS)


def _sent_through_a_proxy(url: str, host: str) -> bool:
    """Whether urllib hands the request to an HTTP proxy (http_proxy / https_proxy,
    not bypassed by no_proxy): the proxy resolves the store's name, not this host."""
    scheme = urllib.parse.urlsplit(url).scheme
    return scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host)


def _does_not_resolve(host: str) -> str | None:
    """The resolver's reason when `host` has no address, or None when it has one."""
    for attempt in range(1, DNS_ATTEMPTS + 1):
        try:
            socket.getaddrinfo(host, None)
            return None
        except (socket.gaierror, UnicodeError) as exc:
            again = isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN
            if not again or attempt == DNS_ATTEMPTS:
                return getattr(exc, "strerror", None) or str(exc)
        time.sleep(DNS_RETRY_SECONDS)
    return None


def _unresolved_advice(host: str, reason: str) -> str:
    """What is wrong with a store host that does not resolve, and what to do about it."""
    suffix = host.partition(".")[2] or host
    if suffix.endswith("nip.io"):
        fix = (
            f"{suffix} is answered by nip.io, which needs a DNS resolver that reaches the internet; "
            "set INGRESS_DOMAIN_SUFFIX to a domain whose wildcard record points at the ingress"
        )
    else:
        fix = (
            f"point a wildcard DNS record *.{suffix} at the cluster's ingress, "
            "or use the default INGRESS_DOMAIN_SUFFIX 127.0.0.1.nip.io"
        )
    return f"{host} does not resolve ({reason}): {fix}, or set CHECK_STORE_URL=false to skip this check"


# --- Deletion -------------------------------------------------------------------

# How often a delete re-reads the lease while a cancelled provision stops.
CANCEL_POLL_SECONDS = 0.25


def wait_for_cancelled_provision(store_id: int) -> bool:
    """Before a delete touches the cluster, wait until a cancelled provision has let go.

    The provision releases the store's lease once its helm process has ended
    and no step is running; if its worker hangs instead, the lease runs out
    (it is no longer renewed), so the wait is bounded by
    PROVISION_LEASE_SECONDS. False when the provision still holds the store
    after that: the reconcile task starts the delete again once the lease has
    run out, and this worker is free meanwhile.
    """
    if not lifecycle.provision_still_running(store_id):
        return True
    lifecycle.record(store_id, "Waiting for the cancelled provision to stop before removing anything.")
    started = time.monotonic()
    bound = settings.PROVISION_LEASE_SECONDS + 5
    while lifecycle.provision_still_running(store_id):
        if time.monotonic() - started >= bound:
            lifecycle.record(
                store_id,
                f"The cancelled provision still holds the store after {bound} s; "
                "the delete starts again once its lease runs out.",
                kind=StoreEvent.Kind.ERROR,
            )
            return False
        time.sleep(CANCEL_POLL_SECONDS)
    released = not Store.objects.filter(pk=store_id).exclude(lease_token="").exists()
    how = "stopped" if released else "did not report (its lease ran out)"
    lifecycle.record(store_id, f"The cancelled provision {how} after {time.monotonic() - started:.1f} s; deleting.")
    return True


def teardown(store_id: int, token: str) -> None:
    """Uninstall the release, delete the namespace and wait until it is gone."""
    store = Store.objects.get(pk=store_id)
    run = Run(store_id, token, status=Status.DELETING)
    try:
        if store.attempts == 0:
            # Never left the queue: nothing was created in the cluster.
            lifecycle.mark_deleted(store_id)
            return
        lifecycle.start_delete_attempt(store_id, token)
        kube = connect()
        run.run_step("release", lambda: _uninstall(store, run), lambda message: message)
        run.run_step(
            "namespace",
            lambda: kube.delete_namespace(
                store.namespace, should_stop=run.should_stop, timeout=settings.DELETE_TIMEOUT
            ),
            f"Namespace {store.namespace} is gone.",
        )
        lifecycle.mark_deleted(store_id)
    except cluster.Stopped as stopped:
        lifecycle.record(store_id, f"Delete stopped: {stopped.reason}.")
        lifecycle.release_lease(store_id, token)
    except cluster.ClusterError as exc:
        # Stay `deleting` and back off (the reconcile task starts the next
        # try), or, after DELETE_MAX_ATTEMPTS tries, stop as `delete_stuck`.
        try:
            lifecycle.delete_did_not_finish(store_id, str(exc), token=token, step=run.step)
        except lifecycle.TransitionRefused:
            log.info("store %s: another worker took over its delete (%s)", store_id, exc)


def _uninstall(store: Store, run: Run) -> str:
    """Uninstall the release; a failure is not fatal, deleting the namespace removes it too."""
    try:
        removed = helm().uninstall(RELEASE_NAME, store.namespace, should_stop=run.should_stop)
    except cluster.Stopped:
        raise
    except cluster.ClusterError as exc:
        if isinstance(exc, cluster.ClusterUnavailable):
            raise
        return f"Helm uninstall failed ({exc}); deleting the namespace removes the release anyway."
    return "Helm release uninstalled." if removed else "No Helm release to uninstall."


# --- Reading the cluster for the dashboard --------------------------------------


class CredentialsUnavailable(Exception):
    pass


def credentials_for(store: Store) -> list[tuple[str, str, bool]]:
    """(label, value, is_secret) read from the store's secret, never stored here.

    Runs on the request path, so it uses a short timeout.
    """
    engine = get_engine(store.engine)
    try:
        data = connect(request_timeout=5).read_secret(store.namespace, SECRET_NAME)
    except cluster.ClusterError as exc:
        raise CredentialsUnavailable(str(exc)) from exc
    if not data:
        raise CredentialsUnavailable(f"the secret {SECRET_NAME} is not in {store.namespace}")
    return [(c.label, data.get(c.key, ""), c.secret) for c in engine.credentials]


# --- Reconciling ---------------------------------------------------------------


def find_orphans(kube: cluster.Kubernetes, helm_client: cluster.Helm) -> dict[str, list[str]]:
    """Namespaces and releases this platform made that belong to no live store.

    The cluster is listed before the database is read: a store claimed in
    between then has its row read here, so its new namespace is never taken
    for an orphan. Anything younger than ORPHAN_GRACE_SECONDS (or of unknown
    age) is reported under "too_new" and never pruned.
    """
    listed = kube.list_namespaces(f"app.kubernetes.io/managed-by={MANAGED_BY}")
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
    found: dict[str, list[str]] = {"namespaces": [], "releases": [], "too_new": []}
    for ns in listed:
        if ns["name"] in live_namespaces:
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


def reconcile_orphans(*, prune: bool = False) -> dict[str, list[str]]:
    """Find the orphaned namespaces and releases and, with `prune`, remove them."""
    kube, helm_client = connect(), helm()
    orphans = find_orphans(kube, helm_client)
    if prune:
        prune_orphans(kube, helm_client, orphans)
    return orphans


# --- Images (stores doctor) -------------------------------------------------------


def pinned_images() -> list[str]:
    """Every image the available engines' charts pull, as a release would get
    them: the chart's values.yaml, then the profile and operator values files
    (an image mirror there wins)."""
    images: list[str] = []
    for engine in ENGINES.values():
        chart_dir = Path(settings.CHARTS_DIR) / engine.chart
        if not engine.available or not (chart_dir / "values.yaml").exists():
            continue
        images += [ref for ref in chart_images(chart_dir) if ref not in images]
    return images


def check_pinned_images() -> registry.ImageReport:
    """Whether each pinned image can be pulled."""
    return registry.check_images(pinned_images(), docker_hub_url=settings.IMAGE_REGISTRY_URL)


def _merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out

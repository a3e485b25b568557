"""A store's Helm release: its chart, the values it gets, the images it pins, and the one install.

Provisioning, retries and an operator's upgrade all install through
`install()`, so the chart directory, the values files, the timeout and the
setup Job's replacement are decided in one place.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from stores import clients, cluster
from stores.cluster import registry
from stores.engines import StoreSpec, get_engine
from stores.engines.contract import RELEASE_NAME, SETUP_JOB_SELECTOR
from stores.mail import MAIL_SECRET_NAME, StoreMail
from stores.models import Store


def chart_dir(engine_key: str) -> Path:
    return Path(settings.CHARTS_DIR) / get_engine(engine_key).chart


def values_files(chart: Path) -> list[str]:
    """The engine's profile values (kind, k3s) and the operator's extra files, in order."""
    files = []
    profile = chart / f"values-{settings.CHART_VALUES_PROFILE}.yaml"
    if settings.CHART_VALUES_PROFILE and profile.exists():
        files.append(str(profile))
    return files + list(settings.STORE_VALUES_FILES)


def _relay(store: Store) -> StoreMail | None:
    """The platform's mail relay, for a store whose engine sends mail (None otherwise, or when off)."""
    return settings.STORE_MAIL if get_engine(store.engine).sends_mail else None


def store_spec(store: Store) -> StoreSpec:
    relay = _relay(store)
    return StoreSpec(
        slug=store.slug,
        store_id=store.pk,
        owner=store.owner.get_username(),
        owner_email=store.owner.email,
        host=store.host,
        url=store.url,
        ingress_class=settings.INGRESS_CLASS,
        tls_cluster_issuer=settings.TLS_CLUSTER_ISSUER,
        tls_wildcard=settings.TLS_WILDCARD,
        mail_secret=MAIL_SECRET_NAME if relay else "",
        mail_revision=relay.revision(store.slug) if relay else "",
        country=store.country or settings.STORE_DEFAULT_COUNTRY,
        currency=store.currency or settings.STORE_DEFAULT_CURRENCY,
    )


def apply_mail_secret(store: Store, kube: cluster.Kubernetes) -> None:
    """Put the mail relay's Secret in the store's namespace, replacing what was
    there (a changed password reaches every store at its next install), or
    remove it when mail is off or the engine sends none."""
    relay = _relay(store)
    if relay is None:
        kube.delete_secret(store.namespace, MAIL_SECRET_NAME)
    else:
        kube.put_secret(store.namespace, MAIL_SECRET_NAME, relay.secret_data(store.slug))


# --- Versions and images ---------------------------------------------------------


def chart_version(chart: Path) -> str:
    """The `version` in a chart directory's Chart.yaml ("" when unreadable)."""
    return _chart_version(str(chart / "Chart.yaml"), _mtime(chart / "Chart.yaml"))


def current_chart_version(engine_key: str) -> str:
    """The version of the engine's chart that a new store or an upgrade installs."""
    return chart_version(chart_dir(engine_key))


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


def installed_chart_version(release: dict[str, Any], chart: Path) -> str:
    """The chart version helm says it installed, else the chart directory's."""
    return str(((release or {}).get("chart") or {}).get("metadata", {}).get("version") or chart_version(chart))


def app_versions(engine_key: str, release: dict[str, Any], chart: Path) -> dict[str, str] | None:
    """{"Medusa": "2.21.2"}: the software the installed chart pins (its appVersion),
    for an engine whose shop does not say its own version; None for the others."""
    label = get_engine(engine_key).app_version_label
    if not label:
        return None
    version = ((release or {}).get("chart") or {}).get("metadata", {}).get("appVersion") or _app_version(chart)
    return {label: str(version)} if version else {}


def _app_version(chart: Path) -> str:
    try:
        return str((yaml.safe_load((chart / "Chart.yaml").read_text()) or {}).get("appVersion") or "")
    except (OSError, yaml.YAMLError):
        return ""


def chart_images(chart: Path) -> list[str]:
    """The images a release of this chart pins: its values.yaml, then the profile
    and operator values files (an image mirror there wins), as helm merges them."""
    values: dict[str, Any] = {}
    for path in [chart / "values.yaml", *map(Path, values_files(chart))]:
        if path.exists():
            values = _merged(values, yaml.safe_load(path.read_text()) or {})
    return registry.images_in_values(values)


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


# --- The install ------------------------------------------------------------------


def install(
    store: Store,
    kube: cluster.Kubernetes,
    *,
    should_stop: Callable[[], str | None],
    progress: Callable[[str], None],
    replace_setup: bool = False,
) -> dict[str, Any]:
    """`helm upgrade --install` of the store's engine chart, as it is now, with its values.

    The setup Job's pod template is immutable, so a Job that did not finish is
    removed first (it runs again; every setup is idempotent), and so is a
    finished one when the chart changed or `replace_setup` asks for it (an
    operator's upgrade). Returns helm's release summary.
    """
    chart = chart_dir(store.engine)
    namespace = store.namespace
    for name in kube.delete_unfinished_jobs(namespace, SETUP_JOB_SELECTOR):
        progress(f"Removed unfinished job {name} so it runs again.")
    if replace_setup or (store.chart_version and store.chart_version != chart_version(chart)):
        for name in kube.delete_jobs(namespace, SETUP_JOB_SELECTOR):
            progress(f"Removed setup job {name}: the chart creates it again and it runs again.")
    apply_mail_secret(store, kube)
    return clients.helm().upgrade_install(
        RELEASE_NAME,
        str(chart),
        namespace,
        get_engine(store.engine).build_values(store_spec(store)),
        values_files=values_files(chart),
        timeout_seconds=max(30, int(settings.PROVISION_TIMEOUT)),
        should_stop=should_stop,
    )

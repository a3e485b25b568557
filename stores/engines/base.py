"""What an engine (a kind of store) is: a small declarative description.

Engines know nothing of Django or of the cluster client; the provisioning
steps hand them a `StoreSpec` and get back plain data (Helm values, the
credentials to generate, where the shop admin lives).
"""

import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stores.engines import locales
from stores.engines.emails import accepts_any
from stores.engines.shop_api import ShopAPI


@dataclass(frozen=True)
class StoreSpec:
    """Everything an engine needs to know about one store."""

    slug: str
    store_id: int
    owner: str
    owner_email: str
    host: str
    url: str
    ingress_class: str
    tls_cluster_issuer: str = ""
    # TLS from the ingress controller's default certificate (a wildcard for the
    # store domain): the Ingress lists its host under tls with no Secret.
    tls_wildcard: bool = False
    # The platform's mail relay (stores/mail.py): the Secret in the store's
    # namespace that holds it, and a digest of its settings that changes when
    # they do. Empty: mail is off, or the engine does not send mail.
    mail_secret: str = ""
    mail_revision: str = ""
    # The shop's country (ISO 3166-1 alpha-2) and currency (ISO 4217), which
    # the engine's setup gives its store address, region or shipping zone.
    country: str = "US"
    currency: str = "USD"


def generate_password(length: int = 24) -> str:
    # Letters and digits only: the value travels through shell, SQL and YAML.
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class Credential:
    """A key of the store secret shown to the owner (never stored by the platform)."""

    label: str
    key: str
    secret: bool = False


@dataclass(frozen=True)
class CheckoutTarget:
    """A store a checkout check buys from: its API at the public URL, and its secret's values."""

    api: ShopAPI
    host: str
    # Never in a repr: a traceback that shows locals must not show passwords.
    secret: Mapping[str, str] = field(repr=False)
    # The shop's country: the check's shopper lives there ("": the shop's own
    # setting says, for stores made before they had one).
    country: str = ""

    @property
    def customer_email(self) -> str:
        # Recognisable in the merchant's orders, and never a real person's.
        return f"checkout-check@{self.host}"


@dataclass(frozen=True)
class CheckoutResult:
    """A checkout that went through: the order the shop numbered, then cancelled."""

    order: str
    # What the shop's software says it runs, read on the way ("WordPress":
    # "6.8.1"), in the order shown; empty when the engine reads none.
    versions: dict[str, str] = field(default_factory=dict)
    # Why the versions could not be read (the check itself went through).
    versions_note: str = ""


@dataclass(frozen=True)
class BackupPlan:
    """How a store of the engine is backed up and restored (stores/backups/).

    A backup is a Job in the store's namespace that runs the engine's own
    images, as the store's workloads run them (read from the cluster): the
    database component's image dumps the database (its container's
    environment, with the database's name, user and password, is copied), the
    files component's image archives the uploads from the volume it mounts at
    `files_path`, and the transfer component's image moves the objects to and
    from the object store by short-lived signed URLs. A restore runs the same
    containers the other way round, then restarts `restart_components`.
    """

    # "mariadb" or "postgres": the scripts that dump and restore
    # (stores/backups/scripts/<database>-dump.sh, -restore.sh).
    database: str
    database_component: str
    # The Service the Job reaches the database by, and its port.
    database_host: str
    database_port: int
    files_component: str
    files_path: str
    # Its image has curl or node, which the transfer script uses.
    transfer_component: str
    # Restarted after a restore: they cache what the restore replaced.
    restart_components: tuple[str, ...] = ()
    # Archive the whole volume `files_path` is on, not only that directory:
    # for an engine whose volume keeps state the database must match.
    files_whole_volume: bool = False

    @property
    def components(self) -> frozenset[str]:
        return frozenset({self.database_component, self.files_component, self.transfer_component})


# The note a check's order carries, for a merchant who sees it before it is cancelled.
CHECKOUT_NOTE = "Placed and cancelled by the platform's checkout check; not a real order."


@dataclass(frozen=True)
class Engine:
    key: str
    label: str
    description: str
    chart: str  # directory name under CHARTS_DIR
    build_values: Callable[[StoreSpec], dict[str, Any]]
    build_secret: Callable[[StoreSpec], dict[str, str]]
    admin_path: str = "/"
    credentials: tuple[Credential, ...] = ()
    available: bool = True
    unavailable_reason: str = ""
    # Guardrail overrides for stores of this engine, merged over the
    # platform's defaults: ResourceQuota .spec.hard entries, and the
    # LimitRange's per-container maximum (e.g. a build that needs more
    # memory than the default allows one container).
    quota_overrides: dict[str, str] = field(default_factory=dict)
    container_max_overrides: dict[str, str] = field(default_factory=dict)
    # What the chart promises beyond the contract (stores/engines/contract.py),
    # which the conformance suite holds it to. The components
    # (app.kubernetes.io/component) whose pods reach the internet: the chart
    # labels them, and no other pod, for the guardrails' internet egress.
    internet_components: frozenset[str] = frozenset()
    # kube-score findings in a store's namespace that the chart accepts by
    # design: (check id, "Kind/name" as installed) -> why. Any other finding
    # fails the suite, and so does an accepted one that no longer occurs.
    accepted_findings: dict[tuple[str, str], str] = field(default_factory=dict)
    # Where the chart's values say how far the store's database schema goes
    # (a dotted path to a number that grows with each image that adds
    # migrations). With it, a rollback to a release whose number is lower is
    # refused: the engine cannot undo migrations. "" when the engine's own
    # software takes care of its schema.
    schema_version_value: str = ""
    # The checkout check: places a cash-on-delivery order through the store's
    # public API, finds it with the admin credentials of the store's secret,
    # and cancels it (raising shop_api.CheckoutFailed at the call that failed).
    # None: the engine has none, and its stores say "checkout not verified".
    checkout: Callable[[CheckoutTarget], CheckoutResult] | None = None
    # Why the shop would refuse an address as its admin's e-mail (None: it
    # takes it). Sign-up and the profile page ask every engine; a store whose
    # owner's address its engine refuses gets emails.fallback_admin_email.
    refuses_email: Callable[[str], str | None] = accepts_any
    # The components whose pods send the shop's mail through the platform's
    # relay when the chart gets mail values (mail.existingSecret and
    # mail.revision, stores/mail.py): the chart labels them, and no other pod,
    # MAIL_LABEL for the guardrails' mail egress. Empty: the engine sends none.
    mail_components: frozenset[str] = frozenset()
    # The countries and currencies the shop can be set up for, out of the
    # platform's list (stores/engines/locales.py).
    countries: frozenset[str] = frozenset(locales.COUNTRIES)
    currencies: frozenset[str] = frozenset(locales.CURRENCIES)
    # The name of the software the chart's appVersion pins (e.g. "Medusa"),
    # shown as the store's version when the engine reads none from the shop.
    app_version_label: str = ""
    # How its stores are backed up and restored; None: they are not.
    backup: BackupPlan | None = None

    @property
    def sends_mail(self) -> bool:
        return bool(self.mail_components)

    def refuses_shop(self, country: str, currency: str) -> str | None:
        """Why a shop in `country` selling in `currency` cannot be set up; None when it can."""
        if country not in self.countries:
            return f"{self.label} cannot be set up for the country “{country}”. Choose another country."
        if currency not in self.currencies:
            name = locales.currency_label(currency)
            named = f"{name}, {currency}" if name != currency else f"“{currency}”"
            return f"{self.label} does not sell in {named}. Choose another currency."
        return None

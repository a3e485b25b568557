"""Settings for Store Provisioner, read from the environment (see README)."""

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from observability.logging import LOG_FORMATS, logging_config
from provisioner.env import (
    envbool,
    envint,
    envlist,
    envsecret,  # the settings that may come from <NAME>_FILE
    envstr,
)
from stores.engines import locales

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("VAR_DIR", str(BASE_DIR / "var")))

# Off unless turned on: a deployment that forgets it must not serve technical
# 500 pages, insecure cookies and open sign-up. `make` (run, test, benchmarks)
# and pytest.ini turn it on for development.
DEBUG = envbool("DEBUG", False)


def _secret_key() -> str:
    key = envsecret("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) is required when DEBUG is false "
            "(the default; DEBUG=true is for development on this machine only)"
        )
    # Development: generate once and keep it, so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # Django's admin, with a site whose login and password change are throttled.
    "accounts.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_q",
    "observability",
    "accounts",
    "stores",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After HtmxMiddleware: it needs request.htmx.
    "provisioner.middleware.htmx_login_redirect",
]

ROOT_URLCONF = "provisioner.urls"
# Error reports (the DEBUG page, mails to ADMINS) hide every URL that carries
# credentials, whatever the setting's name: Django's own filter goes by names
# (KEY, PASS, TOKEN...) and would show REDIS_URL, Q_CLUSTER's redis and CACHES.
DEFAULT_EXCEPTION_REPORTER_FILTER = "provisioner.reporting.CredentialFilter"
WSGI_APPLICATION = "provisioner.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "provisioner.context_processors.cluster_mode",
                "provisioner.context_processors.cluster_preparation",
            ],
        },
    },
]

# Database: a SQLite file by default; DATABASE_URL switches to Postgres.
DATABASES = {
    "default": dj_database_url.parse(
        envsecret("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", 0, minimum=0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if DATABASES["default"]["NAME"] != ":memory:":
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock when a transaction starts, so the
        # count-then-insert of the store limits cannot interleave; WAL lets
        # readers (the dashboard) carry on while a worker writes.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a real file too: the concurrency tests need several connections.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Production hardening; each one can be relaxed for a plain-HTTP deployment.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", not DEBUG)
if envbool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Stores -----------------------------------------------------------------
INGRESS_DOMAIN_SUFFIX = envstr("INGRESS_DOMAIN_SUFFIX", "127.0.0.1.nip.io")
INGRESS_CLASS = envstr("INGRESS_CLASS", "nginx")
INGRESS_CONTROLLER_NAMESPACE = envstr("INGRESS_CONTROLLER_NAMESPACE", "ingress-nginx")


def _cidrs(name: str, default: list[str]) -> list[str]:
    import ipaddress

    values = envlist(name, default)
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {value!r} is not a CIDR range like 10.0.0.0/8") from None
    return values


# Ranges store pods never reach through internet egress: private networks (other
# stores), link-local (the cloud metadata service) and carrier-grade NAT.
EGRESS_DENIED_CIDRS = _cidrs(
    "EGRESS_DENIED_CIDRS",
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"],
)


def _ports(name: str, default: list[int]) -> list[int]:
    values = envlist(name, [str(port) for port in default])
    if not values:
        raise ImproperlyConfigured(
            f"{name} is empty: stores could download nothing; the default is {','.join(map(str, default))}"
        )
    ports = []
    for value in values:
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            raise ImproperlyConfigured(f"{name}: {value!r} is not a port number (1-65535)")
        if int(value) not in ports:
            ports.append(int(value))
    return ports


# The only TCP ports store pods reach on the internet: HTTP and HTTPS. Add 587
# (SMTP submission) when stores send mail through a relay; never 25.
STORE_EGRESS_PORTS = _ports("STORE_EGRESS_PORTS", [80, 443])


def _store_mail():
    from stores.mail import MailSettingsError, parse_store_mail

    try:
        return parse_store_mail(
            host=envstr("STORE_MAIL_HOST", ""),
            port=envstr("STORE_MAIL_PORT", ""),
            security=envstr("STORE_MAIL_SECURITY", ""),
            from_pattern=envstr("STORE_MAIL_FROM", ""),
            user=envstr("STORE_MAIL_USER", ""),
            password=envsecret("STORE_MAIL_PASSWORD"),
        )
    except MailSettingsError as exc:
        raise ImproperlyConfigured(str(exc)) from None


# The SMTP relay stores send their mail through (order mails, password
# resets), handed to each store in its namespace's Secret "store-mail"
# (stores/mail.py). None (STORE_MAIL_HOST empty): stores send no mail, and
# their pages say so. Its port is opened to the pods that send mail only
# (the NetworkPolicy allow-mail-egress, stores/cluster/guardrails.py).
STORE_MAIL = _store_mail()


def _dns_peers(name: str, default: list[str]) -> list[str]:
    """Namespace names and CIDR ranges (an address alone is taken as /32 or /128)."""
    import ipaddress
    import re

    values = envlist(name, default)
    if not values:
        raise ImproperlyConfigured(f"{name} is empty: store pods would have no DNS; the default is kube-system")
    peers = []
    for value in values:
        try:
            peers.append(str(ipaddress.ip_network(value, strict=False)))
            continue
        except ValueError:
            pass
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", value):
            raise ImproperlyConfigured(
                f"{name}: {value!r} is neither a CIDR range like 169.254.20.10/32 nor a namespace name like kube-system"
            )
        peers.append(value)
    return peers


# Where store pods may send DNS queries (port 53, the allow-dns NetworkPolicy):
# the pods of these namespaces and these ranges. With NodeLocal DNSCache, add its
# address (169.254.20.10/32): it runs on the host network, in no namespace's pods.
STORE_DNS_PEERS = _dns_peers("STORE_DNS_PEERS", ["kube-system"])
# Where `stores doctor` asks whether the charts' docker.io images can be pulled.
IMAGE_REGISTRY_URL = envstr("IMAGE_REGISTRY_URL", "https://registry-1.docker.io")
STORE_URL_SCHEME = envstr("STORE_URL_SCHEME", "http")
# The country and currency the New store form and `stores create` start from
# (ISO 3166-1 alpha-2, ISO 4217), out of the list every engine takes
# (stores/engines/locales.py).
STORE_DEFAULT_COUNTRY = envstr("STORE_DEFAULT_COUNTRY", "US").upper()
STORE_DEFAULT_CURRENCY = envstr("STORE_DEFAULT_CURRENCY", "USD").upper()
if STORE_DEFAULT_COUNTRY not in locales.COUNTRIES:
    raise ImproperlyConfigured(
        f"STORE_DEFAULT_COUNTRY: {STORE_DEFAULT_COUNTRY!r} is not one of the countries stores can be set up for "
        f"({', '.join(sorted(locales.COUNTRIES))})"
    )
if STORE_DEFAULT_CURRENCY not in locales.CURRENCIES:
    raise ImproperlyConfigured(
        f"STORE_DEFAULT_CURRENCY: {STORE_DEFAULT_CURRENCY!r} is not a currency every engine sells in "
        f"({', '.join(sorted(locales.CURRENCIES))})"
    )
# cert-manager ClusterIssuer for store TLS (docs/production.md sets up "letsencrypt"); empty means plain HTTP.
TLS_CLUSTER_ISSUER = envstr("TLS_CLUSTER_ISSUER", "")
# Or every store is served by the ingress controller's default certificate, one
# wildcard for INGRESS_DOMAIN_SUFFIX (docs/production.md, the default there):
# per-store certificates let one user creating and deleting in a loop spend the
# domain's weekly Let's Encrypt quota, after which no new store gets one.
TLS_WILDCARD = envbool("TLS_WILDCARD", False)
if TLS_WILDCARD and TLS_CLUSTER_ISSUER:
    raise ImproperlyConfigured(
        "TLS_WILDCARD and TLS_CLUSTER_ISSUER are two ways to give stores TLS: set one "
        "(TLS_WILDCARD serves every store with the ingress controller's wildcard certificate)"
    )
# Stores a user may create in any 7 days (deleted ones count); 0 = no cap.
STORE_CREATES_PER_WEEK = envint("STORE_CREATES_PER_WEEK", 10, minimum=0)
MAX_STORES_PER_USER = envint("MAX_STORES_PER_USER", 3, minimum=0)
MAX_CONCURRENT_PROVISIONS = envint("MAX_CONCURRENT_PROVISIONS", 2, minimum=1)
PROVISION_TIMEOUT = envint("PROVISION_TIMEOUT", 900, minimum=1)
DELETE_TIMEOUT = envint("DELETE_TIMEOUT", 300, minimum=1)
# A delete that did not finish is tried again after DELETE_RETRY_SECONDS,
# doubling each time up to DELETE_RETRY_MAX_SECONDS; after DELETE_MAX_ATTEMPTS
# tries the store is "delete stuck" until an operator restarts it.
DELETE_MAX_ATTEMPTS = envint("DELETE_MAX_ATTEMPTS", 5, minimum=1)
DELETE_RETRY_SECONDS = envint("DELETE_RETRY_SECONDS", 60, minimum=1)
DELETE_RETRY_MAX_SECONDS = envint("DELETE_RETRY_MAX_SECONDS", 1800, minimum=1)
# `reconcile --prune` never removes a namespace or release younger than this:
# it may belong to a store whose row this run has not seen.
ORPHAN_GRACE_SECONDS = envint("ORPHAN_GRACE_SECONDS", 600, minimum=0)
# A provision whose worker has not reported for this long is taken to be lost
# (a killed worker) and is resumed by the reconcile task.
PROVISION_LEASE_SECONDS = envint("PROVISION_LEASE_SECONDS", 60, minimum=5)
KUBECONFIG = envstr("KUBECONFIG")
KUBE_CONTEXT = envstr("KUBE_CONTEXT")
KUBE_REQUEST_TIMEOUT = envint("KUBE_REQUEST_TIMEOUT", 10, minimum=1)
# Least privilege (charts/platform): the ServiceAccount the platform runs as,
# "namespace/name". When set, the namespace step binds PLATFORM_STORE_ROLE (a
# ClusterRole) to it inside each store's namespace, so it may manage a store's
# contents without any cluster-wide access to secrets. Empty: nothing is bound
# (a kubeconfig user with its own rights, as on a laptop).
PLATFORM_SERVICE_ACCOUNT = envstr("PLATFORM_SERVICE_ACCOUNT")
if PLATFORM_SERVICE_ACCOUNT and not (
    PLATFORM_SERVICE_ACCOUNT.count("/") == 1 and all(PLATFORM_SERVICE_ACCOUNT.split("/"))
):
    raise ImproperlyConfigured(f"PLATFORM_SERVICE_ACCOUNT must be namespace/name, not {PLATFORM_SERVICE_ACCOUNT!r}")
PLATFORM_STORE_ROLE = envstr("PLATFORM_STORE_ROLE", "store-provisioner-store-manager")
# The web pods' own ServiceAccount, "namespace/name" (charts/platform sets it):
# the namespace step binds PLATFORM_WEB_ROLE, the store pages' reads, to it in
# each store's namespace too. Empty: nothing is bound.
PLATFORM_WEB_SERVICE_ACCOUNT = envstr("PLATFORM_WEB_SERVICE_ACCOUNT")
if PLATFORM_WEB_SERVICE_ACCOUNT and not (
    PLATFORM_WEB_SERVICE_ACCOUNT.count("/") == 1 and all(PLATFORM_WEB_SERVICE_ACCOUNT.split("/"))
):
    raise ImproperlyConfigured(
        f"PLATFORM_WEB_SERVICE_ACCOUNT must be namespace/name, not {PLATFORM_WEB_SERVICE_ACCOUNT!r}"
    )
PLATFORM_WEB_ROLE = envstr("PLATFORM_WEB_ROLE", "store-provisioner-store-reader")
HELM_BIN = envstr("HELM_BIN")
CHARTS_DIR = Path(envstr("CHARTS_DIR", str(BASE_DIR / "charts")))
# Extra values files per engine, e.g. charts/woocommerce/values-k3s.yaml on a VPS.
CHART_VALUES_PROFILE = envstr("CHART_VALUES_PROFILE", "kind")
# More values files given to every store's release, after the profile (an image
# mirror, a storage class...).
STORE_VALUES_FILES = envlist("STORE_VALUES_FILES", [])
# Check the storefront over its ingress URL as the last step (off where the
# ingress is not reachable from the workers, e.g. the local test cluster).
CHECK_STORE_URL = envbool("CHECK_STORE_URL", True)

# --- Checks of ready stores (stores/monitoring.py; only where CHECK_STORE_URL is on)
# Seconds between two checks of a store's storefront, and of its checkout (a
# cash-on-delivery order placed, found and cancelled; 0: only at provision).
STORE_CHECK_INTERVAL = envint("STORE_CHECK_INTERVAL", 300, minimum=30)
CHECKOUT_CHECK_INTERVAL = envint("CHECKOUT_CHECK_INTERVAL", 86400, minimum=0)
# One storefront request's bound, in seconds; the checks a round runs at once;
# the most storefront and checkout checks a round (each minute) starts.
STORE_CHECK_TIMEOUT = envint("STORE_CHECK_TIMEOUT", 5, minimum=1)
STORE_CHECK_CONCURRENCY = envint("STORE_CHECK_CONCURRENCY", 8, minimum=1)
STORE_CHECKS_PER_ROUND = envint("STORE_CHECKS_PER_ROUND", 500, minimum=1)
CHECKOUT_CHECKS_PER_ROUND = envint("CHECKOUT_CHECKS_PER_ROUND", 2, minimum=1)
# Days a check's row is kept (the store page shows the last 24 h).
STORE_CHECK_RETENTION_DAYS = envint("STORE_CHECK_RETENTION_DAYS", 7, minimum=1)

# --- Backups (stores/backups/) ------------------------------------------------
# An S3-compatible object store; with no endpoint, stores are not backed up.
# Store namespaces never see these credentials: each backup or restore Job
# gets URLs signed for its own objects, valid BACKUP_URL_SECONDS.
BACKUP_S3_ENDPOINT = envstr("BACKUP_S3_ENDPOINT", "").rstrip("/")
BACKUP_S3_BUCKET = envstr("BACKUP_S3_BUCKET", "store-backups")
BACKUP_S3_REGION = envstr("BACKUP_S3_REGION", "us-east-1")
BACKUP_S3_ACCESS_KEY_ID = envstr("BACKUP_S3_ACCESS_KEY_ID", "")
BACKUP_S3_SECRET_ACCESS_KEY = envsecret("BACKUP_S3_SECRET_ACCESS_KEY")
# Backups kept per store (older ones are removed), and days a deleted store's
# final backup is kept.
BACKUP_KEEP = envint("BACKUP_KEEP", 7, minimum=1)
BACKUP_AFTER_DELETE_DAYS = envint("BACKUP_AFTER_DELETE_DAYS", 30, minimum=0)
# The nightly round: every ready store once a night, each at its own minute
# of the BACKUP_NIGHT_HOURS from BACKUP_NIGHT_START_HOUR (UTC), and at most
# BACKUP_JOBS_AT_ONCE backup Jobs running across the platform.
BACKUP_NIGHT_START_HOUR = envint("BACKUP_NIGHT_START_HOUR", 1, minimum=0)
BACKUP_NIGHT_HOURS = envint("BACKUP_NIGHT_HOURS", 4, minimum=1)
BACKUP_JOBS_AT_ONCE = envint("BACKUP_JOBS_AT_ONCE", 10, minimum=1)
# A backup or restore Job's deadline, which its signed URLs outlive a little.
BACKUP_TIMEOUT = envint("BACKUP_TIMEOUT", 1800, minimum=60)
BACKUP_URL_SECONDS = BACKUP_TIMEOUT + 300
# A lost store with a backup is recreated from it without waiting for its owner.
AUTO_RECOVER = envbool("AUTO_RECOVER", False)
if BACKUP_S3_ENDPOINT and not (BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY):
    raise ImproperlyConfigured(
        "BACKUP_S3_ENDPOINT is set: BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY "
        "(or BACKUP_S3_SECRET_ACCESS_KEY_FILE) are needed too."
    )
if BACKUP_NIGHT_START_HOUR > 23 or BACKUP_NIGHT_HOURS > 24:
    raise ImproperlyConfigured("BACKUP_NIGHT_START_HOUR is an hour of the day (0-23); BACKUP_NIGHT_HOURS at most 24.")

# --- Task queue (django-q2) ----------------------------------------------------
# The provision queue has one worker per provisioning slot: a store is
# claimed (its deadline starts) only when a task is enqueued for it, so a
# worker must be free to take that task at once. A second, separate cluster
# ("control") runs deletes and reconciles so they never wait behind long
# provisions. Every enqueue names its cluster (stores/tasks.py): django-q2
# otherwise sends a task to the cluster of the process that enqueues it.
REDIS_URL = envsecret("REDIS_URL")
PROVISION_QUEUE = "provisioner"
CONTROL_QUEUE = "control"
Q_CLUSTER = {
    "name": PROVISION_QUEUE,
    "workers": MAX_CONCURRENT_PROVISIONS,
    "timeout": PROVISION_TIMEOUT + 60,
    "retry": PROVISION_TIMEOUT + 120,
    # The ORM broker polls an empty queue, so a freed slot's next provision
    # waits for the poll (Redis blocks instead): 100 ms rather than django-q2's
    # 200 ms (an idle cluster then uses 2.8% of a core on SQLite, not 1.4%).
    "poll": 0.1,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Task queue",
    "ALT_CLUSTERS": {
        # A delete may take its final backup (up to BACKUP_TIMEOUT), helm's
        # uninstall (up to 150 s) plus DELETE_TIMEOUT; a restore, its Job and
        # the checks of a provision's end.
        CONTROL_QUEUE: {
            "workers": 2,
            "timeout": DELETE_TIMEOUT + BACKUP_TIMEOUT + 300,
            "retry": DELETE_TIMEOUT + BACKUP_TIMEOUT + 360,
            "poll": 0.2,
        },
    },
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Abuse limits -------------------------------------------------------------
# Every account may own MAX_STORES_PER_USER stores of real CPU and memory, so a
# production platform (DEBUG=false) starts with sign-up closed: an operator
# creates accounts (`manage.py createsuperuser`, the admin's Users page).
# Development keeps it open.
REGISTRATION_OPEN = envbool("REGISTRATION_OPEN", DEBUG)


def _rate(name: str, default: str) -> str | None:
    """A django-ratelimit rate such as "5/m" or "10/h"; empty turns the throttle off."""
    value = envstr(name, default).strip()
    if not value:
        return None
    count, _, period = value.partition("/")
    if not (
        count.isdigit()
        and int(count) > 0
        and period[-1:] in {"s", "m", "h", "d"}
        and (period[:-1] == "" or period[:-1].isdigit())
    ):
        raise ImproperlyConfigured(f"{name} must look like 5/m or 10/h (count/period), not {value!r}")
    return value


# `manage.py audit prune` never deletes entries younger than this many days.
AUDIT_MIN_RETENTION_DAYS = envint("AUDIT_MIN_RETENTION_DAYS", 30, minimum=1)
# POSTs allowed per window: login and sign-up per client IP, store creation per user.
LOGIN_RATE = _rate("LOGIN_RATE", "5/m")
# Login POSTs per username (the site's and the admin's together), from any
# address: guessing one account's password from many addresses is bounded too.
# The price: anyone can lock an account out of logging in for the window.
LOGIN_USERNAME_RATE = _rate("LOGIN_USERNAME_RATE", "10/h")
# Password-change POSTs per signed-in user (the site's and the admin's form):
# a stolen session cannot use the form to guess the current password.
PASSWORD_CHANGE_RATE = _rate("PASSWORD_CHANGE_RATE", "10/h")
REGISTRATION_RATE = _rate("REGISTRATION_RATE", "5/m")
STORE_CREATE_RATE = _rate("STORE_CREATE_RATE", "5/m")
# Delete, retry and reveal-credentials POSTs per user, together: a reveal reads
# a Secret from the cluster on the request path, and every attempt, refused or
# not, is an audit entry; this bounds both.
STORE_ACTION_RATE = _rate("STORE_ACTION_RATE", "20/m")
# Behind a reverse proxy every request comes from the proxy's address; the
# client's is in X-Forwarded-For, after whatever the client wrote there itself.
# Say which proxies to believe (accounts.throttle.client_ip): how many there are
# in front of the platform, or their CIDR ranges. Neither: the peer's address.
TRUSTED_PROXY_HOPS = envint("TRUSTED_PROXY_HOPS", 0, minimum=0)
TRUSTED_PROXIES = _cidrs("TRUSTED_PROXIES", [])
if TRUSTED_PROXY_HOPS and TRUSTED_PROXIES:
    raise ImproperlyConfigured(
        "TRUSTED_PROXY_HOPS and TRUSTED_PROXIES both say which proxies to trust: set one of them, not both"
    )
if envstr("CLIENT_IP_HEADER").strip():
    # A header's last entry is the inner proxy behind two hops, and anything a
    # client sends behind a proxy that does not append: refused, not ignored,
    # so a deployment that relied on it does not silently count by its proxy.
    raise ImproperlyConfigured(
        "CLIENT_IP_HEADER is no longer read: set TRUSTED_PROXY_HOPS to the number of proxies in front of the"
        " platform that append to X-Forwarded-For (1 for an ingress controller alone), or TRUSTED_PROXIES to"
        " their CIDR ranges, and unset CLIENT_IP_HEADER (docs/configuration.md)"
    )
RATELIMIT_IP_META_KEY = "accounts.throttle.client_ip"
# Live stores (any state but deleted) on the whole platform; 0 or empty = no cap.
# A store requests 0.5 CPU and 768 MiB (limits 2 CPU / 2 GiB): 20 of them fill
# about one mid-size node.
MAX_LIVE_STORES = 0 if envstr("MAX_LIVE_STORES", "20").strip() == "" else envint("MAX_LIVE_STORES", 20, minimum=0)
# The throttles' counters must be shared by every gunicorn worker (LocMem is
# per process): Redis when there is one, else a table in the database
# (made by `manage.py migrate`: accounts/migrations/0002_rate_limit_cache_table.py).
# The default cache stays per process; django-q2 writes its cluster stats there.
# (django_ratelimit is not in INSTALLED_APPS: its system check knows neither
# Django's own RedisCache nor the atomic database cache, and would warn.)
RATELIMIT_USE_CACHE = "ratelimit"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {
        "BACKEND": "accounts.throttle.AtomicDatabaseCache",
        "LOCATION": "rate_limit_cache",
        "OPTIONS": {"MAX_ENTRIES": 50000},
    },
}

# --- Operators: notifications, metrics, logs ----------------------------------
# Where the platform's own pages live, for links in emails (the owner's store page).
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000")
# The owner is emailed when a store becomes ready or fails. With no EMAIL_HOST
# the mails are printed by the worker that sends them (the console backend),
# so development needs no mail server.
EMAIL_HOST = envstr("EMAIL_HOST", "")
EMAIL_BACKEND = envstr(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = envint("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envsecret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", EMAIL_PORT == 465)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on")
# A mail server that does not answer must not hold a control worker for long.
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Store Provisioner <noreply@localhost>")
# /metrics answers a staff session, or a request with "Authorization: Bearer
# <METRICS_TOKEN>" (a Prometheus scraper); empty: staff only.
METRICS_TOKEN = envsecret("METRICS_TOKEN")

LOG_FORMAT = envstr("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
# Lines logged while a worker runs a store's provision or delete carry its
# store_id, store_slug and step (JSON fields with LOG_FORMAT=json).
LOGGING = logging_config(LOG_FORMAT, envstr("LOG_LEVEL", "INFO"))

# --- Cluster mode -------------------------------------------------------------
# Which cluster `make run` chose (scripts/run-cluster.sh): "kubeconfig" (the
# current kubeconfig's), "kind" (created from kind-config.yaml), or "simulated"
# (the local control plane: real API server, nodes simulated by kwok), which puts
# a banner on every page because no store container runs there.
CLUSTER_MODE = envstr("CLUSTER_MODE", "").strip().lower()
if CLUSTER_MODE not in {"", "kubeconfig", "kind", "simulated"}:
    raise ImproperlyConfigured(f"CLUSTER_MODE must be kubeconfig, kind or simulated, not {CLUSTER_MODE!r}")
# Set by `make run` while it prepares the local control plane beside the
# platform (scripts/prepare-cluster.sh): the JSON file where each step is
# reported. Every page shows it, and no store is claimed for provisioning until
# it says the cluster is ready (stores/preparation.py). Empty: the cluster is
# taken to be ready.
CLUSTER_STATUS_FILE = envstr("CLUSTER_STATUS_FILE")

# The store page reads pods, Events and quota usage on the request path: each
# read gets this many seconds (connect and read), and the answer, or "the
# cluster is unreachable", is cached this long per namespace, so a tab polling
# every 2 s and a slow or absent API server never hold a page up for long.
CLUSTER_READ_TIMEOUT = envint("CLUSTER_READ_TIMEOUT", 2, minimum=1)
CLUSTER_READ_CACHE_SECONDS = envint("CLUSTER_READ_CACHE_SECONDS", 3, minimum=0)

"""MedusaJS v2 on PostgreSQL and Redis, with a storefront (charts/medusa)."""

from stores.engines import locales
from stores.engines.base import BackupPlan, Credential, Engine, StoreSpec, generate_password
from stores.engines.contract import PINNED_PULL_POLICY, RELEASE_NAME, store_values
from stores.engines.emails import admin_email, medusa_refuses
from stores.engines.medusa_checkout import place_and_cancel


def _secret(spec: StoreSpec) -> dict[str, str]:
    # The keys charts/medusa maps to the environment of its setup Job and server.
    return {
        "admin-email": admin_email(spec.owner_email, spec.host, medusa_refuses),
        "admin-password": generate_password(),
        "db-password": generate_password(),
        "jwt-secret": generate_password(48),
        "cookie-secret": generate_password(48),
    }


# kube-score grades the replicas and rollout strategy of Deployments behind a
# Service only: the worker has none.
_SERVED = tuple(f"Deployment/{RELEASE_NAME}-{name}" for name in ("medusa", "storefront", "redis"))
_WORKLOADS = (
    *_SERVED,
    f"Deployment/{RELEASE_NAME}-worker",
    f"StatefulSet/{RELEASE_NAME}-postgres",
    f"Job/{RELEASE_NAME}-setup",
)
_IDS = (
    "the images run as their own users (the store image's node 1000, postgres and redis 999), and the "
    "app volume's files belong to the node user; runAsNonRoot and the restricted profile hold"
)
_ONE_POD = (
    "one pod per store by design: the Medusa server, worker, storefront and Redis share nothing worth "
    "scaling at a single store's traffic, and the app and Redis volumes are ReadWriteOnce"
)
_RECREATE = (
    "Recreate, not a rolling update: the server, worker and storefront share the ReadWriteOnce app volume "
    "and Redis has its own, so the old pod lets go of a volume before the new one mounts it"
)
_NO_INTERNET = (
    "the guardrails grant internet egress to the pods that ask for it, and no pod of a Medusa store does: "
    "the project is in the image"
)
_HEALTH = (
    "/health is the Medusa server's only health endpoint; liveness allows 6 failures 20 s apart "
    "against readiness's 3 at 10 s, so a slow moment takes the pod out of the Service long "
    "before it is restarted"
)

MEDUSA = Engine(
    key="medusa",
    label="MedusaJS",
    description="Medusa v2 with PostgreSQL and Redis, its admin and a storefront with cash on delivery.",
    chart="medusa",
    build_values=store_values,
    build_secret=_secret,
    admin_path="/app/",
    credentials=(
        Credential("Admin e-mail", "admin-email"),
        Credential("Admin password", "admin-password", secret=True),
    ),
    # The store image holds the built project. The fallback (image.prebuilt:
    # false) installs and builds it at first start, with a peak of about 1.7 GB:
    # its setup container is allowed 3Gi (the default maximum is 2Gi), and the
    # namespace's memory and cpu quota leave room for it beside the running
    # server, worker, storefront, PostgreSQL and Redis.
    quota_overrides={"requests.memory": "4Gi", "limits.memory": "8Gi", "limits.cpu": "6"},
    container_max_overrides={"memory": "3Gi"},
    # Nothing reaches the internet: the project is in the image (the
    # fallback's setup Job, which installs from npm, is labelled for it).
    internet_components=frozenset(),
    # The worker runs the subscriber that mails order confirmations and new
    # orders through the project's SMTP notification provider.
    mail_components=frozenset({"worker"}),
    # Medusa has no down-migrations: an image with older migrations than the
    # database's is refused on rollback (stores/upgrades.py).
    schema_version_value="image.schemaVersion",
    refuses_email=medusa_refuses,
    checkout=place_and_cancel,
    # Any ISO 4217 currency of Medusa's currency module (not Bitcoin), any
    # country: the seed makes one region with the shop's currency and country.
    currencies=frozenset(locales.CURRENCIES),
    # Medusa's API says nothing of its version: the store shows the one the
    # chart pins (Chart.yaml appVersion, the project's @medusajs/* version).
    app_version_label="Medusa",
    # The server's image is the store image, on node (node moves the objects:
    # the image has no curl). The server and worker keep caches of the
    # database in Redis and in memory, so they restart after a restore.
    backup=BackupPlan(
        database="postgres",
        database_component="postgres",
        database_host=f"{RELEASE_NAME}-postgres",
        database_port=5432,
        files_component="server",
        # The whole app volume: the uploads, and the state/ the setup Job
        # leaves, whose publishable key the storefront sends and the restored
        # database must know.
        files_path="/data/uploads",
        files_whole_volume=True,
        transfer_component="server",
        # Every pod that mounts the app volume: the restore replaces its
        # directories, and a running pod's subPath mount would keep the old one.
        restart_components=("server", "worker", "storefront"),
    ),
    accepted_findings={
        **{("container-image-pull-policy", name): PINNED_PULL_POLICY for name in _WORKLOADS},
        **{("container-security-context-user-group-id", name): _IDS for name in _WORKLOADS},
        **{("deployment-replicas", name): _ONE_POD for name in _SERVED},
        **{("deployment-strategy", name): _RECREATE for name in _SERVED},
        **{("pod-probes-identical", f"Deployment/{RELEASE_NAME}-{name}"): _HEALTH for name in ("medusa", "worker")},
        ("networkpolicy-targets-pod", "NetworkPolicy/allow-internet-egress"): _NO_INTERNET,
    },
)

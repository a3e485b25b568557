"""MedusaJS v2 on PostgreSQL and Redis, with a storefront (charts/medusa)."""

from stores.engines.base import Credential, Engine, StoreSpec, generate_password
from stores.engines.contract import release_values


def _secret(spec: StoreSpec) -> dict[str, str]:
    # The keys charts/medusa maps to the environment of its setup Job and server.
    return {
        "admin-email": spec.owner_email or f"{spec.owner}@{spec.host}",
        "admin-password": generate_password(),
        "db-password": generate_password(),
        "jwt-secret": generate_password(48),
        "cookie-secret": generate_password(48),
    }


MEDUSA = Engine(
    key="medusa",
    label="MedusaJS",
    description="Medusa v2 with PostgreSQL and Redis, its admin and a storefront with cash on delivery.",
    chart="medusa",
    build_values=release_values,
    build_secret=_secret,
    admin_path="/app/",
    credentials=(
        Credential("Admin e-mail", "admin-email"),
        Credential("Admin password", "admin-password", secret=True),
    ),
    # The setup Job installs and builds the project on first start: the build
    # peaks at about 1.7 GB, so its container is allowed 3Gi (the default
    # maximum is 2Gi), and the namespace's memory and cpu quota leave room for
    # it beside the running server, storefront, PostgreSQL and Redis, and for
    # a rolling update of the server.
    quota_overrides={"requests.memory": "4Gi", "limits.memory": "8Gi", "limits.cpu": "6"},
    container_max_overrides={"memory": "3Gi"},
)

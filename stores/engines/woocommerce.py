"""WooCommerce on WordPress + MariaDB (charts/woocommerce)."""

from stores.engines.base import Blueprint, Credential, StoreSpec, generate_password


def _values(spec: StoreSpec) -> dict:
    values = {
        "store": {"name": spec.slug.replace("-", " ").title(), "host": spec.host, "url": spec.url},
        "existingSecret": "store-secret",
        "ingress": {"enabled": True, "className": spec.ingress_class},
    }
    if spec.tls_cluster_issuer:
        values["ingress"]["tls"] = {"enabled": True, "clusterIssuer": spec.tls_cluster_issuer}
    return values


def _secret(spec: StoreSpec) -> dict[str, str]:
    return {
        "admin-user": "admin",
        "admin-password": generate_password(),
        "admin-email": spec.owner_email or f"{spec.owner}@{spec.host}",
        "db-password": generate_password(),
        "db-root-password": generate_password(),
    }


WOOCOMMERCE = Blueprint(
    key="woocommerce",
    label="WooCommerce",
    description="WordPress with WooCommerce, MariaDB, Cash on Delivery enabled.",
    chart="woocommerce",
    build_values=_values,
    build_secret=_secret,
    admin_path="/wp-admin/",
    credentials=(
        Credential("Admin user", "admin-user"),
        Credential("Admin password", "admin-password", secret=True),
    ),
    setup_job_selector="app.kubernetes.io/component=setup",
)

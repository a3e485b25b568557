"""WooCommerce on WordPress + MariaDB (charts/woocommerce)."""

from stores.engines.base import Credential, Engine, StoreSpec, generate_password
from stores.engines.contract import release_values


def _secret(spec: StoreSpec) -> dict[str, str]:
    return {
        "admin-user": "admin",
        "admin-password": generate_password(),
        "admin-email": spec.owner_email or f"{spec.owner}@{spec.host}",
        "db-password": generate_password(),
        "db-root-password": generate_password(),
    }


WOOCOMMERCE = Engine(
    key="woocommerce",
    label="WooCommerce",
    description="WordPress with WooCommerce, MariaDB, Cash on Delivery enabled.",
    chart="woocommerce",
    build_values=release_values,
    build_secret=_secret,
    admin_path="/wp-admin/",
    credentials=(
        Credential("Admin user", "admin-user"),
        Credential("Admin password", "admin-password", secret=True),
    ),
)

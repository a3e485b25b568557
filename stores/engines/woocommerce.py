"""WooCommerce on WordPress + MariaDB (charts/woocommerce)."""

from stores.engines import locales
from stores.engines.base import BackupPlan, Credential, Engine, StoreSpec, generate_password
from stores.engines.contract import PINNED_PULL_POLICY, RELEASE_NAME, store_values
from stores.engines.emails import admin_email, wordpress_refuses
from stores.engines.woocommerce_checkout import place_and_remove


def _secret(spec: StoreSpec) -> dict[str, str]:
    return {
        "admin-user": "admin",
        "admin-password": generate_password(),
        "admin-email": admin_email(spec.owner_email, spec.host, wordpress_refuses),
        "db-password": generate_password(),
        "db-root-password": generate_password(),
    }


_WORDPRESS, _MARIADB, _SETUP, _CRON = (
    f"Deployment/{RELEASE_NAME}-wordpress",
    f"StatefulSet/{RELEASE_NAME}-mariadb",
    f"Job/{RELEASE_NAME}-setup",
    f"CronJob/{RELEASE_NAME}-cron",
)
_LOW_IDS = (
    "the official images run as their own users (www-data 33, mysql 999) and the content volume's "
    "files must belong to uid 33 as WordPress expects; runAsNonRoot and the restricted profile hold"
)
_WRITABLE_ROOT = (
    "the official image writes to its own filesystem at start and run time (Apache's run/lock "
    "dirs and PHP sessions; MariaDB's socket dir and temporary files); the disk it may use is "
    "bounded by its ephemeral-storage limit"
)
_ONE_POD = (
    "the content volume is ReadWriteOnce: one WordPress pod per store, replaced with Recreate so two "
    "never mount it at once"
)


WOOCOMMERCE = Engine(
    key="woocommerce",
    label="WooCommerce",
    description="WordPress with WooCommerce, MariaDB, Cash on Delivery enabled.",
    chart="woocommerce",
    build_values=store_values,
    build_secret=_secret,
    admin_path="/wp-admin/",
    credentials=(
        Credential("Admin user", "admin-user"),
        Credential("Admin password", "admin-password", secret=True),
    ),
    # WordPress fetches plugins, themes and updates; the setup Job downloads
    # WooCommerce from wordpress.org; scheduled events (the cron runs) call
    # out as WordPress's requests would. MariaDB has no egress but DNS.
    internet_components=frozenset({"wordpress", "setup", "cron"}),
    accepted_findings={
        **{("container-image-pull-policy", name): PINNED_PULL_POLICY for name in (_WORDPRESS, _MARIADB, _SETUP, _CRON)},
        **{
            ("container-security-context-user-group-id", name): _LOW_IDS
            for name in (_WORDPRESS, _MARIADB, _SETUP, _CRON)
        },
        ("container-security-context-readonlyrootfilesystem", _WORDPRESS): _WRITABLE_ROOT,
        ("container-security-context-readonlyrootfilesystem", _MARIADB): _WRITABLE_ROOT,
        ("deployment-replicas", _WORDPRESS): _ONE_POD,
        ("deployment-strategy", _WORDPRESS): _ONE_POD,
    },
    refuses_email=wordpress_refuses,
    checkout=place_and_remove,
    # A must-use plugin of the chart's points WordPress's PHPMailer at the
    # relay, in WordPress and in the cron runs (scheduled events may mail).
    mail_components=frozenset({"wordpress", "cron"}),
    # WooCommerce sells in any currency of its own list, which has every one of
    # the platform's and Bitcoin besides, and ships to any country.
    currencies=frozenset(locales.ALL_CURRENCIES),
    # The official wordpress image has curl; the uploads are under the content
    # volume's wp-content (plugins and themes come back with the setup Job).
    backup=BackupPlan(
        database="mariadb",
        database_component="mariadb",
        database_host=f"{RELEASE_NAME}-mariadb",
        database_port=3306,
        files_component="wordpress",
        files_path="/var/www/html/wp-content/uploads",
        transfer_component="wordpress",
        restart_components=("wordpress",),
    ),
)

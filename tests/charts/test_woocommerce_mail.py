"""WooCommerce's mail: the chart's must-use plugin and how the relay reaches it.

The plugin (charts/woocommerce/files/mu-plugins/store-mail.php) is checked with
PHP from Debian: `php -l`, then run for real against Debian's PHPMailer
(libphp-phpmailer, the library WordPress bundles) and a real SMTP server
(aiosmtpd) that asks for a login. What is not exercised here: WordPress's own
`wp_mail()`, which builds the PHPMailer, calls the `phpmailer_init` hook the
plugin registers and sends; a small harness stands in for it and for
WordPress's hook functions.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from stores.engines import StoreSpec
from stores.engines.woocommerce import WOOCOMMERCE
from stores.mail import MAIL_SECRET_NAME, parse_store_mail
from tests.charts.woocommerce_chart_support import CHART_DIR, render, run_helm
from tests.smtp import SMTPServer

# The test relay asks for a login over plain SMTP (it has no certificate).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

PLUGIN = CHART_DIR / "files" / "mu-plugins" / "store-mail.php"
PHPMAILER = Path("/usr/share/php/libphp-phpmailer/autoload.php")
RELAY = parse_store_mail(
    host="smtp.example.net",
    port="587",
    security="starttls",
    from_pattern="shop-{slug}@example.net",
    user="relay-user",
    password="relay-pass",
)


def _spec(**mail) -> StoreSpec:
    host = "store-acme.127.0.0.1.nip.io"
    return StoreSpec(
        slug="acme",
        store_id=1,
        owner="alice",
        owner_email="alice@example.org",
        host=host,
        url=f"http://{host}",
        ingress_class="nginx",
        **mail,
    )


def _render(helm, tmp_path, spec: StoreSpec) -> list[dict]:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(WOOCOMMERCE.build_values(spec)))
    return render(helm, values)


def _wordpress(objects) -> tuple[dict, dict]:
    (deployment,) = [o for o in objects if (o["kind"], o["metadata"]["name"]) == ("Deployment", "store-acme-wordpress")]
    template = deployment["spec"]["template"]
    return template, template["spec"]["containers"][0]


def _mail_env(container) -> dict[str, dict]:
    return {e["name"]: e for e in container["env"] if e["name"].startswith("STORE_MAIL_")}


def test_the_plugin_is_in_a_configmap_outside_the_content_volume(helm, tmp_path):
    objects = _render(helm, tmp_path, _spec())
    (configmap,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-mu-plugins")]
    assert configmap["data"] == {"store-mail.php": PLUGIN.read_text()}
    template, wordpress = _wordpress(objects)
    mount = {m["name"]: m for m in wordpress["volumeMounts"]}["mu-plugins"]
    assert mount == {"name": "mu-plugins", "mountPath": "/var/www/store-mu-plugins", "readOnly": True}
    env = {e["name"]: e.get("value") for e in wordpress["env"]}
    # The official image evaluates WORDPRESS_CONFIG_EXTRA in its wp-config.php.
    assert "define( 'WPMU_PLUGIN_DIR', '/var/www/store-mu-plugins' );" in env["WORDPRESS_CONFIG_EXTRA"]
    # The cron runs load them too: scheduled events may send mail.
    (cronjob,) = [o for o in objects if o["kind"] == "CronJob"]
    cron = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert mount in cron["containers"][0]["volumeMounts"]
    assert {"name": "mu-plugins", "configMap": {"name": "store-acme-wordpress-mu-plugins"}} in cron["volumes"]
    assert "store-provisioner.io/mu-plugins" in template["metadata"]["annotations"]


def test_without_a_relay_wordpress_gets_no_mail_settings(helm, tmp_path):
    template, wordpress = _wordpress(_render(helm, tmp_path, _spec()))
    assert _mail_env(wordpress) == {}
    assert "store-provisioner.io/mail" not in template["metadata"]["annotations"]


def test_the_relay_comes_from_the_platforms_mail_secret(helm, tmp_path):
    spec = _spec(mail_secret=MAIL_SECRET_NAME, mail_revision=RELAY.revision("acme"))
    template, wordpress = _wordpress(_render(helm, tmp_path, spec))
    env = _mail_env(wordpress)
    assert set(env) == {f"STORE_MAIL_{key.upper()}" for key in RELAY.secret_data("acme")}
    for name, item in env.items():
        key = name.removeprefix("STORE_MAIL_").lower()
        assert item["valueFrom"] == {"secretKeyRef": {"name": "store-mail", "key": key}}
    # Pods read the Secret at start: a changed relay rolls WordPress.
    assert template["metadata"]["annotations"]["store-provisioner.io/mail"] == RELAY.revision("acme")


def test_a_changed_relay_changes_the_revision():
    other = parse_store_mail(
        host="smtp.example.net",
        port="587",
        security="starttls",
        from_pattern="shop-{slug}@example.net",
        user="relay-user",
        password="rotated",
    )
    assert other.revision("acme") != RELAY.revision("acme")
    assert RELAY.revision("acme") != RELAY.revision("other-shop")
    # A new password alone rolls the pods, though the annotation does not carry it.
    assert dataclasses.replace(RELAY, password="rotated").revision("acme") != RELAY.revision("acme")


def test_a_mail_secret_without_its_revision_is_refused(helm, tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({**WOOCOMMERCE.build_values(_spec()), "mail": {"existingSecret": "store-mail"}}))
    result = run_helm(helm, "template", "store-acme", str(CHART_DIR), "-f", str(values))
    assert result.returncode != 0
    assert "mail.revision is required" in result.stderr


# --- the plugin, run with PHP ---------------------------------------------------------


@pytest.fixture
def php() -> str:
    """PHP and PHPMailer from Debian, which `make test` installs (make system-packages)."""
    path = shutil.which("php")
    if path is None or not PHPMAILER.exists():
        pytest.fail("PHP and PHPMailer are missing: apt-get install php-cli libphp-phpmailer (make system-packages)")
    return path


# Stands in for WordPress around the plugin: its hook functions, then what
# wp_mail() does with them (build a PHPMailer, apply the "from" filters, call
# the phpmailer_init hook, send). Prints what it did as JSON.
HARNESS = r"""<?php
define('ABSPATH', '/');
$hooks = [];
function add_action($hook, $callback, $priority = 10) { global $hooks; $hooks[$hook][] = $callback; }
function add_filter($hook, $callback, $priority = 10) { global $hooks; $hooks[$hook][] = $callback; }
function apply_filters($hook, $value, ...$args) {
    global $hooks;
    foreach ($hooks[$hook] ?? [] as $f) { $value = $f($value, ...$args); }
    return $value;
}
function home_url() { return 'https://store-acme.example'; }
function wp_parse_url($url, $component) { return parse_url($url, $component); }
class Order { function __construct(public string $email) {} function get_billing_email() { return $this->email; } }
require '/usr/share/php/libphp-phpmailer/autoload.php';
require $argv[1];
$mailer = new PHPMailer\PHPMailer\PHPMailer(true);
$mailer->setFrom(apply_filters('wp_mail_from', 'wordpress@store-acme.example'), 'Acme');
foreach ($hooks['phpmailer_init'] ?? [] as $f) { $f($mailer); }
$mailer->addAddress('customer@example.org');
$mailer->Subject = 'Your Acme order #42 has been received';
$mailer->Body = 'Thank you for your order 42.';
$sent = false;
$error = '';
try { $sent = $mailer->send(); } catch (Exception $e) { $error = $e->getMessage(); }
$shopper = 'jane@example.org';
$check = 'checkout-check@store-acme.example';
echo json_encode([
    'hooked' => array_keys($hooks),
    'mailer' => $mailer->Mailer,
    'from' => $mailer->From,
    'woocommerce_from' => apply_filters('woocommerce_email_from_address', 'shop-owner@example.org'),
    'new_order_mail' => [
        'shopper' => apply_filters('woocommerce_email_enabled_new_order', true, new Order($shopper)),
        'check' => apply_filters('woocommerce_email_enabled_new_order', true, new Order($check)),
        'check_to_customer' => apply_filters(
            'woocommerce_email_enabled_customer_processing_order', true, new Order(strtoupper($check))
        ),
        'disabled_by_merchant' => apply_filters('woocommerce_email_enabled_new_order', false, new Order($shopper)),
    ],
    'sent' => $sent,
    'error' => $error,
]);
"""


def _run_plugin(php: str, tmp_path, env: dict[str, str]) -> dict:
    harness = tmp_path / "harness.php"
    harness.write_text(HARNESS)
    result = subprocess.run(
        [php, str(harness), str(PLUGIN)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_the_plugin_is_valid_php(php):
    result = subprocess.run([php, "-l", str(PLUGIN)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_a_relay_the_plugin_changes_nothing(php, tmp_path):
    ran = _run_plugin(php, tmp_path, {})
    assert ran["hooked"] == []
    assert ran["mailer"] == "mail"  # PHP's mail(): nothing leaves a container without an MTA
    assert ran["from"] == "wordpress@store-acme.example"


def _relay_env(smtp: SMTPServer, *, password: str) -> dict[str, str]:
    """The environment the chart gives WordPress from the store-mail Secret, for a relay on `smtp`."""
    return {
        "STORE_MAIL_HOST": "127.0.0.1",
        "STORE_MAIL_PORT": str(smtp.port),
        "STORE_MAIL_SECURITY": "none",
        "STORE_MAIL_USERNAME": "relay-user",
        "STORE_MAIL_PASSWORD": password,
        "STORE_MAIL_FROM": "shop-acme@example.net",
    }


def test_the_plugin_sends_through_the_relay_with_its_login_and_sender(php, tmp_path):
    with SMTPServer(logins={"relay-user": "relay-pass"}) as smtp:
        ran = _run_plugin(php, tmp_path, _relay_env(smtp, password="relay-pass"))
    assert ran["error"] == "" and ran["sent"] is True
    assert ran["mailer"] == "smtp"
    # WooCommerce's own sender setting loses to the relay's.
    assert ran["woocommerce_from"] == "shop-acme@example.net"
    # The platform's checkout check buys and cancels at every check: no mail about its orders;
    # a shopper's order mails stay as the merchant set them.
    assert ran["new_order_mail"] == {
        "shopper": True,
        "check": False,
        "check_to_customer": False,
        "disabled_by_merchant": False,
    }
    (message,) = smtp.messages
    assert message.login == "relay-user"
    assert message.envelope_from == "shop-acme@example.net"
    assert message.recipients == ["customer@example.org"]
    assert message.headers["From"] == "Acme <shop-acme@example.net>"
    assert message.headers["Subject"] == "Your Acme order #42 has been received"


def test_a_wrong_password_is_refused_by_the_relay_and_nothing_is_sent(php, tmp_path):
    with SMTPServer(logins={"relay-user": "relay-pass"}) as smtp:
        ran = _run_plugin(php, tmp_path, _relay_env(smtp, password="wrong"))
    assert ran["sent"] is False
    assert "authenticate" in ran["error"].lower()
    assert smtp.messages == []

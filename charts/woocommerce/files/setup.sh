#!/bin/sh
# Store setup: configures WordPress + WooCommerce with wp-cli only.
#
# Idempotent: every step reads the current state first and changes only what
# differs, printing one line saying what it did or that it was already in
# place. Running it again on a configured store makes no change.
#
# Environment:
#   STORE_URL, STORE_TITLE                          site URL and title
#   WP_ADMIN_USER, WP_ADMIN_PASSWORD, WP_ADMIN_EMAIL administrator (the password is never printed)
#   WC_VERSION                                      pinned WooCommerce version
#   SAMPLE_PRODUCT_NAME, SAMPLE_PRODUCT_SKU, SAMPLE_PRODUCT_PRICE
#   WP_PATH              WordPress directory (default /var/www/html)
#   SETUP_WAIT_ATTEMPTS  readiness checks before giving up (default 60)
#   SETUP_WAIT_SLEEP     seconds between readiness checks (default 5)
#   WORDPRESS_DB_HOST, WORDPRESS_DB_USER, WORDPRESS_DB_PASSWORD, WORDPRESS_DB_NAME
#                        read by wp-config.php and by the database check
set -eu

WP_PATH="${WP_PATH:-/var/www/html}"
WAIT_ATTEMPTS="${SETUP_WAIT_ATTEMPTS:-60}"
WAIT_SLEEP="${SETUP_WAIT_SLEEP:-5}"
PERMALINKS='/%postname%/'

say() { printf '%s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

for var in STORE_URL STORE_TITLE WP_ADMIN_USER WP_ADMIN_PASSWORD WP_ADMIN_EMAIL \
    WC_VERSION SAMPLE_PRODUCT_NAME SAMPLE_PRODUCT_SKU SAMPLE_PRODUCT_PRICE; do
    is_set=""
    eval "is_set=\${$var:+yes}"
    [ "$is_set" = yes ] || die "environment variable $var is required"
done
STORE_URL="${STORE_URL%/}"

wpc() { wp --path="$WP_PATH" "$@"; }

# Prints an option's value; fails when the option does not exist.
option_value() { wpc option get "$1" 2>/dev/null; }

# --- readiness (bounded) ---------------------------------------------------

files_ready() {
    [ -s "$WP_PATH/wp-config.php" ] && [ -f "$WP_PATH/wp-includes/version.php" ]
}

# Connects with the credentials wp-config.php uses, without loading WordPress
# (and without the mysql client binaries).
db_ready() {
    # shellcheck disable=SC2016 # PHP code, not shell expansions
    wpc eval --skip-wordpress '
        mysqli_report(MYSQLI_REPORT_OFF);
        $host = getenv("WORDPRESS_DB_HOST") ?: "localhost";
        $port = 3306;
        if (preg_match("/^(.+):([0-9]+)$/", $host, $m)) { $host = $m[1]; $port = (int) $m[2]; }
        $db = mysqli_init();
        $db->options(MYSQLI_OPT_CONNECT_TIMEOUT, 5);
        $ok = @$db->real_connect($host, getenv("WORDPRESS_DB_USER"), getenv("WORDPRESS_DB_PASSWORD"), getenv("WORDPRESS_DB_NAME"), $port);
        exit($ok ? 0 : 1);
    '
}

wait_for() {
    what=$1
    shift
    attempt=1
    until "$@" >/dev/null 2>&1; do
        [ "$attempt" -lt "$WAIT_ATTEMPTS" ] ||
            die "$what not ready after $WAIT_ATTEMPTS attempts"
        attempt=$((attempt + 1))
        sleep "$WAIT_SLEEP"
    done
    say "$what: ready"
}

# --- steps -------------------------------------------------------------------

step_core() {
    if wpc core is-installed >/dev/null 2>&1; then
        say "WordPress: already installed"
        return
    fi
    wpc core install --url="$STORE_URL" --title="$STORE_TITLE" \
        --admin_user="$WP_ADMIN_USER" --admin_password="$WP_ADMIN_PASSWORD" \
        --admin_email="$WP_ADMIN_EMAIL" --skip-email >/dev/null
    say "WordPress: installed at $STORE_URL, administrator $WP_ADMIN_USER"
}

# ensure_option <option> <value> <label>
ensure_option() {
    current=$(option_value "$1") || current=""
    if [ "$current" = "$2" ]; then
        say "$3 ($1=$2): already in place"
    else
        wpc option update "$1" "$2" >/dev/null
        say "$3 ($1=$2): set"
    fi
}

step_woocommerce() {
    if ! wpc plugin is-installed woocommerce >/dev/null 2>&1; then
        wpc plugin install woocommerce --version="$WC_VERSION" --activate >/dev/null
        say "WooCommerce $WC_VERSION: installed and activated"
        return
    fi
    done_what=""
    installed=$(wpc plugin get woocommerce --field=version 2>/dev/null) || installed=""
    if [ "$installed" != "$WC_VERSION" ]; then
        wpc plugin install woocommerce --version="$WC_VERSION" --force >/dev/null
        done_what="changed from ${installed:-unknown version}"
    fi
    if ! wpc plugin is-active woocommerce >/dev/null 2>&1; then
        wpc plugin activate woocommerce >/dev/null
        done_what="${done_what:+$done_what, }activated"
    fi
    if [ -n "$installed" ] && [ "$installed" != "$WC_VERSION" ]; then
        wpc wc update >/dev/null
        done_what="$done_what, database updated"
    fi
    say "WooCommerce $WC_VERSION: ${done_what:-already installed and active}"
}

step_cash_on_delivery() {
    if enabled=$(wpc option pluck woocommerce_cod_settings enabled 2>/dev/null); then
        if [ "$enabled" = yes ]; then
            say "Cash on delivery: already enabled"
            return
        fi
        wpc option patch update woocommerce_cod_settings enabled yes >/dev/null
    elif option_value woocommerce_cod_settings >/dev/null; then
        wpc option patch insert woocommerce_cod_settings enabled yes >/dev/null
    else
        # Unsaved gateway settings fall back to WooCommerce's defaults.
        wpc option add woocommerce_cod_settings '{"enabled":"yes"}' --format=json >/dev/null
    fi
    say "Cash on delivery: enabled"
}

step_pages() {
    missing=""
    for page in shop cart checkout myaccount; do
        page_id=$(option_value "woocommerce_${page}_page_id") || page_id=""
        status=""
        case "$page_id" in
            '' | 0 | *[!0-9]*) ;;
            *) status=$(wpc post get "$page_id" --field=post_status 2>/dev/null) || status="" ;;
        esac
        [ "$status" = publish ] || missing="$missing $page"
    done
    if [ -z "$missing" ]; then
        say "Shop pages: already in place"
        return
    fi
    wpc wc tool run install_pages --user="$WP_ADMIN_USER" >/dev/null
    say "Shop pages: created (missing:$missing)"
}

step_sample_product() {
    ids=$(wpc wc product list --sku="$SAMPLE_PRODUCT_SKU" --format=ids --user="$WP_ADMIN_USER")
    if [ -n "$ids" ]; then
        say "Sample product $SAMPLE_PRODUCT_SKU: already exists (id $ids)"
        return
    fi
    id=$(wpc wc product create --name="$SAMPLE_PRODUCT_NAME" --sku="$SAMPLE_PRODUCT_SKU" \
        --regular_price="$SAMPLE_PRODUCT_PRICE" --type=simple --status=publish \
        --user="$WP_ADMIN_USER" --porcelain)
    say "Sample product $SAMPLE_PRODUCT_SKU: created (id $id)"
}

step_permalinks() {
    current=$(option_value permalink_structure) || current=""
    if [ "$current" = "$PERMALINKS" ]; then
        say "Permalinks: already $PERMALINKS"
        return
    fi
    wpc rewrite structure "$PERMALINKS" >/dev/null
    wpc rewrite flush >/dev/null
    say "Permalinks: set to $PERMALINKS"
}

# --- main --------------------------------------------------------------------

wait_for "WordPress files" files_ready
wait_for "Database" db_ready
step_core
ensure_option siteurl "$STORE_URL" "Site URL"
ensure_option home "$STORE_URL" "Home URL"
step_woocommerce
step_cash_on_delivery
ensure_option woocommerce_coming_soon no "Coming soon mode off"
ensure_option woocommerce_enable_guest_checkout yes "Guest checkout on"
step_pages
step_sample_product
step_permalinks
say "Store setup complete: $STORE_URL"

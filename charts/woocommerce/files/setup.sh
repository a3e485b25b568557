#!/bin/sh
# Store setup: configures WordPress + WooCommerce with wp-cli only.
#
# Idempotent: every step reads the current state first and changes only what
# differs, printing one line saying what it did or that it was already in
# place. Running it again on a configured store makes no change. It runs on
# every install, retry, upgrade and rollback of the chart, so it also brings a
# store up to date after an image or pin bump:
#   - WooCommerce is installed when missing and upgraded when older than
#     WC_VERSION, never downgraded (a merchant may have updated it);
#   - WordPress's and WooCommerce's database updates run when due;
#   - High-Performance Order Storage is on, or the setup fails.
# The shop's country and currency (and a shipping zone for the country) are
# set on the first setup only: a merchant's later choice is never undone.
# The last line names the versions found, for machines:
#   versions: wordpress=<version> woocommerce=<version>
#
# Environment:
#   STORE_URL, STORE_TITLE                          site URL and title
#   WP_ADMIN_USER, WP_ADMIN_PASSWORD, WP_ADMIN_EMAIL administrator (the password is never printed)
#   WC_VERSION                                      pinned (lowest) WooCommerce version
#   SAMPLE_PRODUCT_NAME, SAMPLE_PRODUCT_SKU, SAMPLE_PRODUCT_PRICE
#   SHOP_COUNTRY         ISO 3166-1 alpha-2 code, e.g. DE (first setup only)
#   SHOP_CURRENCY        ISO 4217 code, e.g. EUR (first setup only)
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
# Written once the first setup has set the shop's country and currency; from
# then on they are the merchant's (value: "country=DE currency=EUR").
FIRST_SETUP_OPTION=store_provisioner_first_setup
# What WooCommerce's installer stores when nobody chose (its settings' defaults).
WC_DEFAULT_COUNTRY=US:CA
WC_DEFAULT_CURRENCY=USD

say() { printf '%s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

for var in STORE_URL STORE_TITLE WP_ADMIN_USER WP_ADMIN_PASSWORD WP_ADMIN_EMAIL \
    WC_VERSION SAMPLE_PRODUCT_NAME SAMPLE_PRODUCT_SKU SAMPLE_PRODUCT_PRICE \
    SHOP_COUNTRY SHOP_CURRENCY; do
    is_set=""
    eval "is_set=\${$var:+yes}"
    [ "$is_set" = yes ] || die "environment variable $var is required"
done
STORE_URL="${STORE_URL%/}"
case "$SHOP_COUNTRY" in
    [A-Z][A-Z]) ;;
    *) die "SHOP_COUNTRY must be an ISO 3166-1 alpha-2 code such as DE, not '$SHOP_COUNTRY'" ;;
esac
case "$SHOP_CURRENCY" in
    [A-Z][A-Z][A-Z]) ;;
    *) die "SHOP_CURRENCY must be an ISO 4217 code such as EUR, not '$SHOP_CURRENCY'" ;;
esac

wpc() { wp --path="$WP_PATH" "$@"; }

# Prints an option's value; fails when the option does not exist.
option_value() { wpc option get "$1" 2>/dev/null; }

# The PHP below runs through `wp eval` (wp-cli's own PHP, the only tool the
# image has). Each snippet starts with a "store-setup:" comment naming it.

# Prints -1, 0 or 1 as version A is older than, equal to or newer than B:
# PHP's version_compare, which WordPress itself uses to offer plugin updates
# (so 10.0.0-beta.1 is older than 10.0.0).
# shellcheck disable=SC2016 # PHP code, not shell expansions
PHP_COMPARE_VERSIONS='// store-setup: compare-versions
echo version_compare(getenv("SETUP_VERSION_A"), getenv("SETUP_VERSION_B")), "\n";
'

# Prints "<zones> <id>": how many shipping zones the shop has (besides "the
# rest of the world") and the id of one covering SHOP_COUNTRY, or 0.
# wp-cli's `wc shipping_zone_location` has no update command (the REST route
# takes a whole list), so zones are read and made with WooCommerce's PHP API.
# shellcheck disable=SC2016 # PHP code, not shell expansions
PHP_FIND_SHIPPING_ZONE='// store-setup: find-shipping-zone
$zones = WC_Shipping_Zones::get_zones("admin");
$covering = 0;
foreach ($zones as $zone) {
    foreach ($zone["zone_locations"] as $location) {
        if ("country" === $location->type && getenv("SHOP_COUNTRY") === $location->code) {
            $covering = $covering ? $covering : (int) $zone["zone_id"];
        }
    }
}
echo count($zones), " ", $covering, "\n";
'

# Creates a zone named after SHOP_COUNTRY (WooCommerce's own name for it),
# covering that country, with free shipping, so Cash on Delivery (enabled for
# every shipping method) can be chosen at checkout there. Prints "<id> <name>".
# shellcheck disable=SC2016 # PHP code, not shell expansions
PHP_CREATE_SHIPPING_ZONE='// store-setup: create-shipping-zone
$code = getenv("SHOP_COUNTRY");
$countries = WC()->countries->get_countries();
if (!isset($countries[$code])) {
    fwrite(STDERR, "WooCommerce knows no country $code\n");
    exit(1);
}
$zone = new WC_Shipping_Zone();
$zone->set_zone_name(html_entity_decode($countries[$code], ENT_QUOTES, "UTF-8"));
$zone->add_location($code, "country");
$zone->save();
if (!$zone->get_id() || !$zone->add_shipping_method("free_shipping")) {
    fwrite(STDERR, "the shipping zone for $code could not be saved\n");
    exit(1);
}
echo $zone->get_id(), " ", $zone->get_zone_name(), "\n";
'

# compare_versions A B: prints -1, 0 or 1 (see PHP_COMPARE_VERSIONS); fails
# when PHP cannot run or answers anything else, so a failure is never taken
# for an answer.
compare_versions() {
    answer=$(SETUP_VERSION_A=$1 SETUP_VERSION_B=$2 \
        wp --path="$WP_PATH" eval --skip-wordpress "$PHP_COMPARE_VERSIONS") || return 1
    case "$answer" in
        -1 | 0 | 1) printf '%s\n' "$answer" ;;
        *) return 1 ;;
    esac
}

# --- readiness (bounded) ---------------------------------------------------

files_ready() {
    [ -s "$WP_PATH/wp-config.php" ] && [ -f "$WP_PATH/wp-includes/version.php" ]
}

# Connects with the credentials wp-config.php uses, without loading WordPress
# (and without the mysql client binaries).
db_ready() {
    # shellcheck disable=SC2016 # PHP code, not shell expansions
    wpc eval --skip-wordpress '// store-setup: database-check
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

# After an image bump the WordPress files are newer than the database:
# `wp core update-db` upgrades it, or says it is already at the latest
# version (wp-cli compares the two db versions itself).
step_core_database() {
    result=$(wpc core update-db)
    message=$(wp_message "$result")
    say "WordPress database: ${message#WordPress database }"
}

# The last line of wp-cli's output, without its "Success: " prefix.
wp_message() { printf '%s\n' "$1" | sed -n '$s/^Success: //;$p'; }

# Installed when missing, upgraded when older than the pin; a newer one (the
# merchant updated it) is kept: going back would run old code over a database
# the newer version has already migrated.
step_woocommerce() {
    if ! wpc plugin is-installed woocommerce >/dev/null 2>&1; then
        wpc plugin install woocommerce --version="$WC_VERSION" --activate >/dev/null
        say "WooCommerce $WC_VERSION: installed and activated"
        return
    fi
    installed=$(wpc plugin get woocommerce --field=version 2>/dev/null) ||
        die "WooCommerce is installed but wp-cli cannot read its version"
    [ -n "$installed" ] || die "WooCommerce is installed but has no version"
    order=$(compare_versions "$installed" "$WC_VERSION") ||
        die "cannot compare WooCommerce $installed with the pinned $WC_VERSION"
    done_what=""
    case "$order" in
        -1)
            wpc plugin install woocommerce --version="$WC_VERSION" --force >/dev/null
            done_what="upgraded from $installed"
            ;;
        0) ;;
        1) done_what="newer than the pinned $WC_VERSION, kept (never downgraded)" ;;
    esac
    if ! wpc plugin is-active woocommerce >/dev/null 2>&1; then
        wpc plugin activate woocommerce >/dev/null
        done_what="${done_what:+$done_what, }activated"
    fi
    if [ "$order" = 1 ]; then
        say "WooCommerce $installed: $done_what"
    else
        say "WooCommerce $WC_VERSION: ${done_what:-already installed and active}"
    fi
}

# WooCommerce's own database updates (`wp wc update`) are due when the version
# its database was last updated to is older than the code's.
step_woocommerce_database() {
    code=$(wpc plugin get woocommerce --field=version)
    db=$(option_value woocommerce_db_version) || db=""
    if [ -n "$db" ]; then
        order=$(compare_versions "$db" "$code") || die "cannot compare WooCommerce's database version $db with $code"
        if [ "$order" != -1 ]; then
            say "WooCommerce database: already at $db"
            return
        fi
    fi
    result=$(wpc wc update)
    say "WooCommerce database: updated from ${db:-no version} ($(wp_message "$result"))"
}

# High-Performance Order Storage: new shops have it (WooCommerce 8.2 and
# later); an older shop is switched with WooCommerce's own command, which
# refuses when its checks fail (orders not yet synced, incompatible plugins).
step_hpos() {
    current=$(option_value woocommerce_custom_orders_table_enabled) || current=""
    if [ "$current" = yes ]; then
        say "High-Performance Order Storage: already enabled"
        return
    fi
    if ! output=$(wpc wc hpos enable 2>&1); then
        die "High-Performance Order Storage could not be enabled (woocommerce_custom_orders_table_enabled=${current:-unset}); wp wc hpos enable said: $(printf '%s' "$output" | tr '\n' ' ')"
    fi
    current=$(option_value woocommerce_custom_orders_table_enabled) || current=""
    [ "$current" = yes ] ||
        die "High-Performance Order Storage is still off after wp wc hpos enable (woocommerce_custom_orders_table_enabled=${current:-unset})"
    say "High-Performance Order Storage: enabled"
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

# The first setup only (until FIRST_SETUP_OPTION exists) fills in what
# WooCommerce's installer left at its defaults; a value someone chose is kept.
# ensure_first_setup_option <option> <value> <installer default> <label>
ensure_first_setup_option() {
    current=$(option_value "$1") || current=""
    case "$current" in
        "$2" | "$2":*) say "$4 ($1=$current): already in place" ;;
        "" | "$3")
            wpc option update "$1" "$2" >/dev/null
            say "$4 ($1=$2): set"
            ;;
        *) say "$4 ($1=$current): chosen in the shop, kept" ;;
    esac
}

# The snippets' answer is their last line: a plugin's PHP notice may come first.
last_line() { printf '%s\n' "$1" | sed -n '$p'; }

step_shipping_zone() {
    found=$(wpc eval "$PHP_FIND_SHIPPING_ZONE")
    found=$(last_line "$found")
    case "$found" in
        [0-9]*' '[0-9]*) ;;
        *) die "cannot read the shop's shipping zones (got '$found')" ;;
    esac
    zones=${found%% *}
    covering=${found#* }
    if [ "$covering" != 0 ]; then
        say "Shipping zone for $SHOP_COUNTRY: already exists (id $covering)"
    elif [ "$zones" != 0 ]; then
        say "Shipping zone for $SHOP_COUNTRY: none, but the shop has $zones zones of its own, kept as they are"
    else
        created=$(wpc eval "$PHP_CREATE_SHIPPING_ZONE")
        created=$(last_line "$created")
        say "Shipping zone for $SHOP_COUNTRY: created \"${created#* }\" with free shipping (id ${created%% *})"
    fi
}

step_shop_location() {
    if first=$(option_value "$FIRST_SETUP_OPTION"); then
        say "Shop country and currency: already set at first setup ($first), now the merchant's"
        return
    fi
    ensure_first_setup_option woocommerce_default_country "$SHOP_COUNTRY" "$WC_DEFAULT_COUNTRY" "Store country"
    ensure_first_setup_option woocommerce_currency "$SHOP_CURRENCY" "$WC_DEFAULT_CURRENCY" "Currency"
    step_shipping_zone
    wpc option add "$FIRST_SETUP_OPTION" "country=$SHOP_COUNTRY currency=$SHOP_CURRENCY" --autoload=no >/dev/null
}

step_versions() {
    wordpress=$(wpc core version)
    woocommerce=$(wpc plugin get woocommerce --field=version)
    say "versions: wordpress=$wordpress woocommerce=$woocommerce"
}

# --- main --------------------------------------------------------------------

wait_for "WordPress files" files_ready
wait_for "Database" db_ready
step_core
step_core_database
ensure_option siteurl "$STORE_URL" "Site URL"
ensure_option home "$STORE_URL" "Home URL"
step_woocommerce
step_woocommerce_database
step_hpos
step_cash_on_delivery
step_shop_location
ensure_option woocommerce_coming_soon no "Coming soon mode off"
ensure_option woocommerce_enable_guest_checkout yes "Guest checkout on"
step_pages
step_sample_product
step_permalinks
say "Store setup complete: $STORE_URL"
step_versions

<?php
/**
 * Plugin Name: Store mail
 * Description: Sends the shop's mail (orders, customer accounts, password resets) through the platform's SMTP relay.
 *
 * The official WordPress image has no mail transfer agent, so PHP's mail() sends
 * nothing. The platform hands each store its relay in the Secret "store-mail",
 * which the chart passes to this container as STORE_MAIL_* variables; without
 * them this plugin does nothing and WordPress's own behaviour stays.
 * A must-use plugin: always on, not listed for deactivation in the admin.
 */

if (!defined('ABSPATH')) {
    exit;
}

/** One STORE_MAIL_* setting, '' when unset. */
function store_mail_setting(string $name): string
{
    $value = getenv('STORE_MAIL_' . $name);
    return $value === false ? '' : trim($value);
}

/** Points PHPMailer at the relay; WordPress calls it before every send. */
function store_mail_configure($mailer): void
{
    $mailer->isSMTP();
    $mailer->Host = store_mail_setting('HOST');
    $mailer->Port = (int) store_mail_setting('PORT');
    $user = store_mail_setting('USERNAME');
    $mailer->SMTPAuth = $user !== '';
    if ($user !== '') {
        $mailer->Username = $user;
        $mailer->Password = store_mail_setting('PASSWORD');
    }
    switch (store_mail_setting('SECURITY')) {
        case 'tls': // TLS from the first byte (port 465)
            $mailer->SMTPSecure = 'ssl';
            $mailer->SMTPAutoTLS = false;
            break;
        case 'none': // a relay on a private network: no STARTTLS, even if offered
            $mailer->SMTPSecure = '';
            $mailer->SMTPAutoTLS = false;
            break;
        default: // starttls (submission, port 587): refuse to send in clear
            $mailer->SMTPSecure = 'tls';
            $mailer->SMTPAutoTLS = true;
    }
    // The relay accepts this sender only: WooCommerce's own "from" setting and
    // a plugin's header must not replace it. Replies still reach the shop.
    $mailer->Sender = store_mail_setting('FROM');
}

/** The relay's sender address, whatever WordPress or WooCommerce asked for. */
function store_mail_from($address): string
{
    return store_mail_setting('FROM');
}

/**
 * The platform's checkout check buys as checkout-check@<the shop's host> and
 * cancels the order at once: none of WooCommerce's mails about that order go
 * out (the merchant would get a "new order" mail at every check).
 */
function store_mail_not_for_checks($enabled, $object = null)
{
    if (!$enabled || !is_object($object) || !is_callable([$object, 'get_billing_email'])) {
        return $enabled;
    }
    $check = 'checkout-check@' . wp_parse_url(home_url(), PHP_URL_HOST);
    return strtolower($object->get_billing_email()) === strtolower($check) ? false : $enabled;
}

/** WooCommerce's mails about an order, by their ids. */
const STORE_MAIL_ORDER_EMAILS = [
    'new_order',
    'cancelled_order',
    'failed_order',
    'customer_on_hold_order',
    'customer_processing_order',
    'customer_completed_order',
    'customer_refunded_order',
    'customer_note',
];

if (store_mail_setting('HOST') !== '') {
    add_action('phpmailer_init', 'store_mail_configure');
    // Late, so they win over WooCommerce's (which sets its own "from" address).
    add_filter('wp_mail_from', 'store_mail_from', PHP_INT_MAX);
    add_filter('woocommerce_email_from_address', 'store_mail_from', PHP_INT_MAX);
    foreach (STORE_MAIL_ORDER_EMAILS as $email_id) {
        add_filter('woocommerce_email_enabled_' . $email_id, 'store_mail_not_for_checks', 10, 2);
    }
}

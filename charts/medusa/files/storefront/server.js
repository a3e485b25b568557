// The store's storefront: server-rendered HTML over Medusa's Store API.
//
// No npm dependencies (Node's http module only), so it starts from the plain
// `node` image with nothing to install. The shopper's browser never talks to
// Medusa: every Store API call is made here, with the publishable key that
// setup.sh wrote to the persistent volume, and the cart id lives in a cookie.
//
// Environment: MEDUSA_BACKEND_URL (default http://localhost:9000), PORT
// (default 8000), PUBLISHABLE_KEY_FILE (default $APP_DIR/state/publishable-key),
// STORE_NAME.
"use strict"

const fs = require("fs")
const http = require("http")
const path = require("path")

const BACKEND = (process.env.MEDUSA_BACKEND_URL || "http://localhost:9000").replace(/\/+$/, "")
const PORT = Number(process.env.PORT || 8000)
const APP_DIR = process.env.APP_DIR || "/data/app"
const KEY_FILE = process.env.PUBLISHABLE_KEY_FILE || path.join(APP_DIR, "state", "publishable-key")
const STORE_NAME = process.env.STORE_NAME || "Our shop"
// Whether the store sends order mails: the confirmation page says a mail is on
// its way only when one is.
const SENDS_MAIL = process.env.STORE_SENDS_MAIL === "true"
const CSS = fs.readFileSync(path.join(__dirname, "style.css"))
const BACKEND_TIMEOUT_MS = 15000
// Medusa's manual payment provider, which this shop offers as cash on delivery.
const PAYMENT_LABELS = { pp_system_default: "Cash on delivery" }

class BackendError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

function publishableKey() {
  // Read on every call: the key appears once setup has run, without a restart.
  try {
    return fs.readFileSync(KEY_FILE, "utf8").trim() || null
  } catch {
    return null
  }
}

async function api(method, urlPath, body) {
  const key = publishableKey()
  if (!key) throw new BackendError(503, "The shop is still being set up.")
  const res = await fetch(BACKEND + urlPath, {
    method,
    headers: { "content-type": "application/json", "x-publishable-api-key": key },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(BACKEND_TIMEOUT_MS),
  })
  const text = await res.text()
  let data = {}
  try {
    data = text ? JSON.parse(text) : {}
  } catch {
    data = { message: text }
  }
  if (!res.ok) throw new BackendError(res.status, data.message || `${method} ${urlPath}: ${res.status}`)
  return data
}

// --- small helpers -----------------------------------------------------------

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }
function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c])
}

// Prices in the currency of the store's region (the shop's, values
// shop.currency), as Medusa gives it with every amount: nothing is assumed.
function money(amount, currency) {
  if (amount === null || amount === undefined) return ""
  if (!currency) return Number(amount).toFixed(2)
  return new Intl.NumberFormat("en-GB", { style: "currency", currency: currency.toUpperCase() }).format(Number(amount))
}

function cookies(req) {
  const out = {}
  for (const part of (req.headers.cookie || "").split(";")) {
    const i = part.indexOf("=")
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim())
  }
  return out
}

function cartCookie(id) {
  return id
    ? `cart_id=${encodeURIComponent(id)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000`
    : "cart_id=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (chunk) => {
      body += chunk
      if (body.length > 64 * 1024) reject(new BackendError(413, "Form too large"))
    })
    req.on("end", () => resolve(Object.fromEntries(new URLSearchParams(body))))
    req.on("error", reject)
  })
}

function send(res, status, html, headers = {}) {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", ...headers })
  res.end(html)
}

function redirect(res, location, headers = {}) {
  res.writeHead(303, { location, ...headers })
  res.end()
}

function page(title, body, { cartCount = null } = {}) {
  const cartLabel = cartCount ? `Cart (${cartCount})` : "Cart"
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · ${esc(STORE_NAME)}</title>
<link rel="stylesheet" href="/assets/style.css">
</head>
<body>
<header class="site">
  <a class="brand" href="/">${esc(STORE_NAME)}</a>
  <nav aria-label="Main"><a href="/">Shop</a> <a href="/cart" id="cart-link">${esc(cartLabel)}</a></nav>
</header>
<main>
${body}
</main>
<footer class="site">Payment on delivery · Delivered in 2–3 days</footer>
</body>
</html>`
}

// --- Store API, as the pages need it ------------------------------------------

let regionCache = { at: 0, region: null }
async function region() {
  if (regionCache.region && Date.now() - regionCache.at < 60000) return regionCache.region
  const { regions } = await api("GET", "/store/regions?limit=1")
  if (!regions || !regions.length) throw new BackendError(503, "The shop has no region yet.")
  regionCache = { at: Date.now(), region: regions[0] }
  return regions[0]
}

const PRODUCT_FIELDS = "*variants.calculated_price,+variants.inventory_quantity"

async function products() {
  const r = await region()
  const { products } = await api(
    "GET",
    `/store/products?limit=50&region_id=${encodeURIComponent(r.id)}&fields=${encodeURIComponent(PRODUCT_FIELDS)}`
  )
  return { products, region: r }
}

async function productByHandle(handle) {
  const r = await region()
  const { products } = await api(
    "GET",
    `/store/products?handle=${encodeURIComponent(handle)}&region_id=${encodeURIComponent(r.id)}&fields=${encodeURIComponent(PRODUCT_FIELDS)}`
  )
  return { product: products[0] || null, region: r }
}

async function currentCart(req) {
  const id = cookies(req).cart_id
  if (!id) return null
  try {
    const { cart } = await api("GET", `/store/carts/${encodeURIComponent(id)}`)
    // A cart that became an order is done with.
    return cart && !cart.completed_at ? cart : null
  } catch (err) {
    if (err.status === 404) return null
    throw err
  }
}

function itemCount(cart) {
  return cart ? (cart.items || []).reduce((n, item) => n + item.quantity, 0) : 0
}

function priceOf(variant) {
  return variant && variant.calculated_price ? variant.calculated_price.calculated_amount : null
}

// --- pages --------------------------------------------------------------------

async function homePage(req, res) {
  const [{ products: list, region: r }, cart] = await Promise.all([products(), currentCart(req)])
  const cards = list
    .map((p) => {
      const prices = (p.variants || []).map(priceOf).filter((a) => a !== null)
      const from = prices.length ? money(Math.min(...prices), r.currency_code) : ""
      return `<li class="card">
  <a href="/products/${esc(p.handle)}">
    <div class="thumb" aria-hidden="true">${p.thumbnail ? `<img src="${esc(p.thumbnail)}" alt="">` : esc(p.title.slice(0, 1))}</div>
    <h2>${esc(p.title)}</h2>
  </a>
  <p class="subtitle">${esc(p.subtitle || "")}</p>
  <p class="price">${esc(from)}</p>
</li>`
    })
    .join("\n")
  const body = `<h1>Shop</h1>
${list.length ? `<ul class="grid" aria-label="Products">${cards}</ul>` : "<p>No products yet.</p>"}`
  send(res, 200, page("Shop", body, { cartCount: itemCount(cart) }))
}

async function productPage(req, res, handle) {
  const [{ product, region: r }, cart] = await Promise.all([productByHandle(handle), currentCart(req)])
  if (!product) return notFound(req, res)
  const variants = product.variants || []
  const options = variants
    .map((v) => {
      const stock = v.manage_inventory && v.inventory_quantity !== undefined ? v.inventory_quantity : null
      const soldOut = stock !== null && stock <= 0 && !v.allow_backorder
      return `<option value="${esc(v.id)}"${soldOut ? " disabled" : ""}>${esc(v.title)} — ${esc(
        money(priceOf(v), r.currency_code)
      )}${soldOut ? " (sold out)" : ""}</option>`
    })
    .join("")
  const first = variants[0]
  const stock = first && first.manage_inventory ? first.inventory_quantity : null
  const body = `<nav aria-label="Breadcrumb" class="crumbs"><a href="/">Shop</a> / ${esc(product.title)}</nav>
<article class="product">
  <div class="thumb large" aria-hidden="true">${product.thumbnail ? `<img src="${esc(product.thumbnail)}" alt="">` : esc(product.title.slice(0, 1))}</div>
  <div>
    <h1>${esc(product.title)}</h1>
    <p class="subtitle">${esc(product.subtitle || "")}</p>
    <p class="price" id="price">${esc(money(priceOf(first), r.currency_code))}</p>
    <p>${esc(product.description || "")}</p>
    ${stock !== null && stock !== undefined ? `<p class="stock">${stock > 0 ? `${esc(stock)} in stock` : "Sold out"}</p>` : ""}
    <form method="post" action="/cart/add" class="stack">
      <label for="variant">Variant</label>
      <select id="variant" name="variant_id">${options}</select>
      <label for="quantity">Quantity</label>
      <input id="quantity" name="quantity" type="number" min="1" max="10" value="1" required>
      <button type="submit">Add to cart</button>
    </form>
  </div>
</article>`
  send(res, 200, page(product.title, body, { cartCount: itemCount(cart) }))
}

async function addToCart(req, res) {
  const form = await readForm(req)
  const quantity = Math.max(1, Math.min(10, parseInt(form.quantity, 10) || 1))
  let cart = await currentCart(req)
  if (!cart) {
    const r = await region()
    ;({ cart } = await api("POST", "/store/carts", { region_id: r.id }))
  }
  await api("POST", `/store/carts/${cart.id}/line-items`, { variant_id: form.variant_id, quantity })
  redirect(res, "/cart", { "set-cookie": cartCookie(cart.id) })
}

async function removeFromCart(req, res) {
  const form = await readForm(req)
  const cart = await currentCart(req)
  if (cart && form.line_item_id) {
    await api("DELETE", `/store/carts/${cart.id}/line-items/${encodeURIComponent(form.line_item_id)}`)
  }
  redirect(res, "/cart")
}

function itemsTable(items, currency, { removable = false } = {}) {
  const rows = items
    .map(
      (item) => `<tr>
  <td>${esc(item.product_title || item.title)}<br><small>${esc(item.variant_title || "")}</small></td>
  <td class="num">${esc(item.quantity)}</td>
  <td class="num">${esc(money(item.unit_price, currency))}</td>
  <td class="num">${esc(money(item.total ?? item.unit_price * item.quantity, currency))}</td>
  ${
    removable
      ? `<td><form method="post" action="/cart/remove"><input type="hidden" name="line_item_id" value="${esc(item.id)}"><button class="link" type="submit" aria-label="Remove ${esc(item.product_title || item.title)}">Remove</button></form></td>`
      : ""
  }
</tr>`
    )
    .join("\n")
  return `<table class="items">
<thead><tr><th scope="col">Item</th><th scope="col" class="num">Qty</th><th scope="col" class="num">Price</th><th scope="col" class="num">Total</th>${removable ? "<th></th>" : ""}</tr></thead>
<tbody>${rows}</tbody>
</table>`
}

function totals(obj, currency) {
  const line = (label, amount, id) =>
    `<tr><th scope="row">${label}</th><td class="num"${id ? ` id="${id}"` : ""}>${esc(money(amount, currency))}</td></tr>`
  return `<table class="totals">
${line("Subtotal", obj.item_total ?? obj.subtotal)}
${obj.shipping_methods && obj.shipping_methods.length ? line("Delivery", obj.shipping_total) : ""}
${obj.tax_total ? line("Tax", obj.tax_total) : ""}
${line("Total", obj.total, "total")}
</table>`
}

async function cartPage(req, res) {
  const cart = await currentCart(req)
  if (!cart || !(cart.items || []).length) {
    return send(res, 200, page("Cart", `<h1>Your cart</h1><p>Your cart is empty. <a href="/">Back to the shop</a></p>`))
  }
  const body = `<h1>Your cart</h1>
${itemsTable(cart.items, cart.currency_code, { removable: true })}
${totals(cart, cart.currency_code)}
<p class="actions"><a href="/">Continue shopping</a> <a class="button" href="/checkout">Checkout</a></p>`
  send(res, 200, page("Cart", body, { cartCount: itemCount(cart) }))
}

function addressForm(cart, r, error) {
  const a = cart.shipping_address || {}
  const countries = (r.countries || [])
    .map(
      (c) =>
        `<option value="${esc(c.iso_2)}"${(a.country_code || "") === c.iso_2 ? " selected" : ""}>${esc(c.display_name || c.name || c.iso_2)}</option>`
    )
    .join("")
  const field = (name, label, value, type = "text", autocomplete = "") =>
    `<label for="${name}">${label}</label><input id="${name}" name="${name}" type="${type}" value="${esc(value || "")}" required${
      autocomplete ? ` autocomplete="${autocomplete}"` : ""
    }>`
  return `<section aria-labelledby="step-address"><h2 id="step-address">1. Contact and delivery address</h2>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ""}
<form method="post" action="/checkout/address" class="stack">
  ${field("email", "Email", cart.email, "email", "email")}
  ${field("first_name", "First name", a.first_name, "text", "given-name")}
  ${field("last_name", "Last name", a.last_name, "text", "family-name")}
  ${field("address_1", "Street and number", a.address_1, "text", "address-line1")}
  ${field("postal_code", "Postal code", a.postal_code, "text", "postal-code")}
  ${field("city", "City", a.city, "text", "address-level2")}
  <label for="country_code">Country</label><select id="country_code" name="country_code" required>${countries}</select>
  <button type="submit">Continue to delivery and payment</button>
</form></section>`
}

async function checkoutPage(req, res, { error = null, editAddress = false } = {}) {
  const cart = await currentCart(req)
  if (!cart || !(cart.items || []).length) return redirect(res, "/cart")
  const r = await region()
  const url = new URL(req.url, "http://storefront")
  const needsAddress = editAddress || url.searchParams.has("edit") || !cart.email || !cart.shipping_address
  let body
  if (needsAddress) {
    body = `<h1>Checkout</h1>${addressForm(cart, r, error)}`
  } else {
    const [{ shipping_options: shipping }, { payment_providers: providers }] = await Promise.all([
      api("GET", `/store/shipping-options?cart_id=${encodeURIComponent(cart.id)}`),
      api("GET", `/store/payment-providers?region_id=${encodeURIComponent(cart.region_id)}`),
    ])
    const chosen = (cart.shipping_methods || [])[0]
    const shippingChoices = shipping
      .map(
        (o, i) => `<div class="choice"><input type="radio" id="ship-${esc(o.id)}" name="option_id" value="${esc(o.id)}"${
          (chosen ? chosen.shipping_option_id === o.id : i === 0) ? " checked" : ""
        } required><label for="ship-${esc(o.id)}">${esc(o.name)} — ${esc(money(o.amount ?? o.calculated_price?.calculated_amount, cart.currency_code))}${
          o.type && o.type.description ? ` <small>${esc(o.type.description)}</small>` : ""
        }</label></div>`
      )
      .join("")
    const paymentChoices = providers
      .map(
        (p, i) => `<div class="choice"><input type="radio" id="pay-${esc(p.id)}" name="provider_id" value="${esc(p.id)}"${
          i === 0 ? " checked" : ""
        } required><label for="pay-${esc(p.id)}">${esc(PAYMENT_LABELS[p.id] || p.id)}</label></div>`
      )
      .join("")
    const a = cart.shipping_address
    body = `<h1>Checkout</h1>
<section aria-labelledby="step-address"><h2 id="step-address">1. Contact and delivery address</h2>
<p class="summary">${esc(cart.email)}<br>${esc(a.first_name)} ${esc(a.last_name)}, ${esc(a.address_1)}, ${esc(a.postal_code)} ${esc(
      a.city
    )}, ${esc((a.country_code || "").toUpperCase())} <a href="/checkout?edit=address">Change</a></p></section>
<form method="post" action="/checkout/place" class="stack">
<section aria-labelledby="step-delivery"><h2 id="step-delivery">2. Delivery</h2>
<fieldset><legend>Delivery method</legend>${shippingChoices || "<p>No delivery to this address.</p>"}</fieldset></section>
<section aria-labelledby="step-payment"><h2 id="step-payment">3. Payment</h2>
<fieldset><legend>Payment method</legend>${paymentChoices || "<p>No payment method.</p>"}</fieldset></section>
<section aria-labelledby="step-review"><h2 id="step-review">4. Review</h2>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ""}
${itemsTable(cart.items, cart.currency_code)}
${totals(cart, cart.currency_code)}
<button type="submit"${shipping.length && providers.length ? "" : " disabled"}>Place order</button></section>
</form>`
  }
  send(res, error ? 422 : 200, page("Checkout", body, { cartCount: itemCount(cart) }))
}

async function saveAddress(req, res) {
  const form = await readForm(req)
  const cart = await currentCart(req)
  if (!cart) return redirect(res, "/cart")
  const address = {
    first_name: form.first_name,
    last_name: form.last_name,
    address_1: form.address_1,
    postal_code: form.postal_code,
    city: form.city,
    country_code: form.country_code,
  }
  try {
    await api("POST", `/store/carts/${cart.id}`, {
      email: form.email,
      shipping_address: address,
      billing_address: address,
    })
  } catch (err) {
    if (err.status >= 400 && err.status < 500) return checkoutPage(req, res, { error: err.message, editAddress: true })
    throw err
  }
  redirect(res, "/checkout")
}

async function placeOrder(req, res) {
  const form = await readForm(req)
  let cart = await currentCart(req)
  if (!cart) return redirect(res, "/cart")
  try {
    ;({ cart } = await api("POST", `/store/carts/${cart.id}/shipping-methods`, { option_id: form.option_id }))
    let collection = cart.payment_collection
    if (!collection) {
      ;({ payment_collection: collection } = await api("POST", "/store/payment-collections", { cart_id: cart.id }))
    }
    await api("POST", `/store/payment-collections/${collection.id}/payment-sessions`, {
      provider_id: form.provider_id || "pp_system_default",
    })
    const result = await api("POST", `/store/carts/${cart.id}/complete`)
    if (result.type !== "order") {
      const message = (result.error && result.error.message) || "The order could not be placed."
      return checkoutPage(req, res, { error: message })
    }
    redirect(res, `/order/${encodeURIComponent(result.order.id)}`, { "set-cookie": cartCookie(null) })
  } catch (err) {
    if (err.status >= 400 && err.status < 500) return checkoutPage(req, res, { error: err.message })
    throw err
  }
}

async function orderPage(req, res, id) {
  let order
  try {
    ;({ order } = await api(
      "GET",
      `/store/orders/${encodeURIComponent(id)}?fields=${encodeURIComponent("*items,+shipping_total,+total,+item_total,+email,+display_id,*shipping_address,*shipping_methods")}`
    ))
  } catch (err) {
    if (err.status === 404) return notFound(req, res)
    throw err
  }
  const a = order.shipping_address || {}
  const body = `<h1>Thank you for your order!</h1>
<p class="lead">Your order number is <strong id="order-number">#${esc(order.display_id)}</strong>.${
    SENDS_MAIL ? ` A confirmation goes to ${esc(order.email)}.` : " Keep this number: it is your confirmation."
  }</p>
<p>It will be delivered to ${esc(a.first_name)} ${esc(a.last_name)}, ${esc(a.address_1)}, ${esc(a.postal_code)} ${esc(a.city)}.
You pay <strong>cash on delivery</strong>: ${esc(money(order.total, order.currency_code))}.</p>
${itemsTable(order.items || [], order.currency_code)}
${totals(order, order.currency_code)}
<p class="actions"><a href="/">Continue shopping</a></p>`
  send(res, 200, page(`Order #${order.display_id}`, body))
}

function notFound(req, res) {
  send(res, 404, page("Not found", `<h1>Not found</h1><p>Nothing here. <a href="/">Back to the shop</a></p>`))
}

async function healthz(req, res) {
  // Ready only when setup has written the key and the Medusa server answers.
  let ok = publishableKey() !== null
  if (ok) {
    try {
      const r = await fetch(BACKEND + "/health", { signal: AbortSignal.timeout(5000) })
      ok = r.ok
    } catch {
      ok = false
    }
  }
  res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" })
  res.end(ok ? "ok\n" : "not ready\n")
}

// --- routing ------------------------------------------------------------------

async function route(req, res) {
  const { pathname } = new URL(req.url, "http://storefront")
  const method = req.method
  if (pathname === "/healthz") return healthz(req, res)
  if (pathname === "/assets/style.css") {
    res.writeHead(200, { "content-type": "text/css; charset=utf-8", "cache-control": "max-age=3600" })
    return res.end(CSS)
  }
  if (method === "GET" && pathname === "/") return homePage(req, res)
  let m = pathname.match(/^\/products\/([^/]+)$/)
  if (method === "GET" && m) return productPage(req, res, decodeURIComponent(m[1]))
  if (method === "GET" && pathname === "/cart") return cartPage(req, res)
  if (method === "POST" && pathname === "/cart/add") return addToCart(req, res)
  if (method === "POST" && pathname === "/cart/remove") return removeFromCart(req, res)
  if (method === "GET" && pathname === "/checkout") return checkoutPage(req, res)
  if (method === "POST" && pathname === "/checkout/address") return saveAddress(req, res)
  if (method === "POST" && pathname === "/checkout/place") return placeOrder(req, res)
  m = pathname.match(/^\/order\/([^/]+)$/)
  if (method === "GET" && m) return orderPage(req, res, decodeURIComponent(m[1]))
  return notFound(req, res)
}

const server = http.createServer((req, res) => {
  route(req, res).catch((err) => {
    const status = err instanceof BackendError && err.status === 503 ? 503 : 502
    console.error(`${req.method} ${req.url}: ${err.stack || err}`)
    if (!res.headersSent) {
      send(res, status, page("Sorry", `<h1>Sorry, something went wrong</h1><p>${esc(err.message)}</p><p><a href="/">Back to the shop</a></p>`))
    } else {
      res.end()
    }
  })
})

server.listen(PORT, () => console.log(`storefront: listening on :${PORT}, Store API at ${BACKEND}`))
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)))
}

"""A stand-in for a WooCommerce store's HTTP APIs, for the checkout check's tests.

WooCommerce cannot be installed here (its plugin is downloaded from
wordpress.org), so this server answers as WordPress and WooCommerce document
it, for the calls the check makes, and nothing more:
- Store API (wc/store/v1): products; the cart, whose answer carries a
  `Cart-Token` header that later cart calls must send back (without it, 401
  `woocommerce_rest_missing_nonce`); `cart/add-item`; `checkout`, which refuses
  a missing or disabled payment method with WooCommerce's error codes and
  makes a *processing* order that takes managed stock;
- wp-login.php: the test cookie, then a `wordpress_logged_in_*` cookie and a
  302 for the right login, the login form again for a wrong one;
- admin-ajax.php?action=rest-nonce: the REST nonce of a logged-in user, `0`
  (400) for anyone else;
- REST API (wc/v3) orders: read, update (a cancelled order gets its stock
  back), delete (`force=true`) or trash; a cookie session without a nonce is
  a logged-out user (401 `woocommerce_rest_cannot_view`), a wrong nonce 403
  `rest_cookie_invalid_nonce`.

It is reached as an HTTP proxy (the platform's `http_proxy`), so the store's
own host name is in every request, as through the cluster's ingress.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STORE = "/wp-json/wc/store/v1"
REST = "/wp-json/wc/v3"


@dataclass
class WooCommerceStandIn:
    admin_user: str = "admin"
    admin_password: str = "correct-horse-battery"
    cod_enabled: bool = True
    default_country: str = "NL:NH"
    # What GET /wc/v3/system_status says under environment (None: it answers 500).
    environment: dict[str, Any] | None = field(
        default_factory=lambda: {"wp_version": "6.8.1", "version": "9.9.5", "php_version": "8.3.21"}
    )
    sends_cart_token: bool = True
    products: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"id": 3, "name": "T-shirt", "type": "variable", "is_purchasable": True, "is_in_stock": True, "stock": 9},
            {"id": 7, "name": "Hoodie", "type": "simple", "is_purchasable": True, "is_in_stock": False, "stock": 0},
            {"id": 12, "name": "Sample mug", "type": "simple", "is_purchasable": True, "is_in_stock": True, "stock": 5},
        ]
    )
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    carts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)  # logged-in cookie value -> nonce
    requests: list[str] = field(default_factory=list)
    next_order: int = 100

    def stock(self) -> dict[int, int]:
        return {p["id"]: p["stock"] for p in self.products}

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Yields the proxy URL to give the platform as http_proxy."""
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                standin._handle(self, "GET")

            def do_POST(self):
                standin._handle(self, "POST")

            def do_PUT(self):
                standin._handle(self, "PUT")

            def do_DELETE(self):
                standin._handle(self, "DELETE")

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()

    # --- dispatch ---------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        url = urllib.parse.urlsplit(req.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(req.headers.get("content-length") or 0)
        raw = req.rfile.read(length).decode() if length else ""
        cookies = dict(
            part.strip().split("=", 1) for part in (req.headers.get("cookie") or "").split(";") if "=" in part
        )
        self.requests.append(f"{method} {url.path}")
        out = Out()
        path = url.path
        if path == f"{STORE}/products" and method == "GET":
            wanted = [p for p in self.products if query.get("type", p["type"]) == p["type"]]
            out.json(200, [{k: v for k, v in p.items() if k != "stock"} for p in wanted])
        elif path == f"{STORE}/cart" and method == "GET":
            token = req.headers.get("cart-token") or secrets.token_hex(8)
            self.carts.setdefault(token, [])
            if self.sends_cart_token:
                out.headers["Cart-Token"] = token
            out.json(200, {"items": self.carts[token], "items_count": len(self.carts[token])})
        elif path.startswith(STORE + "/") and method == "POST":
            self._store_post(path, req.headers.get("cart-token"), _json(raw), out)
        elif path == "/wp-login.php":
            self._login(method, urllib.parse.parse_qs(raw), cookies, out)
        elif path == "/wp-admin/" and method == "GET":
            out.text(200 if self._session(cookies) else 302, "Dashboard")
        elif path == "/wp-admin/admin-ajax.php" and query.get("action") == "rest-nonce":
            session = self._session(cookies)
            out.text(200, self.sessions[session]) if session else out.text(400, "0")
        elif path == f"{REST}/settings/general/woocommerce_default_country" and method == "GET":
            if not self._rest_user(cookies, req.headers.get("x-wp-nonce"), out):
                return self._send(req, out)
            out.json(200, {"id": "woocommerce_default_country", "value": self.default_country, "type": "select"})
        elif path == f"{REST}/system_status" and method == "GET":
            if not self._rest_user(cookies, req.headers.get("x-wp-nonce"), out):
                return self._send(req, out)
            if self.environment is None:
                out.json(500, _error("internal_server_error", "There has been a critical error on this website.", 500))
            else:
                # WordPress's _fields keeps only the fields asked for.
                report = {"environment": self.environment, "database": {}, "active_plugins": []}
                fields = query.get("_fields")
                out.json(200, {k: v for k, v in report.items() if not fields or k in fields.split(",")})
        elif path.startswith(REST + "/orders/"):
            self._orders(method, path, query, _json(raw), cookies, req.headers.get("x-wp-nonce"), out)
        else:
            out.json(404, _error("rest_no_route", "No route was found matching the URL and request method.", 404))
        self._send(req, out)

    def _send(self, req: BaseHTTPRequestHandler, out: Out) -> None:
        req.send_response(out.status)
        for name, value in out.headers.items():
            req.send_header(name, value)
        for cookie in out.cookies:
            req.send_header("Set-Cookie", cookie)
        req.send_header("Content-Length", str(len(out.body)))
        req.end_headers()
        req.wfile.write(out.body)

    # --- Store API --------------------------------------------------------------

    def _store_post(self, path: str, token: str | None, body: dict, out: Out) -> None:
        if not token or token not in self.carts:
            message = "Missing the Nonce header. This endpoint requires a valid nonce."
            return out.json(401, _error("woocommerce_rest_missing_nonce", message, 401))
        cart = self.carts[token]
        if path == f"{STORE}/cart/add-item":
            product = next((p for p in self.products if p["id"] == body.get("id")), None)
            if product is None:
                return out.json(
                    400,
                    _error("woocommerce_rest_cart_invalid_product", "This product cannot be added to the cart.", 400),
                )
            cart.append({"id": product["id"], "quantity": int(body.get("quantity", 1))})
            return out.json(201, {"items": cart, "items_count": len(cart)})
        if path == f"{STORE}/checkout":
            return self._checkout(cart, body, out)
        return out.json(404, _error("rest_no_route", "No route was found matching the URL and request method.", 404))

    def _checkout(self, cart: list[dict], body: dict, out: Out) -> None:
        if not cart:
            return out.json(400, _error("woocommerce_rest_cart_empty", "Cannot create order from empty cart.", 400))
        method = body.get("payment_method")
        if not method:
            return out.json(
                400, _error("woocommerce_rest_checkout_missing_payment_method", "Please select a payment method.", 400)
            )
        if method != "cod" or not self.cod_enabled:
            message = "The selected payment method is not available."
            return out.json(400, _error("woocommerce_rest_checkout_payment_method_disabled", message, 400))
        order_id, self.next_order = self.next_order, self.next_order + 1
        for item in cart:
            product = next(p for p in self.products if p["id"] == item["id"])
            product["stock"] -= item["quantity"]
        self.orders[order_id] = {
            "id": order_id,
            "status": "processing",
            "payment_method": "cod",
            "billing": body.get("billing_address", {}),
            "shipping": body.get("shipping_address", {}),
            "customer_note": body.get("customer_note", ""),
            "line_items": [{"product_id": i["id"], "quantity": i["quantity"]} for i in cart],
        }
        cart.clear()
        out.json(
            200,
            {
                "order_id": order_id,
                "status": "processing",
                "order_key": f"wc_order_{secrets.token_hex(6)}",
                "customer_note": body.get("customer_note", ""),
                "payment_method": "cod",
                "payment_result": {"payment_status": "success", "payment_details": [], "redirect_url": ""},
            },
        )

    # --- wp-admin login and REST ------------------------------------------------

    def _login(self, method: str, form: dict, cookies: dict, out: Out) -> None:
        if method == "GET":
            out.cookies.append("wordpress_test_cookie=WP%20Cookie%20check; path=/")
            return out.text(200, "<form id=loginform>")
        if "wordpress_test_cookie" not in cookies:
            return out.text(200, "<div id=login_error>Cookies are blocked or not supported by your browser.</div>")
        if form.get("log", [""])[0] != self.admin_user or form.get("pwd", [""])[0] != self.admin_password:
            return out.text(200, "<div id=login_error>The password you entered is incorrect.</div>")
        session = secrets.token_hex(8)
        self.sessions[session] = secrets.token_hex(5)
        out.cookies.append(f"wordpress_logged_in_0f3a={session}; path=/; HttpOnly")
        out.headers["Location"] = form.get("redirect_to", ["/wp-admin/"])[0]
        out.text(302, "")

    def _session(self, cookies: dict) -> str | None:
        session = cookies.get("wordpress_logged_in_0f3a")
        return session if session in self.sessions else None

    def _rest_user(self, cookies: dict, nonce: str | None, out: Out) -> bool:
        """Whether the REST call is the logged-in admin's; else the error WordPress answers."""
        session = self._session(cookies)
        if session and nonce and nonce != self.sessions[session]:
            out.json(403, _error("rest_cookie_invalid_nonce", "Cookie check failed", 403))
            return False
        if not session or not nonce:  # WordPress treats a cookie without a nonce as logged out
            out.json(401, _error("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.", 401))
            return False
        return True

    def _orders(self, method, path, query, body, cookies, nonce, out: Out) -> None:
        if not self._rest_user(cookies, nonce, out):
            return
        order = self.orders.get(int(path.rsplit("/", 1)[1]))
        if order is None:
            return out.json(404, _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404))
        if method == "PUT":
            if body.get("status") == "cancelled" and order["status"] != "cancelled":
                for item in order["line_items"]:
                    next(p for p in self.products if p["id"] == item["product_id"])["stock"] += item["quantity"]
            order.update(body)
        elif method == "DELETE":
            if query.get("force") == "true":
                del self.orders[order["id"]]
            else:
                order["status"] = "trash"
        out.json(200, order)


class Out:
    def __init__(self) -> None:
        self.status = 200
        self.headers: dict[str, str] = {}
        self.cookies: list[str] = []
        self.body = b""

    def json(self, status: int, data: Any) -> None:
        self.status, self.body = status, json.dumps(data).encode()
        self.headers["Content-Type"] = "application/json; charset=UTF-8"

    def text(self, status: int, text: str) -> None:
        self.status, self.body = status, text.encode()
        self.headers.setdefault("Content-Type", "text/html; charset=UTF-8")


def _json(raw: str) -> dict:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


def _error(code: str, message: str, status: int) -> dict:
    return {"code": code, "message": message, "data": {"status": status}}

"""The checkout check's HTTP client, against a real HTTP server on localhost:
each failure names the call by its template and the shop's own error, never a header."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stores.engines.shop_api import CheckoutFailed, ShopAPI

TOKEN = "Bearer s3cr3t-admin-token"


@pytest.fixture
def shop():
    """A shop whose answers the test sets: path -> (status, body text); requests are kept."""
    answers: dict[str, tuple[int, str]] = {}
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("content-length") or 0)
            seen.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "authorization": self.headers.get("authorization"),
                    "body": json.loads(self.rfile.read(length)) if length else None,
                }
            )
            status, text = answers.get(self.path.split("?")[0], (404, '{"code": "rest_no_route"}'))
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(text.encode())

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval: shutdown() waits for one.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", answers, seen
    server.shutdown()
    server.server_close()


def test_it_fills_ids_sends_json_and_reports_each_call(shop):
    url, answers, seen = shop
    answers["/store/carts/cart%2F1/line-items"] = (200, '{"cart": {"id": "cart/1"}}')
    api = ShopAPI(url, headers={"authorization": TOKEN})

    answer = api.call("POST", "/store/carts/{cart}/line-items", {"quantity": 1}, query={"x": "y"}, cart="cart/1")

    assert answer == {"cart": {"id": "cart/1"}}
    assert seen == [
        {
            "method": "POST",
            "path": "/store/carts/cart%2F1/line-items?x=y",
            "authorization": TOKEN,
            "body": {"quantity": 1},
        }
    ]
    [call] = api.calls
    assert (call.name, call.status) == ("POST /store/carts/{cart}/line-items", 200)
    assert str(call).startswith("POST /store/carts/{cart}/line-items → 200 (")


def test_a_refusal_names_the_call_and_the_shops_error_code(shop):
    url, answers, _ = shop
    answers["/wp-json/wc/store/v1/checkout"] = (
        400,
        json.dumps(
            {
                "code": "woocommerce_rest_checkout_missing_payment_method",
                "message": "Please select a payment method.",
                "data": {"status": 400},
            }
        ),
    )
    api = ShopAPI(url, headers={"authorization": TOKEN})

    with pytest.raises(CheckoutFailed) as failed:
        api.call("POST", "/wp-json/wc/store/v1/checkout", {"payment_method": "cod"})

    assert str(failed.value) == (
        "checkout failed: POST /wp-json/wc/store/v1/checkout → 400 "
        "woocommerce_rest_checkout_missing_payment_method Please select a payment method."
    )
    assert failed.value.call == "POST /wp-json/wc/store/v1/checkout"
    assert "s3cr3t" not in str(failed.value)


def test_medusa_errors_are_named_by_their_type(shop):
    url, answers, _ = shop
    answers["/store/payment-collections/pc_1/payment-sessions"] = (
        400,
        '{"type": "invalid_data", "message": "Providers (pp_system_default) are not enabled for the region"}',
    )
    with pytest.raises(CheckoutFailed, match=r"→ 400 invalid_data Providers \(pp_system_default\) are not enabled"):
        ShopAPI(url).call("POST", "/store/payment-collections/{pc}/payment-sessions", {}, pc="pc_1")


def test_a_page_that_is_not_json_is_a_failure_clipped_to_a_line(shop):
    url, answers, _ = shop
    answers["/store/regions"] = (200, "<html>" + "maintenance " * 100 + "</html>")
    with pytest.raises(CheckoutFailed) as failed:
        ShopAPI(url).call("GET", "/store/regions")
    assert str(failed.value).startswith("checkout failed: GET /store/regions → 200 not JSON: <html>maintenance")
    assert len(str(failed.value)) < 320


def test_a_shop_that_does_not_answer_is_named_too():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    api = ShopAPI(f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(CheckoutFailed, match=r"^checkout failed: GET /store/regions → no answer \(.*refused"):
        api.call("GET", "/store/regions")
    assert [c.status for c in api.calls] == [0]


def test_it_asks_before_every_call_and_sends_nothing_when_told_to_stop(shop):
    url, _, seen = shop

    class Stop(Exception):
        pass

    def stop():
        raise Stop

    with pytest.raises(Stop):
        ShopAPI(url, before_call=stop).call("GET", "/store/regions")
    assert seen == []


def _serve(handler) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def test_it_follows_a_redirect_within_the_store_and_none_away_from_it():
    internal_hits = []

    class Internal(BaseHTTPRequestHandler):
        def do_GET(self):
            internal_hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    internal = _serve(Internal)

    class Store(BaseHTTPRequestHandler):
        # /inside redirects within the store (as WordPress's login does), /away to the internal service.
        def do_GET(self):
            if self.path == "/target":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'{"followed": true}')
                return
            self.send_response(302)
            inside = self.path == "/inside"
            self.send_header("Location", "/target" if inside else f"http://127.0.0.1:{internal.server_address[1]}/")
            self.end_headers()

        def log_message(self, *args):
            pass

    store = _serve(Store)
    api = ShopAPI(f"http://127.0.0.1:{store.server_address[1]}")
    try:
        followed = api.call("GET", "/inside")
        with pytest.raises(CheckoutFailed) as failed:
            api.call("GET", "/away")
    finally:
        for server in (store, internal):
            server.shutdown()
            server.server_close()

    assert followed == {"followed": True}
    assert str(failed.value) == "checkout failed: GET /away → 302 a redirect away from the store (not followed)"
    assert internal_hits == []


def test_a_check_told_to_stop_still_cleans_up(shop):
    url, answers, seen = shop
    answers["/admin/orders/o1/cancel"] = (200, '{"order": {"status": "canceled"}}')

    class Stop(Exception):
        pass

    def stop():
        raise Stop

    api = ShopAPI(url, before_call=stop)
    with pytest.raises(Stop):
        api.call("GET", "/store/regions")
    assert api.unstoppable().call("POST", "/admin/orders/{order}/cancel", order="o1") == {
        "order": {"status": "canceled"}
    }
    assert [r["path"] for r in seen] == ["/admin/orders/o1/cancel"]

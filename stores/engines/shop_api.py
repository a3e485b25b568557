"""A shop's HTTP API as a checkout check calls it: JSON in and out, one bounded
call at a time, each one named in the report and in the failure.

A failure names the call by its template ("POST /store/carts/{cart}/complete"),
not by its ids, so the same defect reads the same in every store; the shop's
own error code and message follow. Headers (tokens, keys) never appear in it.
"""

from __future__ import annotations

import dataclasses
import http.client
import http.cookiejar
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# One call's bound: a shop that takes longer than this to answer a cart
# request is not one a shopper can buy from.
CALL_TIMEOUT_SECONDS = 20.0
# How much of a shop's error message a failure repeats.
DETAIL_MAX = 240


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to the same scheme, host and port: a store
    cannot send the platform's requests to an address of its choosing (an
    internal one), nor read what answered there in its activity feed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        old, new = (
            urllib.parse.urlsplit(req.full_url),
            urllib.parse.urlsplit(urllib.parse.urljoin(req.full_url, newurl)),
        )
        if (old.scheme, old.netloc) != (new.scheme, new.netloc):
            return None  # urllib then answers with the 3xx itself
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _NoRedirectsAtAll(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


def store_opener(*handlers: urllib.request.BaseHandler, follow: bool = True) -> urllib.request.OpenerDirector:
    """An opener for a store's URL: the proxy settings as they are now (a new
    opener reads them), redirects followed only within the store's own origin,
    or none when `follow` is off."""
    return urllib.request.build_opener(_NoRedirects() if follow else _NoRedirectsAtAll(), *handlers)


class CheckoutFailed(Exception):
    """A checkout check failed at `call`; str() is the whole reason, for people."""

    def __init__(self, call: str, detail: str):
        self.call = call
        self.detail = detail
        super().__init__(f"checkout failed: {call} → {detail}")


@dataclass(frozen=True)
class Call:
    """One call as it went: its name, the HTTP status (0: no answer) and how long it took."""

    name: str
    status: int
    milliseconds: int
    error: str = ""  # why there was no answer

    def __str__(self) -> str:
        answer = self.status or (f"no answer: {self.error}" if self.error else "no answer")
        return f"{self.name} → {answer} ({self.milliseconds} ms)"


@dataclass(frozen=True)
class Answer:
    """A call's answer: its name, status, headers (lower-case names) and text."""

    name: str
    status: int
    headers: dict[str, str]
    text: str


@dataclass
class ShopAPI:
    """JSON calls to one shop at `base_url` (its public URL, through the ingress)."""

    base_url: str
    opener: urllib.request.OpenerDirector = field(default_factory=store_opener)
    timeout: float = CALL_TIMEOUT_SECONDS
    headers: dict[str, str] = field(default_factory=dict)
    # Asked before every call: raises to stop (the provision's deadline, a delete).
    before_call: Callable[[], None] = lambda: None
    # Told about every call as it ends (a line per call for `manage.py stores check`).
    on_call: Callable[[Call], None] = lambda call: None
    calls: list[Call] = field(default_factory=list)

    def call(
        self,
        method: str,
        template: str,
        body: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        **ids: str,
    ) -> Any:
        """The decoded JSON answer of `method template` with `ids` filled in; CheckoutFailed otherwise."""
        answer = self._send(method, template, body, None, headers, query, ids)
        decoded = _decode(answer.text)
        if decoded is None:
            raise CheckoutFailed(answer.name, f"{answer.status} not JSON: {_clip(answer.text)}")
        return decoded

    def request(
        self,
        method: str,
        template: str,
        body: Mapping[str, Any] | None = None,
        *,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        **ids: str,
    ) -> Answer:
        """The answer of `method template` (a JSON `body` or a `form`), whatever its type;
        CheckoutFailed when there was none or its status is 400 or above."""
        return self._send(method, template, body, form, headers, query, ids)

    def _send(
        self,
        method: str,
        template: str,
        body: Mapping[str, Any] | None,
        form: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        query: Mapping[str, str] | None,
        ids: Mapping[str, str],
    ) -> Answer:
        self.before_call()
        name = f"{method} {template}"
        path = template.format(**{key: urllib.parse.quote(str(value), safe="") for key, value in ids.items()})
        if query:
            path += "?" + urllib.parse.urlencode(query)
        data: bytes | None = None
        content_type = "application/json"
        if form is not None:
            data, content_type = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
        sent_headers = {"accept": "application/json", "content-type": content_type, **self.headers}
        request = urllib.request.Request(  # noqa: S310 (a store's http(s) URL, made by the platform)
            self.base_url.rstrip("/") + path, method=method, data=data, headers={**sent_headers, **(headers or {})}
        )
        started = time.monotonic()
        status, text, error, received = 0, "", "", {}
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
                received = dict(response.headers.items())
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            error = str(getattr(exc, "reason", exc)) or type(exc).__name__
        finally:
            self._record(Call(name, status, int((time.monotonic() - started) * 1000), error))
        if error:
            raise CheckoutFailed(name, f"no answer ({error})")
        if status >= 400:
            raise CheckoutFailed(name, f"{status} {_shop_error(_decode(text), text)}")
        if 300 <= status < 400:
            raise CheckoutFailed(name, f"{status} a redirect away from the store (not followed)")
        return Answer(name, status, {key.lower(): value for key, value in received.items()}, text)

    def unstoppable(self) -> ShopAPI:
        """A copy that is never told to stop: for the cleanup after an order was
        placed, which must run even past a deadline."""
        return dataclasses.replace(self, before_call=lambda: None)

    def with_cookies(self) -> tuple[ShopAPI, http.cookiejar.CookieJar]:
        """A copy that keeps the cookies the shop sets (a login), and the jar that holds them.

        Its opener is a new one, so it reads the proxy settings as the first did."""
        jar = http.cookiejar.CookieJar()
        opener = store_opener(urllib.request.HTTPCookieProcessor(jar))
        return dataclasses.replace(self, opener=opener, calls=self.calls), jar

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self.on_call(call)


def _decode(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return None


def _shop_error(answer: Any, text: str) -> str:
    """The shop's own words for an error: its code (WordPress `code`, Medusa `type`) and message."""
    if isinstance(answer, dict):
        code = answer.get("code") or answer.get("type") or ""
        message = answer.get("message") or ""
        return _clip(" ".join(str(part) for part in (code, message) if part)) or "(no message)"
    return _clip(text) or "(no message)"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 1] + "…"

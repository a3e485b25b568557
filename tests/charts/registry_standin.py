"""A small container registry served on 127.0.0.1, for the image checks.

It speaks just enough of the v2 API for a manifest HEAD, the way Docker Hub
does: an anonymous request gets 401 with a Bearer challenge naming its own
token endpoint; with the token, a known tag answers 200 and any other 404.
"""

from __future__ import annotations

import json
import secrets
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from tests.charts.official_images import LIBRARY_TAGS


class Registry:
    def __init__(self, tags: dict[str, set[str]]):
        self.tags = tags  # "library/wordpress" -> {"7.1.0-php8.3-apache", ...}
        self.token = secrets.token_hex(8)
        self.requests: list[tuple[str, str]] = []
        self.url = ""


def library_registry() -> Registry:
    """Knows the tags the official-images library listed when the pins were taken."""
    return Registry({f"library/{name}": set(tags) for name, tags in LIBRARY_TAGS.items()})


@contextmanager
def serve(registry: Registry):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urlparse(self.path)
            registry.requests.append(("GET", url.path))
            if url.path != "/token":
                return self._reply(404)
            scope = parse_qs(url.query).get("scope", [""])[0]
            assert scope.startswith("repository:") and scope.endswith(":pull"), scope
            body = json.dumps({"token": registry.token}).encode()
            self._reply(200, body, {"Content-Type": "application/json"})

        def do_HEAD(self):
            path = urlparse(self.path).path
            registry.requests.append(("HEAD", path))
            repository, _, tag = path.removeprefix("/v2/").rpartition("/manifests/")
            if self.headers.get("Authorization") != f"Bearer {registry.token}":
                challenge = (
                    f'Bearer realm="{registry.url}/token",service="standin",scope="repository:{repository}:pull"'
                )
                return self._reply(401, headers={"WWW-Authenticate": challenge})
            if "manifest.list" not in self.headers.get("Accept", ""):
                return self._reply(406)
            found = tag in registry.tags.get(repository, ())
            self._reply(
                200 if found else 404,
                headers={"Content-Type": "application/vnd.oci.image.index.v1+json"} if found else {},
            )

        def _reply(self, status, body=b"", headers=None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    registry.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A 127.0.0.1 URL where nothing listens."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"

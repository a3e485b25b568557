"""The storefront check: a host that does not resolve fails the store at once, with what to do.

The resolver is the machine's own (no mock): `.invalid` never resolves (RFC 2606)
and `localhost` always does. The cluster is faked at its boundary as elsewhere.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stores import lifecycle, runs, storefront, tasks
from stores.models import Status, Store, StoreEvent


@pytest.fixture
def claimed_store(alice):
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    assert lifecycle.claim_provision_slots() == [store.pk]
    return store


@pytest.fixture
def answering_storefront():
    """A storefront on localhost that answers 503 twice, then 200, counting requests."""
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(503 if len(hits) <= 2 else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}/", hits
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_it_fails_the_store_at_once_when_its_host_does_not_resolve(fake_cluster, claimed_store, settings):
    settings.CHECK_STORE_URL = True
    settings.INGRESS_DOMAIN_SUFFIX = "shops.example.invalid"

    tasks.provision(claimed_store.pk)

    store = Store.objects.get(pk=claimed_store.pk)
    assert store.status == Status.FAILED
    assert store.step == "storefront"
    assert store.failure_reason.startswith("store-acme.shops.example.invalid does not resolve")
    assert "wildcard DNS record *.shops.example.invalid" in store.failure_reason
    assert "CHECK_STORE_URL=false" in store.failure_reason
    # It never started polling the URL.
    assert not StoreEvent.objects.filter(store=store, message__startswith="Waiting for").exists()


def test_it_explains_a_nip_io_host_that_does_not_resolve():
    # The default suffix fails only where the resolver cannot reach nip.io.
    message = storefront.unresolved_advice("store-acme.127.0.0.1.nip.io", "Temporary failure in name resolution")
    assert message.startswith("store-acme.127.0.0.1.nip.io does not resolve (Temporary failure in name resolution)")
    assert "nip.io, which needs a DNS resolver that reaches the internet" in message
    assert "INGRESS_DOMAIN_SUFFIX" in message and "CHECK_STORE_URL=false" in message


@pytest.mark.django_db
def test_it_still_polls_a_host_that_resolves_until_it_answers(claimed_store, answering_storefront, monkeypatch):
    url, hits = answering_storefront
    monkeypatch.setattr(storefront, "STOREFRONT_POLL_SECONDS", 0.05)
    token = lifecycle.take_lease(claimed_store.pk, Status.PROVISIONING)
    run = runs.Run(claimed_store.pk, token, status=Status.PROVISIONING)
    run.step = "storefront"

    storefront.wait_for_storefront(url, run)

    assert len(hits) == 3
    waits = StoreEvent.objects.filter(store=claimed_store, step="storefront", message__startswith="Waiting for")
    assert [e.message for e in waits] == [f"Waiting for {url}: HTTP 503"] * 2


@pytest.mark.django_db
def test_it_leaves_the_name_to_an_http_proxy(claimed_store, answering_storefront, monkeypatch):
    # With http_proxy set, urllib asks the proxy for the whole URL: the proxy
    # resolves the store's name, so a name this host cannot resolve is no failure.
    proxy, hits = answering_storefront
    monkeypatch.setenv("http_proxy", proxy)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.setattr(storefront, "STOREFRONT_POLL_SECONDS", 0.05)
    token = lifecycle.take_lease(claimed_store.pk, Status.PROVISIONING)
    run = runs.Run(claimed_store.pk, token, status=Status.PROVISIONING)
    run.step = "storefront"

    storefront.wait_for_storefront("http://store-acme.shops.example.invalid/", run)

    assert hits == ["http://store-acme.shops.example.invalid/"] * 3


@pytest.fixture
def internal_service():
    """An address inside the platform's network that a store must never make it call."""
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"internal secrets")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/admin", hits
    server.shutdown()
    server.server_close()


@pytest.fixture
def redirecting_storefront(internal_service):
    """A storefront whose owner made it redirect to the internal service."""
    target, _ = internal_service

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_a_redirect_is_an_answer_and_is_never_followed(claimed_store, redirecting_storefront, internal_service):
    _, internal_hits = internal_service
    token = lifecycle.take_lease(claimed_store.pk, Status.PROVISIONING)
    run = runs.Run(claimed_store.pk, token, status=Status.PROVISIONING)
    run.step = "storefront"

    storefront.wait_for_storefront(redirecting_storefront, run)
    probe = storefront.probe(redirecting_storefront, timeout=2)

    assert probe.status == 302
    assert internal_hits == []

"""A store that really serves: the platform's own provisioning (namespace,
guardrails, secret, Helm, the readiness wait, the storefront check) takes a
store to *ready* on the real node, where its containers run, its probes are
real, and the storefront check reaches it through the ingress stand-in and a
real Service, under the store's NetworkPolicies.

The store's engine is a minimal one, registered only in tests
(tests/engines/webshop.py; its chart tests/realnode/charts/webshop: busybox
httpd and a setup Job), since no official image can be pulled here. It passes
the same conformance suite as the product's engines (tests/engines/).
"""

from __future__ import annotations

import urllib.request

import pytest

from stores import lifecycle, tasks
from stores.engines import ENGINES
from stores.models import Status, StoreEvent
from tests.engines.webshop import WEBSHOP
from tests.realnode.support import INGRESS_PROXY, NODE_NAME, VALUES_FILE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def webshop(monkeypatch, store_settings):
    monkeypatch.setitem(ENGINES, WEBSHOP.key, WEBSHOP)
    store_settings.STORE_VALUES_FILES = [str(VALUES_FILE)]
    store_settings.CHECK_STORE_URL = True
    # The storefront check (urllib) goes through the ingress stand-in, as a
    # platform behind an HTTP proxy would; helm and the API client never do.
    monkeypatch.setenv("http_proxy", INGRESS_PROXY)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return WEBSHOP


@pytest.mark.timeout(300)
def test_it_takes_a_store_to_ready_on_the_real_node_and_serves_it(alice, node, webshop, cleanup):
    store = lifecycle.create_store(alice, "real-shop", "webshop")
    assert store.pk in lifecycle.claim_provision_slots()

    tasks.provision(store.pk)

    store.refresh_from_db()
    assert store.status == Status.READY, store.failure_reason
    messages = list(StoreEvent.objects.filter(store=store).values_list("message", flat=True))
    assert f"{store.url} answers." in messages

    ns = store.namespace
    pods = node.json("pods", "-n", ns)["items"]
    web = [p for p in pods if p["metadata"]["labels"]["app.kubernetes.io/component"] == "web"]
    setup = [p for p in pods if p["metadata"]["labels"]["app.kubernetes.io/component"] == "setup"]
    assert {p["spec"]["nodeName"] for p in pods} == {NODE_NAME}
    # Containers that really ran: containerd's IDs, a probe that passed, a Job that exited 0.
    (web_status,) = web[0]["status"]["containerStatuses"]
    assert web_status["containerID"].startswith("containerd://")
    assert web_status["ready"] is True and web_status["restartCount"] == 0
    (setup_status,) = setup[0]["status"]["containerStatuses"]
    assert setup_status["state"]["terminated"]["exitCode"] == 0
    logs = node.kubectl("logs", "-n", ns, setup[0]["metadata"]["name"]).stdout
    assert logs.strip() == "admin password set"

    # The page comes from the store's own pod, through the Ingress and its Service.
    proxy = urllib.request.build_opener(urllib.request.ProxyHandler({"http": INGRESS_PROXY}))
    with proxy.open(store.url, timeout=10) as response:
        page = response.read().decode()
    assert "<h1>Real Shop</h1>" in page
    # The stand-in routed both: the platform's storefront check, then this fetch.
    routed = node.kubectl("logs", "-n", "ingress-nginx", "deploy/ingress-standin").stdout
    assert routed.count(f"GET {store.host}") >= 2

    lifecycle.request_delete(store.pk)
    tasks.delete(store.pk)
    store.refresh_from_db()
    assert store.status == Status.DELETED, store.failure_reason
    assert node.kubectl("get", "namespace", ns, check=False).returncode != 0

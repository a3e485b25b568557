"""Tenant isolation, enforced: two stores on the real node, the platform's
guardrails and the WooCommerce chart's own policies, probed from inside real
pods. Then the policies are deleted and the same probes succeed, so each
"blocked" result is the policies' doing and not a broken network.

The chart's pods run busybox answering HTTP on the chart's own ports (the
official images cannot be pulled here); labels, ports and policies are the
chart's as rendered for a store.
"""

from __future__ import annotations

import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from stores.provisioning import RELEASE_NAME
from tests.charts.woocommerce_chart_support import CHART_DIR, platform_values, run_helm
from tests.realnode.support import BUSYBOX, HOST_IP, RealNode, as_listeners, on_node
from tests.waiting import wait_for

LINK_LOCAL_IP = "169.254.201.1"  # added to the host's end of the veth for this test
HOST_PORT = 18080
# A public address (TEST-NET-3), also added to the host's end: it stands for the
# internet, and for a VPS node's public address, where a kubelet (10250) and an
# API server (6443) answer. Store egress reaches it on HTTPS only.
PUBLIC_IP = "203.0.113.7"
PUBLIC_PORTS = (443, 25, 6443, 10250)


def render_store(node: RealNode, slug: str, tmp_path) -> list[dict]:
    values = tmp_path / f"{slug}.yaml"
    values.write_text(yaml.safe_dump(platform_values(f"store-{slug}")))
    result = run_helm(
        str(node.cluster.helm), "template", RELEASE_NAME, str(CHART_DIR), "-n", f"store-{slug}", "-f", str(values)
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def component_service(manifests: list[dict], component: str) -> tuple[str, int]:
    for m in manifests:
        if (
            m["kind"] == "Service"
            and m["spec"]["selector"].get("app.kubernetes.io/component") == component
            and m["spec"].get("clusterIP") != "None"
        ):
            return m["metadata"]["name"], m["spec"]["ports"][0]["port"]
    raise AssertionError(f"no Service for {component}")


@pytest.fixture
def host_listeners():
    """HTTP servers on the host: on the veth's private address and on a
    link-local one, both in ranges a store's internet egress must not reach,
    and on a public address, on the ports probed there."""
    for ip in (LINK_LOCAL_IP, PUBLIC_IP):
        subprocess.run(["ip", "addr", "add", f"{ip}/32", "dev", "spnode0"], check=True)

    class Hello(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"host")

        def log_message(self, *args):
            pass

    addresses = [(ip, HOST_PORT) for ip in (HOST_IP, LINK_LOCAL_IP)] + [(PUBLIC_IP, port) for port in PUBLIC_PORTS]
    servers = [ThreadingHTTPServer(address, Hello) for address in addresses]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield
    for server in servers:
        server.shutdown()
        server.server_close()
    for ip in (LINK_LOCAL_IP, PUBLIC_IP):
        subprocess.run(["ip", "addr", "del", f"{ip}/32", "dev", "spnode0"], check=False)


def dns_standin(node: RealNode) -> str:
    """A pod in kube-system answering on port 53 (TCP), where the guardrails
    send DNS: the cluster has no DNS server image here, so reaching the port
    stands for reaching DNS."""
    name = "dns-standin-isolation"
    pod = on_node(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "kube-system", "labels": {"k8s-app": name}},
            "spec": {
                "containers": [
                    {
                        "name": "dns",
                        "image": BUSYBOX,
                        "imagePullPolicy": "Never",
                        "command": [
                            "/bin/sh",
                            "-c",
                            "mkdir -p /tmp/w && echo dns > /tmp/w/index.html && exec httpd -f -p 53 -h /tmp/w",
                        ],
                    }
                ]
            },
        }
    )
    node.apply([pod], "kube-system")
    node.wait_running("kube-system", f"k8s-app={name}")
    return node.json("pod", "-n", "kube-system", name)["status"]["podIP"]


@pytest.mark.timeout(600)
def test_it_isolates_one_store_from_another_on_a_real_node(node, store_settings, host_listeners, tmp_path):
    stores = {}
    for slug in ("iso-a", "iso-b"):
        ns = node.store_namespace(f"store-{slug}")
        manifests = render_store(node, slug, tmp_path)
        node.apply(as_listeners(manifests), ns)
        stores[slug] = (ns, manifests)
    ingress_ns = store_settings.INGRESS_CONTROLLER_NAMESPACE
    prober = on_node(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "isolation-prober", "labels": {"app": "prober"}},
            "spec": {
                "containers": [
                    {"name": "probe", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sleep", "86400"]}
                ]
            },
        }
    )
    node.apply([prober], ingress_ns)
    dns_ip = dns_standin(node)
    try:
        for ns, _ in stores.values():
            node.wait_running(ns)
        node.wait_running(ingress_ns, "app=prober")

        a_ns, a = stores["iso-a"]
        b_ns, b = stores["iso-b"]
        a_web = node.pod_named(a_ns, "app.kubernetes.io/component=wordpress")
        a_setup = node.pod_named(a_ns, "app.kubernetes.io/component=setup")
        urls = {
            "a_db": node.service_url(a_ns, *component_service(a, "mariadb")),
            "b_db": node.service_url(b_ns, *component_service(b, "mariadb")),
            "a_web": node.service_url(a_ns, *component_service(a, "wordpress")),
            "b_web": node.service_url(b_ns, *component_service(b, "wordpress")),
        }
        host_private = f"http://{HOST_IP}:{HOST_PORT}/"
        host_link_local = f"http://{LINK_LOCAL_IP}:{HOST_PORT}/"
        public = {port: f"http://{PUBLIC_IP}:{port}/" for port in PUBLIC_PORTS}

        def probes() -> dict[str, bool]:
            return {
                "own db from web": node.fetch(a_ns, a_web, urls["a_db"]) is not None,
                "other store's db from web": node.fetch(a_ns, a_web, urls["b_db"]) is not None,
                "other store's web from web": node.fetch(a_ns, a_web, urls["b_web"]) is not None,
                "other store's db from setup": node.fetch(a_ns, a_setup, urls["b_db"]) is not None,
                "dns from web": node.fetch(a_ns, a_web, f"http://{dns_ip}:53/") is not None,
                "own web from ingress controller": node.fetch(ingress_ns, "isolation-prober", urls["a_web"])
                is not None,
                "private range from setup": node.fetch(a_ns, a_setup, host_private) is not None,
                "link-local range from setup": node.fetch(a_ns, a_setup, host_link_local) is not None,
                **{
                    f"internet on {port} from setup": node.fetch(a_ns, a_setup, public[port]) is not None
                    for port in PUBLIC_PORTS
                },
            }

        expected = {
            "own db from web": True,
            "other store's db from web": False,
            "other store's web from web": False,
            "other store's db from setup": False,
            "dns from web": True,
            "own web from ingress controller": True,
            "private range from setup": False,
            "link-local range from setup": False,
            # HTTPS only: no SMTP spam, no kubelet or API server at a public address.
            "internet on 443 from setup": True,
            "internet on 25 from setup": False,
            "internet on 6443 from setup": False,
            "internet on 10250 from setup": False,
        }
        assert probes() == expected

        # Without the policies every probe goes through: the blocks above were theirs.
        for ns, _ in stores.values():
            node.kubectl("delete", "networkpolicy", "--all", "-n", ns)
        seen = {}

        def all_through() -> bool:
            seen.update(probes())
            return seen == dict.fromkeys(expected, True)

        try:
            wait_for(all_through, timeout=60, interval=2, what="every probe to go through without the policies")
        except AssertionError:
            assert seen == dict.fromkeys(expected, True)  # says which probe is still blocked
            raise
    finally:
        node.kubectl("delete", "pod", "-n", "kube-system", "dns-standin-isolation", "--wait=false", check=False)
        node.kubectl("delete", "pod", "-n", ingress_ns, "isolation-prober", "--wait=false", check=False)

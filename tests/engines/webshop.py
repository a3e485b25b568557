"""A third engine, registered only in tests: the real node's minimal store.

Its chart (tests/realnode/charts/webshop: busybox httpd behind a Service and an
Ingress, and a setup Job that reads the store's secret) follows the engine
contract like the product's engines, and passes the same conformance suite
(tests/engines/), which is what shows that an engine is an Engine, a chart and a
registration, and nothing else. The real-node test registers it in
`stores.engines.ENGINES` for the length of a test and provisions it for real.
"""

from __future__ import annotations

from pathlib import Path

from stores.engines.base import Credential, Engine, StoreSpec, generate_password
from stores.engines.contract import RELEASE_NAME, release_values

CHART = Path(__file__).resolve().parents[1] / "realnode" / "charts" / "webshop"

_LOCAL_IMAGE = (
    "the image is built on the real node from Debian's busybox and imported there (localcluster/node.sh): "
    "there is no registry to pull it from, so the pods say Never"
)


def _secret(spec: StoreSpec) -> dict[str, str]:
    return {"admin-password": generate_password()}


WEBSHOP = Engine(
    key="webshop",
    label="Web shop (real-node test)",
    description="busybox httpd behind a Service and an Ingress",
    chart=str(CHART),  # absolute: CHARTS_DIR / CHART is CHART
    build_values=release_values,
    build_secret=_secret,
    credentials=(Credential("Admin password", "admin-password", secret=True),),
    accepted_findings={
        ("container-image-pull-policy", f"Deployment/{RELEASE_NAME}-web"): _LOCAL_IMAGE,
        ("container-image-pull-policy", f"Job/{RELEASE_NAME}-setup"): _LOCAL_IMAGE,
        ("deployment-replicas", f"Deployment/{RELEASE_NAME}-web"): "one pod serves one store's page",
        ("networkpolicy-targets-pod", "NetworkPolicy/allow-internet-egress"): (
            "the guardrails are the same in every store namespace, and no pod of this engine needs the "
            "internet, so their internet grant selects nothing here"
        ),
    },
)

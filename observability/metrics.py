"""/metrics: Prometheus figures, computed at scrape time by the collectors apps register.

The web runs as several gunicorn workers and the work in separate qcluster
processes; in-process counters would give each process its own partial count.
So each app registers a collector that reads the rows every process already
writes (stores.metrics.StoreCollector, from StoresConfig.ready), and any web
worker answers for the whole platform.
"""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

PREFIX = "store_provisioner"

REGISTRY = CollectorRegistry(auto_describe=False)


def register(collector: Collector) -> None:
    """Add an app's collector once (an AppConfig.ready may run more than once in tests)."""
    if collector.__class__ not in {type(c) for c in REGISTRY._collector_to_names}:
        REGISTRY.register(collector)


def _may_scrape(request) -> bool:
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@require_GET
@never_cache
def metrics(request):
    # 404, not 403: a stranger learns nothing, not even that the page exists.
    if not _may_scrape(request):
        raise Http404()
    # The text format Prometheus asks for (classic 0.0.4 unless it asks for OpenMetrics).
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(REGISTRY), content_type=content_type)

"""/healthz: the readiness check of a web pod (charts/platform).

It answers 200 when this process can run a query on the database, and 503
when it cannot, so a pod that lost its database leaves the Service instead of
answering errors. It never calls the Kubernetes API: a slow or absent cluster
must not take every web pod out of the Service, since the pages that do not
read the cluster still work. No session, no template, one trivial query.
"""

import logging

from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        # The reason goes to the log, not to whoever asked.
        logger.warning("healthz: the database does not answer: %s", exc)
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")

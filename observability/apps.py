from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    """What operators read: /metrics, /healthz, log context, and the read-only admin
    of records. A foundation: it imports no other app; apps register their own
    metrics collectors here (stores.apps)."""

    name = "observability"
    verbose_name = "Observability"

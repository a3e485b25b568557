from django.apps import AppConfig


class StoresConfig(AppConfig):
    name = "stores"
    verbose_name = "Stores"

    def ready(self):
        from django_q.signals import post_spawn

        from observability.metrics import register
        from stores.metrics import StoreCollector

        register(StoreCollector())
        # A worker that starts reconciles at once (stores/tasks.py).
        post_spawn.connect(_reconcile_when_started, dispatch_uid="stores.reconcile_when_started")


def _reconcile_when_started(sender=None, **kwargs) -> None:
    from stores.tasks import reconcile_when_started  # imported in the worker only

    reconcile_when_started(sender, **kwargs)

from django.apps import AppConfig


class StoresConfig(AppConfig):
    name = "stores"
    verbose_name = "Stores"

    def ready(self):
        from observability.metrics import register
        from stores.metrics import StoreCollector

        register(StoreCollector())

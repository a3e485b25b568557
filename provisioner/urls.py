from django.contrib import admin
from django.urls import include, path

from observability import metrics
from observability.health import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("metrics", metrics.metrics, name="metrics"),
    path("healthz", healthz, name="healthz"),
    path("", include("stores.urls")),
]

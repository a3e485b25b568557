from django.contrib import admin
from django.urls import include, path

from provisioner import metrics
from provisioner.health import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("metrics", metrics.metrics, name="metrics"),
    path("healthz", healthz, name="healthz"),
    path("", include("stores.urls")),
]

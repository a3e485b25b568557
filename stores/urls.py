from django.urls import path

from stores import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("stores/", views.store_list, name="store_list"),
    path("stores/new/", views.create_store, name="store_create"),
    path("stores/<int:pk>/", views.store_detail, name="store_detail"),
    path("stores/<int:pk>/status/", views.store_status, name="store_status"),
    path("stores/<int:pk>/delete/", views.delete_store, name="store_delete"),
    path("stores/<int:pk>/retry/", views.retry_store, name="store_retry"),
    path("stores/<int:pk>/credentials/", views.store_credentials, name="store_credentials"),
    path("stores/<int:pk>/backups/", views.back_up_store, name="store_backup"),
    path("stores/<int:pk>/backups/<int:backup_pk>/restore/", views.restore_store, name="store_restore"),
    path("stores/<int:pk>/restore-into-new/", views.restore_deleted_store, name="store_restore_deleted"),
    path("cluster/preparation/", views.cluster_preparation, name="cluster_preparation"),
]

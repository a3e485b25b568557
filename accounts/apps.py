from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    default = True  # this module holds the admin's AppConfig too
    name = "accounts"
    verbose_name = "Accounts"


class AdminConfig(admin_apps.AdminConfig):
    """Django's admin app, with accounts.admin_site.AdminSite as `admin.site` (named in INSTALLED_APPS)."""

    default = False
    default_site = "accounts.admin_site.AdminSite"

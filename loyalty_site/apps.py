from django.contrib.admin.apps import AdminConfig


class LoyaltyAdminConfig(AdminConfig):
    default_site = "loyalty_site.core.admin_site.LoyaltyAdminSite"

    def ready(self):
        super().ready()
        from django.contrib import admin

        from loyalty_site.core.admin_platform import platform_admins_lock

        platform_admins_lock(admin.site)
        from django.db.backends.signals import connection_created

        from loyalty_site.core import checks  # noqa: F401 - registers loyalty.E001
        from loyalty_site.core.db import stale_plan_guard_install

        connection_created.connect(stale_plan_guard_install, dispatch_uid="stale_plan_guard")
        from loyalty_site.core.content import content_signals_connect

        content_signals_connect()  # after modeltranslation (first app) registered each translation.py

from django.contrib.admin.apps import AdminConfig


class LoyaltyAdminConfig(AdminConfig):
    default_site = "loyalty_site.core.admin_site.LoyaltyAdminSite"

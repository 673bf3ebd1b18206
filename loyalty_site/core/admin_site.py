from django.contrib.admin import AdminSite
from django.utils.translation import gettext_lazy as _

from loyalty_site.core.tenancy import ADMIN_ROLES, staff_role


class LoyaltyAdminSite(AdminSite):
    site_header = _("Loyalty platform")
    site_title = _("Loyalty admin")
    index_title = _("Programs, members, rewards")
    # "View site": the analytics dashboard, which every admin role may read (the till is for cashiers)
    site_url = "/admin/reports/"

    def has_permission(self, request) -> bool:
        """Superusers, and merchant staff with an admin role (cashiers use the till page)."""
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return user.is_superuser or staff_role(user) in ADMIN_ROLES

    def each_context(self, request):
        """`can_write`: links to pages that change data (member import, adjustments) are shown only
        to the roles that may use them."""
        from loyalty_site.core.admin import can_write

        context = super().each_context(request)
        context["can_write"] = can_write(request)
        return context

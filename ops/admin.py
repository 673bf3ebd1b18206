"""Login lockouts in the admin, for superusers only (a lockout names any user of any merchant)."""

from axes.models import AccessAttempt
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty_site.core.admin import SuperuserOnlyAdmin


@admin.register(AccessAttempt)
class AccessAttemptAdmin(SuperuserOnlyAdmin, admin.ModelAdmin):
    list_display = ["username", "ip_address", "failures_since_start", "attempt_time", "path_info"]
    list_filter = ["path_info"]
    search_fields = ["username", "ip_address"]
    readonly_fields = [
        "username",
        "ip_address",
        "user_agent",
        "path_info",
        "failures_since_start",
        "attempt_time",
        "http_accept",
        "get_data",
        "post_data",
    ]
    fields = readonly_fields
    ordering = ["-attempt_time"]
    actions = ["unlock"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Unlock: forget these failed logins"), permissions=["change"])
    def unlock(self, request, queryset):
        count, _by_model = queryset.delete()
        self.message_user(
            request,
            ngettext(
                "Unlocked %(count)s username and address pair.",
                "Unlocked %(count)s username and address pairs.",
                count,
            )
            % {"count": count},
        )

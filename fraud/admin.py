from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty_site.core.admin import ScopedAdmin
from loyalty_site.core.errors import LoyaltyError

from . import services
from .models import KIND_CHOICES, FraudFlag, FraudRule


class FraudRuleForm(forms.ModelForm):
    kinds = forms.MultipleChoiceField(
        choices=KIND_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        label=_("kinds"),
        help_text=_("Posting kinds counted by the rule."),
    )

    class Meta:
        model = FraudRule
        fields = [
            "program",
            "name",
            "kinds",
            "window_minutes",
            "max_count",
            "max_amount",
            "enforce_in_real_time",
            "is_active",
        ]


@admin.register(FraudRule)
class FraudRuleAdmin(ScopedAdmin):
    form = FraudRuleForm
    list_display = [
        "name",
        "program",
        "window_minutes",
        "max_count",
        "max_amount",
        "enforce_in_real_time",
        "is_active",
    ]
    list_filter = ["is_active", "enforce_in_real_time"]


@admin.register(FraudFlag)
class FraudFlagAdmin(ScopedAdmin):
    """The review list: open flags first; unblock (clear) or confirm."""

    list_display = ["member", "rule_name", "transactions", "amount", "status", "detected_at", "reviewed_by"]
    list_filter = ["status"]
    search_fields = ["member__phone", "member__card_number", "member__external_id", "rule_name"]
    raw_id_fields = ["member"]
    readonly_fields = [
        "program",
        "member",
        "rule",
        "rule_name",
        "window_start",
        "window_end",
        "transactions",
        "amount",
        "status",
        "detected_at",
        "reviewed_at",
        "reviewed_by",
    ]
    actions = ["unblock", "confirm"]

    def get_ordering(self, request):
        return ["-status", "-detected_at"]  # "open" sorts after "confirmed"/"cleared" descending

    def has_add_permission(self, request, *args):
        return False

    def _review(self, request, queryset, decision):
        done = 0
        for flag in queryset.filter(status=FraudFlag.Status.OPEN):
            try:
                services.fraud_flag_review(flag=flag, decision=decision, at=timezone.now(), user=request.user)
                done += 1
            except LoyaltyError as error:
                self.message_user(request, f"{flag}: {error.message}", messages.ERROR)
        message = ngettext("%(count)s flag reviewed.", "%(count)s flags reviewed.", done) % {"count": done}
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Unblock the member (clear the flag)"), permissions=["change"])
    def unblock(self, request, queryset):
        self._review(request, queryset, FraudFlag.Status.CLEARED)

    @admin.action(description=_("Confirm: the member stays blocked"), permissions=["change"])
    def confirm(self, request, queryset):
        self._review(request, queryset, FraudFlag.Status.CONFIRMED)

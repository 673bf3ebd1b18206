from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty_site.core.admin import ScopedAdmin, ScopedTabularInline
from loyalty_site.core.admin_lists import LimitedInlineFormSet
from loyalty_site.core.content_admin import ContentAdminMixin
from loyalty_site.core.errors import LoyaltyError

from . import services
from .models import PersonalManager, SpendDiscount, Tier, TierChange, TierGift, TierOverride


@admin.register(Tier)
class TierAdmin(ScopedAdmin, ContentAdminMixin):
    list_display = [
        "name",
        "code",
        "program",
        "rank",
        "threshold",
        "discount_percent",
        "earn_multiplier",
        "gift_points",
        "gift_period",
        "member_count",
    ]
    list_display_links = ["name", "code"]
    list_filter = ["program", "gift_period", "exclusive_campaigns", "personal_manager"]
    search_fields = ["name", "code", "program__name"]
    autocomplete_fields = ["program"]
    ordering = ["program", "rank"]
    fieldsets = [
        (None, {"fields": ["program", "code", "name", "rank", "threshold", "description"]}),
        (_("Privileges"), {"fields": ["discount_percent", "earn_multiplier", "gift_points", "gift_period"]}),
        (
            _("Flags"),
            {
                "fields": [
                    "priority_support",
                    "fast_processing",
                    "personal_manager",
                    "event_invitations",
                    "exclusive_campaigns",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_members=Count("members"))

    @admin.display(description=_("members"), ordering="_members")
    def member_count(self, obj):
        return obj._members


@admin.register(TierChange)
class TierChangeAdmin(ScopedAdmin):
    read_only_for_staff = True
    list_display = [
        "at",
        "member",
        "from_tier",
        "to_tier",
        "reason",
        "qualifying_value",
        "note",
        "created_by",
    ]
    list_filter = ["reason", "program", "to_tier"]
    search_fields = ["member__phone", "member__card_number", "member__email", "member__last_name", "note"]
    list_select_related = ["member", "from_tier", "to_tier", "created_by"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TierOverrideForm(forms.ModelForm):
    class Meta:
        model = TierOverride
        fields = ["member", "tier", "reason", "ends_at"]

    def clean(self):
        cleaned = super().clean()
        member, tier = cleaned.get("member"), cleaned.get("tier")
        if member and tier and tier.program_id != member.program_id:
            self.add_error("tier", _("Choose a tier of the member's program."))
        ends_at = cleaned.get("ends_at")
        if ends_at and ends_at <= timezone.now() and not self.instance.pk:
            self.add_error("ends_at", _("The end must be in the future."))
        return cleaned


@admin.register(TierOverride)
class TierOverrideAdmin(ScopedAdmin):
    """A tier set by hand: the member moves to it at once and keeps at least it until the end."""

    form = TierOverrideForm
    list_display = ["member", "tier", "reason", "starts_at", "ends_at", "is_active", "created_by"]
    list_filter = ["program", "tier"]
    search_fields = ["member__phone", "member__card_number", "member__email", "member__last_name", "reason"]
    autocomplete_fields = ["member"]
    list_select_related = ["member", "tier", "created_by"]
    date_hierarchy = "starts_at"
    actions = ["end_now"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # history: change only by ending it
            return ["member", "tier", "reason", "ends_at", "starts_at", "created_by"]
        return []

    @admin.display(boolean=True, description=_("in force"))
    def is_active(self, obj):
        now = timezone.now()
        return obj.starts_at <= now < obj.ends_at

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            created = services.tier_override_set(
                member=form.cleaned_data["member"],
                tier=form.cleaned_data["tier"],
                reason=form.cleaned_data["reason"],
                ends_at=form.cleaned_data["ends_at"],
                at=timezone.now(),
                user=request.user,
            )
        except LoyaltyError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        obj.pk = created.pk
        obj.refresh_from_db()

    @admin.action(description=_("End the selected manual tiers now"), permissions=["change"])
    def end_now(self, request, queryset):
        now = timezone.now()
        for override in queryset:
            services.tier_override_end(override=override, at=now)
        self.message_user(request, gettext("Ended; the next re-evaluation applies the normal rules."))


@admin.register(SpendDiscount)
class SpendDiscountAdmin(ScopedAdmin):
    list_display = ["program", "threshold", "percent", "is_active"]
    list_display_links = ["threshold"]
    list_editable = ["percent", "is_active"]
    list_filter = ["program", "is_active"]
    search_fields = ["program__name"]
    autocomplete_fields = ["program"]


@admin.register(TierGift)
class TierGiftAdmin(ScopedAdmin):
    read_only_for_staff = True
    list_display = ["at", "member", "tier", "period", "points"]
    list_filter = ["program", "tier"]
    search_fields = ["member__phone", "member__card_number", "period", "reference"]
    list_select_related = ["member", "tier"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MemberTierChangeInline(ScopedTabularInline):
    """The member's tier history (for the Member admin page), newest first."""

    model = TierChange
    fk_name = "member"
    formset = LimitedInlineFormSet  # the newest 50
    verbose_name_plural = _("tier history")
    fields = ["at", "from_tier", "to_tier", "reason", "qualifying_value", "note", "created_by"]
    readonly_fields = fields
    ordering = ["-at"]
    can_delete = False
    max_num = 0


@admin.register(PersonalManager)
class PersonalManagerAdmin(ScopedAdmin):
    """Personal managers of members whose tier includes one (Platinum)."""

    list_display = ["member", "manager", "assigned_at"]
    list_select_related = ["member", "manager__user"]
    search_fields = ["member__phone", "member__card_number", "member__last_name", "manager__user__username"]
    raw_id_fields = ["member"]
    readonly_fields = ["assigned_at"]
    fields = ["member", "manager", "assigned_at"]

    def save_model(self, request, obj, form, change):
        try:
            row = services.personal_manager_assign(
                member=obj.member, manager=obj.manager, at=timezone.now(), user=request.user
            )
        except LoyaltyError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        obj.assigned_at = row.assigned_at

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class Checked(form):
            def clean(self):
                data = super().clean()
                member, manager = data.get("member"), data.get("manager")
                if member is not None and manager is not None:
                    from .services import member_tier_of

                    tier = member_tier_of(member=member)
                    if tier is None or not tier.personal_manager:
                        raise forms.ValidationError(
                            _("This member's tier does not include a personal manager.")
                        )
                    if manager.merchant_id != member.program.merchant_id:
                        raise forms.ValidationError(_("Choose a staff member of the member's merchant."))
                return data

        return Checked

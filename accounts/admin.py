from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ledger.admin import MemberLedgerInlines
from loyalty_site.core import content
from loyalty_site.core.admin import ScopedAdmin, ScopedTabularInline
from loyalty_site.core.admin_lists import BigListAdmin
from loyalty_site.core.tenancy import staff_merchant_id
from tiers.admin import MemberTierChangeInline

from . import services
from .admin_search import MemberSearchMixin
from .models import ApiKey, Member, Merchant, Program, StaffMember
from .staff_admin import StaffMemberAdmin


@admin.register(Merchant)
class MerchantAdmin(ScopedAdmin):
    list_display = ["name", "contact_email", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "contact_email"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


admin.site.register(StaffMember, StaffMemberAdmin)


class ApiKeyInline(ScopedTabularInline):
    model = ApiKey
    fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Program)
class ProgramAdmin(ScopedAdmin):
    list_display = [
        "name",
        "merchant",
        "base_currency",
        "earn_mode",
        "point_value",
        "points_lifetime_days",
        "is_active",
    ]
    list_filter = ["is_active", "earn_mode", "base_currency", "tier_metric", "merchant"]
    search_fields = ["name", "merchant__name"]
    autocomplete_fields = ["merchant"]
    inlines = [ApiKeyInline]
    fieldsets = [
        (
            None,
            {"fields": ["merchant", "name", "is_active", "default_language", "base_currency", "time_zone"]},
        ),
        (_("Earning"), {"fields": ["earn_mode", "point_value", "earn_percent", "pending_days"]}),
        (
            _("Points lifecycle"),
            {
                "fields": [
                    "points_lifetime_days",
                    "expiry_warning_hours",
                    "renewal_window_hours",
                    "inactivity_days",
                    "decay_percent",
                ]
            },
        ),
        (
            _("Tiers"),
            {
                "fields": [
                    "tier_metric",
                    "tier_window_days",
                    "tier_downgrade_grace_days",
                    "tier_gifts_require_activity",
                ]
            },
        ),
        (_("Discounts"), {"fields": ["fixed_discount_percent", "discount_combination", "bet_discount"]}),
        (
            _("Spending and cash-out"),
            {
                "fields": [
                    "max_points_share_percent",
                    "cashout_fee_percent",
                    "cashout_daily_limit",
                    "cashout_monthly_limit",
                ]
            },
        ),
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "default_language" in form.changed_data:
            # the plain columns of the program's content hold the default language's version
            content.plain_columns_sync(program=obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            from ledger.admin import rate_review_notices

            program = self.get_object(request, object_id)
            if program is not None:
                rate_review_notices(request, [program])
        return super().change_view(request, object_id, form_url, extra_context)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        merchant_id = staff_merchant_id(request.user)
        if merchant_id and "merchant" not in initial:
            initial["merchant"] = merchant_id
        return initial


class MemberAdminForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = "__all__"

    def clean_phone(self):
        phone = self.cleaned_data.get("phone")
        if not phone:
            return None
        try:
            return services.phone_normalize(phone)
        except services.InvalidInput as error:
            raise forms.ValidationError(error.message)

    def clean_email(self):
        email = self.cleaned_data.get("email")
        return services.email_normalize(email) if email else None

    def clean_external_id(self):
        return (self.cleaned_data.get("external_id") or "").strip() or None

    def clean(self):
        cleaned = super().clean()
        if not any(cleaned.get(f) for f in ("phone", "email", "external_id")):
            raise forms.ValidationError(_("Give at least one of phone, email or external id."))
        return cleaned


@admin.register(Member)
class MemberAdmin(BigListAdmin, MemberSearchMixin, ScopedAdmin):
    form = MemberAdminForm
    inlines = [*MemberLedgerInlines, MemberTierChangeInline]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a member being enrolled has no history

    list_display = [
        "card_number",
        "__str__",
        "phone",
        "email",
        "program",
        "tier",
        "balance",
        "status",
        "last_activity_at",
    ]
    list_filter = ["status", "program", "tier", "created_at"]
    # card number, phone (any format), e-mail, external id, referral code, id, names by word:
    # exact lookups and trigram indexes (accounts.admin_search.member_condition)
    member_search_path = ""
    autocomplete_fields = ["program", "referred_by"]
    list_select_related = ["program__merchant", "tier"]  # a program's name shows its merchant
    readonly_fields = [
        "tier",
        "card_number",
        "card_link",
        "adjust_link",
        "referral_code",
        "balance",
        "pending_points",
        "last_activity_at",
        "created_at",
    ]
    writer_only_fields = ("adjust_link",)  # the adjustment page is for owners and managers
    fields = [
        "program",
        "first_name",
        "last_name",
        "phone",
        "email",
        "external_id",
        "birth_date",
        "language",
        "referred_by",
        "status",
        "blocked_reason",
        "tier",
        "card_number",
        "card_link",
        "referral_code",
        "balance",
        "adjust_link",
        "pending_points",
        "last_activity_at",
        "created_at",
    ]
    actions = ["block_members", "unblock_members"]

    @admin.display(description=_("Card page"))
    def card_link(self, obj):
        if not obj.pk:
            return "-"
        return format_html(
            '<a href="/card/{}/" target="_blank">{}</a>', obj.card_token, gettext("open the card")
        )

    @admin.display(description=_("Points"))
    def adjust_link(self, obj):
        if not obj.pk:
            return "-"
        return format_html(
            '<a href="{}?member={}">{}</a>',
            reverse("admin:ledger_posting_adjust"),
            obj.pk,
            gettext("adjust points"),
        )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("program")  # a member never moves between programs
        return fields

    def save_model(self, request, obj, form, change):
        """Through the same services as the API, so enrolment hooks (entry tier, campaigns) run."""
        data = {f: form.cleaned_data.get(f) for f in services.PROFILE_FIELDS if f in form.cleaned_data}
        if change:
            services.member_update(member=obj, data=data)
            extra = [f for f in ("status", "blocked_reason", "referred_by") if f in form.changed_data]
            if extra:
                obj.save(update_fields=extra)
            return
        created = services.member_create(
            program=form.cleaned_data["program"], referred_by=form.cleaned_data.get("referred_by"), **data
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    @admin.action(description=_("Block selected members"), permissions=["change"])
    def block_members(self, request, queryset):
        for member in queryset:
            services.member_set_status(
                member=member,
                status=Member.Status.BLOCKED,
                reason=gettext("Blocked by %(user)s") % {"user": request.user},
            )
        count = queryset.count()
        self.message_user(
            request,
            ngettext("%(count)s member blocked.", "%(count)s members blocked.", count) % {"count": count},
        )

    @admin.action(description=_("Unblock selected members"), permissions=["change"])
    def unblock_members(self, request, queryset):
        for member in queryset:
            services.member_set_status(member=member, status=Member.Status.ACTIVE)
        count = queryset.count()
        self.message_user(
            request,
            ngettext("%(count)s member unblocked.", "%(count)s members unblocked.", count) % {"count": count},
        )


@admin.register(ApiKey)
class ApiKeyAdmin(ScopedAdmin):
    list_display = ["name", "prefix", "program", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["program", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "program__name"]
    autocomplete_fields = ["program"]
    readonly_fields = ["prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke_keys"]

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        key, raw_key = services.api_key_create(program=obj.program, name=obj.name, created_by=request.user)
        obj.pk = key.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            gettext("The new API key is %(key)s - copy it now, it is shown only this once.")
            % {"key": raw_key},
        )

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke_keys(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(key=key)
        count = queryset.count()
        self.message_user(
            request, ngettext("%(count)s key revoked.", "%(count)s keys revoked.", count) % {"count": count}
        )

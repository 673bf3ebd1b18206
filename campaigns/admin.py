"""Admin: the campaign rules editor (conditions and rewards inline), ROI report and simulation,
coupons with CSV export and bulk deactivation, batches of one-time codes, segments with sizes,
daily tasks, partners, and read-only logs (grants, events, referrals, transfers, redemptions)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.admin_search import MemberSearchMixin
from loyalty_site.core.admin import ScopedAdmin, ScopedTabularInline
from loyalty_site.core.admin_lists import BigListAdmin
from loyalty_site.core.content_admin import ContentAdminMixin, ContentTabularInline
from loyalty_site.core.replica import replica_view

from .coupons import coupon_batch_generate, coupons_csv, coupons_deactivate
from .models import (
    ActivityEvent,
    Campaign,
    CampaignCondition,
    CampaignGrant,
    CampaignReward,
    Coupon,
    CouponBatch,
    CouponRedemption,
    CustomEventType,
    DailyTask,
    Partner,
    PartnerTransfer,
    Referral,
    Segment,
)
from .reports import campaign_roi, campaign_simulate
from .segments import segment_refresh, segment_rules_text
from .sentences import campaign_sentence


class ReadOnlyAdmin(ScopedAdmin):
    read_only_for_staff = True

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CampaignConditionInline(ScopedTabularInline):
    model = CampaignCondition
    extra = 1
    fields = ["kind", "count", "amount", "days", "value"]
    verbose_name = _("condition (all must hold)")
    verbose_name_plural = _("If: all of these hold")


class CampaignRewardInline(ScopedTabularInline, ContentTabularInline):
    model = CampaignReward
    extra = 1
    fields = [
        "kind",
        "recipient",
        "points",
        "value",
        "coupon_kind",
        "coupon_min_purchase",
        "days",
        "notify_event",
        "message",
    ]
    verbose_name = _("reward")
    verbose_name_plural = _("Then give: all of these")


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(Campaign)
class CampaignAdmin(ScopedAdmin, ContentAdminMixin):
    list_display = [
        "name",
        "program",
        "trigger",
        "is_active",
        "starts_at",
        "ends_at",
        "priority",
        "exclusive",
        "points_granted",
        "points_budget",
        "report_links",
    ]
    list_filter = ["is_active", "trigger", "exclusive", "program"]
    search_fields = ["name", "code", "description"]
    filter_horizontal = ["target_tiers", "target_segments"]
    readonly_fields = ["points_granted", "created_at", "report_links", "rules_sentence"]
    inlines = [CampaignConditionInline, CampaignRewardInline]
    actions = ["activate", "deactivate"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "rules_sentence",
                    "program",
                    "code",
                    "name",
                    "description",
                    "is_active",
                    "report_links",
                ]
            },
        ),
        (
            _("When"),
            {
                "fields": [
                    "trigger",
                    "event_type",
                    "schedule",
                    "trigger_days",
                    "trigger_currency",
                    "trigger_percent",
                ]
            },
        ),
        (
            _("Window and targets"),
            {"fields": ["starts_at", "ends_at", "target_tiers", "tier_exclusive", "target_segments"]},
        ),
        (
            _("Limits"),
            {
                "fields": [
                    "period",
                    "max_per_member",
                    "points_budget",
                    "points_granted",
                    "priority",
                    "exclusive",
                ]
            },
        ),
        (_("Measurement"), {"fields": ["holdout_percent", "attribution_days", "created_at"]}),
    ]

    @admin.display(description=_("Reads as"))
    def rules_sentence(self, obj):
        """The saved rules as one sentence (campaigns.sentences): what the trigger, conditions and
        rewards below mean together."""
        if obj is None or obj.pk is None:
            return format_html(
                '<p class="rules-sentence empty">{}</p>', gettext("Save to read the rules as a sentence.")
            )
        return format_html('<p class="rules-sentence" id="rules-sentence">{}</p>', campaign_sentence(obj))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # the rules editor takes the whole width: no navigation sidebar beside the conditions and rewards
        extra_context = {**(extra_context or {}), "is_nav_sidebar_enabled": False}
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("Reports"))
    def report_links(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:campaigns_campaign_simulate", args=[obj.pk]),
            gettext("Simulate"),
            reverse("admin:campaigns_campaign_roi", args=[obj.pk]),
            gettext("ROI"),
        )

    def get_urls(self):
        custom = [
            path(
                "<int:pk>/simulate/",
                self.admin_site.admin_view(self.simulate_view),
                name="campaigns_campaign_simulate",
            ),
            path(  # a report: reads the replica when one is configured
                "<int:pk>/roi/",
                self.admin_site.admin_view(replica_view(self.roi_view)),
                name="campaigns_campaign_roi",
            ),
        ]
        return custom + super().get_urls()

    def _campaign(self, request, pk):
        campaign = get_object_or_404(self.get_queryset(request), pk=pk)  # another merchant's → 404
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        return campaign

    def simulate_view(self, request, pk):
        campaign = self._campaign(request, pk)
        result = campaign_simulate(campaign=campaign, at=timezone.now())
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Simulation: %(campaign)s") % {"campaign": campaign.name},
            "campaign": campaign,
            "result": result,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/simulate.html", context)

    def roi_view(self, request, pk):
        campaign = self._campaign(request, pk)
        report = campaign_roi(campaign=campaign, at=timezone.now())
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("ROI: %(campaign)s") % {"campaign": campaign.name},
            "campaign": campaign,
            "report": report,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/roi.html", context)

    @admin.action(description=_("Activate the selected campaigns"), permissions=["change"])
    def activate(self, request, queryset):
        count = queryset.filter(is_active=False).update(is_active=True)
        message = ngettext("%(count)s campaign activated.", "%(count)s campaigns activated.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Deactivate the selected campaigns"), permissions=["change"])
    def deactivate(self, request, queryset):
        count = queryset.filter(is_active=True).update(is_active=False)
        message = ngettext("%(count)s campaign deactivated.", "%(count)s campaigns deactivated.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)


@admin.register(CampaignGrant)
class CampaignGrantAdmin(BigListAdmin, MemberSearchMixin, ReadOnlyAdmin):
    list_display = [
        "created_at",
        "campaign",
        "member",
        "period_key",
        "points",
        "cost",
        "coupon",
        "purchase_ref",
    ]
    list_filter = ["campaign__program", "campaign", "created_at"]
    exact_search_fields = ("purchase_ref", "campaign__code")  # and the member's identifiers and names
    list_select_related = ["campaign", "member", "coupon"]


@admin.register(Segment)
class SegmentAdmin(ScopedAdmin):
    list_display = ["name", "code", "program", "rules", "member_count", "refreshed_at", "is_active"]
    list_filter = ["is_active", "program"]
    search_fields = ["name", "code"]
    readonly_fields = ["member_count", "refreshed_at"]
    filter_horizontal = ["tiers", "exclude_segments"]
    actions = ["refresh"]
    fieldsets = [
        (None, {"fields": ["program", "code", "name", "description", "is_active"]}),
        (
            _("Rules (all must hold; empty = any)"),
            {
                "fields": [
                    "window_days",
                    ("recency_days_max", "recency_days_min"),
                    ("frequency_min", "frequency_max"),
                    ("monetary_min", "monetary_max"),
                    "tiers",
                    "exclude_segments",
                ],
                "description": _(
                    "Recency: days since the member's last activity. Frequency: purchases and "
                    "bets in the window. Monetary: amount paid in the window less refunds, in the program's "
                    "base currency (other currencies converted at the rate in force at each purchase)."
                ),
            },
        ),
        (_("Size"), {"fields": ["member_count", "refreshed_at"]}),
    ]

    @admin.display(description=_("rules"))
    def rules(self, obj):
        return segment_rules_text(obj)

    @admin.action(description=_("Refresh the selected segments now"), permissions=["change"])
    def refresh(self, request, queryset):
        at = timezone.now()
        sizes = [f"{s.name}: {segment_refresh(segment=s, at=at)['size']}" for s in queryset]
        self.message_user(
            request, gettext("Refreshed. %(sizes)s") % {"sizes": "; ".join(sizes)}, messages.SUCCESS
        )


class CouponCsvMixin:
    def export_csv_response(self, request, queryset):
        """What the one "Export selected to CSV" action (reports/admin.py) gives here: the codes
        with their terms, readable, instead of raw columns."""
        return _csv_response(coupons_csv(queryset=queryset), "coupons.csv")

    @admin.action(description=_("Deactivate the selected coupons"), permissions=["change"])
    def deactivate(self, request, queryset):
        count = coupons_deactivate(queryset=queryset)
        message = ngettext("%(count)s coupon deactivated.", "%(count)s coupons deactivated.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)


@admin.register(Coupon)
class CouponAdmin(CouponCsvMixin, ScopedAdmin):
    list_display = [
        "code",
        "program",
        "kind",
        "value",
        "currency",
        "min_purchase",
        "ends_at",
        "uses_count",
        "max_uses",
        "member",
        "is_active",
    ]
    list_filter = ["is_active", "kind", "program", "batch", "campaign"]
    search_fields = ["code", "member__phone", "member__card_number"]
    readonly_fields = ["uses_count", "batch"]
    raw_id_fields = ["member"]
    actions = ["deactivate"]

    def save_model(self, request, obj, form, change):
        obj.code = obj.code.strip().upper()
        super().save_model(request, obj, form, change)


@admin.register(CouponBatch)
class CouponBatchAdmin(CouponCsvMixin, ScopedAdmin):
    list_display = ["name", "program", "size", "generated", "used", "kind", "value", "ends_at", "created_at"]
    list_filter = ["program", "kind"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["created_at"]
    actions = ["deactivate_batch"]
    fields = [
        "program",
        "name",
        "prefix",
        "size",
        "kind",
        "value",
        "currency",
        "min_purchase",
        "starts_at",
        "ends_at",
        "campaign",
        "created_at",
    ]

    @admin.display(description=_("generated"))
    def generated(self, obj):
        return obj.coupons.count()

    @admin.display(description=_("used"))
    def used(self, obj):
        return obj.coupons.filter(uses_count__gt=0).count()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        created = coupon_batch_generate(batch=obj)
        if created:
            message = ngettext(
                "%(count)s one-time code generated.", "%(count)s one-time codes generated.", created
            )
            self.message_user(request, message % {"count": created}, messages.SUCCESS)

    def export_csv_response(self, request, queryset):
        """ "Export selected to CSV" on batches gives the batches' codes (what gets printed)."""
        coupons = Coupon.objects.filter(batch__in=queryset)
        return _csv_response(coupons_csv(queryset=coupons), "coupon-batches.csv")

    @admin.action(description=_("Deactivate every code of the selected batches"), permissions=["change"])
    def deactivate_batch(self, request, queryset):
        count = coupons_deactivate(queryset=Coupon.objects.filter(batch__in=queryset))
        message = ngettext("%(count)s coupon deactivated.", "%(count)s coupons deactivated.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)


@admin.register(CouponRedemption)
class CouponRedemptionAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "coupon",
        "member",
        "reference",
        "amount",
        "currency",
        "discount",
        "bonus_points",
    ]
    list_filter = ["coupon__program"]
    search_fields = ["coupon__code", "reference", "member__phone"]
    list_select_related = ["coupon", "member"]


@admin.register(DailyTask)
class DailyTaskAdmin(ScopedAdmin, ContentAdminMixin):
    list_display = ["name", "code", "program", "is_active"]
    list_filter = ["is_active", "program"]
    search_fields = ["name", "code"]


@admin.register(CustomEventType)
class CustomEventTypeAdmin(ScopedAdmin):
    list_display = ["code", "name", "program"]
    list_filter = ["program"]
    search_fields = ["code", "name"]


@admin.register(Partner)
class PartnerAdmin(ScopedAdmin):
    list_display = ["name", "code", "program", "rate", "bonus_percent", "is_active"]
    list_filter = ["is_active", "program"]
    search_fields = ["name", "code"]


@admin.register(PartnerTransfer)
class PartnerTransferAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "partner", "member", "external_id", "partner_points", "points_credited"]
    list_filter = ["partner"]
    search_fields = ["external_id", "member__phone"]


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "referrer", "referred", "rewarded_at"]
    search_fields = ["referrer__phone", "referred__phone", "referrer__referral_code"]


@admin.register(ActivityEvent)
class ActivityEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "member", "type", "data"]
    list_filter = ["type"]
    search_fields = ["member__phone", "member__card_number", "type"]
    date_hierarchy = "occurred_at"
    list_select_related = ["member"]

"""Admin: the catalogue (stock and codes left, code pool upload and generation, a report per
reward) and the redemptions (fulfil / cancel actions, CSV export)."""

from __future__ import annotations

import csv
import io

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from loyalty_site.core.admin import ScopedAdmin
from loyalty_site.core.content_admin import ContentAdminMixin
from loyalty_site.core.errors import LoyaltyError

from .models import Redemption, Reward
from .selectors import rewards_report
from .services import (
    codes_from_csv,
    redemption_cancel,
    redemption_fulfil,
    reward_codes_add,
    reward_codes_generate,
)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class CodePoolForm(forms.Form):
    file = forms.FileField(
        required=False,
        label=_("File"),
        help_text=_("CSV, one code per row in the first column (a 'code' header is skipped)."),
    )
    generate = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10000,
        label=_("Generate"),
        help_text=_("Or generate this many random codes."),
    )
    prefix = forms.CharField(
        required=False,
        max_length=20,
        label=_("Prefix"),
        help_text=_("Prefix of generated codes, e.g. CINEMA."),
    )

    def clean(self):
        data = super().clean()
        if not data.get("file") and not data.get("generate"):
            raise forms.ValidationError(_("Upload a CSV file or say how many codes to generate."))
        upload = data.get("file")
        if upload is not None and upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        return data


@admin.register(Reward)
class RewardAdmin(ScopedAdmin, ContentAdminMixin):
    list_display = [
        "name",
        "program",
        "kind",
        "cost_points",
        "stock",
        "codes",
        "channel",
        "is_active",
        "display_order",
    ]
    list_filter = ["kind", "is_active", "channel"]
    list_editable = ["display_order"]
    search_fields = ["name"]
    filter_horizontal = ["tiers", "segments"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = ["redeemed_count", "pool"]
    fieldsets = [
        (
            None,
            {"fields": ["program", "name", "description", "image_url", "kind", "is_active", "display_order"]},
        ),
        (_("Price"), {"fields": ["cost_points", "co_payment"]}),
        (_("Availability"), {"fields": ["active_from", "active_to", "channel", "tiers", "segments"]}),
        (
            _("Stock and limits"),
            {"fields": ["stock_total", "redeemed_count", "limit_per_member", "limit_period"]},
        ),
        (
            _("Coupon rewards"),
            {"fields": ["coupon_kind", "coupon_value", "coupon_valid_days", "coupon_min_purchase"]},
        ),
        (_("Voucher rewards"), {"fields": ["pool"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("program")
            .annotate(
                codes_total=Count("codes"),
                codes_free=Count("codes", filter=Q(codes__redemption__isnull=True)),
            )
        )

    @admin.display(description=_("Stock left"))
    def stock(self, obj):
        if obj.stock_total is None:
            return gettext("unlimited")
        return gettext("%(left)s of %(total)s") % {"left": obj.stock_left, "total": obj.stock_total}

    @admin.display(description=_("Codes left"))
    def codes(self, obj):
        if obj.kind != Reward.Kind.VOUCHER:
            return "-"
        return gettext("%(left)s of %(total)s") % {"left": obj.codes_free, "total": obj.codes_total}

    @admin.display(description=_("Code pool"))
    def pool(self, obj):
        if obj is None or obj.pk is None or obj.kind != Reward.Kind.VOUCHER:
            return gettext("Voucher rewards only (save the reward first).")
        free = obj.codes.filter(redemption__isnull=True).count()
        return format_html(
            '{} · <a href="{}">{}</a>',
            gettext("%(left)s codes left of %(total)s") % {"left": free, "total": obj.codes.count()},
            reverse("admin:rewards_reward_codes", args=[obj.pk]),
            gettext("Upload or generate codes"),
        )

    def get_urls(self):
        custom = [
            path("<int:pk>/codes/", self.admin_site.admin_view(self.codes_view), name="rewards_reward_codes"),
            path("report/", self.admin_site.admin_view(self.report_view), name="rewards_reward_report"),
        ]
        return custom + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "report_url": reverse("admin:rewards_reward_report")}
        return super().changelist_view(request, extra_context)

    def codes_view(self, request, pk):
        reward = get_object_or_404(self.get_queryset(request), pk=pk)  # another merchant's → 404
        if not self.has_change_permission(request, reward):
            raise PermissionDenied
        form = CodePoolForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            try:
                if form.cleaned_data.get("file"):
                    result = reward_codes_add(
                        reward=reward, codes=codes_from_csv(form.cleaned_data["file"].read())
                    )
                else:
                    result = reward_codes_generate(
                        reward=reward, count=form.cleaned_data["generate"], prefix=form.cleaned_data["prefix"]
                    )
            except LoyaltyError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    gettext(
                        "%(added)s codes added; %(repeated)s repeated in the file and %(pooled)s already in "
                        "the pool were left out."
                    )
                    % {
                        "added": result["added"],
                        "repeated": len(result["duplicates_in_file"]),
                        "pooled": len(result["already_in_pool"]),
                    },
                )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Code pool: %(reward)s") % {"reward": reward.name},
            "reward": reward,
            "form": form,
            "result": result,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/rewards/reward/codes.html", context)

    def report_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        rewards = list(self.get_queryset(request).order_by("program", "display_order", "id"))
        rows = rewards_report(rewards=rewards)
        if request.GET.get("format") == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(
                [
                    "program",
                    "reward",
                    "kind",
                    "redemptions",
                    "cancelled",
                    "points",
                    "cost",
                    "co_payments",
                    "currency",
                    "stock_left",
                    "codes_left",
                ]
            )
            for row in rows:
                reward = row["reward"]
                writer.writerow(
                    [
                        reward.program.name,
                        reward.name,
                        reward.kind,
                        row["redemptions"],
                        row["cancelled"],
                        row["points"],
                        row["cost"],
                        row["co_payments"],
                        row["currency"],
                        "" if row["stock_left"] is None else row["stock_left"],
                        "" if row["codes_left"] is None else row["codes_left"],
                    ]
                )
            response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="rewards-report.csv"'
            return response
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Rewards report"),
            "rows": rows,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/rewards/reward/report.html", context)


@admin.register(Redemption)
class RedemptionAdmin(ScopedAdmin):
    list_display = [
        "created_at",
        "reward",
        "member",
        "points",
        "status",
        "code_or_coupon",
        "channel",
        "reference",
    ]
    list_filter = ["status", "channel", "reward__kind"]
    search_fields = ["reference", "code", "member__phone", "member__card_number", "reward__name"]
    date_hierarchy = "created_at"
    list_select_related = ["reward", "member", "coupon"]
    actions = ["fulfil", "cancel"]
    readonly_fields = [
        "program",
        "member",
        "reward",
        "points",
        "co_payment",
        "status",
        "channel",
        "code",
        "coupon",
        "posting",
        "return_posting",
        "reference",
        "created_at",
        "fulfilled_at",
        "cancelled_at",
    ]

    def has_add_permission(self, request, *args):
        return False  # redeemed at the till or through the API, never typed in

    def has_delete_permission(self, request, obj=None):
        return False  # history: cancel instead

    @admin.display(description=_("Code / coupon"))
    def code_or_coupon(self, obj):
        return obj.code or (obj.coupon.code if obj.coupon_id else "-")

    def _each(self, request, queryset, service, done_message):
        done, refused = 0, []
        at = timezone.now()
        for redemption in queryset.select_related("member", "reward"):
            try:
                service(redemption=redemption, at=at)
            except LoyaltyError as error:
                refused.append(f"{redemption.reward.name} ({redemption.reference}): {error.message}")
            else:
                done += 1
        if done:
            self.message_user(request, done_message(done) % {"count": done}, messages.SUCCESS)
        for line in refused[:20]:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description=_("Mark the selected gifts / bonuses fulfilled"), permissions=["change"])
    def fulfil(self, request, queryset):
        self._each(
            request,
            queryset,
            redemption_fulfil,
            lambda n: ngettext("%(count)s redemption fulfilled.", "%(count)s redemptions fulfilled.", n),
        )

    @admin.action(
        description=_("Cancel the selected redemptions (points back to the member)"), permissions=["change"]
    )
    def cancel(self, request, queryset):
        self._each(
            request,
            queryset,
            redemption_cancel,
            lambda n: ngettext("%(count)s redemption cancelled.", "%(count)s redemptions cancelled.", n),
        )

    def export_csv_response(self, request, queryset):
        """What the one "Export selected to CSV" (reports/admin.py) gives for redemptions."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "id",
                "created_at",
                "reward",
                "kind",
                "member",
                "card_number",
                "points",
                "co_payment",
                "status",
                "channel",
                "code",
                "coupon",
                "reference",
                "fulfilled_at",
                "cancelled_at",
            ]
        )
        for r in queryset.select_related("reward", "member", "coupon").order_by("created_at", "id"):
            writer.writerow(
                [
                    r.pk,
                    r.created_at.isoformat(),
                    r.reward.name,
                    r.reward.kind,
                    r.member_id,
                    r.member.card_number,
                    r.points,
                    r.co_payment or "",
                    r.status,
                    r.channel,
                    r.code,
                    r.coupon.code if r.coupon_id else "",
                    r.reference,
                    r.fulfilled_at.isoformat() if r.fulfilled_at else "",
                    r.cancelled_at.isoformat() if r.cancelled_at else "",
                ]
            )
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="reward-redemptions.csv"'
        return response

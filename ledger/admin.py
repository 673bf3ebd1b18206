"""Ledger admin: editable currency rates; read-only postings, entries, lots and purchases; a manual
adjustment form that calls `points_adjust` (recording who and why); member inlines
(`MemberLotInline`, `MemberEntryInline`) for the Member page."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.admin_search import MemberSearchMixin
from accounts.models import Member, Program
from loyalty_site.core.admin import ScopedAdmin, ScopedTabularInline, can_write
from loyalty_site.core.admin_lists import BigListAdmin, LimitedInlineFormSet
from loyalty_site.core.data_tables import data_table
from loyalty_site.core.errors import LoyaltyError
from loyalty_site.core.tenancy import scope_to_user

from . import rates, services
from .models import CurrencyRate, Entry, Lot, Posting, Purchase


class ReadOnlyMixin:
    """Ledger rows are written by the services only: nobody adds, changes or deletes them here."""

    read_only_for_staff = True

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def rate_review_notices(request, programs) -> None:
    """Warn (admin message) about the programs' rates due for review (`ledger.rates`)."""
    at = timezone.now()
    for program in programs:
        notice = rates.rate_review_notice(program=program, at=at)
        if notice:
            messages.warning(request, notice)


@admin.register(CurrencyRate)
class CurrencyRateAdmin(ScopedAdmin):
    list_display = [
        "currency",
        "program",
        "points_per_unit",
        "cap",
        "valid_from",
        "valid_to",
        "review_every_days",
        "reviewed_at",
        "review_due",
    ]
    list_filter = ["currency", "program"]
    search_fields = ["currency", "program__name"]
    autocomplete_fields = ["program"]
    date_hierarchy = "valid_from"
    readonly_fields = ["reviewed_at", "review_reminded_at"]
    actions = ["mark_reviewed"]

    @admin.display(description=_("review due"))
    def review_due(self, obj):
        due_at = rates.rate_review_due_at(obj, at=timezone.now())
        return gettext("since %(date)s") % {"date": f"{due_at:%Y-%m-%d}"} if due_at else "-"

    @admin.action(
        description=_("Mark as reviewed (the next review falls due a period later)"), permissions=["change"]
    )
    def mark_reviewed(self, request, queryset):
        at = timezone.now()
        count = 0
        for rate in queryset.select_related("program"):
            rates.rate_review_mark(rate=rate, at=at)
            count += 1
        messages.success(
            request,
            ngettext("%(count)s rate marked as reviewed.", "%(count)s rates marked as reviewed.", count)
            % {"count": count},
        )

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            rate_review_notices(request, scope_to_user(Program.objects.live(), request.user).order_by("pk"))
        return super().changelist_view(request, extra_context)


class EntryInline(ReadOnlyMixin, ScopedTabularInline):
    model = Entry
    fields = ["account", "kind", "points", "balance_after", "created_at"]
    readonly_fields = fields


@admin.register(Posting)
class PostingAdmin(BigListAdmin, MemberSearchMixin, ReadOnlyMixin, ScopedAdmin):
    list_display = ["id", "created_at", "kind", "member", "points", "balance_after", "reference", "user"]
    list_filter = ["kind", "program", "created_at"]
    exact_search_fields = (("reference", "program_id"),)  # and the member's identifiers and names
    list_select_related = ["member", "user"]
    inlines = [EntryInline]
    fields = [f.name for f in Posting._meta.fields if f.name != "data"] + ["data_shown"]
    readonly_fields = fields

    @admin.display(description=_("Data"))
    def data_shown(self, obj):
        return data_table(obj.data)

    change_list_template = "admin/ledger/posting/change_list.html"

    def has_adjust_permission(self, request):
        """Postings are never edited, but owners and managers may post a manual adjustment."""
        return can_write(request)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_adjust": self.has_adjust_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        custom = [
            path("adjust/", self.admin_site.admin_view(self.adjust_view), name="ledger_posting_adjust"),
        ]
        return custom + super().get_urls()

    def adjust_view(self, request):
        """Manual adjustment: staff choose a member of their merchant, signed points and a reason;
        the form's one-time token is the posting reference, so a double submit posts once."""
        if not self.has_adjust_permission(request):
            raise PermissionDenied
        members = scope_to_user(Member.objects.all(), request.user)
        if request.method == "POST":
            form = AdjustmentForm(request.POST, members=members)
            if form.is_valid():
                member = form.cleaned_data["member"]
                try:
                    posting = services.points_adjust(
                        member=member,
                        points=form.cleaned_data["points"],
                        at=timezone.now(),
                        reference=f"admin-adjust:{form.cleaned_data['token']}",
                        reason=form.cleaned_data["reason"],
                        user=request.user,
                    )
                except LoyaltyError as error:
                    form.add_error(None, error.message)
                else:
                    messages.success(
                        request,
                        ngettext(
                            "%(points)s point for %(member)s; balance %(balance)s.",
                            "%(points)s points for %(member)s; balance %(balance)s.",
                            abs(posting.points),
                        )
                        % {
                            "points": f"{posting.points:+d}",
                            "member": member,
                            "balance": posting.balance_after,
                        },
                    )
                    return redirect(reverse("admin:ledger_posting_change", args=[posting.pk]))
        else:
            initial = {"token": uuid.uuid4().hex}
            if request.GET.get("member"):
                initial["member"] = request.GET["member"]
            form = AdjustmentForm(initial=initial, members=members)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Adjust a member's points"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/ledger/adjust.html", context)


class AdjustmentForm(forms.Form):
    member = forms.ModelChoiceField(
        label=_("Member"), queryset=Member.objects.none(), help_text=_("The member whose points change.")
    )
    points = forms.IntegerField(
        label=_("Points"), help_text=_("Positive adds points, negative removes them (never below zero).")
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=255, help_text=_("Why: kept on the posting with your user name.")
    )
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = members

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Adjust by a non-zero number of points."))
        return points


@admin.register(Entry)
class EntryAdmin(BigListAdmin, MemberSearchMixin, ReadOnlyMixin, ScopedAdmin):
    list_display = ["id", "created_at", "account", "kind", "points", "balance_after", "member", "posting"]
    list_filter = ["kind", "account", "program", "created_at"]
    exact_search_fields = (("posting__reference", "posting__program_id"),)
    list_select_related = ["member", "posting"]
    readonly_fields = [f.name for f in Entry._meta.fields]


@admin.register(Lot)
class LotAdmin(BigListAdmin, MemberSearchMixin, ReadOnlyMixin, ScopedAdmin):
    list_display = [
        "id",
        "member",
        "source",
        "points",
        "remaining",
        "state",
        "earned_at",
        "expires_at",
        "warned_at",
    ]
    list_filter = ["state", "source", "program", "expires_at"]
    exact_search_fields = (("posting__reference", "posting__program_id"),)
    list_select_related = ["member"]
    readonly_fields = [f.name for f in Lot._meta.fields]


class CurrencyListFilter(admin.SimpleListFilter):
    """The currencies the user's programs have rates for (a small table), not the distinct values of
    every purchase (a read of the whole table)."""

    title = _("currency")
    parameter_name = "currency__exact"

    def lookups(self, request, model_admin):
        rates = scope_to_user(CurrencyRate.objects.all(), request.user)
        programs = scope_to_user(Program.objects.all(), request.user)
        currencies = set(rates.values_list("currency", flat=True)) | set(
            programs.values_list("base_currency", flat=True)
        )
        return [(code, code) for code in sorted(currencies)]

    def queryset(self, request, queryset):
        return queryset.filter(currency=self.value()) if self.value() else queryset


@admin.register(Purchase)
class PurchaseAdmin(BigListAdmin, MemberSearchMixin, ReadOnlyMixin, ScopedAdmin):
    list_display = [
        "external_id",
        "kind",
        "member",
        "amount",
        "currency",
        "discount_amount",
        "amount_due",
        "points_earned",
        "points_redeemed",
        "refunded_amount",
        "occurred_at",
    ]
    list_filter = ["kind", CurrencyListFilter, "program", "occurred_at"]
    exact_search_fields = (("external_id", "program_id"),)  # receipt id; and the member's
    list_select_related = ["member"]
    fields = [f.name for f in Purchase._meta.fields if f.name != "applied"] + ["applied_lines"]
    readonly_fields = fields

    @admin.display(description=_("Applied (pricing lines)"))
    def applied_lines(self, obj):
        return data_table(obj.applied)


class MemberLotInline(ReadOnlyMixin, ScopedTabularInline):
    """The member's pending and active lots (for the Member admin page)."""

    model = Lot
    fk_name = "member"
    formset = LimitedInlineFormSet  # the first 50 by expiry; the lots list has them all
    verbose_name_plural = _("points lots (pending and active)")
    fields = ["source", "points", "remaining", "state", "earned_at", "available_at", "expires_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(state__in=[Lot.State.PENDING, Lot.State.ACTIVE])


class MemberEntryInline(ReadOnlyMixin, ScopedTabularInline):
    """The member's recent spendable-account entries, newest first (last 90 days)."""

    model = Entry
    fk_name = "member"
    formset = LimitedInlineFormSet  # the newest 50; the entries list has them all
    verbose_name_plural = _("recent ledger entries (90 days)")
    fields = ["created_at", "kind", "points", "balance_after", "posting"]
    readonly_fields = fields
    ordering = ["-id"]

    def get_queryset(self, request):
        since = timezone.now() - timedelta(days=90)
        return super().get_queryset(request).filter(account="member", created_at__gte=since)


MemberLedgerInlines = [MemberLotInline, MemberEntryInline]

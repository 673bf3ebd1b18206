"""Segments: rule-based member groups (RFM over a window, tier), materialised by a job.

Decisions:
- Monetary is the amount paid (amount due less refunds) of the window's purchases and bets, each
  converted to the program's base currency at the rates in force when it happened (the ratio of
  the two currencies' points-per-unit rates, as `ledger.services.money_to_base`), rounded to cents
  per purchase. A purchase in a currency with no rate at its time counts for nothing.
- Recency is the member's last activity (purchase, login, event...).
- The default segments (PRODUCT.md §2.5: low / medium / high value, RFM) use all three measures:
  high = active in the last 30 days, 4 or more purchases and 150 or more spent in 90 days;
  medium = active in the last 60 days, 2 or more purchases and 50 or more spent in 90 days, not
  high; low = every other active member. A segment's `exclude_segments` leave out the members who
  match those segments' rules, so the three never overlap. Every number is editable in the admin.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Round
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Member
from ledger.models import CurrencyRate, Purchase

from .models import Segment, SegmentMembership

MONEY = DecimalField(max_digits=16, decimal_places=2)
RATIO = DecimalField(max_digits=20, decimal_places=8)

DEFAULT_SEGMENTS = [
    (
        "high_value",
        "High value",
        "Active in the last 30 days, 4 or more purchases and 150 or more spent in 90 days.",
        {"recency_days_max": 30, "frequency_min": 4, "monetary_min": Decimal("150")},
        [],
    ),
    (
        "medium_value",
        "Medium value",
        "Active in the last 60 days, 2 or more purchases and 50 or more spent in 90 days (not high value).",
        {"recency_days_max": 60, "frequency_min": 2, "monetary_min": Decimal("50")},
        ["high_value"],
    ),
    (
        "low_value",
        "Low value",
        "Every other active member (not medium or high value).",
        {},
        ["medium_value", "high_value"],
    ),
]


def _rate_at(*, currency, moment):
    """The points-per-unit rate of `currency` in force at `moment` (outer purchase columns)."""

    return Subquery(
        CurrencyRate.objects.filter(program=OuterRef("program_id"), currency=currency, valid_from__lte=moment)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=moment))
        .order_by("-valid_from", "-pk")
        .values("points_per_unit")[:1]
    )


def purchases_paid_in_base(queryset, *, base_currency: str):
    """`queryset` of purchases annotated with `paid_base`: the amount paid (due less refunds) in
    `base_currency`, converted at the rates in force at each purchase's `occurred_at` (None when a
    rate is missing). Set-based: two correlated rate look-ups per purchase."""
    paid = ExpressionWrapper(F("amount_due") - F("refunded_amount"), output_field=MONEY)
    converted = ExpressionWrapper(
        paid
        * _rate_at(currency=OuterRef("currency"), moment=OuterRef("occurred_at"))
        / _rate_at(currency=Value(base_currency), moment=OuterRef("occurred_at")),
        output_field=RATIO,
    )
    return queryset.annotate(
        paid_base=Case(
            When(currency=base_currency, then=paid),
            default=Round(converted, 2),
            output_field=MONEY,
        )
    )


def _monetary(*, program, since: datetime, until: datetime):
    """Per member (outer `pk`): the amount paid in [since, until] in the base currency."""

    purchases = Purchase.objects.filter(member=OuterRef("pk"), occurred_at__gte=since, occurred_at__lte=until)
    purchases = purchases_paid_in_base(purchases, base_currency=program.base_currency)
    return Coalesce(
        Subquery(purchases.values("member").annotate(total=Sum("paid_base")).values("total")[:1]),
        Value(Decimal("0")),
        output_field=MONEY,
    )


def segment_members(*, segment: Segment, at: datetime, _seen: frozenset = frozenset()):
    """Members of the segment's program that match its rules at `at` (a queryset, set-based),
    less those matching the rules of its `exclude_segments` (a cycle is cut where it closes)."""
    program = segment.program
    since = at - timedelta(days=segment.window_days)
    window = Q(purchases__occurred_at__gte=since, purchases__occurred_at__lte=at)
    queryset = Member.objects.filter(program=segment.program_id, status=Member.Status.ACTIVE)
    if segment.frequency_min is not None or segment.frequency_max is not None:
        queryset = queryset.annotate(frequency=Count("purchases", filter=window, distinct=True))
    if segment.frequency_min is not None:
        queryset = queryset.filter(frequency__gte=segment.frequency_min)
    if segment.frequency_max is not None:
        queryset = queryset.filter(frequency__lte=segment.frequency_max)
    if segment.monetary_min is not None or segment.monetary_max is not None:
        queryset = queryset.annotate(monetary=_monetary(program=program, since=since, until=at))
    if segment.monetary_min is not None:
        queryset = queryset.filter(monetary__gte=segment.monetary_min)
    if segment.monetary_max is not None:
        queryset = queryset.filter(monetary__lt=segment.monetary_max)
    if segment.recency_days_max is not None:
        queryset = queryset.filter(last_activity_at__gte=at - timedelta(days=segment.recency_days_max))
    if segment.recency_days_min is not None:
        queryset = queryset.filter(
            Q(last_activity_at__lte=at - timedelta(days=segment.recency_days_min))
            | Q(last_activity_at__isnull=True)
        )
    tiers = list(segment.tiers.values_list("pk", flat=True))
    if tiers:
        queryset = queryset.filter(tier_id__in=tiers)
    seen = _seen | {segment.pk}
    for other in segment.exclude_segments.select_related("program").order_by("pk"):
        if other.pk in seen:
            continue
        excluded = segment_members(segment=other, at=at, _seen=seen).values("pk")
        queryset = queryset.exclude(pk__in=excluded)
    return queryset


def segment_rules_text(segment: Segment) -> str:
    """The segment's rules in words (the admin list)."""
    parts = []
    if segment.recency_days_max is not None:
        parts.append(
            ngettext(
                "active in the last %(days)s day",
                "active in the last %(days)s days",
                segment.recency_days_max,
            )
            % {"days": segment.recency_days_max}
        )
    if segment.recency_days_min is not None:
        parts.append(_("idle for %(days)s+ days") % {"days": segment.recency_days_min})
    low, high = segment.frequency_min, segment.frequency_max
    if low is not None or high is not None:
        count = (
            f"{low}–{high}"
            if low is not None and high is not None
            else f"{low}+"
            if low is not None
            else f"≤ {high}"
        )
        parts.append(
            _("%(count)s purchases in %(days)s days") % {"count": count, "days": segment.window_days}
        )
    if segment.monetary_min is not None or segment.monetary_max is not None:
        spent = []
        if segment.monetary_min is not None:
            spent.append(f"≥ {segment.monetary_min.normalize():f}")
        if segment.monetary_max is not None:
            spent.append(f"< {segment.monetary_max.normalize():f}")
        parts.append(
            _("spent %(amount)s %(currency)s in %(days)s days")
            % {
                "amount": _("%(low)s and %(high)s") % {"low": spent[0], "high": spent[1]}
                if len(spent) == 2
                else spent[0],
                "currency": segment.program.base_currency,
                "days": segment.window_days,
            }
        )
    excluded = [other.name for other in segment.exclude_segments.all()]
    if excluded:
        parts.append(_("not in %(segments)s") % {"segments": ", ".join(excluded)})
    return "; ".join(parts) or _("every active member")


def segment_refresh(*, segment: Segment, at: datetime) -> dict:
    """Make the segment's membership rows match its rules at `at`; returns added / removed / size."""
    with transaction.atomic():
        Segment.objects.select_for_update().get(pk=segment.pk)
        wanted = set(segment_members(segment=segment, at=at).values_list("pk", flat=True))
        current = set(SegmentMembership.objects.filter(segment=segment).values_list("member_id", flat=True))
        removed = current - wanted
        added = wanted - current
        if removed:
            SegmentMembership.objects.filter(segment=segment, member_id__in=removed).delete()
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, member_id=pk, since=at) for pk in sorted(added)],
            batch_size=1000,
            ignore_conflicts=True,
        )
        Segment.objects.filter(pk=segment.pk).update(member_count=len(wanted), refreshed_at=at)
    return {"added": len(added), "removed": len(removed), "size": len(wanted)}


def segments_refresh(*, at: datetime, program=None) -> dict:
    segments = Segment.objects.filter(is_active=True).select_related("program")
    if program is not None:
        segments = segments.filter(program=program)
    summary = {"segments": 0, "added": 0, "removed": 0}
    for segment in segments.order_by("pk"):
        result = segment_refresh(segment=segment, at=at)
        summary["segments"] += 1
        summary["added"] += result["added"]
        summary["removed"] += result["removed"]
    return summary


def default_segments_create(*, program) -> list[Segment]:
    """The default low / medium / high value segments (module docstring), unless their codes
    exist (idempotent: a merchant's edits are kept)."""
    segments = {}
    for code, name, description, rules, _excluded in DEFAULT_SEGMENTS:
        segment, created = Segment.objects.get_or_create(
            program=program,
            code=code,
            defaults={"name": name, "description": description, "window_days": 90, **rules},
        )
        segments[code] = (segment, created)
    for code, _name, _description, _rules, excluded in DEFAULT_SEGMENTS:
        segment, created = segments[code]
        if created:
            segment.exclude_segments.set([segments[other][0] for other in excluded])
    return [segment for segment, _ in segments.values()]

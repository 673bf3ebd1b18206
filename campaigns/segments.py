"""Segments: rule-based member groups (RFM over a window, tier), materialised by a job.

Decision on the default segments (PRODUCT.md §2.5 names low / medium / high value without
numbers): by purchases in the last 90 days, so every member is in exactly one of them:
low 0–1, medium 2–3, high 4 or more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import Member

from .models import Segment, SegmentMembership

DEFAULT_SEGMENTS = [
    ("low_value", "Low value", "0–1 purchases in 90 days", {"frequency_max": 1}),
    ("medium_value", "Medium value", "2–3 purchases in 90 days", {"frequency_min": 2, "frequency_max": 3}),
    ("high_value", "High value", "4 or more purchases in 90 days", {"frequency_min": 4}),
]


def segment_members(*, segment: Segment, at: datetime):
    """Members of the segment's program that match its rules at `at` (a queryset, set-based)."""
    since = at - timedelta(days=segment.window_days)
    window = Q(purchases__occurred_at__gte=since, purchases__occurred_at__lte=at)
    base = Q(purchases__currency=segment.program.base_currency)
    queryset = Member.objects.filter(program=segment.program_id, status=Member.Status.ACTIVE).annotate(
        frequency=Count("purchases", filter=window, distinct=True),
        monetary=Coalesce(
            Sum("purchases__amount_due", filter=window & base),
            Value(Decimal("0")),
            output_field=DecimalField(max_digits=16, decimal_places=2),
        ),
    )
    if segment.frequency_min is not None:
        queryset = queryset.filter(frequency__gte=segment.frequency_min)
    if segment.frequency_max is not None:
        queryset = queryset.filter(frequency__lte=segment.frequency_max)
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
    return queryset


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
    segments = []
    for code, name, description, rules in DEFAULT_SEGMENTS:
        segment, _ = Segment.objects.get_or_create(
            program=program,
            code=code,
            defaults={"name": name, "description": description, "window_days": 90, **rules},
        )
        segments.append(segment)
    return segments

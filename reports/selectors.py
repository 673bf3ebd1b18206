"""Aggregates behind the analytics dashboard. Every number is computed by PostgreSQL (GROUP BY,
SUM, COUNT, FILTER); Python only shapes the rows for the template and the charts.

Definitions (written on the dashboard too):
- earned: points credited by postings of kind earn, bonus and partner (spendable + pending);
- spent: points debited by redeem and cashout postings;
- expired: points lost to expiry and inactivity decay;
- liability: the members' outstanding points (spendable + pending) × the program's point value,
  in the program's base currency, as of now (a balance has no history to sum over a range);
- active members: members whose last activity (purchase, redemption, event) falls in the range;
- weekly NPS: per ISO week of `nps` events, % promoters (9-10) − % detractors (0-6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, IntegerField, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, TruncDate, TruncWeek
from django.utils.translation import gettext

from accounts.models import Member, Program
from campaigns.models import ActivityEvent, Campaign, Segment
from campaigns.selectors import campaign_roi
from ledger.models import Posting

EARN_KINDS = ("earn", "bonus", "partner")
SPEND_KINDS = ("redeem", "cashout")
LOSS_KINDS = ("expire", "decay")


@dataclass(frozen=True)
class ReportFilter:
    """A date range (inclusive days) and the programs in scope (already scoped to the user)."""

    programs: list[Program]
    since: date
    until: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time.min, tzinfo=self.tz)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=self.tz)

    @property
    def tz(self):
        """Days are the program's days when one program is shown, UTC days across programs."""
        return self.programs[0].tz if len(self.programs) == 1 else UTC

    @property
    def program_ids(self) -> list[int]:
        return [p.pk for p in self.programs]


def points_flow_per_day(*, report: ReportFilter) -> list[dict[str, Any]]:
    """[{"day", "earned", "spent", "expired"}] for every day of the range (zeros included)."""
    change = F("points") + F("pending_points")
    rows = (
        Posting.objects.filter(
            program_id__in=report.program_ids, created_at__gte=report.start, created_at__lt=report.end
        )
        .annotate(day=TruncDate("created_at", tzinfo=report.tz))
        .values("day")
        .annotate(
            earned=Coalesce(Sum(change, filter=Q(kind__in=EARN_KINDS)), 0),
            spent=Coalesce(Sum(-F("points"), filter=Q(kind__in=SPEND_KINDS)), 0),
            expired=Coalesce(Sum(-change, filter=Q(kind__in=LOSS_KINDS)), 0),
        )
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    days = []
    day = report.since
    while day <= report.until:
        row = by_day.get(day, {})
        days.append(
            {
                "day": day,
                "earned": int(row.get("earned") or 0),
                "spent": int(row.get("spent") or 0),
                "expired": int(row.get("expired") or 0),
            }
        )
        day += timedelta(days=1)
    return days


def liability(*, report: ReportFilter) -> list[dict[str, Any]]:
    """Outstanding points per program and their value in the program's base currency."""
    rows = (
        Member.objects.filter(program_id__in=report.program_ids)
        .values("program_id")
        .annotate(points=Coalesce(Sum("balance"), 0), pending=Coalesce(Sum("pending_points"), 0))
    )
    totals = {row["program_id"]: row for row in rows}
    result = []
    for program in report.programs:
        row = totals.get(program.pk, {"points": 0, "pending": 0})
        points = int(row["points"]) + int(row["pending"])
        result.append(
            {
                "program": program,
                "points": int(row["points"]),
                "pending": int(row["pending"]),
                "value": program.points_value(points),
                "currency": program.base_currency,
            }
        )
    return result


def member_counts(*, report: ReportFilter) -> dict[str, int]:
    """Members in total, enrolled in the range, active in the range, and blocked."""
    return Member.objects.filter(program_id__in=report.program_ids).aggregate(
        total=Count("id"),
        new=Count("id", filter=Q(created_at__gte=report.start, created_at__lt=report.end)),
        active=Count("id", filter=Q(last_activity_at__gte=report.start, last_activity_at__lt=report.end)),
        blocked=Count("id", filter=Q(status=Member.Status.BLOCKED)),
    )


def tier_distribution(*, report: ReportFilter) -> list[dict[str, Any]]:
    """[{"tier", "members"}] in tier rank order, members without a tier last."""
    rows = (
        Member.objects.filter(program_id__in=report.program_ids)
        .values("tier__name", "tier__rank")
        .annotate(members=Count("id"))
        .order_by(F("tier__rank").asc(nulls_last=True), "tier__name")
    )
    merged: dict[str, int] = {}
    for row in rows:
        name = row["tier__name"] or gettext("No tier")
        merged[name] = merged.get(name, 0) + row["members"]
    return [{"tier": name, "members": count} for name, count in merged.items()]


def segment_sizes(*, report: ReportFilter) -> list[dict[str, Any]]:
    """[{"segment", "members"}]: live membership counts of the active segments."""
    rows = (
        Segment.objects.filter(program_id__in=report.program_ids, is_active=True)
        .annotate(members=Count("memberships"))
        .values("code", "name", "members", "program__name")
        .order_by("program__name", "code")
    )
    several = len(report.programs) > 1
    return [
        {
            "segment": f"{row['name']} ({row['program__name']})" if several else row["name"],
            "code": row["code"],
            "members": row["members"],
        }
        for row in rows
    ]


def campaign_results(*, report: ReportFilter) -> list[dict[str, Any]]:
    """Per campaign, the campaigns app's ROI report over the grants made in the range (members
    rewarded, grants, points, cost with coupon discounts, attributed and incremental revenue, conversion,
    ROI % against the holdout, or why it cannot be told): its rules,
    not recomputed here. Money is in the program's base currency."""
    campaigns = (
        Campaign.objects.filter(program_id__in=report.program_ids)
        .select_related("program")
        .order_by("program__name", "name", "id")
    )
    rows = []
    for campaign in campaigns:
        measured = campaign_roi(campaign=campaign, since=report.start, until=report.end)
        rows.append(
            {
                "campaign": campaign,
                "program": campaign.program,
                "grants": measured["grants"],
                "members": measured["members_rewarded"],
                "points": int(measured["points"]),
                "coupons_issued": measured["coupons_issued"],
                "coupons_redeemed": measured["coupons_redeemed"],
                "cost": measured["cost"],
                "revenue": measured["revenue"],
                "incremental_revenue": measured["incremental_revenue"],
                "conversion_rate": measured["conversion_rate"],
                "roi": measured["roi"],
                "verdict": measured["verdict"],
                "currency": measured["currency"],
            }
        )
    return rows


def weekly_nps(*, report: ReportFilter) -> list[dict[str, Any]]:
    """[{"week", "responses", "promoters", "detractors", "nps"}] from `nps` activity events."""
    score = Cast(KT("data__score"), IntegerField())
    rows = (
        ActivityEvent.objects.filter(
            member__program_id__in=report.program_ids,
            type="nps",
            occurred_at__gte=report.start,
            occurred_at__lt=report.end,
            data__has_key="score",
        )
        .annotate(week=TruncWeek("occurred_at", tzinfo=report.tz), score=score)
        .values("week")
        .annotate(
            responses=Count("id"),
            promoters=Count("id", filter=Q(score__gte=9)),
            detractors=Count("id", filter=Q(score__lte=6)),
        )
        .order_by("week")
    )
    result = []
    for row in rows:
        responses = row["responses"]
        nps = round((row["promoters"] - row["detractors"]) * 100 / responses) if responses else None
        result.append(
            {
                "week": row["week"].date() if hasattr(row["week"], "date") else row["week"],
                "responses": responses,
                "promoters": row["promoters"],
                "detractors": row["detractors"],
                "nps": nps,
            }
        )
    return result


def dashboard(*, report: ReportFilter) -> dict[str, Any]:
    flow = points_flow_per_day(report=report)
    return {
        "flow": flow,
        "totals": {
            "earned": sum(d["earned"] for d in flow),
            "spent": sum(d["spent"] for d in flow),
            "expired": sum(d["expired"] for d in flow),
        },
        "liability": liability(report=report),
        "members": member_counts(report=report),
        "tiers": tier_distribution(report=report),
        "segments": segment_sizes(report=report),
        "campaigns": campaign_results(report=report),
        "nps": weekly_nps(report=report),
    }

"""Campaign jobs: plain services taking `at`, idempotent by the grant rows' unique keys.

Every job walks the programs that have a running campaign of its trigger, computes the period in
the program's time zone, preselects candidates with one query, and grants in chunks, each one
transaction: set-based (`campaigns.bulk.grants_chunk`, BULK_CHUNK members: the engine's rules, a
few statements per chunk), or member by member (`_grant_chunk`, CHUNK members, each member its
own savepoint under their row lock) for campaigns with referrer-side rewards. A rerun, or a run
after one killed mid-way, finds the committed chunks' grants (unique per campaign, member and
period key) and grants the rest.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy

from accounts.locks import member_lock
from accounts.models import Member, Program
from loyalty_site.core.errors import LoyaltyError
from loyalty_site.core.events import events_batched
from loyalty_site.core.jobs import job
from loyalty_site.core.periods import period_previous
from tiers.services import member_tier_of

from . import bulk
from .engine import Context, campaigns_apply
from .kinds import condition_kinds
from .models import Campaign, CampaignGrant
from .segments import segments_refresh
from .selectors import campaigns_running

CHUNK = 500
BULK_CHUNK = 2000
# False: every job grants member by member (the engine's reference path, which the tests compare
# the set-based one with)
BULK = True
logger = logging.getLogger("loyalty.campaigns")


def _programs_with(trigger: str):
    return Program.objects.filter(
        is_active=True, campaigns__trigger=trigger, campaigns__is_active=True
    ).distinct()


def _grant_each(member_ids, campaigns, make_ctx, *, at: datetime) -> int:
    """Grant `campaigns` to each member, by chunks, each one transaction: set-based
    (`bulk.grants_chunk`) unless a campaign has referrer-side rewards, else one savepoint per member
    (`_grant_chunk`). A member the ledger refuses (blocked, a fraud limit) is skipped and logged;
    the job goes on."""
    granted = 0
    ids = list(member_ids)
    if BULK and not bulk.one_by_one(campaigns):
        for start in range(0, len(ids), BULK_CHUNK):
            granted += bulk.grants_chunk(ids[start : start + BULK_CHUNK], campaigns, make_ctx, at=at)
        return granted
    for start in range(0, len(ids), CHUNK):
        with transaction.atomic(), events_batched():
            granted += _grant_chunk(ids[start : start + CHUNK], campaigns, make_ctx)
    return granted


def _grant_chunk(member_ids, campaigns, make_ctx) -> int:
    granted = 0
    for member_id in member_ids:
        try:
            # the nested block drops the member's events with its savepoint
            with events_batched(), transaction.atomic():
                # the tier is read after the lock, never joined into it (see accounts.locks)
                member = member_lock(member_id)
                member.tier = member_tier_of(member=member)
                ctx = make_ctx(member)
                if ctx is None:
                    continue
                granted += len(campaigns_apply(campaigns, ctx, dry_run=False))
        except LoyaltyError as error:
            logger.warning("campaign grant skipped for member %s: %s", member_id, error.code)
    return granted


def previous_window(schedule: str, at: datetime, tz) -> tuple[str, tuple[datetime, datetime]]:
    """The period that just ended before `at` for a daily / weekly / monthly schedule."""
    period = {"daily": Campaign.Period.DAY, "weekly": Campaign.Period.WEEK, "monthly": Campaign.Period.MONTH}[
        schedule
    ]
    return period_previous(period, at, tz)


def _schedule_candidates(campaign: Campaign, *, program, window):
    """Member ids worth evaluating for a schedule campaign: the active members each of its
    conditions lets through (e.g. with a login, or a purchase, in the window when it counts logins
    or purchases in the period: the kind's `schedule_candidates`)."""
    members = Member.objects.filter(program=program, status=Member.Status.ACTIVE)
    for condition in campaign.conditions.all():
        kind = condition_kinds.get(condition.kind)
        if kind is not None:
            members = kind.schedule_candidates(condition, members, program=program, window=window)
    return members.values_list("pk", flat=True).distinct()


def scheduled_run(*, schedule: str, at: datetime) -> dict:
    """Schedule-trigger campaigns for the period (day / ISO week / month) just ended before `at`.
    Candidates: active members; when a campaign counts logins or purchases in the period, only the
    members with such activity in it (one query)."""
    granted = members = 0
    for program in _programs_with(Campaign.Trigger.SCHEDULE):
        key, window = previous_window(schedule, at, program.tz)
        campaigns = [
            c
            for c in campaigns_running(program=program, trigger=Campaign.Trigger.SCHEDULE, at=at)
            if c.schedule == schedule
        ]
        if not campaigns:
            continue
        ids_set: set[int] = set()
        for campaign in campaigns:
            ids_set |= set(_schedule_candidates(campaign, program=program, window=window))
        ids = sorted(ids_set)
        members += len(ids)
        granted += _grant_each(
            ids,
            campaigns,
            lambda member, key=key, window=window: Context(
                member=member, at=at, window=window, period_key=key
            ),
            at=at,
        )
    return {"members_checked": members, "grants": granted}


@job(
    "weekly_bonus",
    schedule="30 0 * * 1",
    description=gettext_lazy("Weekly campaigns for the ISO week just ended"),
)
def weekly_bonus(*, at: datetime) -> dict:
    """Weekly schedule campaigns (the double bonus) for the ISO week that ended before `at`'s week,
    in each program's time zone. Runs on Mondays; any later run for the same week changes nothing."""
    return scheduled_run(schedule="weekly", at=at)


@job(
    "scheduled_campaigns",
    schedule="15 0 * * *",
    description=gettext_lazy("Daily and monthly schedule campaigns"),
)
def scheduled_campaigns(*, at: datetime) -> dict:
    """Daily schedule campaigns for the day just ended, monthly ones for the month just ended."""
    daily = scheduled_run(schedule="daily", at=at)
    monthly = scheduled_run(schedule="monthly", at=at)
    return {"daily_grants": daily["grants"], "monthly_grants": monthly["grants"]}


@job(
    "refresh_segments",
    schedule="0 2 * * *",
    description=gettext_lazy("Recompute segment memberships and sizes"),
)
def refresh_segments(*, at: datetime) -> dict:
    return segments_refresh(at=at)


def _birthday_today(birth: date, today: date) -> bool:
    if (birth.month, birth.day) == (today.month, today.day):
        return True
    # 29 February birthdays are celebrated on 28 February in common years
    leap = today.year % 4 == 0 and (today.year % 100 != 0 or today.year % 400 == 0)
    return (birth.month, birth.day) == (2, 29) and not leap and (today.month, today.day) == (2, 28)


@job("birthdays", schedule="0 8 * * *", description=gettext_lazy("Birthday campaigns for members born today"))
def birthdays(*, at: datetime) -> dict:
    """Birthday campaigns for members whose birthday is today in the program's time zone; the grant
    key is the year, so once a year however often the job runs."""
    granted = members = 0
    for program in _programs_with(Campaign.Trigger.BIRTHDAY):
        today = at.astimezone(program.tz).date()
        campaigns = campaigns_running(program=program, trigger=Campaign.Trigger.BIRTHDAY, at=at)
        if not campaigns:
            continue
        days = Q(birth_date__month=today.month, birth_date__day=today.day)
        if _birthday_today(date(2000, 2, 29), today) and today.day == 28:
            days |= Q(birth_date__month=2, birth_date__day=29)
        ids = list(
            Member.objects.filter(program=program, status=Member.Status.ACTIVE)
            .filter(days)
            .values_list("pk", flat=True)
            .order_by("pk")
        )
        members += len(ids)
        key = str(today.year)
        granted += _grant_each(
            ids, campaigns, lambda member, key=key: Context(member=member, at=at, period_key=key), at=at
        )
    return {"members_checked": members, "grants": granted}


@job(
    "inactivity_reminders",
    schedule="0 9 * * *",
    description=gettext_lazy("Inactivity reminders and win-back offers"),
)
def inactivity_reminders(*, at: datetime) -> dict:
    """Inactivity campaigns (30-day reminder, 60-day win-back): members idle at least the
    campaign's days. The grant key is the idle stretch (`idle:<last activity>`), so each campaign
    reaches a member once per stretch; any activity starts a new stretch."""
    granted = members = 0
    for program in _programs_with(Campaign.Trigger.INACTIVITY):
        for campaign in campaigns_running(program=program, trigger=Campaign.Trigger.INACTIVITY, at=at):
            cutoff = at - timedelta(days=campaign.trigger_days or 0)
            ids = list(
                Member.objects.filter(
                    program=program, status=Member.Status.ACTIVE, last_activity_at__lte=cutoff
                )
                .exclude(
                    Exists(
                        CampaignGrant.objects.filter(
                            campaign=campaign,
                            member=OuterRef("pk"),
                            created_at__gte=OuterRef("last_activity_at"),
                        )
                    )
                )
                .values_list("pk", flat=True)
                .order_by("pk")
            )
            members += len(ids)

            def make_ctx(member, campaign=campaign, cutoff=cutoff):
                if member.last_activity_at is None or member.last_activity_at > cutoff:
                    return None  # active again since the candidates were read
                return Context(member=member, at=at, period_key=f"idle:{member.last_activity_at.isoformat()}")

            granted += _grant_each(ids, [campaign], make_ctx, at=at)
    return {"members_checked": members, "grants": granted}

"""Reads of the campaigns app: a member's purchases, logins and grants; active campaigns."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, Sum, prefetch_related_objects

from ledger.models import Purchase
from loyalty_site.core import content
from loyalty_site.core.memo import memo_active, memo_put, memo_take, memoized
from loyalty_site.core.periods import DAY, period_window


def _purchases(member, *, exclude=None):
    queryset = Purchase.objects.filter(member=member)
    if exclude is not None and getattr(exclude, "pk", None):
        queryset = queryset.exclude(pk=exclude.pk)
    return queryset


def member_purchase_count(
    *, member, exclude=None, since: datetime | None = None, until: datetime | None = None
) -> int:
    """Purchases (and bets) of `member` with occurred_at in [since, until), leaving out `exclude`
    (the purchase being priced). Refunded purchases still count: a purchase happened. Counted
    once per pricing call / purchase for the same arguments (`loyalty_site.core.memo.pricing_memo`: the
    purchase being priced is excluded, nothing else is written meanwhile)."""

    key = ("purchase_count", member.pk, getattr(exclude, "pk", None), since, until)
    return memoized(key, lambda: _counts(member=member, exclude=exclude, windows=[(since, until)])[0])


def member_grant_counts(*, campaign, member, period_key: str) -> tuple[int, int]:
    """(the member's grants of the campaign, those of `period_key`): counted ahead for this pricing
    call by `member_purchase_counts_prefetch` (taken once: a grant may follow), else read."""

    counted = memo_take(("grant_counts", campaign.pk, member.pk, period_key))
    if counted is not None:
        return counted
    total, this_period = _counts(member=member, grants=[(campaign.pk, period_key)])
    return total, this_period


def member_purchase_counts_prefetch(*, member, exclude=None, windows, grants=()) -> None:
    """Count the member's purchases for every (since, until) of `windows` (None, None for all of
    them), and their grants of every (campaign id, period key) of `grants`, in one query, for the
    `member_purchase_count` and `member_grant_counts` calls that follow in this pricing call (when
    that saves a query)."""

    windows, grants = list(dict.fromkeys(windows)), list(dict.fromkeys(grants))
    if len(windows) + len(grants) < 2 or not memo_active():
        return
    counts = _counts(member=member, exclude=exclude, windows=windows, grants=grants)
    exclude_pk = getattr(exclude, "pk", None)
    for (since, until), count in zip(windows, counts, strict=False):
        memo_put(("purchase_count", member.pk, exclude_pk, since, until), count)
    grant_counts = counts[len(windows) :]
    for index, (campaign_id, key) in enumerate(grants):
        pair = tuple(grant_counts[2 * index : 2 * index + 2])
        memo_put(("grant_counts", campaign_id, member.pk, key), pair)


def _counts(*, member, exclude=None, windows=(), grants=()) -> tuple[int, ...]:
    """One plain statement (building the ORM's cost more than running it; the purchase path runs
    it): the member's purchases with occurred_at in each [since, until) of `windows` (None: open),
    leaving out `exclude`; then, for each (campaign id, period key) of `grants`, the member's grants
    of the campaign and those of the period."""
    columns, params = [], []
    for since, until in windows:
        inside = []
        for bound, operator in ((since, ">="), (until, "<")):
            if bound is not None:
                inside.append(f"occurred_at {operator} %s")
                params.append(connection.ops.adapt_datetimefield_value(bound))
        columns.append(f"count(*) FILTER (WHERE {' AND '.join(inside)})" if inside else "count(*)")
    grant_rows = "SELECT count(*) FROM campaigns_campaigngrant WHERE campaign_id = %s AND member_id = %s"
    for campaign_id, key in grants:
        columns += [f"({grant_rows})", f"({grant_rows} AND period_key = %s)"]
        params += [campaign_id, member.pk, campaign_id, member.pk, key]
    sql = f"SELECT {', '.join(columns)}"
    if windows:
        sql += " FROM ledger_purchase WHERE member_id = %s"
        params.append(member.pk)
        exclude_pk = getattr(exclude, "pk", None)
        if exclude_pk:
            sql += " AND id <> %s"
            params.append(exclude_pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return tuple(cursor.fetchone())


def member_amount_spent(
    *, member, since: datetime | None = None, until: datetime | None = None, exclude=None
) -> Decimal:
    """Amount paid (amount due less refunds) in [since, until), in the program's base currency:
    purchases in other currencies converted at the rates in force when each happened
    (`campaigns.segments.purchases_paid_in_base`)."""
    from .segments import purchases_paid_in_base

    queryset = _purchases(member, exclude=exclude)
    if since is not None:
        queryset = queryset.filter(occurred_at__gte=since)
    if until is not None:
        queryset = queryset.filter(occurred_at__lt=until)
    queryset = purchases_paid_in_base(queryset, base_currency=member.program.base_currency)
    return queryset.aggregate(total=Sum("paid_base"))["total"] or Decimal("0")


def member_login_days(*, member, since: datetime, until: datetime, tz) -> list[date]:
    """Distinct local dates (program time zone) with a login event in [since, until), sorted."""
    from .models import ActivityEvent

    times = ActivityEvent.objects.filter(
        member=member, type="login", occurred_at__gte=since, occurred_at__lt=until
    ).values_list("occurred_at", flat=True)
    return sorted({moment.astimezone(tz).date() for moment in times})


def longest_streak(days: list[date]) -> int:
    """Length of the longest run of consecutive dates in a sorted list."""
    best = run = 0
    previous = None
    for day in days:
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        best = max(best, run)
        previous = day
    return best


def campaigns_running(
    *, program, trigger: str | None = None, at: datetime, event_type: str | None = None, triggers=None
):
    """Active campaigns of `program` for `trigger` (or any of `triggers`) whose window contains
    `at`, with their conditions, rewards and targets prefetched."""
    wanted = [trigger] if trigger is not None else list(triggers or [])
    queryset = _active_campaigns(program, wanted).running(at)
    if event_type is not None:
        queryset = queryset.filter(event_type=event_type)
    return _with_rules(queryset)


def campaigns_configured(*, program, triggers) -> list:
    """Active campaigns of `program` for any of `triggers`, whatever their window, with their
    conditions, rewards and targets prefetched: what the configuration cache keeps (filter the
    window with `Campaign.in_window`)."""
    return _with_rules(_active_campaigns(program, list(triggers)))


def _active_campaigns(program, triggers: list[str]):
    from .models import Campaign

    return Campaign.objects.filter(program=program, trigger__in=triggers, is_active=True)


def _with_rules(queryset) -> list:
    from .models import Campaign, CampaignCondition, CampaignReward

    # ordered by priority within the program (the model's default ordering joins the program and
    # the merchant to sort by their names); children in id order without those joins either
    campaigns = list(
        queryset.order_by("priority", "id")
        .annotate(
            has_target_tiers=Exists(Campaign.target_tiers.through.objects.filter(campaign_id=OuterRef("pk"))),
            has_target_segments=Exists(
                Campaign.target_segments.through.objects.filter(campaign_id=OuterRef("pk"))
            ),
        )
        .prefetch_related(
            Prefetch("conditions", queryset=CampaignCondition.objects.order_by("id")),
            Prefetch("rewards", queryset=CampaignReward.objects.order_by("id")),
        )
    )
    # the targets are read only for the campaigns that have some (most have none): the others get
    # an empty prefetch, so `campaign.target_tiers.all()` costs no query either way
    for name, flag in (("target_tiers", "has_target_tiers"), ("target_segments", "has_target_segments")):
        prefetch_related_objects([c for c in campaigns if getattr(c, flag)], name)
        for campaign in campaigns:
            if not getattr(campaign, flag):
                empty = getattr(campaign, name).none()
                empty._result_cache = []
                empty._prefetch_done = True
                campaign.__dict__.setdefault("_prefetched_objects_cache", {})[name] = empty
    return campaigns


def coupons_for_member(*, member, at: datetime):
    """Coupons a member can use now: bound to them or open, active, within their window."""
    from .models import Coupon

    return (
        Coupon.objects.filter(program=member.program_id, is_active=True)
        .filter(Q(member=member))
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=at), Q(ends_at__isnull=True) | Q(ends_at__gt=at))
        .order_by("ends_at", "id")
    )


def campaign_roi(*, campaign, since: datetime | None = None, until: datetime | None = None, at=None) -> dict:
    """ROI of a campaign over the grants made in [since, until): see campaigns.reports (members
    rewarded, cost, attributed revenue, ROI in percent, coupon redemption rate, holdout)."""
    from .reports import campaign_roi as report

    return report(campaign=campaign, since=since, until=until, at=at)


def member_tasks_today(*, member, at: datetime) -> list[dict]:
    """The program's active daily tasks for the member's day containing `at` (program time zone),
    each with whether the member completed it that day (a `task_completed` event naming it):
    `{"code", "name", "description", "done", "done_at"}`, in code order."""
    from .models import ActivityEvent, DailyTask

    start, end = period_window(DAY, at, member.program.tz)
    done: dict[str, datetime] = {}
    events = ActivityEvent.objects.filter(
        member=member, type="task_completed", occurred_at__gte=start, occurred_at__lt=end
    ).order_by("occurred_at")
    for occurred_at, data in events.values_list("occurred_at", "data"):
        done.setdefault(str((data or {}).get("task", "")), occurred_at)
    tasks = DailyTask.objects.filter(program=member.program_id, is_active=True).order_by("code")
    return [
        {
            "code": task.code,
            # in the member's language (else the program's default, else any)
            "name": content.text(task, "name", member=member, program=member.program),
            "description": content.text(task, "description", member=member, program=member.program),
            "done": task.code in done,
            "done_at": done.get(task.code),
        }
        for task in tasks
    ]

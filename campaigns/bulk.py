"""Campaign grants for a job's chunk of members, written set-based (birthdays, inactivity reminders,
schedule campaigns): the rows `engine.campaigns_apply` writes member by member, with a few
statements per chunk instead of a few per member.

A chunk is one transaction (`grants_chunk`):

1. the members are locked in primary-key order (their tiers set from one read of the program's);
2. every campaign is planned for every member by the engine's own `plan` (targeting, holdout,
   conditions, period key, per-member limit, budget), in priority order, an exclusive campaign that
   grants stopping the ones after it, against a `ChunkBook`: the chunk's grants counted with one
   query, the budgets read once (the rows of budgeted campaigns locked, after the members, the
   engine's lock order) and both moved by each grant planned;
3. the members whose bonus the ledger refuses (`ledger.bonuses.bonuses_refused`: a fraud limit, a
   reference used otherwise) lose every grant of the chunk, as their savepoint would roll back;
4. then one statement each: the grant rows (a grant that exists already is skipped: its rewards
   are not given), the budgets, the bonuses (`ledger.bonuses.bonuses_post`: lots settled, postings,
   entries, lots, balances, tier upgrades, `points.earned`), and the events of the chunk
   (`events_batched`); each reward kind's `give` runs per grant (a notification is an event; a
   coupon or an extension writes its row);
5. a member with two point grants in one chunk (two campaigns) goes through the engine one by one
   after the others (`_grant_chunk`): only there does a fraud limit see the first bonus when the
   second is checked.

Campaigns with referrer-side rewards have the whole chunk granted one by one (the referrer is not
among the chunk's locked members).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import connection

from accounts.locks import members_lock
from accounts.models import Member
from ledger.bonuses import Bonus, bonuses_post, bonuses_refused
from ledger.engine import gc_paused
from ledger.texts import member_text
from loyalty_site.core.bulk import rows_insert
from loyalty_site.core.db import atomic_with_retry
from loyalty_site.core.events import event_emit, events_batched
from loyalty_site.core.i18n import member_language
from tiers.models import Tier

from .engine import BUDGET_TAKE_SQL, Context, GrantBook, Planned, plan
from .kinds import reward_kinds
from .models import Campaign, CampaignGrant, CampaignReward

logger = logging.getLogger("loyalty.campaigns")


class ChunkBook(GrantBook):
    """`plan`'s grant questions answered for a locked chunk from two reads, then from the grants
    planned in it."""

    def __init__(self, campaigns: list[Campaign], member_ids: list[int]) -> None:
        self.keys: dict[tuple[int, int], list[str]] = {}
        ids = [campaign.pk for campaign in campaigns]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT campaign_id, member_id, array_agg(period_key) FROM campaigns_campaigngrant "
                "WHERE campaign_id = ANY(%s) AND member_id = ANY(%s) GROUP BY campaign_id, member_id",
                [ids, member_ids],
            )
            for campaign_id, member_id, keys in cursor.fetchall():
                self.keys[(campaign_id, member_id)] = list(keys)
            budgeted = sorted(campaign.pk for campaign in campaigns if campaign.points_budget)
            self.granted: dict[int, int] = {}
            if budgeted:
                cursor.execute(
                    "SELECT id, points_granted FROM campaigns_campaign WHERE id = ANY(%s) "
                    "ORDER BY id FOR UPDATE",
                    [budgeted],
                )
                self.granted = dict(cursor.fetchall())

    def member_counts(self, campaign: Campaign, member, period_key: str) -> tuple[int, int]:
        keys = self.keys.get((campaign.pk, member.pk), [])
        return len(keys), keys.count(period_key)

    def points_granted(self, campaign: Campaign) -> int:
        return self.granted.get(campaign.pk, 0)

    def add(self, planned: Planned) -> None:
        campaign = planned.campaign
        self.keys.setdefault((campaign.pk, planned.member.pk), []).append(planned.period_key)
        if campaign.pk in self.granted:
            self.granted[campaign.pk] += planned.points


def one_by_one(campaigns: list[Campaign]) -> bool:
    """Whether these campaigns must be granted member by member (a referrer-side reward)."""
    return any(
        reward.recipient != CampaignReward.Recipient.MEMBER
        for campaign in campaigns
        for reward in campaign.rewards.all()
    )


def _plan_chunk(
    members: list[Member], campaigns: list[Campaign], make_ctx, book: ChunkBook
) -> list[tuple[Planned, Context]]:
    planned: list[tuple[Planned, Context]] = []
    for member in members:
        ctx = make_ctx(member)
        if ctx is None:
            continue
        for campaign in campaigns:
            found = plan(campaign, ctx, grants=book)
            if found is None:
                continue
            book.add(found)
            planned.append((found, ctx))
            if campaign.exclusive:
                break
    return planned


@atomic_with_retry
def grants_chunk(
    member_ids: list[int], campaigns: list[Campaign], make_ctx: Callable[[Member], Context | None], *, at
) -> int:
    """Grant `campaigns` (in priority order, running at `at`) to the chunk's members, `make_ctx`
    giving each locked member's context (None: skip). One transaction; see the module. Returns the
    grants written."""
    from .jobs import _grant_chunk

    with gc_paused(), events_batched():
        members = members_lock(member_ids)
        if not members:
            return 0
        tiers = {tier.pk: tier for tier in Tier.objects.filter(program_id=members[0].program_id)}
        for member in members:
            member.tier = tiers.get(member.tier_id) if member.tier_id else None
        book = ChunkBook(campaigns, [member.pk for member in members])
        planned = _plan_chunk(members, campaigns, make_ctx, book)

        point_grants: dict[int, int] = {}
        for found, _ctx in planned:
            if found.points:
                point_grants[found.member.pk] = point_grants.get(found.member.pk, 0) + 1
        solo = {member_id for member_id, count in point_grants.items() if count > 1}
        planned = [(found, ctx) for found, ctx in planned if found.member.pk not in solo]

        descriptions: dict[tuple[int, str], str] = {}
        bonuses: dict[int, Bonus] = {}  # by the index in `planned`
        for index, (found, _ctx) in enumerate(planned):
            if not found.points:
                continue
            member, campaign = found.member, found.campaign
            language = (campaign.pk, member_language(member))
            if language not in descriptions:
                descriptions[language] = member_text(member, lambda campaign=campaign: campaign.name)
            bonuses[index] = Bonus(
                member=member,
                points=found.points,
                reference=f"campaign:{campaign.pk}:{member.pk}:{found.period_key}",
                description=descriptions[language],
                campaign_id=campaign.pk,
            )
        refused = bonuses_refused(list(bonuses.values()), at=at)
        for bonus in refused:
            logger.warning("campaign grant skipped for member %s: %s", bonus.member.pk, bonus.error.code)
        dropped = {bonus.member.pk for bonus in refused}
        keep = [i for i, (found, _ctx) in enumerate(planned) if found.member.pk not in dropped]

        written = _grants_write(planned, keep, bonuses, at=at)
        if solo:
            written += _grant_chunk(sorted(solo), campaigns, make_ctx)
    return written


def _grants_write(
    planned: list[tuple[Planned, Context]], keep: list[int], bonuses: dict[int, Bonus], *, at: datetime
) -> int:
    if not keep:
        return 0
    rows = rows_insert(
        CampaignGrant,
        {
            "campaign_id": [planned[i][0].campaign.pk for i in keep],
            "member_id": [planned[i][0].member.pk for i in keep],
            "period_key": [planned[i][0].period_key for i in keep],
            "points": [planned[i][0].points for i in keep],
            "cost": [planned[i][0].campaign.program.points_value(planned[i][0].points) for i in keep],
            "purchase_ref": ["" for _i in keep],
            "created_at": [at for _i in keep],
        },
        skip_conflict="grant_unique_period",
        returning=("id", "campaign_id", "member_id", "period_key"),
    )
    ids = {(campaign_id, member_id, key): pk for pk, campaign_id, member_id, key in rows}
    granted: list[tuple[int, CampaignGrant]] = []
    budgets: dict[int, int] = {}
    for i in keep:
        found, _ctx = planned[i]
        pk = ids.get((found.campaign.pk, found.member.pk, found.period_key))
        if pk is None:  # granted by a concurrent transaction: its rewards are given there
            continue
        row = CampaignGrant(
            pk=pk,
            campaign=found.campaign,
            member=found.member,
            period_key=found.period_key,
            points=found.points,
            cost=found.campaign.program.points_value(found.points),
            purchase_ref="",
            created_at=at,
        )
        row._state.adding = False
        granted.append((i, row))
        if found.points:
            budgets[found.campaign.pk] = budgets.get(found.campaign.pk, 0) + found.points
    with connection.cursor() as cursor:
        for campaign_id, points in sorted(budgets.items()):
            cursor.execute(BUDGET_TAKE_SQL, [points, campaign_id, points])
            if cursor.rowcount != 1:  # pragma: no cover - the budget rows are locked by ChunkBook
                raise RuntimeError(f"campaign {campaign_id}: the budget moved under its lock")
    bonuses_post([bonuses[i] for i, _row in granted if i in bonuses], at=at, checked=True)
    for i, row in granted:
        found, ctx = planned[i]
        reference = f"campaign:{found.campaign.pk}:{found.member.pk}:{found.period_key}"
        for reward in found.rewards:
            kind = reward_kinds.get(reward.kind)
            if kind is not None:
                kind.give(reward, row=row, ctx=ctx, reference=reference)
        if row.points or row.coupon_id:
            campaign = found.campaign
            event_emit(
                program=campaign.program,
                type="reward.granted",
                at=at,
                member=found.member,
                key=f"reward.granted:{row.pk}",
                data={
                    "campaign": campaign.code,
                    "campaign_name": campaign.name,
                    "points": row.points,
                    "coupon": row.coupon.code if row.coupon_id else None,
                    "description": found.description,
                },
            )
    return len(granted)

"""Real threads against real PostgreSQL: purchases racing for a campaign's last budget. Each
purchase locks its own member, so the campaign's grant runs without a savepoint: a budget that
runs out must leave the purchase whole (no grant, no bonus), never a broken transaction."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Member
from campaigns.models import Campaign, CampaignGrant, CampaignReward
from checkout.purchases import purchase_create
from ledger.models import Purchase
from tests.campaigns.conftest import T0
from tests.factories import MemberFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_eight_purchases_racing_for_a_budget_of_three_bonuses(seeded):
    campaign = Campaign.objects.create(
        program=seeded,
        code="budget_race",
        name="Budget race",
        trigger=Campaign.Trigger.PURCHASE,
        period=Campaign.Period.ONCE,
        points_budget=300,
        starts_at=T0 - timedelta(days=1),
        is_active=True,
    )
    CampaignReward.objects.create(campaign=campaign, kind=CampaignReward.Kind.POINTS, points=100)
    members = [MemberFactory(program=seeded, at=T0 - timedelta(days=10)) for _ in range(8)]

    def buy(member_id: int):
        try:
            member = Member.objects.select_related("program").get(pk=member_id)
            purchase = purchase_create(
                member=member, external_id=f"race-{member_id}", amount=Decimal("10.00"), currency="AZN", at=T0
            ).purchase
            return [line for line in purchase.applied if line["source"] == "campaign"]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(buy, [m.pk for m in members]))

    assert Purchase.objects.filter(external_id__startswith="race-").count() == 8  # none failed
    rewarded = [lines for lines in results if lines]
    assert len(rewarded) == 3 and all(lines[0]["points"] == 100 for lines in rewarded)
    campaign.refresh_from_db()
    assert campaign.points_granted == 300
    assert CampaignGrant.objects.filter(campaign=campaign).count() == 3
    earned = {p.member_id: p.points_earned for p in Purchase.objects.filter(external_id__startswith="race-")}
    assert sorted(earned.values()) == [80] * 5 + [180] * 3

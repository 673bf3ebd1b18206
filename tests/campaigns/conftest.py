"""Campaign fixtures: a program with the seed rates and the seed campaigns (no tiers: the tier
discount and multiplier stay out of the numbers), explicit times, and a purchase helper."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from campaigns.models import Campaign, CampaignGrant
from campaigns.presets import seed_campaigns
from checkout.purchases import purchase_create
from ledger.models import CurrencyRate
from tests.factories import MemberFactory, ProgramFactory

# A Monday, so ISO weeks read easily: week 2026-W47 is 16..22 November.
T0 = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


@pytest.fixture
def t0():
    return T0


@pytest.fixture
def seeded(db):
    """A UTC program with AZN 8 / USD 12 points per unit (from a year before T0) and the seed
    campaigns of campaigns.presets."""
    program = ProgramFactory(base_currency="AZN", time_zone="UTC")
    start = T0 - timedelta(days=365)
    for currency, ppu in [("AZN", "8"), ("USD", "12")]:
        CurrencyRate.objects.create(
            program=program, currency=currency, points_per_unit=Decimal(ppu), valid_from=start
        )
    seed_campaigns(program=program, at=start)
    return program


@pytest.fixture
def make_member(seeded):
    counter = {"n": 0}

    def make(at=None, **kwargs):
        counter["n"] += 1
        return MemberFactory(program=seeded, at=at or T0 - timedelta(days=200), **kwargs)

    return make


@pytest.fixture
def buy():
    counter = {"n": 0}

    def purchase(member, amount, at, currency="AZN", coupon_code=None):
        counter["n"] += 1
        return purchase_create(
            member=member,
            external_id=f"R-{member.pk}-{counter['n']}",
            amount=Decimal(amount),
            currency=currency,
            at=at,
            coupon_code=coupon_code,
        ).purchase

    return purchase


def grants(code, member=None):
    queryset = CampaignGrant.objects.filter(campaign__code=code)
    if member is not None:
        queryset = queryset.filter(member=member)
    return queryset


def campaign(program, code):
    return Campaign.objects.get(program=program, code=code)

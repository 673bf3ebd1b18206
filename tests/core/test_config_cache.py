"""The per-process configuration cache: the triggers give the program a new version on every
configuration change (and only then), and a request never prices with an older configuration."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Member, Program
from accounts.services import api_key_create
from campaigns.models import Campaign, CampaignCondition, CampaignReward
from checkout.pricing import purchase_quote
from fraud.models import FraudRule
from ledger.models import CurrencyRate
from loyalty_site.core import config_cache
from tests.api.conftest import client_with_key
from tests.factories import MemberFactory, ProgramFactory
from tests.tiers.helpers import seed_program
from tiers.models import SpendDiscount, Tier


def version(program: Program):
    return Program.objects.values_list("config_version", flat=True).get(pk=program.pk)


@pytest.fixture
def program(db):
    return seed_program(ProgramFactory(base_currency="USD", time_zone="UTC"), at=timezone.now())


@pytest.fixture
def campaign(program):
    campaign = Campaign.objects.create(
        program=program, code="double", name="Double", trigger=Campaign.Trigger.PURCHASE, is_active=True
    )
    CampaignReward.objects.create(campaign=campaign, kind=CampaignReward.Kind.POINTS, points=100)
    return campaign


def test_every_configuration_table_change_gives_a_new_version(program, campaign):
    gold = Tier.objects.get(program=program, code="gold")
    changes = [
        lambda: CurrencyRate.objects.filter(program=program, currency="USD").update(points_per_unit=13),
        lambda: Campaign.objects.filter(pk=campaign.pk).update(priority=7),
        lambda: CampaignCondition.objects.create(campaign=campaign, kind="min_amount", amount=Decimal("5")),
        lambda: CampaignReward.objects.filter(campaign=campaign).update(points=150),
        lambda: campaign.target_tiers.add(gold),
        lambda: campaign.target_tiers.remove(gold),
        lambda: Tier.objects.filter(pk=gold.pk).update(discount_percent=Decimal("8")),
        lambda: SpendDiscount.objects.create(
            program=program, threshold=Decimal("1000"), percent=Decimal("3")
        ),
        lambda: FraudRule.objects.create(
            program=program, name="r", kinds=["earn"], window_minutes=60, max_count=9
        ),
        lambda: FraudRule.objects.filter(program=program, name="r").delete(),
        lambda: Program.objects.filter(pk=program.pk).update(point_value=Decimal("0.02")),
    ]
    seen = {version(program)}
    for change in changes:
        change()
        seen.add(version(program))
    assert len(seen) == len(changes) + 1


def test_the_hot_counter_and_unchanged_rows_keep_the_version(program, campaign):
    before = version(program)
    Campaign.objects.filter(pk=campaign.pk).update(points_granted=500)  # every bonus purchase does this
    CurrencyRate.objects.filter(program=program, currency="USD").update(cap=None)  # no cap already
    assert version(program) == before
    other = ProgramFactory()
    Campaign.objects.filter(pk=campaign.pk).update(name="Double!")
    assert Program.objects.get(pk=other.pk).config_version == other.config_version  # only the owner's


def test_a_program_saved_with_an_old_version_in_memory_never_writes_it_back(program, campaign):
    stale = Program.objects.get(pk=program.pk)
    CampaignReward.objects.filter(campaign=campaign).update(points=150)
    changed = version(program)
    stale.name = "Renamed"
    stale.save()
    assert version(program) not in (stale.config_version, changed)


def test_a_request_prices_with_the_configuration_of_its_own_snapshot(program, campaign):
    member = MemberFactory(program=program, at=timezone.now() - timedelta(days=1))
    _key, raw = api_key_create(program=program, name="k")
    api = client_with_key(raw)
    body = {"member": member.pk, "amount": "10.00", "currency": "USD"}

    def quote():
        response = api.post("/api/v1/purchases/quote/", body, format="json")
        assert response.status_code == 200, response.content
        return response.json()["points_to_earn"]

    with CaptureQueriesContext(connection) as cold:
        first = quote()
    with CaptureQueriesContext(connection) as warm:
        assert quote() == first
    # the second request reads no configuration (rates, campaigns and their rules, tiers)
    assert len(warm) < len(cold)
    assert not [
        q for q in warm if '"ledger_currencyrate"' in q["sql"] or 'FROM "campaigns_campaign"' in q["sql"]
    ]

    # bulk updates send no signals; the triggers see them all the same
    CampaignReward.objects.filter(campaign=campaign).update(points=250)
    CurrencyRate.objects.filter(program=program, currency="USD").update(points_per_unit=Decimal("24"))
    # 10.00 - 2 % Bronze = 9.80: x 12 = 117 (+ 100), then x 24 = 235 (+ 250)
    assert (first, quote()) == (217, 485)


def test_a_rolled_back_change_is_never_served(program, campaign):
    member = MemberFactory(program=program, at=timezone.now() - timedelta(days=1))
    at = timezone.now()

    def fresh_quote():
        fresh = Member.objects.select_related("program").get(pk=member.pk)
        return purchase_quote(member=fresh, amount="10.00", currency="USD", at=at).points_to_earn

    before = fresh_quote()
    with pytest.raises(RuntimeError), transaction.atomic():
        CampaignReward.objects.filter(campaign=campaign).update(points=900)
        assert fresh_quote() == 117 + 900  # cached under the version of the rolled-back transaction
        raise RuntimeError("roll back")
    assert fresh_quote() == before == 117 + 100
    CampaignReward.objects.filter(campaign=campaign).update(points=300)
    assert fresh_quote() == 117 + 300


def test_services_that_change_the_configuration_refresh_their_callers_instance(program):
    from ledger.services import rate_get, rate_set

    at = timezone.now()
    assert rate_get(program=program, currency="USD", at=at).points_per_unit == Decimal("12")
    rate_set(program=program, currency="USD", points_per_unit=Decimal("20"), at=at - timedelta(seconds=1))
    assert program.config_version == version(program)
    assert rate_get(program=program, currency="USD", at=at).points_per_unit == Decimal("20")


def test_the_cache_holds_a_bounded_number_of_programs(db, monkeypatch):
    monkeypatch.setattr(config_cache, "MAX_PROGRAMS", 2)
    config_cache.clear()
    programs = [ProgramFactory() for _ in range(3)]
    loads = []
    for program in programs:
        config_cache.program_config(program, "x", lambda p=program: loads.append(p.pk) or p.pk)
    assert config_cache.program_config(programs[2], "x", lambda: -1) == programs[2].pk  # still cached
    assert config_cache.program_config(programs[0], "x", lambda: -1) == -1  # evicted, loaded again
    assert len(loads) == 3

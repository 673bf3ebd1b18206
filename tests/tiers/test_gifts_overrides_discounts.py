from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.models import Member
from checkout.pricing import purchase_quote
from checkout.purchases import purchase_create
from ledger.models import Posting
from ledger.services import points_bonus, points_earn
from loyalty_site.core.errors import InvalidInput
from tests.factories import MemberFactory
from tiers.jobs import reevaluate_tiers, tier_gifts
from tiers.models import SpendDiscount, Tier, TierChange, TierGift, TierOverride
from tiers.services import gift_period_bounds, tier_override_end, tier_override_set


def tier_of(member):
    return Member.objects.get(pk=member.pk).tier.code


def gifts_of(member):
    return list(
        Posting.objects.filter(member=member, reference__startswith="tier_gift:")
        .order_by("id")
        .values_list("reference", "points")
    )


# --- periodic gifts ------------------------------------------------------------------------------

MONDAY = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)  # a Monday, the daily job's time


def test_gift_periods_are_the_last_completed_ones_in_the_program_zone():
    import zoneinfo

    baku = zoneinfo.ZoneInfo("Asia/Baku")
    assert gift_period_bounds(period="daily", at=MONDAY, tz=baku) == (
        "daily:2026-11-22",
        datetime(2026, 11, 22, tzinfo=baku),
        datetime(2026, 11, 23, tzinfo=baku),
    )
    assert gift_period_bounds(period="weekly", at=MONDAY, tz=baku)[0] == "weekly:2026-W47"
    assert gift_period_bounds(period="monthly", at=MONDAY, tz=baku)[0] == "monthly:2026-10"
    # 23:30 UTC on Sunday is already Monday in Baku (UTC+4)
    assert gift_period_bounds(period="daily", at=datetime(2026, 11, 22, 23, 30, tzinfo=UTC), tz=baku)[0] == (
        "daily:2026-11-22"
    )


def test_daily_gift_once_per_period_to_active_members_only(seeded):
    active = MemberFactory(program=seeded, at=MONDAY - timedelta(days=10))
    idle = MemberFactory(program=seeded, at=MONDAY - timedelta(days=10))
    purchase_create(
        member=active, external_id="A1", amount="5.00", currency="AZN", at=MONDAY - timedelta(hours=10)
    )
    Member.objects.filter(pk=idle.pk).update(last_activity_at=MONDAY - timedelta(days=5))

    assert tier_gifts(at=MONDAY) == {"programs": 1, "given": 1, "skipped": 0}
    assert tier_gifts(at=MONDAY) == {"programs": 1, "given": 0, "skipped": 0}
    assert tier_gifts(at=MONDAY + timedelta(hours=20)) == {"programs": 1, "given": 0, "skipped": 0}

    assert gifts_of(active) == [(f"tier_gift:{active.pk}:daily:2026-11-22", 50)]
    assert gifts_of(idle) == []
    assert Member.objects.get(pk=active.pk).balance == 39 + 50  # 4.90 AZN x 8 + the gift
    gift = TierGift.objects.get(member=active)
    assert (gift.period, gift.points, gift.tier.code) == ("daily:2026-11-22", 50, "bronze")

    # the next day: the member was idle on the 23rd, so no second gift
    assert tier_gifts(at=MONDAY + timedelta(days=1))["given"] == 0


def test_without_the_activity_rule_every_member_of_the_tier_gets_the_gift(seeded):
    seeded.tier_gifts_require_activity = False
    seeded.save()
    old = MemberFactory(program=seeded, at=MONDAY - timedelta(days=10))
    MemberFactory(program=seeded, at=MONDAY - timedelta(hours=1))  # joined after the period ended

    assert tier_gifts(at=MONDAY)["given"] == 1
    assert tier_gifts(at=MONDAY + timedelta(days=1))["given"] == 2  # both, for the 23rd
    assert [p for _, p in gifts_of(old)] == [50, 50]


def test_weekly_gift_once_per_week_whatever_day_the_job_runs(seeded):
    seeded.tier_gifts_require_activity = False
    seeded.save()
    member = MemberFactory(program=seeded, at=MONDAY - timedelta(days=20))
    points_bonus(member=member, points=1000, at=MONDAY - timedelta(days=20), reference="b", description="x")
    assert tier_of(member) == "silver"

    for day in range(7):  # Monday to Sunday: all about week 47
        tier_gifts(at=MONDAY + timedelta(days=day))
    assert gifts_of(member) == [(f"tier_gift:{member.pk}:weekly:2026-W47", 200)]
    tier_gifts(at=MONDAY + timedelta(days=7))
    assert [ref.rsplit(":", 1)[1] for ref, _ in gifts_of(member)] == ["2026-W47", "2026-W48"]


def test_blocked_members_get_no_gift(seeded):
    seeded.tier_gifts_require_activity = False
    seeded.save()
    member = MemberFactory(program=seeded, at=MONDAY - timedelta(days=10))
    Member.objects.filter(pk=member.pk).update(status=Member.Status.BLOCKED)
    assert tier_gifts(at=MONDAY)["given"] == 0
    assert TierGift.objects.count() == 0


# --- manual tier -----------------------------------------------------------------------------------


def test_manual_tier_is_a_floor_until_it_ends(bronze, now, events):
    gold = Tier.objects.get(program=bronze.program, code="gold")
    override = tier_override_set(
        member=bronze, tier=gold, reason="VIP guest", ends_at=now + timedelta(days=30), at=now
    )
    assert tier_of(bronze) == "gold"
    change = TierChange.objects.filter(member=bronze).first()
    assert (change.reason, change.note, change.to_tier.code) == ("manual", "VIP guest", "gold")

    assert reevaluate_tiers(at=now + timedelta(days=10))["downgraded"] == 0
    assert tier_of(bronze) == "gold"
    points_earn(member=bronze, points=6000, at=now + timedelta(days=11), reference="big")
    assert tier_of(bronze) == "platinum"  # earning may lift the member above the floor

    assert override.ends_at == now + timedelta(days=30)
    assert reevaluate_tiers(at=now + timedelta(days=31))["downgraded"] == 0  # 6 000 points: still Platinum


def test_when_the_manual_tier_ends_reevaluation_applies_the_rules(bronze, now):
    gold = Tier.objects.get(program=bronze.program, code="gold")
    override = tier_override_set(
        member=bronze, tier=gold, reason="Complaint", ends_at=now + timedelta(days=30), at=now
    )
    tier_override_end(override=override, at=now + timedelta(days=2))
    assert TierOverride.objects.get(pk=override.pk).ends_at == now + timedelta(days=2)

    assert reevaluate_tiers(at=now + timedelta(days=3))["downgraded"] == 1
    assert tier_of(bronze) == "bronze"


def test_manual_tier_of_another_program_is_refused(bronze, now):
    other = MemberFactory()
    from tests.tiers.helpers import seed_program

    seed_program(other.program, at=now)
    foreign = Tier.objects.get(program=other.program, code="gold")
    with pytest.raises(InvalidInput) as error:
        tier_override_set(member=bronze, tier=foreign, reason="x", ends_at=now + timedelta(days=1), at=now)
    assert "tier" in error.value.fields
    assert TierOverride.objects.count() == 0
    assert tier_of(bronze) == "bronze"


# --- discounts -----------------------------------------------------------------------------------


def lines(quote):
    return [
        (line["source"], line["description"], line["discount"])
        for line in quote.applied
        if "discount" in line
    ]


def test_best_discount_applies_alone(bronze, now):
    program = bronze.program
    program.fixed_discount_percent = Decimal("5")
    program.save()
    quote = purchase_quote(member=Member.objects.get(pk=bronze.pk), amount="200.00", currency="AZN", at=now)
    assert lines(quote) == [("program", "Program discount 5%", "10.00")]
    assert quote.amount_due == Decimal("190.00")


def test_on_a_tie_the_tier_discount_is_shown(bronze, now):
    program = bronze.program
    program.fixed_discount_percent = Decimal("2")
    program.save()
    quote = purchase_quote(member=Member.objects.get(pk=bronze.pk), amount="200.00", currency="AZN", at=now)
    assert lines(quote) == [("tier", "Bronze 2%", "4.00")]


def test_discounts_sum_when_the_program_says_so(bronze, now):
    program = bronze.program
    program.fixed_discount_percent = Decimal("3")
    program.discount_combination = "sum"
    program.save()
    SpendDiscount.objects.create(program=program, threshold=Decimal("100"), percent=Decimal("4"))
    SpendDiscount.objects.create(program=program, threshold=Decimal("1000"), percent=Decimal("8"))
    member = Member.objects.get(pk=bronze.pk)

    before = purchase_quote(member=member, amount="33.33", currency="AZN", at=now)
    assert lines(before) == [("tier", "Bronze 2%", "0.67"), ("program", "Program discount 3%", "1.00")]

    purchase_create(member=member, external_id="S1", amount="120.00", currency="AZN", at=now)  # 114.00 paid
    after = purchase_quote(member=Member.objects.get(pk=bronze.pk), amount="33.33", currency="AZN", at=now)
    assert lines(after) == [
        ("tier", "Bronze 2%", "0.67"),
        ("program", "Program discount 3%", "1.00"),
        ("spend", "Spent 100 AZN+ 4%", "1.33"),
    ]
    assert (after.discount, after.amount_due) == (Decimal("3.00"), Decimal("30.33"))


def test_summed_discounts_never_exceed_the_amount(bronze, now):
    program = bronze.program
    program.fixed_discount_percent = Decimal("99")
    program.discount_combination = "sum"
    program.save()
    quote = purchase_quote(member=Member.objects.get(pk=bronze.pk), amount="10.00", currency="AZN", at=now)
    assert lines(quote) == [
        ("tier", "Bronze 2%", "0.20"),
        ("program", "Program discount 99% (98% applied: 100% in total)", "9.80"),
    ]
    assert (quote.amount_due, quote.points_to_earn) == (Decimal("0.00"), 0)


def test_spend_discount_counts_money_paid_less_refunds(bronze, now):
    from ledger.services import purchase_refund

    program = bronze.program
    SpendDiscount.objects.create(program=program, threshold=Decimal("100"), percent=Decimal("6"))
    purchase = purchase_create(
        member=bronze, external_id="S1", amount="120.00", currency="AZN", at=now
    ).purchase
    member = Member.objects.get(pk=bronze.pk)
    assert lines(purchase_quote(member=member, amount="50.00", currency="AZN", at=now)) == [
        ("spend", "Spent 100 AZN+ 6%", "3.00")
    ]
    purchase_refund(purchase=purchase, amount=Decimal("30.00"), at=now, reference="rf")  # 84.00 left paid
    assert lines(purchase_quote(member=member, amount="50.00", currency="AZN", at=now)) == [
        ("tier", "Bronze 2%", "1.00")
    ]


def test_tier_thresholds_must_rise_with_rank(seeded):
    from django.core.exceptions import ValidationError

    silver = Tier.objects.get(program=seeded, code="silver")
    silver.threshold = 3000  # Gold's
    with pytest.raises(ValidationError) as error:
        silver.full_clean()
    assert error.value.message_dict["threshold"] == ["Must be below Gold's threshold (3000)."]
    silver.threshold = 2999
    silver.full_clean()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_gift_job_at_once_give_each_gift_once():
    import threading

    from django.db import connection

    from tests.factories import ProgramFactory
    from tests.tiers.helpers import seed_program

    program = seed_program(ProgramFactory(time_zone="UTC", tier_gifts_require_activity=False), at=MONDAY)
    members = [MemberFactory(program=program, at=MONDAY - timedelta(days=3)) for _ in range(5)]
    barrier = threading.Barrier(2)
    summaries = []

    def run():
        try:
            barrier.wait()
            summaries.append(tier_gifts(at=MONDAY))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(s["given"] for s in summaries) == 5
    assert TierGift.objects.count() == 5
    assert [Member.objects.get(pk=m.pk).balance for m in members] == [50] * 5

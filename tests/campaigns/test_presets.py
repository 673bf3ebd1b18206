"""One test per seed preset campaign, with exact numbers, through the services at explicit times."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.models import Member
from campaigns.jobs import birthdays, inactivity_reminders, weekly_bonus
from campaigns.models import Coupon, Referral
from campaigns.presets import seed_campaigns
from campaigns.services import event_record
from checkout.pricing import purchase_quote
from ledger.models import CurrencyRate, Lot
from ledger.services import rate_set
from loyalty_site.core.errors import InvalidInput
from tests.campaigns.conftest import T0, grants
from tests.factories import MemberFactory


def balance(member):
    return Member.objects.get(pk=member.pk).balance


def test_seed_is_idempotent(seeded):
    from campaigns.models import Campaign, CampaignReward, DailyTask, Segment

    seed_campaigns(program=seeded, at=T0)
    assert Campaign.objects.filter(program=seeded).count() == 11
    assert CampaignReward.objects.filter(campaign__program=seeded).count() == 14
    assert DailyTask.objects.filter(program=seeded).count() == 3
    assert Segment.objects.filter(program=seeded).count() == 3


def test_registration_bonus_once(seeded, make_member):
    member = make_member(at=T0)
    assert balance(member) == 100
    assert list(grants("registration_bonus").values_list("member", "points")) == [(member.pk, 100)]


def test_birthday_gift_once_a_year(seeded, make_member):
    born_today = make_member(birth_date=date(1990, 11, 20))
    make_member(birth_date=date(1990, 11, 21))
    at = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert birthdays(at=at)["grants"] == 1
    assert balance(born_today) == 100 + 500
    assert birthdays(at=at + timedelta(hours=5))["grants"] == 0
    assert balance(born_today) == 600
    assert list(grants("birthday_gift").values_list("member", "period_key", "points")) == [
        (born_today.pk, "2026", 500)
    ]
    assert birthdays(at=at + timedelta(days=365))["grants"] == 1  # next year's birthday


def test_leap_day_birthday_on_28_february_in_common_years(seeded, make_member):
    member = make_member(birth_date=date(2000, 2, 29))
    assert birthdays(at=datetime(2027, 2, 28, 8, 0, tzinfo=UTC))["grants"] == 1
    assert birthdays(at=datetime(2027, 3, 1, 8, 0, tzinfo=UTC))["grants"] == 0
    assert balance(member) == 600


def test_second_purchase_bonus_once(seeded, make_member, buy):
    member = make_member()
    assert buy(member, "10.00", T0).points_earned == 80
    second = buy(member, "10.00", T0 + timedelta(days=1))
    assert second.points_earned == 80 + 200
    assert [line["source"] for line in second.applied] == ["earn", "campaign"]
    assert second.applied[1] == {
        "source": "campaign",
        "description": "Second purchase bonus: +200 points",
        "points": 200,
    }
    assert buy(member, "10.00", T0 + timedelta(days=2)).points_earned == 80
    assert balance(member) == 100 + 80 + 280 + 80
    assert grants("second_purchase_bonus").count() == 1


def test_quote_shows_the_campaign_bonus_and_writes_nothing(seeded, make_member, buy):
    member = make_member()
    buy(member, "10.00", T0)
    quote = purchase_quote(member=member, amount=Decimal("10.00"), currency="AZN", at=T0 + timedelta(hours=1))
    assert quote.points_to_earn == 280
    assert grants("second_purchase_bonus").count() == 0


def test_review_bonus_once_a_day(seeded, make_member):
    member = make_member()
    _event, rewards = event_record(member=member, type="review", occurred_at=T0, data={})
    assert rewards == [
        {
            "campaign": "review_bonus",
            "name": "Review bonus",
            "member": member.pk,
            "points": 50,
            "coupon": None,
        }
    ]
    assert event_record(member=member, type="review", occurred_at=T0 + timedelta(hours=2), data={})[1] == []
    assert (
        len(event_record(member=member, type="review", occurred_at=T0 + timedelta(days=1), data={})[1]) == 1
    )
    assert balance(member) == 100 + 50 + 50


def _login(member, at):
    event_record(member=member, type="login", occurred_at=at, data={})


def test_weekly_double_bonus_once_for_a_qualifying_week_only(seeded, make_member, buy):
    qualifies, one_login_day, one_purchase, apart = (make_member() for _ in range(4))
    monday = T0  # 2026-11-16, ISO week 2026-W47
    for member in (qualifies, one_purchase, apart):
        _login(member, monday + timedelta(days=1))
    for member in (qualifies, one_purchase):
        _login(member, monday + timedelta(days=2, hours=3))
    _login(apart, monday + timedelta(days=3))  # Tuesday and Thursday: not consecutive
    _login(one_login_day, monday + timedelta(days=1))
    _login(one_login_day, monday + timedelta(days=1, hours=5))  # twice, the same day
    for member in (qualifies, one_login_day, apart):
        buy(member, "10.00", monday + timedelta(days=4))
        buy(member, "10.00", monday + timedelta(days=6, hours=12))
    buy(one_purchase, "10.00", monday + timedelta(days=4))
    buy(one_purchase, "10.00", monday + timedelta(days=7, hours=1))  # next week already
    before = {m.pk: balance(m) for m in (qualifies, one_login_day, one_purchase, apart)}

    next_monday = monday + timedelta(days=7, hours=2)
    summary = weekly_bonus(at=next_monday)
    assert summary["grants"] == 1
    assert balance(qualifies) == before[qualifies.pk] + 400
    for member in (one_login_day, one_purchase, apart):
        assert balance(member) == before[member.pk]
    assert list(grants("weekly_double_bonus").values_list("member", "period_key", "points")) == [
        (qualifies.pk, "2026-W47", 400)
    ]
    assert weekly_bonus(at=next_monday + timedelta(hours=6))["grants"] == 0  # the same week again
    assert balance(qualifies) == before[qualifies.pk] + 400


def test_twenty_percent_coupon_after_third_purchase_in_three_months_once(seeded, make_member, buy):
    member = make_member()
    buy(member, "10.00", T0)
    buy(member, "10.00", T0 + timedelta(days=40))
    assert Coupon.objects.filter(member=member).count() == 0
    third = buy(member, "10.00", T0 + timedelta(days=80))
    coupon = Coupon.objects.get(member=member)
    assert (coupon.kind, coupon.value, coupon.max_uses) == ("percent", Decimal("20.00"), 1)
    assert coupon.ends_at == T0 + timedelta(days=80 + 30)
    assert third.applied[-1] == {
        "source": "campaign",
        "description": "Frequent buyer 20% coupon: 20% coupon",
        "points": 0,
    }
    buy(member, "10.00", T0 + timedelta(days=85))
    assert Coupon.objects.filter(member=member).count() == 1
    assert grants("frequent_buyer_coupon").count() == 1
    # the coupon works: 20 % off the next purchase
    used = buy(member, "50.00", T0 + timedelta(days=86), coupon_code=coupon.code)
    assert used.discount_amount == Decimal("10.00")
    assert used.points_earned == 320


def test_no_coupon_when_three_purchases_span_more_than_three_months(seeded, make_member, buy):
    member = make_member()
    for day in (0, 50, 100):
        buy(member, "10.00", T0 + timedelta(days=day))
    assert Coupon.objects.filter(member=member).count() == 0


def test_inactivity_reminder_at_30_days_and_winback_at_60_days_once(seeded, make_member):
    member = make_member(at=T0)  # last activity T0
    assert inactivity_reminders(at=T0 + timedelta(days=29))["grants"] == 0
    assert inactivity_reminders(at=T0 + timedelta(days=30, hours=1))["grants"] == 1
    assert list(grants("inactivity_reminder").values_list("member", "points")) == [(member.pk, 0)]
    assert inactivity_reminders(at=T0 + timedelta(days=45))["grants"] == 0
    assert inactivity_reminders(at=T0 + timedelta(days=60, hours=1))["grants"] == 1
    assert inactivity_reminders(at=T0 + timedelta(days=61))["grants"] == 0
    grant = grants("winback_offer").get()
    assert grant.member_id == member.pk
    assert (grant.coupon.kind, grant.coupon.value, grant.coupon.member_id) == (
        "percent",
        Decimal("15"),
        member.pk,
    )
    assert Coupon.objects.filter(member=member).count() == 1
    assert balance(member) == 100
    # activity starts a new idle stretch: 60 more idle days → a second win-back
    _login(member, T0 + timedelta(days=62))
    summary = inactivity_reminders(at=T0 + timedelta(days=62 + 60, hours=1))
    assert summary["grants"] == 2


def test_daily_task_extends_points_by_five_days_once_a_day(seeded, make_member):
    member = make_member(at=T0)
    lot = Lot.objects.get(member=member)
    expires = lot.expires_at
    _event, rewards = event_record(
        member=member, type="task_completed", occurred_at=T0 + timedelta(hours=1), data={"task": "check_in"}
    )
    assert rewards[0]["campaign"] == "daily_tasks"
    assert Lot.objects.get(pk=lot.pk).expires_at == expires + timedelta(days=5)
    event_record(
        member=member, type="task_completed", occurred_at=T0 + timedelta(hours=2), data={"task": "share"}
    )
    assert Lot.objects.get(pk=lot.pk).expires_at == expires + timedelta(days=5)
    event_record(
        member=member, type="task_completed", occurred_at=T0 + timedelta(days=1), data={"task": "share"}
    )
    assert Lot.objects.get(pk=lot.pk).expires_at == expires + timedelta(days=10)
    with pytest.raises(InvalidInput):
        event_record(member=member, type="task_completed", occurred_at=T0, data={"task": "nope"})
    assert grants("daily_tasks").count() == 2


def test_referral_rewards_both_sides_once(seeded, make_member, buy):
    referrer = make_member()
    friend = MemberFactory(program=seeded, at=T0, referred_by=referrer.referral_code)
    assert Referral.objects.get(referred=friend).referrer_id == referrer.pk
    first = buy(friend, "10.00", T0 + timedelta(days=1))
    assert first.points_earned == 80 + 250
    assert balance(referrer) == 100 + 500
    assert balance(friend) == 100 + 330
    buy(friend, "10.00", T0 + timedelta(days=2))  # second purchase: second-purchase bonus, no referral
    assert balance(referrer) == 600
    assert sorted(grants("referral").values_list("member", "points")) == sorted(
        [(referrer.pk, 500), (friend.pk, 250)]
    )
    assert Referral.objects.get(referred=friend).rewarded_at == T0 + timedelta(days=1)


def test_usd_rate_rise_of_five_percent_adds_two_points_per_usd_purchase(seeded, make_member, buy):
    member = make_member()
    assert buy(member, "10.00", T0, currency="USD").points_earned == 120
    rate_set(program=seeded, currency="USD", points_per_unit=Decimal("12.5"), at=T0 + timedelta(days=1))
    assert (
        buy(member, "10.00", T0 + timedelta(days=2), currency="USD").points_earned == 125 + 200
    )  # second-purchase bonus, no rate bonus
    rate_set(program=seeded, currency="USD", points_per_unit=Decimal("13.2"), at=T0 + timedelta(days=3))
    assert buy(member, "10.00", T0 + timedelta(days=4), currency="USD").points_earned == 132 + 2
    assert buy(member, "10.00", T0 + timedelta(days=5), currency="USD").points_earned == 132 + 2
    assert buy(member, "10.00", T0 + timedelta(days=5), currency="AZN").points_earned == 80
    assert CurrencyRate.objects.filter(program=seeded, currency="USD").count() == 3
    assert grants("usd_rate_rise").count() == 2

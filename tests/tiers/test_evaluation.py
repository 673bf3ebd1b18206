from datetime import timedelta

import pytest
from django.db import transaction

from accounts.models import Member
from ledger.services import points_bonus, points_earn, points_redeem
from tests.factories import MemberFactory
from tiers.jobs import reevaluate_tiers
from tiers.models import MemberTierState, Tier, TierChange
from tiers.selectors import member_tier_progress


def tier_of(member):
    return Member.objects.get(pk=member.pk).tier.code


def test_new_member_gets_the_entry_tier_recorded_with_an_event(seeded, now, events):
    member = MemberFactory(program=seeded, at=now)

    assert tier_of(member) == "bronze"
    change = TierChange.objects.get(member=member)
    assert (change.from_tier, change.to_tier.code, change.reason, change.at) == (
        None,
        "bronze",
        "enrolment",
        now,
    )
    assert [(e["type"], e["data"]["to"], e["data"]["from"]) for e in events] == [
        ("tier.changed", "bronze", None)
    ]


def test_crossing_3000_qualifying_points_makes_gold_in_the_same_transaction(bronze, now, events):
    points_earn(member=bronze, points=2900, at=now, reference="e1")
    assert tier_of(bronze) == "silver"

    with transaction.atomic():
        points_earn(member=bronze, points=150, at=now + timedelta(hours=1), reference="e2")
        # still inside the posting's transaction
        assert tier_of(bronze) == "gold"

    changes = list(
        TierChange.objects.filter(member=bronze).order_by("id").values_list("to_tier__code", "reason")
    )
    assert changes == [("bronze", "enrolment"), ("silver", "earning"), ("gold", "earning")]
    assert [e["data"]["to"] for e in events] == ["silver", "gold"]
    assert events[-1]["data"]["qualifying_value"] == 3050


def test_spending_does_not_lower_qualifying_points(bronze, now):
    points_earn(member=bronze, points=3000, at=now, reference="e1")
    points_redeem(member=bronze, points=2500, at=now + timedelta(hours=1), reference="r1")

    progress = member_tier_progress(member=bronze, at=now + timedelta(days=1))
    assert progress == {"qualifying_points": 3000, "next_tier": "platinum", "points_to_next": 3000}
    assert reevaluate_tiers(at=now + timedelta(days=1))["downgraded"] == 0
    assert tier_of(bronze) == "gold"


def test_after_the_window_passes_reevaluation_moves_down_once(bronze, now, events):
    points_earn(member=bronze, points=1200, at=now, reference="old")
    points_bonus(member=bronze, points=2000, at=now + timedelta(days=200), reference="b1", description="gift")
    assert tier_of(bronze) == "gold"

    inside = now + timedelta(days=364)
    assert reevaluate_tiers(at=inside) == {"programs": 1, "evaluated": 0, "upgraded": 0, "downgraded": 0}
    assert tier_of(bronze) == "gold"

    after = now + timedelta(days=366)  # the 1 200 left the 365-day window; 2 000 remain: Silver
    summary = reevaluate_tiers(at=after)
    assert summary["downgraded"] == 1
    assert tier_of(bronze) == "silver"
    again = reevaluate_tiers(at=after)
    assert again["downgraded"] == 0
    assert reevaluate_tiers(at=after + timedelta(days=1))["downgraded"] == 0

    downs = TierChange.objects.filter(member=bronze, reason="reevaluation")
    assert list(downs.values_list("from_tier__code", "to_tier__code", "qualifying_value")) == [
        ("gold", "silver", 2000)
    ]
    assert events[-1]["data"]["direction"] == "down"


def test_points_posted_never_downgrades(bronze, now):
    points_earn(member=bronze, points=1000, at=now, reference="e1")
    points_earn(member=bronze, points=10, at=now + timedelta(days=400), reference="e2")
    assert tier_of(bronze) == "silver"


def test_grace_days_delay_the_downgrade(bronze, now):
    program = bronze.program
    program.tier_downgrade_grace_days = 7
    program.save()
    points_earn(member=bronze, points=1500, at=now, reference="e1")
    expired = now + timedelta(days=366)

    reevaluate_tiers(at=expired)
    assert tier_of(bronze) == "silver"
    assert MemberTierState.objects.get(member=bronze).below_since == expired
    reevaluate_tiers(at=expired + timedelta(days=6, hours=23))
    assert tier_of(bronze) == "silver"

    reevaluate_tiers(at=expired + timedelta(days=7))
    assert tier_of(bronze) == "bronze"
    assert MemberTierState.objects.get(member=bronze).below_since is None
    assert TierChange.objects.filter(member=bronze, reason="reevaluation").count() == 1


def test_qualifying_again_within_grace_clears_it(bronze, now):
    program = bronze.program
    program.tier_downgrade_grace_days = 7
    program.save()
    points_earn(member=bronze, points=1500, at=now, reference="e1")
    expired = now + timedelta(days=366)
    reevaluate_tiers(at=expired)
    points_earn(member=bronze, points=1000, at=expired + timedelta(days=1), reference="e2")

    reevaluate_tiers(at=expired + timedelta(days=8))
    assert tier_of(bronze) == "silver"
    assert MemberTierState.objects.get(member=bronze).below_since is None


def test_reversal_by_refund_lowers_qualifying_points(bronze, now):
    from checkout.purchases import purchase_create
    from ledger.services import purchase_refund

    purchase = purchase_create(
        member=bronze, external_id="R1", amount="100.00", currency="USD", at=now
    ).purchase
    assert purchase.points_earned == 1176
    assert member_tier_progress(member=bronze, at=now)["qualifying_points"] == 1176

    purchase_refund(purchase=purchase, at=now + timedelta(hours=1), reference="refund-1")
    later = now + timedelta(days=1)
    # the refund took the member below Silver: back to Bronze at once, progress towards Silver
    assert tier_of(bronze) == "bronze"
    assert member_tier_progress(member=bronze, at=later) == {
        "qualifying_points": 0,
        "next_tier": "silver",
        "points_to_next": 1000,
    }
    reevaluate_tiers(at=later)
    assert tier_of(bronze) == "bronze"


def test_progress_for_the_card(bronze, now):
    points_earn(member=bronze, points=1176, at=now, reference="e1")
    assert member_tier_progress(member=bronze, at=now) == {
        "qualifying_points": 1176,
        "next_tier": "gold",
        "points_to_next": 1824,
    }
    points_earn(member=bronze, points=5000, at=now, reference="e2")
    assert member_tier_progress(member=bronze, at=now) == {
        "qualifying_points": 6176,
        "next_tier": None,
        "points_to_next": 0,
    }


@pytest.mark.parametrize(
    "metric, thresholds, expected_value, expected_tier",
    [
        ("purchases", (0, 2, 3, 10), 3, "gold"),
        ("visits", (0, 2, 3, 10), 2, "silver"),
        ("amount_spent", (0, 200, 300, 1000), 283, "silver"),
    ],
)
def test_other_tier_metrics_count_purchases(seeded, now, metric, thresholds, expected_value, expected_tier):
    from checkout.purchases import purchase_create

    seeded.tier_metric = metric
    seeded.save()
    for tier, threshold in zip(Tier.objects.filter(program=seeded).order_by("rank"), thresholds, strict=True):
        tier.threshold = threshold
        tier.save()
    member = MemberFactory(program=seeded, at=now - timedelta(days=5))
    # spent: 100 AZN -> 98 paid; 100 USD -> 98 USD = 147 AZN by the rates' ratio (12 / 8), now Silver;
    # 40 AZN at Silver's 5 % -> 38: 283 AZN
    purchase_create(
        member=member, external_id="p1", amount="100.00", currency="AZN", at=now - timedelta(days=2)
    )
    purchase_create(
        member=member, external_id="p2", amount="100.00", currency="USD", at=now - timedelta(days=1)
    )
    purchase_create(
        member=member, external_id="p3", amount="40.00", currency="AZN", at=now - timedelta(days=1)
    )

    assert member_tier_progress(member=member, at=now)["qualifying_points"] == expected_value
    assert tier_of(member) == expected_tier


def test_one_members_qualifying_points_match_the_set_based_count(bronze, now):
    """The earning path counts one member's qualifying points with its own statement; it must
    agree with `qualifying_values` (the jobs' set-based count) on every kind of entry and window."""
    from checkout.purchases import purchase_create
    from ledger.services import purchase_refund
    from tiers.selectors import member_qualifying_value, qualifying_values

    program = bronze.program
    other = MemberFactory(program=program, at=now)
    points_earn(member=bronze, points=400, at=now - timedelta(days=400), reference="outside-window")
    kept = purchase_create(member=bronze, external_id="Q1", amount="50.00", currency="USD", at=now).purchase
    refunded = purchase_create(
        member=bronze, external_id="Q2", amount="30.00", currency="USD", at=now
    ).purchase
    purchase_refund(purchase=refunded, amount="10.00", at=now + timedelta(minutes=5), reference="part")
    points_bonus(member=bronze, points=70, at=now, reference="gift", description="gift")
    points_redeem(member=bronze, points=50, at=now + timedelta(minutes=6), reference="spend")
    points_earn(member=other, points=999, at=now, reference="someone-else")
    for at in (now - timedelta(days=1), now + timedelta(minutes=1), now + timedelta(hours=1)):
        bronze.refresh_from_db()
        expected = qualifying_values(program=program, at=at, member_ids=[bronze.pk]).get(bronze.pk, 0)
        assert member_qualifying_value(member=bronze, at=at) == expected
    # the entry 400 days old is outside the 365-day window; the refund's reversal counts against
    before, after = (member_qualifying_value(member=bronze, at=now + timedelta(minutes=m)) for m in (1, 10))
    assert before == kept.points_earned + refunded.points_earned + 70
    assert 0 < before - after < refunded.points_earned


def test_one_reevaluation_applies_every_rule_to_many_members_with_queries_per_chunk_not_per_member(
    seeded, now, events, django_assert_max_num_queries
):
    from tiers.services import tier_override_set

    seeded.tier_downgrade_grace_days = 7
    seeded.save()
    gold = Tier.objects.get(program=seeded, code="gold")
    make = lambda points: _member_with(seeded, now, points)  # noqa: E731
    later = now + timedelta(days=366)
    stays = make(0)  # silver on fresh points, still qualifies: untouched
    points_earn(member=stays, points=1500, at=later - timedelta(days=10), reference="stays")
    floored = make(0)  # bronze points, gold by hand until now + 400 days: stays gold
    tier_override_set(member=floored, tier=gold, reason="VIP", ends_at=now + timedelta(days=400), at=now)
    in_grace = [make(1500) for _ in range(5)]  # silver, the points leave the window: grace starts
    gone = [make(3500) for _ in range(5)]  # gold, grace already over: straight to bronze
    for member in gone:
        MemberTierState.objects.update_or_create(
            member=member, defaults={"below_since": later - timedelta(days=8), "evaluated_at": later}
        )
    back = make(1200)  # in grace, but qualifies again with fresh points: grace cleared
    MemberTierState.objects.update_or_create(member=back, defaults={"below_since": later - timedelta(days=2)})
    points_earn(member=back, points=1000, at=later - timedelta(days=1), reference="fresh")
    events.clear()

    with django_assert_max_num_queries(16):  # one chunk, whatever its number of members
        summary = reevaluate_tiers(at=later)

    assert summary == {"programs": 1, "evaluated": 11, "upgraded": 0, "downgraded": 5}
    assert tier_of(stays) == "silver" and tier_of(floored) == "gold" and tier_of(back) == "silver"
    assert [tier_of(m) for m in in_grace] == ["silver"] * 5
    assert [tier_of(m) for m in gone] == ["bronze"] * 5
    states = dict(MemberTierState.objects.values_list("member_id", "below_since"))
    assert [states[m.pk] for m in in_grace] == [later] * 5
    assert [states[m.pk] for m in gone] == [None] * 5 and states[back.pk] is None
    downs = TierChange.objects.filter(reason="reevaluation").order_by("member_id")
    assert list(
        downs.values_list("member_id", "from_tier__code", "to_tier__code", "qualifying_value", "at")
    ) == [(m.pk, "gold", "bronze", 0, later) for m in gone]
    assert [
        (e["type"], e["member"].pk, e["data"]["direction"], e["data"]["from"], e["key"]) for e in events
    ] == [("tier.changed", change.member_id, "down", "gold", f"tier.changed:{change.pk}") for change in downs]
    # a second run the same day changes nothing more
    assert reevaluate_tiers(at=later) == {"programs": 1, "evaluated": 5, "upgraded": 0, "downgraded": 0}


def _member_with(program, now, points):
    member = MemberFactory(program=program, at=now)
    if points:
        points_earn(member=member, points=points, at=now, reference=f"start-{member.pk}")
    return member


def test_qualifying_points_count_at_their_moment_and_leave_the_window_exactly_its_length_later(bronze, now):
    """PRODUCT.md §2.1: a rolling window (365 days here) up to and including `at`: (at - 365 d, at].
    Every reader (the tier decision's metric, the progress on the card and the API, the jobs'
    set-based count) uses `tiers.selectors.qualifying_points`, so they agree at both edges."""
    from checkout.purchases import purchase_create
    from tiers.selectors import member_qualifying_value, qualifying_points, qualifying_values, tier_window

    program = bronze.program
    window = timedelta(days=program.tier_window_days)
    assert window == timedelta(days=365)
    points_earn(member=bronze, points=1200, at=now, reference="edge")
    tick = timedelta(microseconds=1)

    def readings(at):
        return (
            qualifying_points(program=program, at=at, member_ids=[bronze.pk]).get(bronze.pk, 0),
            qualifying_values(program=program, at=at).get(bronze.pk, 0),
            member_qualifying_value(member=bronze, at=at),
            member_tier_progress(member=bronze, at=at)["qualifying_points"],
        )

    assert readings(now - tick) == (0, 0, 0, 0)  # not earned yet
    assert readings(now) == (1200,) * 4  # counts at its own moment (the upgrade check's `at`)
    assert readings(now + window - tick) == (1200,) * 4  # the window's last moment
    assert readings(now + window) == (0, 0, 0, 0)  # exactly the window's length later: left
    assert tier_window(program=program, at=now + window) == (now, now + window)
    assert tier_of(bronze) == "silver"  # the posting at `now` upgraded at once

    # the purchase-based metrics cut the window at the same edges
    program.tier_metric = program.TierMetric.PURCHASES
    program.save(update_fields=["tier_metric"])
    purchase_create(member=bronze, external_id="EDGE", amount="10.00", currency="USD", at=now)
    assert [
        qualifying_values(program=program, at=at).get(bronze.pk, 0)
        for at in (now - tick, now, now + window - tick, now + window)
    ] == [0, 1, 1, 0]

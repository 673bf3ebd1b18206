import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Member
from fraud.models import FraudFlag, FraudRule
from fraud.presets import seed_fraud_rules
from fraud.services import fraud_flag_review, fraud_monitor_run
from ledger.models import Posting
from ledger.services import points_bonus, points_earn, points_redeem
from loyalty_site.core.errors import InvalidInput, LimitExceeded, MemberBlocked
from loyalty_site.core.jobs import run_job
from notifications.models import Event
from tests.factories import MemberFactory, MerchantFactory, ProgramFactory


def earn(member, at, ref, points=100):
    return points_earn(member=member, points=points, at=at, reference=ref)


@pytest.mark.django_db
def test_real_time_rule_refuses_the_breaching_transaction_and_changes_nothing(program, member, now):
    FraudRule.objects.create(program=program, name="3 an hour", window_minutes=60, max_count=2)
    earn(member, now, "a")
    points_redeem(member=member, points=10, at=now + timedelta(minutes=1), reference="b")
    with pytest.raises(LimitExceeded) as error:
        earn(member, now + timedelta(minutes=2), "c")
    assert error.value.code == "limit_exceeded" and "3 an hour" in error.value.message
    member.refresh_from_db()
    assert member.balance == 90 and Posting.objects.filter(member=member).count() == 2
    # the window slides: an hour after the first transaction one more is allowed
    earn(member, now + timedelta(minutes=61), "d")
    member.refresh_from_db()
    assert member.balance == 190


@pytest.mark.django_db
def test_amount_rule_counts_points_at_the_point_value(program, member, now):
    # point value 0.01: 5 000 points are 50.00
    FraudRule.objects.create(program=program, name="50 a day", window_minutes=1440, max_amount=Decimal("50"))
    earn(member, now, "a", points=3000)
    earn(member, now, "b", points=2000)
    with pytest.raises(LimitExceeded):
        earn(member, now, "c", points=1)
    # bonuses are not counted by the default kinds
    points_bonus(member=member, points=700, at=now, reference="gift", description="gift")
    member.refresh_from_db()
    assert member.balance == 5700


@pytest.mark.django_db
def test_monitor_blocks_once_emits_member_blocked_and_review_unblocks(program, member, now):
    other = MemberFactory(program=program, at=now)
    for i in range(4):
        earn(member, now + timedelta(minutes=i), f"m{i}")
    earn(other, now, "o1")
    FraudRule.objects.create(
        program=program, name="velocity", window_minutes=60, max_count=3, enforce_in_real_time=False
    )
    at = now + timedelta(minutes=10)

    assert fraud_monitor_run(at=at) == {"rules": 1, "breaches": 1, "blocked": 1}
    assert fraud_monitor_run(at=at) == {"rules": 1, "breaches": 0, "blocked": 0}
    member.refresh_from_db()
    other.refresh_from_db()
    assert member.status == Member.Status.BLOCKED and member.blocked_reason == "Fraud monitor: velocity"
    assert other.status == Member.Status.ACTIVE
    flag = FraudFlag.objects.get()
    assert (flag.member, flag.transactions, flag.amount, flag.status) == (member, 4, Decimal("4.00"), "open")
    [event] = Event.objects.filter(type="member.blocked")
    assert event.member == member and event.data["rule"] == "velocity" and event.data["transactions"] == 4

    with pytest.raises(MemberBlocked):
        earn(member, at, "after-block")

    fraud_flag_review(flag=flag, decision="cleared", at=at + timedelta(minutes=1))
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE
    with pytest.raises(InvalidInput):
        fraud_flag_review(flag=flag, decision="confirmed", at=at)
    # the reviewed history no longer counts: the next run does not block again
    assert fraud_monitor_run(at=at + timedelta(minutes=10))["blocked"] == 0
    assert Event.objects.filter(type="member.blocked").count() == 1


@pytest.mark.django_db
def test_confirmed_flag_keeps_the_member_blocked(program, member, now):
    for i in range(3):
        earn(member, now, f"x{i}")
    FraudRule.objects.create(
        program=program, name="v", window_minutes=60, max_count=2, enforce_in_real_time=False
    )
    fraud_monitor_run(at=now)
    flag = fraud_flag_review(flag=FraudFlag.objects.get(), decision="confirmed", at=now)
    member.refresh_from_db()
    assert flag.status == "confirmed" and member.status == Member.Status.BLOCKED


@pytest.mark.django_db
def test_rules_of_another_program_do_not_apply(member, now):
    other_program = ProgramFactory(merchant=MerchantFactory())
    FraudRule.objects.create(program=other_program, name="strict", window_minutes=60, max_count=1)
    earn(member, now, "a")
    earn(member, now, "b")
    assert fraud_monitor_run(at=now)["blocked"] == 0


@pytest.mark.django_db
def test_seed_rules_are_idempotent(program, now):
    seed_fraud_rules(program=program, at=now)
    seed_fraud_rules(program=program, at=now)
    rules = FraudRule.objects.filter(program=program).order_by("window_minutes")
    assert list(rules.values_list("window_minutes", "max_count", "max_amount")) == [
        (60, 20, None),
        (1440, None, Decimal("10000.00")),
    ]


@pytest.mark.django_db(transaction=True)
def test_two_monitors_at_once_block_once(now):
    program = ProgramFactory(merchant=MerchantFactory())
    members = [MemberFactory(program=program, at=now) for _ in range(3)]
    for member in members:
        for i in range(3):
            earn(member, now, f"{member.pk}-{i}")
    FraudRule.objects.create(
        program=program, name="v", window_minutes=60, max_count=2, enforce_in_real_time=False
    )
    results, barrier = [], threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            results.append(run_job("fraud_monitor", at=now + timedelta(minutes=1)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r["blocked"] for r in results) == 3
    assert FraudFlag.objects.count() == 3
    assert Event.objects.filter(type="member.blocked").count() == 3
    assert Member.objects.filter(program=program, status="blocked").count() == 3


@pytest.mark.django_db
def test_the_real_time_statement_counts_what_the_orm_expression_counts(now):
    """`posting_check` runs one hand-written statement; it must count and value the postings
    exactly as the ORM definition (`_member_window_totals_orm`, the monitor's expressions) does."""
    from checkout.purchases import purchase_create
    from fraud.services import _member_window_totals, _member_window_totals_orm
    from tests.tiers.helpers import seed_program

    program = seed_program(ProgramFactory(base_currency="AZN", time_zone="UTC"), at=now)
    member = MemberFactory(program=program, at=now - timedelta(days=2))
    other = MemberFactory(program=program, at=now - timedelta(days=2))
    purchase_create(
        member=member, external_id="old", amount="40.00", currency="AZN", at=now - timedelta(hours=5)
    )
    FraudFlag.objects.create(
        program=program,
        member=member,
        rule_name="r",
        window_start=now - timedelta(hours=6),
        window_end=now - timedelta(hours=4),
        transactions=1,
        amount=Decimal("40"),
        status="cleared",
        detected_at=now - timedelta(hours=4),
        reviewed_at=now - timedelta(hours=4),
    )
    purchase_create(
        member=member, external_id="azn", amount="25.50", currency="AZN", at=now - timedelta(hours=3)
    )
    purchase_create(
        member=member, external_id="usd", amount="10.00", currency="USD", at=now - timedelta(hours=2)
    )
    points_redeem(member=member, points=150, at=now - timedelta(minutes=30), reference="spend")
    points_bonus(
        member=member, points=70, at=now - timedelta(minutes=20), reference="gift", description="gift"
    )
    purchase_create(
        member=other, external_id="other", amount="99.00", currency="AZN", at=now - timedelta(hours=1)
    )
    rules = [
        FraudRule(program=program, name="hour", kinds=["earn", "redeem"], window_minutes=60, max_count=5),
        FraudRule(
            program=program, name="day", kinds=["earn", "redeem", "cashout"], window_minutes=1440, max_count=9
        ),
        FraudRule(
            program=program, name="bonus", kinds=["bonus"], window_minutes=240, max_amount=Decimal("9")
        ),
    ]
    member.refresh_from_db()
    sql = _member_window_totals(member=member, program=program, rules=rules, at=now)
    orm = _member_window_totals_orm(member=member, program=program, rules=rules, at=now)
    assert sql == orm
    # after the review 4 hours ago: the AZN and USD purchases (2 earns) and the redemption
    assert (sql["n0"], sql["n1"], sql["n2"]) == (1, 3, 1)

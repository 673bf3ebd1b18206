"""The set-based tier gifts job writes exactly the rows `tier_gift_grant` writes member by member,
and a rerun (or a run after one killed mid-way) never gives a gift twice."""

import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import Member
from fraud.models import FraudRule
from ledger.models import Lot, Posting
from ledger.services import points_bonus, points_earn
from loyalty_site.core.errors import LoyaltyError
from tests.factories import MemberFactory
from tests.jobs.rows import diff, same_rows, snapshot
from tiers import services
from tiers.jobs import tier_gifts
from tiers.models import Tier, TierChange, TierGift

MONDAY = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)
YESTERDAY = MONDAY - timedelta(hours=10)


def per_member(program, at):
    """The job as it was: `tier_gift_grant` for each member due a gift, one by one."""
    for tier in Tier.objects.filter(program=program, gift_points__gt=0).exclude(gift_period=""):
        key, ids = services.tier_gift_candidates(program=program, tier=tier, at=at)
        for member in Member.objects.filter(pk__in=ids).select_related("program").order_by("pk"):
            with contextlib.suppress(LoyaltyError):
                services.tier_gift_grant(member=member, tier=tier, period=key, at=at)


@pytest.fixture
def mixed(seeded):
    """Members of every kind the job meets, all Bronze (the daily gift of 50) but one Silver."""
    program = seeded
    old = MONDAY - timedelta(days=400)
    members = {
        "active": MemberFactory(program=program, at=MONDAY - timedelta(days=10)),
        "upgraded": MemberFactory(program=program, at=MONDAY - timedelta(days=10)),
        "expired_lot": MemberFactory(program=program, at=old),
        "blocked": MemberFactory(program=program, at=MONDAY - timedelta(days=10)),
        "gifted": MemberFactory(program=program, at=MONDAY - timedelta(days=10)),
        "idle": MemberFactory(program=program, at=MONDAY - timedelta(days=10)),
        "refused": MemberFactory(program=program, at=MONDAY - timedelta(days=10)),
        "silver": MemberFactory(program=program, at=MONDAY - timedelta(days=20)),
    }
    points_earn(member=members["active"], points=30, at=YESTERDAY, reference="a1")
    points_earn(member=members["upgraded"], points=960, at=YESTERDAY, reference="u1")  # 960 + 50 >= 1 000
    points_bonus(member=members["expired_lot"], points=70, at=old, reference="x1", description="old")
    points_bonus(
        member=members["silver"], points=1000, at=MONDAY - timedelta(days=20), reference="s1", description="s"
    )
    points_earn(
        member=members["silver"], points=10, at=MONDAY - timedelta(days=3), reference="s2"
    )  # last week
    for name in ("expired_lot", "blocked", "gifted", "refused"):
        Member.objects.filter(pk=members[name].pk).update(last_activity_at=YESTERDAY)
    Member.objects.filter(pk=members["blocked"].pk).update(status=Member.Status.BLOCKED)
    bronze = Tier.objects.get(program=program, code="bronze")
    services.tier_gift_grant(member=members["gifted"], tier=bronze, period="daily:2026-11-22", at=MONDAY)
    # a fraud rule on bonuses: the member who had one an hour ago is refused the gift
    points_bonus(
        member=members["refused"], points=5, at=MONDAY - timedelta(hours=1), reference="r1", description="r"
    )
    FraudRule.objects.create(
        program=program, name="bonuses", kinds=["bonus"], window_minutes=120, max_count=1
    )
    assert Lot.objects.filter(member=members["expired_lot"], state="active", expires_at__lte=MONDAY).exists()
    return members


def test_bulk_gifts_write_the_rows_of_the_per_member_service(mixed, seeded):
    by_member, bulk = same_rows(lambda: per_member(seeded, MONDAY), lambda: tier_gifts(at=MONDAY))
    assert by_member == bulk, json.dumps(diff(by_member, bulk), indent=1)
    # and the rows are what the rules say
    given = set(TierGift.objects.filter(at=MONDAY).values_list("member_id", flat=True))
    assert given == {mixed[name].pk for name in ("active", "upgraded", "expired_lot", "silver", "gifted")}
    assert Member.objects.get(pk=mixed["upgraded"].pk).tier.code == "silver"
    change = TierChange.objects.filter(member=mixed["upgraded"]).latest("id")
    assert (change.reason, change.qualifying_value) == ("earning", 1010)
    assert Posting.objects.filter(member=mixed["expired_lot"], kind="expire").count() == 1
    assert Member.objects.get(pk=mixed["expired_lot"].pk).balance == 50
    assert not Posting.objects.filter(member=mixed["refused"], reference__startswith="tier_gift:").exists()
    assert Posting.objects.get(reference=f"tier_gift:{mixed['silver'].pk}:weekly:2026-W47").points == 200


def test_a_rerun_and_a_run_after_a_killed_chunk_give_nothing_twice(mixed, seeded, monkeypatch):
    # a run whose second chunk dies: the first chunk's gifts are committed, the second's are not
    monkeypatch.setattr(services, "GIFT_CHUNK", 1)
    calls = []
    real = services._tier_gifts_chunk

    def dying(**kwargs):
        calls.append(kwargs["member_ids"])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process killed inside a chunk
        return real(**kwargs)

    monkeypatch.setattr(services, "_tier_gifts_chunk", dying)
    with pytest.raises(KeyboardInterrupt):
        tier_gifts(at=MONDAY)
    assert TierGift.objects.filter(at=MONDAY).count() == 1 + 1  # the fixture's own gift and one chunk
    monkeypatch.setattr(services, "_tier_gifts_chunk", real)
    first = tier_gifts(at=MONDAY)
    assert first["given"] == 3
    once = snapshot()
    # refused again by the fraud rule: the member with a bonus an hour ago, and the one the Bronze
    # gift lifted to Silver (due Silver's weekly gift too, a second bonus within the rule's window)
    assert tier_gifts(at=MONDAY) == {"programs": 1, "given": 0, "skipped": 2}
    assert snapshot() == once
    references = list(
        Posting.objects.filter(reference__startswith="tier_gift:").values_list("reference", flat=True)
    )
    assert len(references) == len(set(references)) == 5  # the fixture's gift and four today

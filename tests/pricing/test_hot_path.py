"""The quote and purchase hot path: the number of queries (pinned), the per-call memo never going
stale across calls (an admin edit is seen by the next quote), and the tier read after the member
lock when another transaction changed the tier meanwhile."""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from accounts.locks import member_lock
from accounts.models import Member
from campaigns.models import Campaign, CampaignReward
from checkout.pricing import purchase_quote
from checkout.purchases import purchase_create
from ledger.models import Purchase
from loyalty_site.core.presets import preset_apply
from tests.factories import MemberFactory, ProgramFactory
from tests.tiers.helpers import seed_program
from tiers.models import Tier

# what the seed-preset program below costs (quote 13 / purchase 56 before the per-call memo, the
# cheap-checks-first campaign engine and the one-query fraud check; quote 11 / purchase 46 before the
# per-process configuration cache, the reuse of the purchase's member lock by the ledger and the
# tiers (no second lock, no savepoints, no reference look-up for the new purchase's postings), the
# purchase counts in one query, and no look for the external id before the insert; 25 before the
# member lock read by a plain statement, the activity written with the balance, no savepoint for the
# campaign grant, the events of the purchase stored by one statement, the campaigns' grant counts
# read with the purchase counts, and the earn posting (posting, entries, lot, balances) written by
# one statement. This purchase also upgrades
# the member to Silver (4 of its queries); 2 are the savepoint the test's transaction makes of the
# purchase's own)
QUOTE_QUERIES = 2
PURCHASE_QUERIES = 17


@pytest.fixture
def seed_member(db, now):
    program = ProgramFactory(base_currency="USD", time_zone="UTC")
    preset_apply(program=program, preset="seed", at=now - timedelta(days=40))
    member = MemberFactory(program=program, at=now - timedelta(days=30))
    purchase_create(
        member=member, external_id="H-1", amount="20.00", currency="USD", at=now - timedelta(days=10)
    )
    return Member.objects.select_related("program", "tier").get(pk=member.pk)


def test_quote_and_purchase_query_counts_on_the_seed_preset(seed_member, now):
    with CaptureQueriesContext(connection) as quote_queries:
        quote = purchase_quote(member=seed_member, amount="100.00", currency="EUR", at=now)
    with CaptureQueriesContext(connection) as purchase_queries:
        purchase = purchase_create(
            member=seed_member, external_id="H-2", amount="100.00", currency="EUR", at=now
        ).purchase

    assert purchase.points_earned == quote.points_to_earn
    assert purchase.applied == quote.applied
    assert len(quote_queries) <= QUOTE_QUERIES, "\n".join(q["sql"] for q in quote_queries)
    assert len(purchase_queries) <= PURCHASE_QUERIES, "\n".join(q["sql"] for q in purchase_queries)
    # the rate in force is read once per call, whatever number of steps use it
    rate_reads = [q for q in quote_queries if 'FROM "ledger_currencyrate"' in q["sql"]]
    assert len(rate_reads) <= 2  # the rate in force (memoised) and the rate-rise history


def test_a_configuration_edit_shows_in_the_next_request(db, now):
    """Each request reads its member and program afresh (as the API and the till do); the cached
    configuration of the old version is not used, whoever made the change (a save, a bulk update)."""
    program = seed_program(ProgramFactory(base_currency="USD", time_zone="UTC"), at=now)
    member = MemberFactory(program=program, at=now)
    campaign = Campaign.objects.create(
        program=program, code="double", name="Double", trigger=Campaign.Trigger.PURCHASE, is_active=True
    )
    reward = CampaignReward.objects.create(campaign=campaign, kind=CampaignReward.Kind.POINTS, points=100)

    def request_quote():
        fresh = Member.objects.select_related("program").get(pk=member.pk)
        return purchase_quote(member=fresh, amount="10.00", currency="USD", at=now)

    first = request_quote()
    reward.points = 250
    reward.save()
    second = request_quote()
    Campaign.objects.filter(pk=campaign.pk).update(is_active=False)
    third = request_quote()

    # 10.00 - 2 % = 9.80 x 12 = 117
    assert (first.points_to_earn, second.points_to_earn, third.points_to_earn) == (217, 367, 117)


@pytest.mark.django_db(transaction=True)
def test_a_tier_changed_while_the_purchase_waits_for_the_member_lock(now):
    """Another transaction moves the member to Gold and holds the row while the purchase waits for
    its lock. PostgreSQL re-checks only the locked row, so a tier joined into the locking query came
    back None with `tier_id` set (AttributeError, a 500). The purchase must price with Gold."""
    program = seed_program(ProgramFactory(base_currency="USD", time_zone="UTC"), at=now)
    member = MemberFactory(program=program, at=now)
    gold = Tier.objects.get(program=program, code="gold")
    locked = threading.Event()
    outcome = {}

    def change_tier():
        try:
            with transaction.atomic():
                member_lock(member.pk)
                Member.objects.filter(pk=member.pk).update(tier=gold)
                locked.set()
                with connection.cursor() as cursor:
                    for _ in range(200):  # until the purchase waits on our row lock (at most 10 s)
                        cursor.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND wait_event_type = 'Lock'"
                        )
                        if cursor.fetchone()[0]:
                            break
                        time.sleep(0.05)
        finally:
            connection.close()

    def buy():
        try:
            outcome["purchase"] = purchase_create(
                member=member, external_id="LOCK-1", amount="100.00", currency="USD", at=now
            ).purchase
        except Exception as error:  # noqa: BLE001 - the assertion below shows it
            outcome["error"] = error
        finally:
            connection.close()

    changer = threading.Thread(target=change_tier)
    changer.start()
    assert locked.wait(10)
    buyer = threading.Thread(target=buy)
    buyer.start()
    changer.join()
    buyer.join()
    connections.close_all()

    assert "error" not in outcome, repr(outcome.get("error"))
    purchase = outcome["purchase"]
    # Gold: 7 % off -> 93.00 x 12 = 1116 x 1.1 = 1227
    assert (purchase.amount_due, purchase.points_earned) == (Decimal("93.00"), 1227)
    assert Member.objects.get(pk=member.pk).tier_id == gold.pk


def test_a_purchase_locks_the_member_once(seed_member, now):
    with CaptureQueriesContext(connection) as queries:
        purchase_create(member=seed_member, external_id="H-3", amount="30.00", currency="USD", at=now)
    locks = [q for q in queries if "FOR NO KEY UPDATE" in q["sql"] and 'FROM "accounts_member"' in q["sql"]]
    assert len(locks) == 1
    # and the caller's instance shows the outcome without reading it again
    stored = Member.objects.get(pk=seed_member.pk)
    assert (seed_member.balance, seed_member.tier_id) == (stored.balance, stored.tier_id)
    assert seed_member.last_activity_at == stored.last_activity_at == now


def test_a_blocked_members_retry_replays_and_a_new_purchase_is_refused(seed_member, now):
    from accounts.models import Member as MemberModel
    from loyalty_site.core.errors import MemberBlocked

    first = purchase_create(
        member=seed_member, external_id="B-1", amount="30.00", currency="USD", at=now
    ).purchase
    MemberModel.objects.filter(pk=seed_member.pk).update(status=MemberModel.Status.BLOCKED)
    with CaptureQueriesContext(connection) as queries:
        again = purchase_create(
            member=seed_member, external_id="B-1", amount="30.00", currency="USD", at=now
        ).purchase
    assert again.pk == first.pk and again.points_earned == first.points_earned
    assert not [q for q in queries if 'INSERT INTO "ledger_posting"' in q["sql"]]
    with pytest.raises(MemberBlocked):
        purchase_create(member=seed_member, external_id="B-2", amount="30.00", currency="USD", at=now)
    assert not Purchase.objects.filter(external_id="B-2").exists()

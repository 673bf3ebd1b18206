"""Points lifecycle: pending window, expiry with the renewal window, renewal, extension, decay,
expiry warnings, reconcile."""

from datetime import timedelta

import pytest

from accounts.models import Member, Program
from ledger import jobs, selectors, services
from ledger.models import Entry, Lot, Posting
from loyalty_site.core import hooks
from tiers.selectors import qualifying_points


@pytest.fixture
def events():
    """Collect the domain events emitted (the event_emitted hook), de-duplicated by key."""
    seen: list[dict] = []
    keys: set[str] = set()

    def collect(**kwargs):
        if kwargs["key"] in keys:
            return
        keys.add(kwargs["key"])
        seen.append(kwargs)

    def collect_many(*, program, type, at, events):
        for event in events:
            collect(
                program=program,
                type=type,
                at=at,
                data=event["data"],
                member=event.get("member"),
                key=event.get("key"),
            )

    hooks.register("event_emitted")(collect)
    hooks.register("events_emitted")(collect_many)  # jobs emit a chunk's events at once
    yield seen
    hooks._HOOKS["event_emitted"].remove(collect)
    hooks._HOOKS["events_emitted"].remove(collect_many)


def _short_lived(program, days=10):
    Program.objects.filter(pk=program.pk).update(points_lifetime_days=days)
    program.refresh_from_db()


def test_expiry_opens_a_renewal_window_then_expires(member, program, now, invariant, events):
    _short_lived(program)
    services.points_earn(member=member, points=300, at=now, reference="R-1")
    expiry = now + timedelta(days=10)

    assert jobs.expire_points(at=expiry - timedelta(seconds=1))["postings"] == 0
    summary = jobs.expire_points(at=expiry)
    member.refresh_from_db()
    lot = Lot.objects.get(member=member)
    assert summary == {"members": 1, "postings": 1, "closed": 0}
    assert member.balance == 0
    assert (lot.state, lot.remaining, lot.grace_until) == ("grace", 300, expiry + timedelta(hours=24))
    expired = [e for e in events if e["type"] == "points.expired"]
    assert [(e["data"]["points"], e["data"]["change"], e["data"]["balance"]) for e in expired] == [
        (300, -300, 0)
    ]
    invariant(member)

    assert jobs.expire_points(at=expiry) == {"members": 0, "postings": 0, "closed": 0}  # idempotent
    assert jobs.expire_points(at=expiry + timedelta(hours=24)) == {"members": 0, "postings": 0, "closed": 1}
    lot.refresh_from_db()
    assert lot.state == "expired"
    services.member_activity_record(member=member, at=expiry + timedelta(hours=25), kind="login")
    member.refresh_from_db()
    assert member.balance == 0  # too late: the window closed
    assert list(Entry.objects.filter(member=member).values_list("kind", "points")) == [
        ("expire", -300),
        ("earn", 300),
    ]
    invariant(member)


def test_activity_inside_the_window_renews_for_a_full_lifetime(member, program, now, invariant):
    _short_lived(program)
    services.points_earn(member=member, points=300, at=now, reference="R-1")
    expiry = now + timedelta(days=10)
    jobs.expire_points(at=expiry)

    renewed_at = expiry + timedelta(hours=23)
    services.member_activity_record(member=member, at=renewed_at, kind="login")

    member.refresh_from_db()
    lot = Lot.objects.get(member=member)
    assert member.balance == 300 and member.last_activity_at == renewed_at
    assert (lot.state, lot.remaining, lot.expires_at, lot.grace_until) == (
        "active",
        300,
        renewed_at + timedelta(days=10),
        None,
    )
    assert list(
        Entry.objects.filter(member=member, account="member").values_list("kind", "points", "balance_after")
    ) == [
        ("renew", 300, 300),
        ("expire", -300, 0),
        ("earn", 300, 300),
    ]
    invariant(member)


def test_a_redemption_after_expiry_is_refused_even_before_the_job_runs(member, program, now, invariant):
    _short_lived(program)
    services.points_bonus(member=member, points=300, at=now, reference="gift", description="gift")
    late = now + timedelta(days=10, hours=25)  # past expiry and past the renewal window
    with pytest.raises(services.InsufficientPoints):
        services.points_redeem(member=member, points=100, at=late, reference="spend")
    member.refresh_from_db()
    assert member.balance == 300  # the failed call rolled back its lazy expiry too
    jobs.expire_points(at=late)
    member.refresh_from_db()
    assert member.balance == 0 and Lot.objects.get(member=member).state == "expired"
    invariant(member)


def test_extend_adds_days_once_per_day(member, program, now, invariant):
    _short_lived(program)
    services.points_earn(member=member, points=100, at=now, reference="R-1")
    first = services.points_extend(member=member, days=5, at=now + timedelta(hours=1), reference="task:1")
    again = services.points_extend(member=member, days=5, at=now + timedelta(hours=2), reference="task:2")
    assert again.pk == first.pk
    assert Lot.objects.get(member=member).expires_at == now + timedelta(days=15)

    services.points_extend(member=member, days=5, at=now + timedelta(days=1), reference="task:3")
    assert Lot.objects.get(member=member).expires_at == now + timedelta(days=20)
    assert jobs.expire_points(at=now + timedelta(days=19, hours=23))["postings"] == 0
    invariant(member)


def test_pending_points_wait_for_the_return_window(member, program, now, invariant):
    Program.objects.filter(pk=program.pk).update(pending_days=14)
    program.refresh_from_db()
    member.program = program
    services.points_earn(member=member, points=500, at=now, reference="R-1")
    member.refresh_from_db()
    assert (member.balance, member.pending_points) == (0, 500)
    with pytest.raises(services.InsufficientPoints):
        services.points_redeem(member=member, points=1, at=now + timedelta(days=13), reference="s-1")
    invariant(member)

    assert jobs.activate_pending(at=now + timedelta(days=14)) == {"members": 1, "postings": 1}
    assert jobs.activate_pending(at=now + timedelta(days=14)) == {"members": 0, "postings": 0}
    member.refresh_from_db()
    assert (member.balance, member.pending_points) == (500, 0)
    # pending points qualify from the start; becoming spendable does not count them twice
    assert qualifying_points(program=program, at=now + timedelta(days=15), member_ids=[member.pk]) == {
        member.pk: 500
    }
    assert list(selectors.member_entries(member=member).values_list("kind", "points")) == [("earn", 500)]
    invariant(member)


def test_pending_points_become_spendable_lazily_on_the_next_posting(member, program, now, invariant):
    Program.objects.filter(pk=program.pk).update(pending_days=14)
    services.points_earn(member=member, points=500, at=now, reference="R-1")
    services.points_redeem(member=member, points=200, at=now + timedelta(days=14), reference="s-1")
    member.refresh_from_db()
    assert (member.balance, member.pending_points) == (300, 0)
    invariant(member)


def _idle(member, at):
    Member.objects.filter(pk=member.pk).update(last_activity_at=at)
    member.refresh_from_db()


def test_decay_at_31_and_61_idle_days_once_each_reset_by_activity(member, now, invariant, events):
    services.points_bonus(member=member, points=1000, at=now, reference="gift", description="gift")
    _idle(member, now)

    assert jobs.decay_inactive(at=now + timedelta(days=29))["decayed"] == 0
    assert jobs.decay_inactive(at=now + timedelta(days=31))["decayed"] == 1
    assert jobs.decay_inactive(at=now + timedelta(days=31, hours=5))["decayed"] == 0
    assert jobs.decay_inactive(at=now + timedelta(days=45))["decayed"] == 0
    member.refresh_from_db()
    assert member.balance == 950 and member.last_activity_at == now  # a job is not activity

    assert jobs.decay_inactive(at=now + timedelta(days=61))["decayed"] == 1
    assert jobs.decay_inactive(at=now + timedelta(days=61))["decayed"] == 0
    member.refresh_from_db()
    assert member.balance == 903  # 950 - floor(47.5)
    assert [e["data"]["points"] for e in events if e["type"] == "points.decayed"] == [50, 47]

    services.member_activity_record(member=member, at=now + timedelta(days=62), kind="login")
    assert jobs.decay_inactive(at=now + timedelta(days=91))["decayed"] == 0  # 29 idle days
    assert jobs.decay_inactive(at=now + timedelta(days=92))["decayed"] == 1
    member.refresh_from_db()
    assert member.balance == 858  # 903 - floor(45.15)
    assert Posting.objects.filter(kind="decay").count() == 3
    invariant(member)


def test_warn_expiring_once_per_lot(member, program, now, events):
    _short_lived(program, days=3)
    services.points_earn(member=member, points=300, at=now, reference="R-1")
    services.points_earn(member=member, points=50, at=now + timedelta(days=2), reference="R-2")
    at = now + timedelta(days=3) - timedelta(hours=47)

    assert [lot.points for lot in selectors.member_expiring_lots(member=member, at=at)] == [300]
    assert jobs.warn_expiring(at=at) == {"warned": 1, "lots": 1}
    assert jobs.warn_expiring(at=at) == {"warned": 0, "lots": 0}
    assert jobs.warn_expiring(at=at + timedelta(hours=1)) == {"warned": 0, "lots": 0}
    expiring = [e for e in events if e["type"] == "points.expiring"]
    assert len(expiring) == 1 and expiring[0]["data"]["points"] == 300
    assert list(selectors.member_expiring_lots(member=member, at=at, unwarned_only=True)) == []


def test_reconcile_reports_a_mismatch(member, now):
    services.points_earn(member=member, points=100, at=now, reference="R-1")
    assert jobs.reconcile(at=now)["mismatches"] == 0
    Member.objects.filter(pk=member.pk).update(balance=90)  # a bug elsewhere: a stray write
    summary = jobs.reconcile(at=now)
    assert summary["mismatches"] == 1 and summary["unbalanced_postings"] == 0
    assert summary["examples"][0] == {
        "member_id": member.pk,
        "balance": 90,
        "entries": 100,
        "lots": 100,
        "pending_points": 0,
        "pending_entries": 0,
        "pending_lots": 0,
    }

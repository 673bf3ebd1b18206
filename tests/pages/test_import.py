"""Member import: opening balances through the ledger, idempotent re-runs, bad rows by line."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from accounts import services as account_services
from accounts.models import Member
from accounts.services import luhn_is_valid
from ledger.jobs import ledger_reconcile
from ledger.models import Lot, Posting
from ledger.selectors import member_ledger_check
from reports.imports import members_import, opening_reference, rows_from_csv
from tiers.models import TierChange, TierOverride

CSV = """external_id,phone,email,first_name,last_name,birth_date,balance,expires_at,tier
old-1,+994501111111,a@example.com,Ali,One,1990-05-17,500,,
old-2,050 222 22 22,,Bella,Two,,0,,gold
old-3,,c@example.com,Cem,Three,,1200,2027-06-30,
,+994503333333,,,Keyless by phone,,70,,
old-5,not a phone,,,Bad phone,,10,,
old-6,,,,,,abc,,
old-1,,,,Duplicate key,,5,,
old-8,,,,,1990-13-45,1,,
old-9,,,,,,-4,,
old-10,,,,,,1,,diamond
,,,,No key at all,,1,,
old-12,,,,,,1,2001-01-01,
"""

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _run(program, text=CSV, batch_size=3):
    return members_import(
        program=program, rows=rows_from_csv(io.StringIO(text)), at=AT, batch_size=batch_size
    )


def _state(program):
    return (
        list(
            Member.objects.filter(program=program)
            .order_by("id")
            .values_list("id", "external_id", "phone", "balance", "tier__code")
        ),
        Posting.objects.filter(program=program).count(),
    )


def test_import_creates_members_with_opening_balances_and_reports_bad_rows(seeded):
    program, existing = seeded
    report = _run(program)
    assert report.rows == 12
    assert (report.created, report.skipped, report.balances, report.points, report.tiers) == (
        4,
        0,
        3,
        1770,
        1,
    )
    assert [(e.line, e.reason) for e in report.errors] == [
        (6, "invalid phone 'not a phone'"),
        (7, "balance 'abc' is not a whole number"),
        (8, "duplicate of line 2 (external_id:old-1)"),
        (9, "invalid birth_date '1990-13-45' (use YYYY-MM-DD)"),
        (10, "balance -4 is out of range (0 to 1000000000000)"),
        (11, "unknown tier 'diamond'"),
        (12, "no external_id, phone or email"),
        (13, "expires_at '2001-01-01' is already past"),
    ]
    three = Member.objects.get(program=program, external_id="old-3")
    opening_lot = Lot.objects.get(posting__reference=opening_reference(three.pk))
    assert report.warnings == []
    assert opening_lot.expires_at == datetime(2027, 7, 1, tzinfo=program.tz)
    one = Member.objects.get(program=program, external_id="old-1")
    other_lot = Lot.objects.get(posting__reference=opening_reference(one.pk))
    assert (other_lot.points, other_lot.remaining, other_lot.state) == (500, 500, "active")
    assert other_lot.expires_at == AT + timedelta(days=program.points_lifetime_days)
    assert (one.phone, one.email, one.first_name, str(one.birth_date)) == (
        "+994501111111",
        "a@example.com",
        "Ali",
        "1990-05-17",
    )
    # the opening balance is one adjust posting with the import reference, and nothing else: an
    # imported member is a migration, so no registration bonus (the seed has a registration campaign)
    opening = Posting.objects.get(program=program, reference=opening_reference(one.pk))
    assert (opening.kind, opening.points, opening.description) == ("adjust", 500, "Opening balance imported")
    assert sorted(opening.entries.values_list("account", "points")) == [("adjustment", -500), ("member", 500)]
    assert one.balance == 500
    assert Member.objects.get(program=program, external_id="old-3").balance == 1200
    assert Member.objects.get(program=program, phone="+994503333333").balance == 70
    two = Member.objects.get(program=program, external_id="old-2")
    assert two.phone == "+994502222222"
    assert two.tier.code == "gold"
    assert two.balance == 0
    new_ids = list(
        Member.objects.filter(program=program).exclude(pk=existing.pk).values_list("pk", flat=True)
    )
    assert len(new_ids) == 4
    assert Posting.objects.filter(member_id__in=new_ids).count() == 3  # openings only, no bonus
    entry = program.tiers.get(rank=0)
    assert Member.objects.filter(pk__in=new_ids, tier=entry).count() == 3
    assert TierChange.objects.filter(member_id__in=new_ids, reason="enrolment", to_tier=entry).count() == 4
    manual = TierChange.objects.get(member=two, reason="manual")
    assert (manual.from_tier, manual.to_tier.code) == (entry, "gold")
    floor = TierOverride.objects.get(member=two)
    assert (floor.tier.code, floor.starts_at, floor.ends_at) == ("gold", AT, AT + timedelta(days=365))
    for member in Member.objects.filter(program=program):
        check = member_ledger_check(member=member)
        assert check["balance"] == check["entries"] == check["lots"], check
    reconcile = ledger_reconcile()
    assert (reconcile["mismatches"], reconcile["unbalanced_postings"]) == (0, 0)


def test_two_rows_clashing_on_a_second_identifier(seeded):
    program, existing = seeded
    text = (
        "external_id,phone,email,balance\n"
        "k-1,+994504444444,,10\n"
        "k-2,+994504444444,,20\n"  # new key, but the phone is k-1's
        f"k-3,{existing.phone},,30\n"  # new key, the phone of a member enrolled at the till
        ",+994504444444,,10\n"  # keyed by the phone, which k-1 took earlier in this batch
    )
    report = _run(program, text=text, batch_size=10)
    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "A member with this phone already exists."),
        (4, "A member with this phone already exists."),
        (5, "A member with this phone already exists."),
    ]
    assert (report.created, report.balances, report.points) == (1, 1, 10)
    assert Member.objects.filter(program=program).count() == 2
    assert ledger_reconcile()["mismatches"] == 0


def test_rerunning_the_same_file_imports_nothing_twice(seeded):
    program, _existing = seeded
    _run(program)
    before = _state(program)
    again = _run(program, batch_size=5)
    assert (again.created, again.skipped, again.balances, again.tiers) == (0, 4, 0, 0)
    assert len(again.errors) == 8
    assert _state(program) == before


def test_changed_balance_on_rerun_is_reported_not_applied(seeded):
    program, _existing = seeded
    _run(program)
    before = _state(program)
    changed = "external_id,balance\nold-1,900\n"
    report = _run(program, text=changed)
    assert [(e.line, e.reason) for e in report.errors] == [
        (2, "opening balance already imported as 500 points; this row says 900")
    ]
    assert _state(program) == before


def test_existing_member_gets_the_opening_balance_once(seeded):
    program, existing = seeded
    start = existing.balance
    text = f"phone,balance\n{existing.phone},300\n"
    first = _run(program, text=text)
    assert (first.created, first.skipped, first.balances) == (0, 1, 1)
    existing.refresh_from_db()
    assert existing.balance == start + 300
    _run(program, text=text)
    existing.refresh_from_db()
    assert existing.balance == start + 300


def test_header_without_a_key_column_is_refused(seeded):
    program, _ = seeded
    with pytest.raises(Exception, match="header must name at least one"):
        _run(program, text="name,balance\nx,1\n")
    assert Member.objects.filter(program=program).count() == 1


def test_import_members_command_is_idempotent_and_prints_bad_rows(seeded, tmp_path):
    program, _ = seeded
    path = tmp_path / "members.csv"
    rows = ["external_id,phone,balance"]
    rows += [f"cmd-{n},+99455{n:07d},{n}" for n in range(1, 251)]
    rows.append("cmd-bad,12,5")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = io.StringIO()
    call_command(
        "import_members",
        str(path),
        "--program",
        str(program.pk),
        "--batch-size",
        "100",
        "--no-progress",
        stdout=out,
        stderr=io.StringIO(),
    )
    lines = out.getvalue().strip().splitlines()
    assert lines[0] == "line 252: invalid phone '12'"
    summary = json.loads(lines[-1])
    assert summary.pop("job") > 0
    assert summary == {
        "rows": 251,
        "created": 250,
        "skipped": 0,
        "balances": 250,
        "points": 31375,
        "tiers": 0,
        "errors": 1,
        "warnings": 0,
    }
    before = _state(program)
    out = io.StringIO()
    call_command(
        "import_members",
        str(path),
        "--program",
        str(program.pk),
        "--no-progress",
        stdout=out,
        stderr=io.StringIO(),
    )
    again = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (again["created"], again["skipped"], again["balances"], again["errors"]) == (0, 250, 0, 1)
    assert _state(program) == before


def test_opening_balances_post_is_set_based_idempotent_and_a_points_adjust_replay(seeded):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ledger.imports import opening_balances_post
    from ledger.services import points_adjust

    program, existing = seeded
    points_adjust(member=existing, points=40, at=AT, reference="before", reason="test")
    existing.refresh_from_db()
    start = existing.balance
    others = account_services.members_bulk_create(
        program=program, rows=[{"external_id": f"ob-{n}"} for n in range(3)], at=AT
    )
    expiry = AT + timedelta(days=30)
    batch = [(existing, 300, None), (others[0], 5, expiry), (others[1], 7, None), (others[2], 9, None)]
    with CaptureQueriesContext(connection) as queries:
        result = opening_balances_post(members_points=batch, at=AT)
    assert len(queries) <= 10  # lock, references, postings, entries, lots, balances (+ savepoints)
    assert result.posted == {existing.pk: 300, others[0].pk: 5, others[1].pk: 7, others[2].pk: 9}
    assert result.existing == {}
    existing.refresh_from_db()
    assert existing.balance == start + 300
    lot = Lot.objects.get(posting_id=result.postings[others[0].pk])
    assert (lot.points, lot.remaining, lot.state, lot.expires_at) == (5, 5, "active", expiry)
    lot = Lot.objects.get(posting_id=result.postings[others[1].pk])
    assert lot.expires_at == AT + timedelta(days=program.points_lifetime_days)
    postings = Posting.objects.filter(program=program).count()
    again = opening_balances_post(members_points=batch, at=AT + timedelta(hours=1))
    assert (again.posted, again.existing) == (
        {},
        {existing.pk: 300, others[0].pk: 5, others[1].pk: 7, others[2].pk: 9},
    )
    # the same posting points_adjust writes: a replay through the service returns it
    replay = points_adjust(
        member=others[2], points=9, at=AT, reference=opening_reference(others[2].pk), reason="again"
    )
    assert replay.pk == result.postings[others[2].pk]
    assert Posting.objects.filter(program=program).count() == postings
    for member in [existing, *others]:
        check = member_ledger_check(member=member)
        assert check["balance"] == check["entries"] == check["lots"], check
    assert (ledger_reconcile()["mismatches"], ledger_reconcile()["unbalanced_postings"]) == (0, 0)


def test_members_bulk_create_skips_taken_keys_and_runs_no_enrolment_hooks(seeded):
    from notifications.models import Event

    program, existing = seeded
    events = Event.objects.count()
    rows = [
        {"external_id": "b-1", "phone": "+994507000001", "first_name": "B"},
        {"phone": existing.phone},  # taken by the till member
        {"external_id": "b-1"},  # taken by the first row of this call
        {"email": "b3@example.com"},
    ]
    created = account_services.members_bulk_create(program=program, rows=rows, at=AT)
    assert [(m.external_id, m.phone, m.email) for m in created] == [
        ("b-1", "+994507000001", None),
        (None, None, "b3@example.com"),
    ]
    stored = Member.objects.get(pk=created[0].pk)
    assert (stored.first_name, stored.balance, stored.created_at, stored.tier_id) == ("B", 0, AT, None)
    assert luhn_is_valid(stored.card_number) and len(stored.card_number) == 13
    assert Posting.objects.filter(member__in=created).count() == 0  # no registration bonus
    assert Event.objects.count() == events  # no member.created
    assert account_services.members_bulk_create(program=program, rows=rows, at=AT) == []


def test_members_bulk_create_redraws_colliding_card_numbers(seeded, monkeypatch):
    """9 random digits collide among a million members: inside one call (the statement would keep
    only the first row) and with a member already holding the number (the row is drawn again)."""
    program, existing = seeded
    draws = iter(["7000000000017", "7000000000017", existing.card_number, "7000000000025"])
    monkeypatch.setattr(account_services, "card_number_generate", lambda: next(draws))
    rows = [{"external_id": "c-1"}, {"external_id": "c-2"}]
    created = account_services.members_bulk_create(program=program, rows=rows, at=AT)
    # c-1 draws ...017; c-2's repeat of it is redrawn before the statement and gets the till
    # member's number, so c-2 is not inserted; drawn again, it gets ...025
    stored = dict(Member.objects.filter(program=program).values_list("external_id", "card_number"))
    assert [m.external_id for m in created] == ["c-1", "c-2"]
    assert (stored["c-1"], stored["c-2"]) == ("7000000000017", "7000000000025")
    assert [m.card_number for m in created] == ["7000000000017", "7000000000025"]
    assert len({m.pk for m in created}) == 2

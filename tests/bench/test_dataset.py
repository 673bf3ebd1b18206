# ruff: noqa: E501 - SQL reads better unwrapped
"""The million-member data set's builder (bench/dataset/build.py) writes the rows the services
write: the same plan of enrolments and purchases goes once through the builder's SQL and once
through `member_create` and `purchase_create`, and every table's rows compare equal (ids, random
codes and wall-clock columns aside, fingerprints recomputed)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Member
from accounts.services import luhn_check_digit, member_create, merchant_create, program_create
from bench.dataset import build as dataset
from checkout.purchases import _fingerprint as purchase_fingerprint
from checkout.purchases import purchase_create
from ledger.engine import fingerprint
from loyalty_site.core.presets import preset_apply

AT = dataset.AT
MEMBERS = 48  # 3 chunks of 16; every number of purchases 1-8, 31st member idle


def _rows(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _counts() -> dict[str, int]:
    tables = [
        row[0]
        for row in _rows(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'bench_%%'",
            [],
        )
    ]
    return {table: _rows(f'SELECT count(*) FROM "{table}"', [])[0][0] for table in sorted(tables)}


def snapshot(program_id: int) -> dict[str, list]:
    """The program's rows with ids replaced by stable labels (member: its last name, the plan's i;
    purchase: its external id; posting: member and reference; ...), fingerprints by whether they
    are what the services' fingerprint functions give, random codes and wall-clock columns left out."""
    p = [program_id]
    members = {
        mid: f"m{last}"
        for mid, last in _rows("SELECT id, last_name FROM accounts_member WHERE program_id = %s", p)
    }
    tiers = dict(_rows("SELECT id, code FROM tiers_tier WHERE program_id = %s", p))
    campaigns = dict(_rows("SELECT id, code FROM campaigns_campaign WHERE program_id = %s", p))
    purchases = dict(_rows("SELECT id, external_id FROM ledger_purchase WHERE program_id = %s", p))
    coupons = {
        cid: (code, f"coupon:{campaigns[camp]}:{members[mid]}")
        for cid, code, camp, mid in _rows(
            "SELECT id, code, campaign_id, member_id FROM campaigns_coupon WHERE program_id = %s", p
        )
    }
    codes = {code: label for code, label in coupons.values()}

    def reference(text: str) -> str:
        text = re.sub(r"^purchase:(\d+):", lambda m: f"purchase:{purchases[int(m[1])]}:", text)
        return re.sub(
            r"^campaign:(\d+):(\d+):",
            lambda m: f"campaign:{campaigns[int(m[1])]}:{members[int(m[2])]}:",
            text,
        )

    postings = {}
    out: dict[str, list] = {}
    rows = _rows(
        "SELECT id, member_id, kind, reference, fingerprint, points, pending_points, balance_after, purchase_id, "
        "campaign_id, amount, fee, description, user_id, data, created_at, recorded_at "
        "FROM ledger_posting WHERE program_id = %s",
        p,
    )
    for pid, mid, kind, ref, fp, points, *rest in rows:
        postings[pid] = f"{members[mid]}:{reference(ref)}"
        purchase, campaign = rest[2], rest[3]
        if kind == "earn":
            expected = fingerprint(kind="earn", member=mid, points=points, purchase=purchase)
        else:
            expected = fingerprint(kind=kind, member=mid, points=points, campaign=campaign)
        out.setdefault("posting", []).append(
            (
                postings[pid],
                kind,
                fp == expected,
                points,
                rest[0],
                rest[1],
                purchases.get(purchase),
                campaigns.get(campaign),
                *rest[4:],
            )
        )
    out["entry"] = [
        (postings[pid], members.get(mid), *rest)
        for pid, mid, *rest in _rows(
            "SELECT posting_id, member_id, account, kind, points, balance_after, created_at FROM ledger_entry "
            "WHERE program_id = %s",
            p,
        )
    ]
    out["lot"] = [
        (postings[pid], members[mid], *rest)
        for pid, mid, *rest in _rows(
            "SELECT posting_id, member_id, source, points, remaining, state, earned_at, available_at, expires_at, "
            "grace_until, warned_at FROM ledger_lot WHERE program_id = %s",
            p,
        )
    ]
    out["purchase"] = []
    for mid, ext, amount, currency, fp, *rest in _rows(
        "SELECT member_id, external_id, amount, currency, request_fingerprint, kind, discount_amount, amount_due, "
        "points_earned, points_redeemed, refunded_amount, points_reversed, points_returned, occurred_at, applied, "
        "coupon_code FROM ledger_purchase WHERE program_id = %s",
        p,
    ):
        expected = purchase_fingerprint(
            member=mid,
            amount=f"{amount:.2f}",
            currency=currency,
            kind="purchase",
            coupon="",
            redeem=0,
            occurred_at=None,
        )
        out["purchase"].append((members[mid], ext, amount, currency, fp == expected, *rest))
    grants = {}
    out["grant"] = []
    for gid, camp, mid, period, points, cost, coupon, ref, created in _rows(
        "SELECT g.id, g.campaign_id, g.member_id, g.period_key, g.points, g.cost, g.coupon_id, g.purchase_ref, "
        "g.created_at FROM campaigns_campaigngrant g JOIN accounts_member m ON m.id = g.member_id "
        "WHERE m.program_id = %s",
        p,
    ):
        grants[gid] = f"{campaigns[camp]}:{members[mid]}:{period}"
        out["grant"].append((grants[gid], points, cost, coupons[coupon][1] if coupon else None, ref, created))
    out["coupon"] = [
        (coupons[cid][1], *rest)
        for cid, *rest in _rows(
            "SELECT id, kind, value, currency, min_purchase, starts_at, ends_at, max_uses, max_uses_per_member, "
            "first_order_only, is_active, uses_count, created_at, batch_id FROM campaigns_coupon WHERE program_id = %s",
            p,
        )
    ]
    changes = {}
    out["tier_change"] = []
    for cid, mid, from_tier, to_tier, *rest in _rows(
        "SELECT id, member_id, from_tier_id, to_tier_id, reason, note, qualifying_value, at, created_by_id "
        "FROM tiers_tierchange WHERE program_id = %s ORDER BY member_id, at, id",
        p,
    ):
        changes[cid] = f"{members[mid]}:{tiers.get(from_tier)}->{tiers[to_tier]}"
        out["tier_change"].append((changes[cid], *rest))
    labels = {"posting": postings, "tier.changed": changes, "reward.granted": grants, "coupon.issued": None}
    out["event"] = []
    for mid, type_, data, at, key in _rows(
        "SELECT member_id, type, data, at, key FROM notifications_event WHERE program_id = %s", p
    ):
        data = json.loads(data) if isinstance(data, str) else dict(data)
        for field in ("member_id", "member"):
            if field in data:
                data[field] = members[data[field]]
        if "posting_id" in data:
            data["posting_id"] = postings[data["posting_id"]]
        if data.get("purchase_id"):
            data["purchase_id"] = purchases[data["purchase_id"]]
        if "reference" in data:
            data["reference"] = reference(data["reference"])
        if "card_number" in data:
            data["card_number"] = "card"
        for field in ("code", "coupon"):
            if data.get(field):
                data[field] = codes[data[field]]
        prefix, _, number = key.rpartition(":")
        if prefix == "points.earned:posting":
            key = f"{prefix}:{postings[int(number)]}"
        elif prefix == "coupon.issued":
            key = f"{prefix}:{next(label for cid, (c, label) in coupons.items() if cid == int(number))}"
        elif prefix == "member.created":
            key = f"{prefix}:{members[int(number)]}"
        else:
            key = f"{prefix}:{labels[prefix][int(number)]}"
        out["event"].append((members[mid], type_, data, at, key))
    out["member"] = [
        (members[mid], tiers.get(tier), *rest)
        for mid, tier, *rest in _rows(
            "SELECT id, tier_id, external_id, phone, email, first_name, birth_date, status, blocked_reason, balance, "
            "pending_points, last_activity_at, created_at, referred_by_id FROM accounts_member WHERE program_id = %s",
            p,
        )
    ]
    out["campaign"] = _rows("SELECT code, points_granted FROM campaigns_campaign WHERE program_id = %s", p)
    return {table: sorted(rows, key=repr) for table, rows in out.items()}


@pytest.mark.django_db
def test_the_builder_writes_the_rows_the_services_write():
    # given the services' program, created like the builder's (seed preset, UTC, 400 days before AT)
    program = program_create(merchant=merchant_create(name="Services"), name="Services", time_zone="UTC")
    preset_apply(program=program, preset="seed", at=AT - timedelta(days=400))
    params = dataset.program_setup(at=AT, members=MEMBERS)
    before = _counts()

    # when the builder writes the plan, in three chunks, and the services replay it
    dataset.build(members=MEMBERS, chunk=16, log=lambda text: None)
    built = _counts()
    plan = _rows(dataset.PLAN_MEMBERS_SQL, {"at": AT, "first": 1, "last": MEMBERS})
    buys = _rows(dataset.PLAN_PURCHASES_SQL + " ORDER BY 1, 2", {"at": AT, "first": 1, "last": MEMBERS})
    for i, enrolled_at, birth_date, _purchases, _last in plan:
        member = member_create(
            program=program,
            at=enrolled_at,
            phone=f"+99455{i:07d}",
            first_name="Member",
            last_name=str(i),
            birth_date=birth_date,
        )
        for _i, k, occurred_at, amount, currency in (row for row in buys if row[0] == i):
            member = Member.objects.get(pk=member.pk)
            purchase_create(
                member=member,
                external_id=f"h-{i}-{k}",
                amount=Decimal(amount).quantize(Decimal("0.01")),
                currency=currency,
                at=occurred_at,
            )
    replayed = _counts()

    # then both wrote the same number of rows in every table, and the same rows
    assert {t: built[t] - before[t] for t in built} == {t: replayed[t] - built[t] for t in built}
    ours, theirs = snapshot(params["program"]), snapshot(program.pk)
    for table in theirs:
        assert ours[table] == theirs[table], table
    assert sum(len(rows) for rows in ours.values()) > 900
    assert all(row[2] for row in ours["posting"]) and all(row[4] for row in ours["purchase"])  # fingerprints
    kinds = {(row[1], row[6] is not None) for row in ours["posting"]}
    assert kinds == {("bonus", False), ("earn", True)}
    assert {row[1] for row in ours["tier_change"]} == {"enrolment", "earning"}
    assert ours["coupon"] and any(row[1] > 0 for row in ours["grant"] if row[0].startswith("second"))
    for (card,) in _rows(
        "SELECT card_number FROM accounts_member WHERE program_id = %s", [params["program"]]
    ):
        assert len(card) == 13 and luhn_check_digit(card[:-1]) == card[-1]


class Killed(Exception):
    pass


def _plan_totals(members: int) -> tuple[int, int]:
    purchases = _rows(
        f"SELECT count(*) FROM ({dataset.PLAN_PURCHASES_SQL}) p", {"at": AT, "first": 1, "last": members}
    )[0][0]
    return members, purchases


@pytest.mark.django_db
def test_a_build_killed_between_or_inside_steps_continues_without_doubling(monkeypatch):
    from loyalty_site.core.jobs import run_job

    # given a build killed after its first step committed
    def kill_after_first_step(text):
        raise Killed(text)

    with pytest.raises(Killed):
        dataset.build(members=40, chunk=20, log=kill_after_first_step)
    assert _rows("SELECT name FROM bench_build_step", []) == [("enrol:1-20",)]
    # and a second one killed inside a step (its transaction rolls back)
    monkeypatch.setattr(dataset, "PURCHASE_SQL", [*dataset.PURCHASE_SQL, "SELECT 1 / 0"])
    with pytest.raises(Exception, match="division by zero"):
        dataset.build(members=40, chunk=20, log=lambda text: None)
    monkeypatch.undo()

    # when it runs again, then twice more
    dataset.build(members=40, chunk=20, log=lambda text: None)
    dataset.build(members=40, chunk=20, log=lambda text: None)

    # then every member and purchase of the plan is there once, and the ledger reconciles
    members, purchases = _plan_totals(40)
    program = dataset._meta_get(connection.cursor(), "program")
    assert _rows("SELECT count(*) FROM accounts_member WHERE program_id = %s", [program])[0][0] == members
    assert _rows("SELECT count(*) FROM ledger_purchase WHERE program_id = %s", [program])[0][0] == purchases
    assert (
        _rows("SELECT count(*) FROM ledger_posting WHERE program_id = %s", [program])[0][0]
        == members + purchases
    )
    assert sorted(name for (name,) in _rows("SELECT name FROM bench_build_step", [])) == [
        "enrol:1-20",
        "enrol:21-40",
        "purchases:1-20",
        "purchases:21-40",
    ]
    summary = run_job("reconcile", at=AT)
    assert (summary["members"], summary["mismatches"], summary["unbalanced_postings"]) == (40, 0, 0)


@pytest.mark.django_db
def test_a_10000_member_build_reconciles():
    """The CI smoke run of the builder (the million-member build is the same code, 20 chunks)."""
    from loyalty_site.core.jobs import run_job

    result = dataset.build(members=10_000, log=lambda text: None)

    members, purchases = _plan_totals(10_000)
    stats = dataset.dataset_stats()["tables"]
    assert stats["accounts_member"]["rows"] == members
    assert stats["ledger_purchase"]["rows"] == purchases
    assert stats["ledger_entry"]["rows"] == 2 * (members + purchases)
    assert stats["ledger_lot"]["rows"] == members + purchases
    assert 4 * members < purchases < 5 * members
    assert (
        _rows(
            "SELECT count(DISTINCT tier_id) FROM accounts_member WHERE program_id = %s", [result["program"]]
        )[0][0]
        == 4
    )
    summary = run_job("reconcile", at=AT)
    assert (summary["members"], summary["mismatches"], summary["unbalanced_postings"]) == (members, 0, 0)

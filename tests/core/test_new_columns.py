"""Issue 17 item 6: a new defaulted column on a ledger or member table breaks no writer.

The fixture does, inside the test's transaction, what a migration adding two fields does: one with
`db_default` (the column keeps its DEFAULT) and one with only Django's `default=` (AddField fills
the existing rows and drops the DEFAULT again, so an INSERT that leaves the column out fails with
a NOT NULL violation unless the writer fills it from the model). Then the purchase, the refund,
the expiry, warning and decay jobs, a spend and the member import run, and every row they
wrote carries both defaults (and "" in a third, text column with no default at all, which
`save()` fills with "" too, as `Member.language` was added). The transaction's rollback removes
the columns; the fixture removes the fields from the model classes and forgets the statements
built meanwhile."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection, models

from accounts.models import Member
from campaigns.models import CampaignGrant
from ledger import engine, jobs, services
from ledger.models import Allocation, Entry, Lot, Posting, Purchase
from ledger.selectors import member_ledger_check
from loyalty_site.core import bulk, db
from loyalty_site.core.presets import preset_apply
from reports.imports import members_import, rows_from_csv
from tests.factories import MemberFactory
from tiers.models import TierChange, TierOverride

NEW_COLUMNS_ON = (Member, Posting, Entry, Lot, Allocation, Purchase, TierChange, TierOverride, CampaignGrant)


def _caches_clear():
    apps.clear_cache()
    bulk.statements_clear()
    db.statements_clear()
    engine._fields_defaults.cache_clear()


@pytest.fixture
def new_columns(db):
    added = []
    with connection.schema_editor(atomic=False) as editor:  # the test's transaction holds it
        for model in NEW_COLUMNS_ON:
            for name, field in (
                ("extra_db", models.IntegerField(db_default=7)),
                ("extra_py", models.CharField(max_length=8, default="py")),
                ("extra_text", models.CharField(max_length=8, blank=True)),  # as Member.language came
            ):
                field.contribute_to_class(model, name)
                added.append((model, field))
            _caches_clear()
            for _model, field in added[-3:]:
                editor.add_field(model, field)
    with connection.cursor() as cursor:  # as the migration leaves them: only extra_db has a DEFAULT
        cursor.execute(
            "SELECT table_name, column_name, column_default IS NOT NULL FROM information_schema.columns "
            "WHERE column_name IN ('extra_db', 'extra_py', 'extra_text') AND table_name = %s",
            [Posting._meta.db_table],
        )
        assert sorted(cursor.fetchall()) == [
            ("ledger_posting", "extra_db", True),
            ("ledger_posting", "extra_py", False),
            ("ledger_posting", "extra_text", False),
        ]
    yield NEW_COLUMNS_ON
    for model, field in added:
        model._meta.local_fields.remove(field)
        if field.attname in model.__dict__:
            delattr(model, field.attname)
    _caches_clear()


def _defaults_everywhere(models_):
    """{table: (rows, rows with both defaults)} of every table that has rows."""
    seen = {}
    with connection.cursor() as cursor:
        for model in models_:
            table = model._meta.db_table
            cursor.execute(
                "SELECT count(*), count(*) FILTER "
                f"(WHERE extra_db = 7 AND extra_py = 'py' AND extra_text = '') FROM {table}"
            )
            seen[table] = cursor.fetchone()
    return seen


def test_every_writer_fills_new_defaulted_columns(new_columns, program, now):
    from checkout.purchases import purchase_create

    preset_apply(program=program, preset="seed", at=now - timedelta(days=400))
    member = MemberFactory(program=program, at=now - timedelta(days=400))
    assert Member.objects.get(pk=member.pk).extra_py == "py"

    # the purchase path (one statement for posting, entries, lot), campaigns' grants, tier changes
    purchase = purchase_create(
        member=member, external_id="R-1", amount="250.00", currency="AZN", at=now - timedelta(days=399)
    ).purchase
    assert purchase.points_earned > 0
    # a spend (allocations, lots changed) and a partial refund
    services.points_redeem(member=member, points=100, at=now - timedelta(days=398), reference="spend-1")
    services.purchase_refund(
        purchase=purchase, amount=Decimal("50.00"), at=now - timedelta(days=397), reference="refund-1"
    )

    # the jobs' chunk writer: warnings, decay after the idle period, expiry after the lifetime
    idle = MemberFactory(program=program, at=now - timedelta(days=100))
    services.points_bonus(
        member=idle, points=1000, at=now - timedelta(days=100), reference="b-1", description="bonus"
    )
    decayed = jobs.decay_inactive(at=now - timedelta(days=60))
    assert decayed["decayed"] == 2  # both members are idle by then
    warned = jobs.warn_expiring(at=now - timedelta(days=35))
    expired = jobs.expire_points(at=now)
    assert expired and warned is not None

    # the member import: members, tier history, manual tiers, opening balances
    report = members_import(
        program=program,
        rows=rows_from_csv(
            io.StringIO(
                "external_id,phone,first_name,balance,tier\n"
                "old-1,+994501111111,Ali,500,gold\n"
                "old-2,+994502222222,Bella,0,\n"
                "old-3,,Cem,1200,\n"
            )
        ),
        at=now,
    )
    assert (report.created, report.balances, report.tiers, report.errors) == (3, 2, 1, [])

    counts = _defaults_everywhere(new_columns)
    assert counts["ledger_purchase"] == (1, 1)
    assert counts["ledger_allocation"][0] >= 1
    assert counts["campaigns_campaigngrant"][0] >= 1
    assert counts["tiers_tieroverride"] == (1, 1)
    for table, (rows, filled) in counts.items():
        assert rows > 0, table
        assert filled == rows, table
    assert Posting.objects.filter(kind="decay").count() == 2
    assert Posting.objects.filter(kind="expire").exists()
    for checked in Member.objects.filter(program=program):
        check = member_ledger_check(member=checked)
        assert check["balance"] == check["entries"] == check["lots"], checked.pk


def test_a_new_column_without_any_default_is_named(db):
    with pytest.raises(ValueError, match=r"Entry\.points has no value, no default and no db_default"):
        bulk.rows_insert_sql(Entry, {"posting_id": [1]}, constants={"program_id": 1, "account": "member"})

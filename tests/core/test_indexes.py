"""Indexes and prepared statements on PostgreSQL. No index repeats the leading columns of another
(each costs every insert, and a lone foreign-key index misled the planner on a campaign's grants to
one member); a purchase updates its member's row in place (a HOT update: no index holds a column
the purchase writes, so the row gets no new entry in the member table's dozen indexes); the
prepared statements survive a column another connection adds, a plan a migration made stale
fails one request, a replay keeps them; an online index build can run again after an
interruption."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import (
    DEFAULT_DB_ALIAS,
    NotSupportedError,
    close_old_connections,
    connection,
    connections,
    models,
)
from django.db.models import Q

from accounts.models import Member
from checkout.purchases import purchase_create
from ledger.models import Lot, Purchase
from loyalty_site.core.migration_ops import _index_add
from loyalty_site.core.presets import preset_apply
from tests.factories import MemberFactory, ProgramFactory

PROJECT_APPS = {
    "accounts",
    "api",
    "campaigns",
    "fraud",
    "ledger",
    "notifications",
    "reports",
    "rewards",
    "tiers",
}

# Pairs (index, index whose leading columns, with the same operator classes, are all of the first
# one's): a plain b-tree index without a predicate or expressions, never a unique one.
COVERED_INDEXES_SQL = """
SELECT a.indrelid::regclass::text, a.indexrelid::regclass::text, b.indexrelid::regclass::text
FROM pg_index a
JOIN pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
JOIN pg_class ai ON ai.oid = a.indexrelid
JOIN pg_am am ON am.oid = ai.relam AND am.amname = 'btree'
WHERE a.indrelid::regclass::text = ANY(%s)
  AND NOT a.indisunique AND a.indpred IS NULL AND b.indpred IS NULL
  AND a.indexprs IS NULL AND b.indexprs IS NULL AND a.indnatts <= b.indnatts
  AND (a.indkey::int2[])[0:a.indnatts - 1] = (b.indkey::int2[])[0:a.indnatts - 1]
  AND (a.indclass::oid[])[0:a.indnatts - 1] = (b.indclass::oid[])[0:a.indnatts - 1]
ORDER BY 1, 2
"""


def test_no_index_repeats_the_leading_columns_of_another(db):
    # the project's own models; Django's many-to-many tables (their pair constraint and one index a
    # side) are left as Django makes them
    tables = [
        model._meta.db_table
        for model in apps.get_models()
        if model._meta.app_label in PROJECT_APPS and not model._meta.auto_created
    ]
    assert "ledger_entry" in tables and "accounts_member" in tables
    with connection.cursor() as cursor:
        cursor.execute(COVERED_INDEXES_SQL, [tables])
        covered = cursor.fetchall()
    assert covered == [], "indexes another index covers (table, index, covered by): " + repr(covered)


def _seeded(now):
    """A member of a seed-preset program, and a function recording a 5 USD purchase of theirs
    through the API's path (program and member id) with a given receipt id."""
    program = ProgramFactory(base_currency="USD")
    preset_apply(program=program, preset="seed", at=now - timedelta(days=40))
    member = MemberFactory(program=program, at=now - timedelta(days=30))

    def purchase(external_id: str):
        return purchase_create(
            program=program,
            member_id=member.pk,
            external_id=external_id,
            amount="5.00",
            currency="USD",
            at=now,
        ).purchase

    return member, purchase


def _member_updates() -> tuple[int, int]:
    """Rows of accounts_member this transaction updated, and how many of them in place."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_get_xact_tuples_updated(%s::regclass), "
            "pg_stat_get_xact_tuples_hot_updated(%s::regclass)",
            ["accounts_member", "accounts_member"],
        )
        return cursor.fetchone()


def test_a_purchase_updates_its_member_in_place(db, now):
    member, _ = _seeded(now)
    purchase_create(
        member=member, external_id="I-1", amount="20.00", currency="USD", at=now - timedelta(days=2)
    )
    updated, in_place = _member_updates()

    purchase = purchase_create(
        member=member, external_id="I-2", amount="20.00", currency="USD", at=now
    ).purchase

    member.refresh_from_db()
    assert purchase.points_earned > 0 and member.balance >= purchase.points_earned
    assert member.last_activity_at == now
    after_updated, after_in_place = _member_updates()
    assert after_updated - updated >= 1
    assert after_in_place - in_place == after_updated - updated


def _prepared(fragment: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{fragment}%"]
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_prepared_statements_survive_a_column_another_connection_adds(now):
    """The connection prepares the hot path's statements (settings: DATABASE_PREPARE); a migration
    adding a column while the processes run must not break them: PostgreSQL refuses to run a
    prepared statement whose result changed shape, as a `SELECT *` does when its table grows."""
    member, purchase = _seeded(now)

    for n in range(6):
        purchase(f"P-{n}")
    assert _prepared("FROM accounts_member WHERE id = $1 AND program_id = $2")
    assert _prepared("FROM ledger_lot WHERE ledger_lot.member_id = $1")

    migration = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with migration.cursor() as cursor:
            cursor.execute("ALTER TABLE accounts_member ADD COLUMN added_later integer")
            cursor.execute("ALTER TABLE ledger_lot ADD COLUMN added_later integer")
        assert purchase("P-after").points_earned > 0
    finally:
        with migration.cursor() as cursor:
            cursor.execute("ALTER TABLE accounts_member DROP COLUMN IF EXISTS added_later")
            cursor.execute("ALTER TABLE ledger_lot DROP COLUMN IF EXISTS added_later")
        migration.close()


@pytest.mark.django_db(transaction=True)
def test_a_prepared_plan_a_migration_made_stale_fails_one_request(now):
    """A migration changing a column's type (here its length) breaks the statements the running
    connections prepared on it. In a transaction, the failure's rollback makes psycopg drop the
    connection's prepared statements; outside one (a read), nothing would, so `db.stale_plan_guard`
    has Django close the connection when the request ends, where it would otherwise fail every
    request for up to a minute (CONN_MAX_AGE)."""
    member, purchase = _seeded(now)

    def read():
        return Member.objects.get(pk=member.pk)

    for n in range(6):
        purchase(f"P-{n}")
    migration = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with migration.cursor() as cursor:
            cursor.execute("ALTER TABLE accounts_member ALTER COLUMN first_name TYPE varchar(120)")
        with pytest.raises(NotSupportedError):
            purchase("P-stale")
        assert purchase("P-fresh").points_earned > 0

        for _ in range(6):
            read()
        with migration.cursor() as cursor:
            cursor.execute("ALTER TABLE accounts_member ALTER COLUMN first_name TYPE varchar(100)")
        with pytest.raises(NotSupportedError):
            read()
        close_old_connections()  # what Django runs when a request or a Celery task ends
        assert read().first_name == member.first_name
        assert Purchase.objects.filter(member=member).count() == 7
    finally:
        with migration.cursor() as cursor:
            cursor.execute("ALTER TABLE accounts_member ALTER COLUMN first_name TYPE varchar(100)")
        migration.close()


def test_a_replayed_purchase_keeps_the_connections_prepared_statements(db, now):
    """A client's retry is answered by a replay whose transaction commits (nothing raised): a
    rollback would make psycopg drop every statement the connection prepared."""
    member, purchase = _seeded(now)

    first = [purchase(f"P-{n}") for n in range(3)][0]
    assert _prepared("FROM accounts_member WHERE id = $1 AND program_id = $2")

    again = purchase("P-0")

    assert again.pk == first.pk and again.points_earned == first.points_earned
    assert Purchase.objects.filter(member=member).count() == 3
    assert _prepared("FROM accounts_member WHERE id = $1 AND program_id = $2")


def _index_valid(name: str) -> bool | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [name])
        row = cursor.fetchone()
    return None if row is None else row[0]


@pytest.mark.django_db(transaction=True)
def test_an_online_index_build_can_run_again_after_an_interruption():
    """The migrations build indexes CONCURRENTLY outside a transaction; one stopped half-way leaves
    the index built, or INVALID: running it again keeps the first and rebuilds the second."""
    index = models.Index(fields=["earned_at"], condition=Q(state="active"), name="test_online_idx")
    try:
        with connection.schema_editor(atomic=False) as editor:
            _index_add(editor, Lot, index)
            assert _index_valid("test_online_idx") is True
            _index_add(editor, Lot, index)  # built already: kept
            with connection.cursor() as cursor:  # what an interrupted concurrent build leaves
                cursor.execute(
                    "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'test_online_idx'::regclass"
                )
            assert _index_valid("test_online_idx") is False
            _index_add(editor, Lot, index)
        assert _index_valid("test_online_idx") is True
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS test_online_idx")

"""The read replica's routing: with DATABASE_REPLICA_URL the report pages and exports read the
`replica` alias, writes and every other read the primary; without it (the suite) nothing changes.

The routed tests add a `replica` alias pointing at the test database itself (a second connection,
so the rows must be committed: transactional tests) and check on which connection each page's
queries ran. bench/replica/ runs the same against a real streaming standby."""

import copy
import csv
import io
from decimal import Decimal

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext

from accounts.locks import members_for_update
from accounts.models import Member
from checkout.purchases import purchase_create
from loyalty_site.core.replica import (
    REPLICA_ALIAS,
    ReplicaRouter,
    read_alias,
    replica_reads,
)
from tests.factories import MemberFactory


@pytest.fixture(scope="module")
def replica(django_db_setup, django_db_blocker):
    """A `replica` alias on the test database (as settings make it from DATABASE_REPLICA_URL);
    module-scoped so that it exists before each test's database set-up checks its aliases."""
    settings_dict = copy.deepcopy(connections[DEFAULT_DB_ALIAS].settings_dict)
    connections.settings[REPLICA_ALIAS] = settings_dict
    yield connections[REPLICA_ALIAS]
    with django_db_blocker.unblock():
        connections[REPLICA_ALIAS].close()
    del connections[REPLICA_ALIAS]
    del connections.settings[REPLICA_ALIAS]


def test_routing_decisions_with_a_replica(replica):
    router = ReplicaRouter()
    assert read_alias() == REPLICA_ALIAS
    assert router.db_for_read(Member) is None  # outside the report views: the primary
    assert Member.objects.all().db == DEFAULT_DB_ALIAS
    with replica_reads():
        assert router.db_for_read(Member) == REPLICA_ALIAS
        assert Member.objects.all().db == REPLICA_ALIAS
        assert router.db_for_write(Member) == DEFAULT_DB_ALIAS  # writes never go to the standby
        assert members_for_update().db == DEFAULT_DB_ALIAS  # the member lock (accounts.locks)
    assert Member.objects.all().db == DEFAULT_DB_ALIAS  # the block ended
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "accounts") is True
    assert router.allow_migrate(REPLICA_ALIAS, "accounts") is False
    assert router.allow_relation(object(), object()) is True


def _program_with_history(moment):
    from loyalty_site.core.presets import preset_apply
    from tests.factories import ProgramFactory

    program = ProgramFactory(name="Replica")
    preset_apply(program=program, preset="seed", at=moment)
    member = MemberFactory(program=program, at=moment)
    purchase_create(member=member, external_id="r-1", amount=Decimal("40.00"), currency="USD", at=moment)
    return program


def _report_tables(queries) -> set[str]:
    return {table for q in queries for table in ("ledger_entry", "accounts_member") if table in q["sql"]}


@pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA_ALIAS])
def test_dashboard_event_log_and_exports_read_the_replica(client, staff_user, moment, replica):
    program = _program_with_history(moment)
    client.force_login(staff_user(program.merchant, "analyst"))
    primary = connections[DEFAULT_DB_ALIAS]
    for url in ("/admin/reports/", "/admin/reports/events/"):
        with CaptureQueriesContext(primary) as on_primary, CaptureQueriesContext(replica) as on_replica:
            response = client.get(url, {"program": program.pk})
        assert response.status_code == 200
        assert on_replica.captured_queries, url
        # the session and the user (admin_view's checks) read the primary, the report nothing there
        leaked = [q["sql"] for q in on_primary if "ledger_" in q["sql"] or "notifications_event" in q["sql"]]
        assert not leaked, (url, leaked)
    for name in ("members", "entries"):
        with CaptureQueriesContext(primary) as on_primary, CaptureQueriesContext(replica) as on_replica:
            response = client.get(f"/admin/reports/export/{name}.csv", {"program": program.pk})
            chunks = iter(response.streaming_content)
            head = [next(chunks), next(chunks)]  # the header and the first row: the cursor is open
            with replica.cursor() as cursor:
                cursor.execute("SELECT is_holdable FROM pg_cursors")
                cursors = cursor.fetchall()
            text = b"".join([*head, *chunks]).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) > 1
        assert _report_tables(on_replica.captured_queries)
        assert not _report_tables(on_primary.captured_queries)
        # a server-side cursor inside a transaction (not WITH HOLD, which PostgreSQL would materialise
        # whole before the first row, and which PgBouncer's transaction mode cannot keep)
        assert cursors and (True,) not in cursors


@pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA_ALIAS])
def test_other_pages_and_writes_stay_on_the_primary(client, staff_user, moment, replica):
    program = _program_with_history(moment)
    member = Member.objects.get(program=program)
    client.force_login(staff_user(program.merchant, "manager"))
    with CaptureQueriesContext(replica) as on_replica:
        assert client.get(f"/admin/accounts/member/{member.pk}/change/").status_code == 200
        assert client.get("/admin/accounts/member/").status_code == 200
        purchase_create(member=member, external_id="r-2", amount=Decimal("10.00"), currency="USD", at=moment)
        with replica_reads():
            Member.objects.filter(pk=member.pk).update(first_name="Routed")
    assert on_replica.captured_queries == []
    assert Member.objects.get(pk=member.pk).first_name == "Routed"

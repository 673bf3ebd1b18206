"""The database itself refuses to change or delete ledger entries and postings."""

import pytest
from django.db import DatabaseError, connection, transaction

from ledger import services
from ledger.models import Entry, Posting


def test_entries_and_postings_cannot_be_updated_or_deleted(member, now):
    services.points_earn(member=member, points=100, at=now, reference="R-1")
    entry = Entry.objects.filter(member=member).get()

    for attempt in (
        lambda: Entry.objects.filter(pk=entry.pk).update(points=1000),
        lambda: Entry.objects.filter(pk=entry.pk).delete(),
        lambda: Posting.objects.filter(reference="R-1").update(points=1000),
        # raw SQL: the ORM's own PROTECT check would refuse first
        lambda: connection.cursor().execute("DELETE FROM ledger_posting WHERE reference = 'R-1'"),
        lambda: connection.cursor().execute("DELETE FROM ledger_entry"),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()

    entry.refresh_from_db()
    assert entry.points == 100
    assert Posting.objects.get(reference="R-1").points == 100

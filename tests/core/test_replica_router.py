"""Without DATABASE_REPLICA_URL (the suite) the replica router changes nothing; the routed
decisions are tested with a replica alias in tests/pages/test_replica.py."""

from django.db import DEFAULT_DB_ALIAS

from accounts.models import Member
from loyalty_site.core.replica import ReplicaRouter, read_alias, replica_configured, replica_reads


def test_without_a_replica_the_router_is_a_no_op():
    router = ReplicaRouter()
    assert not replica_configured()
    assert read_alias() == DEFAULT_DB_ALIAS
    with replica_reads():
        assert router.db_for_read(Member) is None  # Django's default: the primary
        assert read_alias() == DEFAULT_DB_ALIAS
        assert Member.objects.all().db == DEFAULT_DB_ALIAS
    assert router.db_for_write(Member) == DEFAULT_DB_ALIAS

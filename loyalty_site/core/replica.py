"""Read replica: reports, exports and the dashboard read from `DATABASE_REPLICA_URL` when it is set.

`DATABASE_REPLICA_URL` adds the database alias `replica` (a streaming standby of the primary) and
`ReplicaRouter`. The router sends nothing there on its own: reads go to the replica only inside
`replica_reads()` (the report pages wrap their views with `replica_view`) or where a query names
`read_alias()` itself (the streamed exports). Writes, migrations and every other read stay on the
primary (`default`), so a request that writes and then reads its own write never meets the
replica's lag. Without a replica the router answers nothing (Django's default: `default`) and the
helpers return `default`: the suite runs on one database.

The replica lags the primary by the time its WAL takes to arrive and replay (bench/replica/:
milliseconds on one machine): a report may miss the last moment's purchases, never a member's own
balance or a till's answer, which never read here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA_ALIAS = "replica"

_REPLICA_READS: ContextVar[bool] = ContextVar("replica_reads", default=False)


def replica_configured() -> bool:
    return REPLICA_ALIAS in connections.settings


def read_alias() -> str:
    """The alias report reads use: the replica when one is configured, else the primary."""
    return REPLICA_ALIAS if replica_configured() else DEFAULT_DB_ALIAS


@contextmanager
def replica_reads() -> Iterator[None]:
    """Inside the block, ORM reads (of any model) go to the replica when one is configured."""
    token = _REPLICA_READS.set(True)
    try:
        yield
    finally:
        _REPLICA_READS.reset(token)


def replica_view(view: Callable[..., Any]) -> Callable[..., Any]:
    """A read-only report view whose queries read from the replica. Wrap it inside
    `admin_view` so that the login and permission checks (the session, the user) read the
    primary."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        with replica_reads():
            return view(request, *args, **kwargs)

    return wrapper


class ReplicaRouter:
    """DATABASE_ROUTERS entry: reads inside `replica_reads()` go to the replica, everything else
    (all writes, all other reads, migrations) to the primary."""

    def db_for_read(self, model, **hints) -> str | None:
        if _REPLICA_READS.get() and replica_configured():
            return REPLICA_ALIAS
        return None

    def db_for_write(self, model, **hints) -> str | None:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        # The replica holds the primary's rows: an instance read there may point to one read here.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        # A standby is read-only: its schema arrives with the WAL.
        return db != REPLICA_ALIAS

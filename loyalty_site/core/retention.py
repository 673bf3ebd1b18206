"""Retention of operational rows: the purge jobs delete what has served its purpose (delivered or
failed notifications and webhook deliveries, expired idempotency claims and sessions) so those
tables do not grow forever. The periods are settings (`RETENTION_*`, from the environment).

`rows_purge` deletes in chunks, each its own short transaction, walking the table's key upwards
(keyset), so a purge of millions of rows holds no long lock, never re-reads the rows it deleted,
and a purge stopped halfway keeps what it deleted; a second run for the same moment finds nothing.
"""

from __future__ import annotations

from django.db import connection, transaction

CHUNK = 5000


def rows_purge(*, table: str, condition: str, params: list, key: str = "id", chunk: int = CHUNK) -> int:
    """Delete the rows of `table` matching the SQL `condition` (with `params`), CHUNK rows a
    transaction, in `key` order. Returns the number of rows deleted. `table`, `key` and
    `condition` are SQL written by the caller (never user input)."""
    deleted, last = 0, None
    while True:
        after = "" if last is None else f" AND {key} > %s"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE ({condition}){after} "
                f"ORDER BY {key} LIMIT {int(chunk)}) RETURNING {key}",
                [*params, *([] if last is None else [last])],
            )
            keys = [row[0] for row in cursor.fetchall()]
        deleted += len(keys)
        if len(keys) < chunk:
            return deleted
        last = max(keys)

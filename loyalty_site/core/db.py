"""Database helpers shared by the services: bounded retries of serialization failures and deadlocks."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.db import NotSupportedError, OperationalError, connection, transaction
from django.db.models.expressions import DatabaseDefault
from django.db.models.fields import NOT_PROVIDED

logger = logging.getLogger("loyalty.db")

T = TypeVar("T")

# serialization_failure, deadlock_detected, lock_not_available
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def sqlstate(error: BaseException) -> str | None:
    """PostgreSQL's SQLSTATE of a database error (Django's wrapper or the driver's own)."""
    return getattr(error.__cause__ or error, "sqlstate", None)


def is_retryable(error: BaseException) -> bool:
    return sqlstate(error) in RETRYABLE_SQLSTATES


def atomic_with_retry(func: Callable[..., T] | None = None, *, attempts: int = 5):
    """Run `func` in its own transaction, retried up to `attempts` times when PostgreSQL aborts it
    with a serialization failure or a deadlock (short random back-off between attempts).

    Inside an outer transaction the function simply runs in a savepoint: only the owner of the
    outermost transaction can retry it, so the error propagates to that owner. (A caller that
    holds the locks a service needs calls the service's `*_locked` form instead, which runs in the
    caller's block with no savepoint.)"""

    def decorate(inner: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(inner)
        def wrapper(*args, **kwargs) -> T:
            if connection.in_atomic_block:
                with transaction.atomic():
                    return inner(*args, **kwargs)
            for attempt in range(1, attempts + 1):
                try:
                    with transaction.atomic():
                        return inner(*args, **kwargs)
                except OperationalError as error:
                    if attempt == attempts or not is_retryable(error):
                        raise
                    logger.info("retrying %s after %s (attempt %d)", inner.__name__, error, attempt)
                    time.sleep(random.uniform(0, 0.005 * 2**attempt))
            raise AssertionError("unreachable")  # pragma: no cover

        return wrapper

    return decorate(func) if func is not None else decorate


# --- prepared statements (settings: DATABASE_PREPARE) -----------------------------------------


def stale_plan_guard(execute, sql, params, many, context):
    """Execute wrapper (PostgreSQL connections, installed by `stale_plan_guard_install`). A
    statement the connection prepared whose result shape a migration changed meanwhile (a column's
    type or length) fails with feature_not_supported ("cached plan must not change result type").
    In a transaction, its rollback makes psycopg drop the connection's prepared statements; outside
    one (a read in autocommit) nothing would, and it would fail again until the connection closed.
    So the connection is marked obsolete: Django closes it when the request or the task ends."""
    try:
        return execute(sql, params, many, context)
    except NotSupportedError as error:
        if sqlstate(error) == "0A000":  # feature_not_supported
            context["connection"].close_at = time.monotonic()
        raise


def stale_plan_guard_install(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: every PostgreSQL connection runs its statements through
    `stale_plan_guard`."""
    if stale_plan_guard not in connection.execute_wrappers:
        # first in the list: `connection.execute_wrapper()` blocks remove the last one when they end
        connection.execute_wrappers.insert(0, stale_plan_guard)


def select_columns(model: type, alias: str | None = None) -> str:
    """The model's columns, named one by one, for a plain SELECT that loads instances (`raw`).
    Not `SELECT *`: a statement the connection prepared (settings: DATABASE_PREPARE) whose result
    type changes fails, so a column added by a migration would break the running processes."""
    table = connection.ops.quote_name(alias or model._meta.db_table)
    return ", ".join(f"{table}.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields)


# --- single-row inserts on the hot path ----------------------------------------------------------


@functools.cache
def _insert_statement(
    model: type,
    skip_conflict: bool | str,
    expressions: tuple[tuple[str, str], ...] = (),
    source: str = "",
    left_out: tuple[str, ...] = (),
) -> tuple[str, list]:
    """The INSERT of one `model` row (every concrete column but an automatic primary key and the
    `left_out` ones, which the database's defaults fill) and the fields whose values are
    parameters, in order: `VALUES (%s, ...)`, or, with `expressions` ((attname, SQL) pairs taking
    those columns' values) `SELECT ... FROM <source>`. Built once."""
    quote = connection.ops.quote_name
    meta = model._meta
    columns = [
        f
        for f in meta.concrete_fields
        if not (f.primary_key and f.db_returning) and f.attname not in left_out
    ]
    given = dict(expressions)
    values = ", ".join(given.get(f.attname, "%s") for f in columns)
    rows = f"SELECT {values} FROM {source}" if given else f"VALUES ({values})"
    if isinstance(skip_conflict, str):
        conflict = f" ON CONFLICT ON CONSTRAINT {quote(skip_conflict)} DO NOTHING"
    else:
        conflict = " ON CONFLICT DO NOTHING" if skip_conflict else ""
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) {rows}"
        f"{conflict} RETURNING {quote(meta.pk.column)}"
    )
    return sql, [f for f in columns if f.attname not in given]


@functools.cache
def _db_defaulted(model: type) -> tuple[str, ...]:
    """Attnames of the model's fields with a `db_default` (an instance not given a value holds a
    `DatabaseDefault` there, which the INSERT leaves to the database)."""
    return tuple(f.attname for f in model._meta.concrete_fields if f.db_default is not NOT_PROVIDED)


def statements_clear() -> None:
    """Forget the statements built so far (a test that changes a model's fields at run time)."""
    _insert_statement.cache_clear()
    _db_defaulted.cache_clear()
    _update_statement.cache_clear()


def row_insert_sql(
    instance: Any,
    *,
    skip_conflict: bool | str = False,
    expressions: dict[str, str] | None = None,
    source: str = "",
) -> tuple[str, list]:
    """`row_insert`'s statement for `instance` as (sql, params), to run inside a larger one (a
    `WITH` part; PostgreSQL). `expressions` gives SQL for some columns (by attname) instead of the
    instance's value, e.g. `{"posting_id": "p.id"}` with `source="p"`."""
    model = type(instance)
    left_out = tuple(
        name for name in _db_defaulted(model) if isinstance(getattr(instance, name), DatabaseDefault)
    )
    sql, fields = _insert_statement(
        model, skip_conflict, tuple(sorted((expressions or {}).items())), source, left_out
    )
    return sql, [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]


def row_inserted(instance: Any, pk: Any) -> None:
    """Mark `instance` saved with primary key `pk` (after `row_insert_sql` ran)."""
    instance.pk = pk
    instance._state.adding, instance._state.db = False, connection.alias


def row_insert(instance: Any, *, skip_conflict: bool | str = False) -> bool:
    """Insert the new model `instance` and set its primary key: what `instance.save()` writes for
    a new row (defaults, `auto_now_add`), without building the ORM's insert each time (the
    purchase path inserts a row into five tables). No signals are sent (the project has no model
    signal receivers). Raises IntegrityError like `save()`; with `skip_conflict` a row that
    would break a unique constraint (True: any; a name: that constraint only, the others still
    raise) is not written and False is returned (no savepoint needed). One cached statement."""
    sql, params = row_insert_sql(instance, skip_conflict=skip_conflict)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    row_inserted(instance, row[0])
    return True


@functools.cache
def _update_statement(model: type, names: tuple[str, ...]) -> tuple[str, list]:
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    return f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s", fields


def row_update(instance: Any, fields: list[str]) -> None:
    """`instance.save(update_fields=fields)` for a row known to exist: one cached statement (no ORM
    update to build)."""
    sql, model_fields = _update_statement(type(instance), tuple(fields))
    params = [field.get_db_prep_save(field.pre_save(instance, False), connection) for field in model_fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, instance.pk])


# --- array parameters ------------------------------------------------------------------------


def _array_item(value: Any) -> str:
    if type(value) is str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None:
        return "NULL"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime):
        value = value.isoformat()
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def pg_array(values: list) -> str:
    """`values` as one PostgreSQL array literal (text), for `%s::<type>[]` parameters: one string
    per column instead of psycopg adapting every element (the hot part of writing a chunk)."""
    if all(type(value) is int for value in values):
        return "{" + ",".join(map(str, values)) + "}"
    # a chunk's columns repeat the same objects (its moment, kinds, None): each is quoted once
    # (keyed by identity: `values` holds them all, and equal values of other types quote apart)
    items: dict[int, str] = {}
    return "{" + ",".join([items.get(id(v)) or items.setdefault(id(v), _array_item(v)) for v in values]) + "}"

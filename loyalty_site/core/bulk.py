"""The one bulk row writer: `INSERT INTO <table> (<columns>) SELECT ... FROM unnest(<one array per
column>)`, its column list derived from the model every time a statement is built.

Every set-based write of the ledger (postings, entries, allocations of the jobs' chunks and of a
purchase), of the member import (members, tier changes, manual tiers, opening balances) goes
through `rows_insert` / `rows_insert_sql` / `instances_insert`. A column the caller does not name
is filled the way `Model.save()` fills it: left to the database when the field has a `db_default`
(or is nullable and has no default), else given the field's `default` (a callable default is
called once per row); a text field with no default gets "" (as `Member.language` came). So a
migration adding a defaulted column (`default=` drops the database default after filling the old
rows, `db_default=` keeps it) breaks no writer; a new non-text column with neither raises a clear
error naming it instead of a NOT NULL violation.

Why not `QuerySet.bulk_create` (Django 5.2 also inserts through UNNEST on PostgreSQL): it needs a
model instance per row and prepares every value through its field, and psycopg then adapts every
array element. Paired on this machine (bench/bulk/, bench/README.md "One bulk writer"): a chunk of
5 000 postings + 10 000 entries took 2.52 s with bulk_create, 0.92 s with this writer and 0.90 s
with the hand-written statements it replaced (medians of 9 alternating rounds): bulk_create is
2.7x, the model-derived statement costs 3 %; the jobs write millions of entries. `bulk_create`
stays where rows are few and their primary keys are needed (a chunk's new lots).

Values go into the arrays as they are (ints, strings, Decimals, aware datetimes, dates, None,
booleans); JSON fields' values are encoded here. Arrays travel as one text literal each
(`db.pg_array`), bound server-side.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.db.models.expressions import DatabaseDefault
from django.db.models.fields import NOT_PROVIDED

from .db import pg_array

_dumps = DjangoJSONEncoder().encode


@contextmanager
def pg_cursor() -> Iterator[Any]:
    """A server-side-binding psycopg cursor on Django's connection (same transaction): the
    parameters of the bulk statements are sent apart from the SQL text, not quoted into it.
    Errors come out as Django's (IntegrityError, OperationalError), so `atomic_with_retry` and the
    callers' handlers see them as they would through `connection.cursor()`."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def _cast(field: models.Field) -> str:
    # varchar(100) -> varchar, numeric(14, 2) -> numeric: a too long value fails, it is never cut
    return field.db_type(connection).split("(")[0]


def _is_auto_pk(field: models.Field) -> bool:
    return field.primary_key and getattr(field, "db_returning", False)


def _left_to_database(field: models.Field) -> bool:
    """A column an INSERT may leave out: the database fills it (its default or NULL)."""
    return field.db_default is not NOT_PROVIDED or (field.null and not field.has_default())


@functools.cache
def _statement(
    model: type[models.Model],
    arrays: tuple[str, ...],
    constants: tuple[str, ...],
    expressions: tuple[tuple[str, str], ...],
    source: str,
    skip_conflict: bool | str,
    returning: tuple[str, ...],
) -> tuple[str, tuple[models.Field, ...], tuple[models.Field, ...]]:
    """The statement for a call naming `arrays`, `constants` and `expressions` (attnames), with the
    fields the model's defaults fill added: (sql, fields whose default is one value per statement,
    fields whose default is called per row). Parameters, in order: the constants, the per-statement
    defaults, then one array per name of `arrays` followed by one per per-row default."""
    quote = connection.ops.quote_name
    meta = model._meta
    given = dict(expressions)
    named = set(arrays) | set(constants) | set(given)
    by_attname = {f.attname: f for f in meta.concrete_fields}
    unknown = named - set(by_attname)
    if unknown:
        raise ValueError(f"{model.__name__} has no column {', '.join(sorted(unknown))}")
    fixed_defaults: list[models.Field] = []
    row_defaults: list[models.Field] = []
    for field in meta.concrete_fields:
        if field.attname in named or _is_auto_pk(field) or _left_to_database(field):
            continue
        if field.has_default():
            (row_defaults if callable(field.default) else fixed_defaults).append(field)
        elif field.empty_strings_allowed:  # a text field with no default: save() writes ""
            fixed_defaults.append(field)
        else:
            raise ValueError(f"{model.__name__}.{field.attname} has no value, no default and no db_default")
    array_names = list(arrays) + [f.attname for f in row_defaults]
    select: dict[str, str] = {}
    for name in constants:
        select[name] = f"%s::{_cast(by_attname[name])}"
    for field in fixed_defaults:
        select[field.attname] = f"%s::{_cast(field)}"
    for name in array_names:
        select[name] = f"u.{quote(name)}"
    select.update(given)
    columns = ", ".join(quote(by_attname[name].column) for name in select)
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT {', '.join(select.values())}"
    sources = [source] if source else []
    if array_names:
        unnest = ", ".join(f"%s::{_cast(by_attname[name])}[]" for name in array_names)
        sources.append(f"unnest({unnest}) AS u({', '.join(quote(name) for name in array_names)})")
    if sources:
        sql += f" FROM {', '.join(sources)}"
    if isinstance(skip_conflict, str):
        sql += f" ON CONFLICT ON CONSTRAINT {quote(skip_conflict)} DO NOTHING"
    elif skip_conflict:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(quote(by_attname[name].column) for name in returning)}"
    return sql, tuple(fixed_defaults), tuple(row_defaults)


def _array(field: models.Field, values: Sequence[Any]) -> str:
    if isinstance(field, models.JSONField):
        values = [None if value is None else _dumps(value) for value in values]
    return pg_array(list(values))


def rows_insert_sql(
    model: type[models.Model],
    columns: dict[str, Sequence[Any]],
    *,
    constants: dict[str, Any] | None = None,
    expressions: dict[str, str] | None = None,
    source: str = "",
    skip_conflict: bool | str = False,
    returning: Sequence[str] = (),
) -> tuple[str, list[Any]]:
    """`rows_insert`'s statement as (sql, params), e.g. to run as a part of a larger one.
    `expressions` gives SQL for some columns (by attname) read from `source` (a `WITH` part),
    e.g. `{"posting_id": "p.id"}` with `source="p"`: one row per array element (or, with no
    `columns`, one row per `source` row)."""
    constants = constants or {}
    arrays = tuple(columns)
    sql, fixed_defaults, row_defaults = _statement(
        model,
        arrays,
        tuple(constants),
        tuple(sorted((expressions or {}).items())),
        source,
        skip_conflict,
        tuple(returning),
    )
    meta = model._meta
    count = len(next(iter(columns.values()))) if columns else 1
    params: list[Any] = [
        meta.get_field(name).get_db_prep_save(value, connection) for name, value in constants.items()
    ]
    params += [field.get_db_prep_save(field.get_default(), connection) for field in fixed_defaults]
    params += [_array(_field(model, name), values) for name, values in columns.items()]
    params += [_array(field, [field.get_default() for _ in range(count)]) for field in row_defaults]
    return sql, params


@functools.cache
def _fields_by_attname(model: type[models.Model]) -> dict[str, models.Field]:
    return {f.attname: f for f in model._meta.concrete_fields}


def _field(model: type[models.Model], attname: str) -> models.Field:
    return _fields_by_attname(model)[attname]


def rows_insert(
    model: type[models.Model],
    columns: dict[str, Sequence[Any]],
    *,
    constants: dict[str, Any] | None = None,
    skip_conflict: bool | str = False,
    returning: Sequence[str] = (),
) -> list[tuple]:
    """Insert one row per element of `columns` (attname -> list of values, all the same length;
    `constants`: attname -> the one value of every row) into `model`'s table with one statement
    and a fixed number of parameters. Columns named in neither take the model's defaults (see the
    module). `skip_conflict`: True skips rows any unique constraint refuses, a constraint's name
    that one's only. Returns the `returning` attnames' values of the rows written (in no
    promised order: map them back by a returned column). Raises IntegrityError like `save()`."""
    if columns and not next(iter(columns.values())):
        return []
    sql, params = rows_insert_sql(
        model, columns, constants=constants, skip_conflict=skip_conflict, returning=returning
    )
    with pg_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if returning else []


def instances_insert(instances: Sequence[models.Model]) -> None:
    """Insert new model `instances` (all of one model) with one statement and set their primary
    keys, as `bulk_create` does, every concrete column taken from the instances (`pre_save` as
    on insert: `auto_now_add` works). A field left at its `db_default` on every instance is left
    to the database."""
    if not instances:
        return
    model = type(instances[0])
    columns: dict[str, list[Any]] = {}
    for field in model._meta.concrete_fields:
        if _is_auto_pk(field):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            values = [field.pre_save(instance, True) for instance in instances]
        else:  # what `pre_save` returns for every other field, without a call per value
            attname = field.attname
            values = [instance.__dict__[attname] for instance in instances]
        if field.db_default is not NOT_PROVIDED:
            defaulted = sum(isinstance(value, DatabaseDefault) for value in values)
            if defaulted == len(values):
                continue
            if defaulted:
                raise ValueError(f"{model.__name__}.{field.attname}: give every row a value or none")
        columns[field.attname] = values
    pk = model._meta.pk.attname
    rows = rows_insert(model, columns, returning=(pk,))
    # INSERT ... SELECT FROM unnest RETURNING gives the rows in the arrays' order (bulk_create
    # relies on the same for its VALUES and UNNEST inserts)
    for instance, (value,) in zip(instances, rows, strict=True):
        instance.pk = value
        instance._state.adding, instance._state.db = False, connection.alias


def statements_clear() -> None:
    """Forget the statements built so far (a test that changes a model's fields at run time)."""
    _statement.cache_clear()
    _fields_by_attname.cache_clear()

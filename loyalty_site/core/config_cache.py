"""A per-process cache of each program's configuration, for the quote and purchase hot path.

What it holds: what the merchant configures and the hot path reads on every request (currency
rates, purchase-time campaigns with their conditions and rewards, tiers, spend discounts, fraud
rules), per program, under the program's `config_version`.

How it stays correct: PostgreSQL triggers on every configuration table set the owning program's
`config_version` to a new random UUID on each INSERT, UPDATE or DELETE, whoever writes (the admin,
a service, a bulk `.update()`, raw SQL, a migration). A request reads its program row anyway (the
API key check reads its version; a purchase without a key joins it to its member lock; an API
purchase prices with the program its key check read a moment before), so it sees the version of
its own snapshot and uses the entry cached under that version, or loads and stores a new one.
Versions are random, not counters: a version written by a transaction that rolled back can never
come back, so an entry loaded inside such a transaction is never used again. Each app's migration
installs the triggers of its own configuration tables with `trigger_sql` below; columns the hot
path itself updates (the campaign's `points_granted` counter) are listed as ignored, so they do not
invalidate anything.

A Program instance read before a change carries the old version and keeps seeing the old
configuration: services that change the configuration call `config_refresh(program)` on the instance
they were given; code holding a program across someone else's change re-reads it.

Rules for callers: load everything the version covers, independent of the moment (all rates of the
program, not the one in force at `at`) and filter in Python; treat what `program_config` returns as
read-only (it is shared by the requests of the process); never cache what a request writes
(balances, grants, counters).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

MAX_PROGRAMS = 512

_lock = threading.Lock()
# program id -> (config_version, {name: value})
_entries: OrderedDict[int, tuple[Any, dict[str, Any]]] = OrderedDict()


def program_config(program: Any, name: str, load: Callable[[], T]) -> T:
    """The value `load()` returns for `program`, cached in this process under the program's
    `config_version`. `program` is a Program instance; anything else (an id, None) is not cached."""
    version = getattr(program, "config_version", None)
    if version is None:
        return load()
    with _lock:
        entry = _entries.get(program.pk)
        if entry is not None and entry[0] == version:
            _entries.move_to_end(program.pk)
            values = entry[1]
            if name in values:
                return values[name]
    value = load()
    with _lock:
        entry = _entries.get(program.pk)
        if entry is None or entry[0] != version:
            entry = (version, {})
            _entries[program.pk] = entry
        entry[1][name] = value
        _entries.move_to_end(program.pk)
        while len(_entries) > MAX_PROGRAMS:
            _entries.popitem(last=False)
    return value


def config_refresh(program: Any) -> None:
    """After a service changed the program's configuration: give the caller's Program instance the
    version the triggers wrote, so code that goes on with that instance sees the change. (A new
    request reads its program row anyway.)"""
    if getattr(program, "config_version", None) is not None:
        program.refresh_from_db(fields=["config_version"])


def program_of(row: Any) -> Any:
    """The Program instance of a row with a `program` foreign key (a member, a campaign) when it is
    loaded (cacheable), else its id (not cached)."""
    cached = row._state.fields_cache.get("program")
    return cached if cached is not None else row.program_id


def clear() -> None:
    with _lock:
        _entries.clear()


# --- triggers (used by the migrations of the apps that own configuration tables) ----------------

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION loyalty_config_changed() RETURNS trigger AS $$
-- TG_ARGV[0]: the column naming the program (or the parent row), TG_ARGV[1]: the parent table whose
-- program_id to bump ('' when the column is the program id), TG_ARGV[2..]: columns whose change alone
-- is not a configuration change (counters the hot path updates)
DECLARE
    ignored text[] := coalesce(TG_ARGV[2:], ARRAY[]::text[]);
    old_row jsonb;
    new_row jsonb;
    keys bigint[];
BEGIN
    IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD) - ignored; END IF;
    IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW) - ignored; END IF;
    IF old_row IS NOT DISTINCT FROM new_row THEN
        RETURN NULL;
    END IF;
    keys := ARRAY[(old_row ->> TG_ARGV[0])::bigint, (new_row ->> TG_ARGV[0])::bigint];
    IF TG_ARGV[1] = '' THEN
        UPDATE accounts_program SET config_version = gen_random_uuid() WHERE id = ANY(keys);
    ELSE
        EXECUTE format(
            'UPDATE accounts_program SET config_version = gen_random_uuid() '
            'WHERE id IN (SELECT program_id FROM %I WHERE id = ANY($1))', TG_ARGV[1]
        ) USING keys;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def trigger_sql(
    table: str, *, column: str = "program_id", parent: str = "", ignored: tuple[str, ...] = ()
) -> str:
    arguments = ", ".join(f"'{value}'" for value in (column, parent, *ignored))
    return (
        f"DROP TRIGGER IF EXISTS {table}_config_changed ON {table};\n"
        f"CREATE TRIGGER {table}_config_changed AFTER INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION loyalty_config_changed({arguments});"
    )


def drop_trigger_sql(table: str) -> str:
    return f"DROP TRIGGER IF EXISTS {table}_config_changed ON {table};"


def run_on_postgresql(sql: str, reverse_sql: str):
    """A migration operation running `sql` (and `reverse_sql` backwards)."""
    from django.db import migrations

    def forwards(apps, schema_editor):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)

    def backwards(apps, schema_editor):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(reverse_sql)

    return migrations.RunPython(forwards, backwards)


def triggers_operation(tables: list[tuple[str, dict[str, Any]]]):
    """The migration operation installing (and on reverse dropping) the triggers of `tables`:
    (table, `trigger_sql` options) pairs."""
    return run_on_postgresql(
        "\n".join(trigger_sql(table, **options) for table, options in tables),
        "\n".join(drop_trigger_sql(table) for table, _options in tables),
    )

"""The admin's member search by name at a million members: trigram indexes on UPPER(first_name)
and UPPER(last_name) (the expression Django's icontains compares), built CONCURRENTLY.

Written in SQL: Django 5.2 puts an operator class inside the expression's parentheses
(`((UPPER(...) gin_trgm_ops))`), which PostgreSQL refuses. Safe to run again, like
`migration_ops.AddIndexOnline`: a valid index is kept, an INVALID one (an interrupted concurrent
build) rebuilt."""

import django.contrib.postgres.indexes
import django.db.models.functions.comparison
import django.db.models.functions.text
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

INDEXES = {"member_first_name_trgm": "first_name", "member_last_name_trgm": "last_name"}


def _state_index(field: str, name: str):
    return django.contrib.postgres.indexes.GinIndex(
        django.contrib.postgres.indexes.OpClass(
            django.db.models.functions.text.Upper(
                django.db.models.functions.comparison.Cast(field, models.TextField())
            ),
            name="gin_trgm_ops",
        ),
        name=name,
    )


def create(apps, schema_editor):
    concurrently = "" if schema_editor.connection.in_atomic_block else "CONCURRENTLY"
    with schema_editor.connection.cursor() as cursor:
        for name, column in INDEXES.items():
            cursor.execute(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
                [name],
            )
            found = cursor.fetchone()
            if found is not None and found[0]:
                continue
            if found is not None:
                cursor.execute(f'DROP INDEX {concurrently} "{name}"')
            cursor.execute(
                f'CREATE INDEX {concurrently} "{name}" ON "accounts_member" '
                f'USING gin ((UPPER(("{column}")::text)) gin_trgm_ops)'
            )


def drop(apps, schema_editor):
    concurrently = "" if schema_editor.connection.in_atomic_block else "CONCURRENTLY"
    with schema_editor.connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f'DROP INDEX {concurrently} IF EXISTS "{name}"')


class Migration(migrations.Migration):
    atomic = False  # the index builds run CONCURRENTLY: members keep being written meanwhile

    # accounts only: a dependency on another app's migration reorders a fresh `migrate` (tiers'
    # content-languages copy then ran before accounts 0009 gave programs their default language)
    dependencies = [
        ("accounts", "0009_languages"),
    ]

    operations = [
        TrigramExtension(),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create, drop)],
            state_operations=[
                migrations.AddIndex(model_name="member", index=_state_index(column, name))
                for name, column in INDEXES.items()
            ],
        ),
    ]

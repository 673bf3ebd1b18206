"""Operations the project's migrations share. On PostgreSQL, in a migration with `atomic = False`,
they build and drop indexes CONCURRENTLY: a running platform keeps writing the table meanwhile
(a plain CREATE INDEX blocks its writes for the whole build, and in one transaction with a DROP
INDEX of a busy table, its reads and writes until the end). Inside a transaction they run as the
plain operations do."""

import copy

from django.db import migrations


def _concurrently(schema_editor) -> bool:
    connection = schema_editor.connection
    return not connection.in_atomic_block


def _index_add(schema_editor, model, index) -> None:
    """Create `index`, CONCURRENTLY where it can be. A migration without a transaction that stopped
    half-way (a lock timeout, a killed deploy) may have left the index built, or left an INVALID
    one from an interrupted concurrent build: running it again keeps the first and rebuilds the
    second, so `migrate` converges."""
    if not _concurrently(schema_editor):
        schema_editor.add_index(model, index)
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
            [index.name],
        )
        found = cursor.fetchone()
    if found is not None and found[0]:
        return
    if found is not None:
        schema_editor.remove_index(model, index, concurrently=True)
    schema_editor.add_index(model, index, concurrently=True)


class AddIndexOnline(migrations.AddIndex):
    """`AddIndex`, CONCURRENTLY where it can be (see the module), and safe to run again."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            _index_add(schema_editor, model, self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **_options(schema_editor))


class RemoveIndexOnline(migrations.RemoveIndex):
    """`RemoveIndex`, CONCURRENTLY where it can be (see the module), and safe to run again."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = from_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.remove_index(model, index, **_options(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = to_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            _index_add(schema_editor, model, index)


def _options(schema_editor) -> dict:
    return {"concurrently": True} if _concurrently(schema_editor) else {}


def field_index_drop(
    app_label: str, model_name: str, field_name: str, field
) -> migrations.SeparateDatabaseAndState:
    """`db_index=False` on a field whose own index another one covers (a composite leading with
    the column). It drops just that index (and, on PostgreSQL, a text column's `_like` twin),
    CONCURRENTLY where it can be, where `AlterField` would also drop and re-add a foreign key's
    constraint, which re-checks every row under a table lock. The reverse creates the indexes
    again."""

    def index_statements(apps, schema_editor):
        indexed = copy.copy(apps.get_model(app_label, model_name)._meta.get_field(field_name))
        indexed.db_index = True
        return schema_editor._field_indexes_sql(indexed.model, indexed)

    def drop(apps, schema_editor):
        concurrently = " CONCURRENTLY" if _concurrently(schema_editor) else ""
        for statement in index_statements(apps, schema_editor):
            schema_editor.execute(f"DROP INDEX{concurrently} IF EXISTS {statement.parts['name']}")

    def create(apps, schema_editor):
        for statement in index_statements(apps, schema_editor):
            schema_editor.execute(statement)

    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField(model_name, field_name, field)],
        database_operations=[migrations.RunPython(drop, create, atomic=False)],
    )

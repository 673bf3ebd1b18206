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


class CopyToDefaultLanguage(migrations.RunPython):
    """Merchant content per language (issue 19): copies each row's plain `fields` (today's one text)
    into the column of its program's default language (`<field>_<Program.default_language>`, a
    language code); `program` is the lookup from the model to its program ("program",
    "campaign__program"). Reversing leaves the plain columns as they are (they kept the text)."""

    def __init__(self, model_name: str, fields: tuple[str, ...], program: str = "program"):
        self.model_name, self.fields, self.program = model_name, fields, program
        super().__init__(self.copy, migrations.RunPython.noop)

    def copy(self, apps, schema_editor):
        from django.conf import settings
        from django.db.models import F, QuerySet

        model = apps.get_model(self.app_label, self.model_name)
        for language, _label in settings.LANGUAGES:
            # a plain QuerySet: a translation-aware manager would rewrite F(field)
            QuerySet(model=model).filter(**{f"{self.program}__default_language": language}).update(
                **{f"{field}_{language}": F(field) for field in self.fields}
            )

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self.app_label = app_label
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def deconstruct(self):
        return (self.__class__.__name__, [self.model_name, self.fields], {"program": self.program})

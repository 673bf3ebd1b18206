"""Operations the project's migrations share."""

import copy

from django.db import migrations


def field_index_drop(
    app_label: str, model_name: str, field_name: str, field
) -> migrations.SeparateDatabaseAndState:
    """`db_index=False` on a field whose own index another one covers (a composite leading with
    the column). It drops just that index (and, on PostgreSQL, a text column's `_like` twin), where
    `AlterField` would also drop and re-add a foreign key's constraint, which re-checks every row
    under a table lock. The reverse creates the indexes again."""

    def index_statements(apps, schema_editor):
        indexed = copy.copy(apps.get_model(app_label, model_name)._meta.get_field(field_name))
        indexed.db_index = True
        return schema_editor._field_indexes_sql(indexed.model, indexed)

    def drop(apps, schema_editor):
        for statement in index_statements(apps, schema_editor):
            schema_editor.execute(f"DROP INDEX IF EXISTS {statement.parts['name']}")

    def create(apps, schema_editor):
        for statement in index_statements(apps, schema_editor):
            schema_editor.execute(statement)

    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField(model_name, field_name, field)],
        database_operations=[migrations.RunPython(drop, create)],
    )

"""The migration autodetector of `makemigrations` and `migrate` (loyalty_site/core/management/commands).

Verbose names and help texts are translatable labels (issue 19): they change with the wording and
never touch the database. Django's autodetector writes a migration for every such change; this one
leaves them out of the comparison, so marking or rewording a label needs no migration. A migration
written for a real change still records the fields and options as they are.
"""

from __future__ import annotations

from django.db import models
from django.db.migrations import operations
from django.db.migrations.autodetector import MigrationAutodetector

LABEL_FIELD_KWARGS = frozenset({"verbose_name", "help_text"})
LABEL_OPTIONS = frozenset({"verbose_name", "verbose_name_plural"})


def _without_labels(options: dict) -> dict:
    return {
        key: value
        for key, value in options.items()
        if key in operations.AlterModelOptions.ALTER_OPTION_KEYS and key not in LABEL_OPTIONS
    }


class LabelBlindAutodetector(MigrationAutodetector):
    def deep_deconstruct(self, obj):
        deconstructed = super().deep_deconstruct(obj)
        if isinstance(obj, models.Field):
            path, args, kwargs = deconstructed
            kwargs = {key: value for key, value in kwargs.items() if key not in LABEL_FIELD_KWARGS}
            deconstructed = (path, args, kwargs)
        return deconstructed

    def generate_altered_options(self):
        add_operation = self.add_operation

        def add_unless_labels_only(app_label, operation, *args, **kwargs):
            if isinstance(operation, operations.AlterModelOptions):
                new_name = operation.name_lower
                old_name = self.renamed_models.get((app_label, new_name), new_name)
                old_options = self.from_state.models[app_label, old_name].options
                if _without_labels(old_options) == _without_labels(operation.options):
                    return
            add_operation(app_label, operation, *args, **kwargs)

        self.add_operation = add_unless_labels_only
        try:
            super().generate_altered_options()
        finally:
            del self.add_operation

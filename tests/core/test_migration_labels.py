"""Translatable labels (verbose names, help texts) never need a migration; real changes still do."""

import pytest
from django.core.management import call_command
from django.db import models
from django.db.migrations import operations
from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
from django.db.migrations.state import ModelState, ProjectState
from django.utils.translation import gettext_lazy as _

from loyalty_site.core.autodetector import LabelBlindAutodetector


def _state(*, verbose_name=None, help_text="", max_length=20, options=None) -> ProjectState:
    state = ProjectState()
    field = models.CharField(max_length=max_length, verbose_name=verbose_name, help_text=help_text)
    state.add_model(
        ModelState(
            "shop", "Item", [("id", models.AutoField(primary_key=True)), ("name", field)], options or {}
        )
    )
    return state


def _changes(before: ProjectState, after: ProjectState) -> list:
    detector = LabelBlindAutodetector(before, after, NonInteractiveMigrationQuestioner())
    return [op for migration in detector._detect_changes().get("shop", []) for op in migration.operations]


def test_labels_alone_need_no_migration():
    before = _state(options={"ordering": ["id"]})
    after = _state(
        verbose_name=_("name"),
        help_text=_("What the member reads."),
        options={"ordering": ["id"], "verbose_name": _("item"), "verbose_name_plural": _("items")},
    )

    assert _changes(before, after) == []


def test_a_real_field_change_is_migrated_with_its_labels():
    after = _state(max_length=40, verbose_name=_("name"))

    (operation,) = _changes(_state(), after)

    assert isinstance(operation, operations.AlterField)
    assert operation.field.max_length == 40
    assert operation.field.verbose_name == "name"


def test_a_real_option_change_is_migrated():
    after = _state(options={"ordering": ["-id"], "verbose_name": _("item")})

    (operation,) = _changes(_state(options={"ordering": ["id"]}), after)

    assert isinstance(operation, operations.AlterModelOptions)
    assert operation.options == {"ordering": ["-id"], "verbose_name": "item"}


@pytest.mark.django_db
def test_the_project_has_no_missing_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)

"""Foreign keys' own indexes that another index covers (a composite leading with the column)."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_site.core.migration_ops import field_index_drop


class Migration(migrations.Migration):
    atomic = False  # indexes built and dropped CONCURRENTLY on PostgreSQL (migration_ops)

    dependencies = [
        ("accounts", "0005_redundant_indexes"),
        ("tiers", "0004_config_version_triggers"),
    ]

    operations = [
        field_index_drop(
            "tiers",
            "spenddiscount",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="spend_discounts",
                to="accounts.program",
            ),
        ),
        field_index_drop(
            "tiers",
            "tier",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tiers",
                to="accounts.program",
            ),
        ),
        field_index_drop(
            "tiers",
            "tierchange",
            "member",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tier_changes",
                to="accounts.member",
            ),
        ),
        field_index_drop(
            "tiers",
            "tiergift",
            "member",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tier_gifts",
                to="accounts.member",
            ),
        ),
        field_index_drop(
            "tiers",
            "tieroverride",
            "member",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tier_overrides",
                to="accounts.member",
            ),
        ),
    ]

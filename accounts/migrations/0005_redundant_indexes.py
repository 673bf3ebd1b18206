"""Indexes nothing reads, or that another index covers. No index holds last_activity_at: a
purchase's member update stays a HOT update (no new entry in every index of the table)."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_site.core.migration_ops import RemoveIndexOnline, field_index_drop


class Migration(migrations.Migration):
    atomic = False  # indexes built and dropped CONCURRENTLY on PostgreSQL (migration_ops)

    dependencies = [
        ("accounts", "0004_program_config_version"),
    ]

    operations = [
        RemoveIndexOnline(
            model_name="member",
            name="member_activity_idx",
        ),
        field_index_drop(
            "accounts",
            "program",
            "merchant",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="programs",
                to="accounts.merchant",
            ),
        ),
    ]

"""Foreign keys' own indexes that another index covers (a composite leading with the column)."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_site.core.migration_ops import field_index_drop


class Migration(migrations.Migration):
    atomic = False  # indexes built and dropped CONCURRENTLY on PostgreSQL (migration_ops)

    dependencies = [
        ("accounts", "0005_redundant_indexes"),
        ("fraud", "0002_config_version_triggers"),
    ]

    operations = [
        field_index_drop(
            "fraud",
            "fraudflag",
            "member",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="fraud_flags",
                to="accounts.member",
            ),
        ),
        field_index_drop(
            "fraud",
            "fraudrule",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="fraud_rules",
                to="accounts.program",
            ),
        ),
    ]

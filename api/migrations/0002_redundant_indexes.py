"""Foreign keys' own indexes that another index covers (a composite leading with the column)."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_site.core.migration_ops import field_index_drop


class Migration(migrations.Migration):
    atomic = False  # indexes built and dropped CONCURRENTLY on PostgreSQL (migration_ops)

    dependencies = [
        ("accounts", "0005_redundant_indexes"),
        ("api", "0001_initial"),
    ]

    operations = [
        field_index_drop(
            "api",
            "idempotencyrecord",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.program",
            ),
        ),
    ]

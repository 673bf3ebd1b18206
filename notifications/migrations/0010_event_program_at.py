"""The event log (reports) reads a program's events over a range newest first (`ORDER BY at DESC,
id DESC LIMIT 50`): without an index on (program, at) PostgreSQL read and sorted every event of the
range (250 ms for a month at 100 000 members, on disk; bench/README.md). Built CONCURRENTLY."""

from django.db import migrations, models

from loyalty_site.core.migration_ops import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # the index is built CONCURRENTLY on PostgreSQL (migration_ops)

    dependencies = [
        ("notifications", "0009_due_claim_order"),
    ]

    operations = [
        AddIndexOnline(
            model_name="event",
            index=models.Index(fields=["program", "at", "id"], name="event_program_at"),
        ),
    ]

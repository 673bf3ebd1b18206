"""Posting.recorded_at: when the ledger wrote a posting (the fraud rules' windows count it; a
client can back-date `created_at`). Existing postings are taken as recorded at their `created_at`
(the append-only trigger is paused for that one UPDATE); new ones get the clock, and an INSERT
that leaves the column out gets now(). Indexes for the real-time check (a member's recent
postings) and the monitor (a program's) are built online."""

import django.db.models.functions.datetime
import django.utils.timezone
from django.db import migrations, models

from loyalty_site.core.migration_ops import AddIndexOnline

BACKFILL_PG = """
ALTER TABLE ledger_posting DISABLE TRIGGER ledger_posting_append_only;
UPDATE ledger_posting SET recorded_at = created_at WHERE recorded_at IS NULL;
ALTER TABLE ledger_posting ENABLE TRIGGER ledger_posting_append_only;
"""


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(BACKFILL_PG)
    else:
        Posting = apps.get_model("ledger", "Posting")
        Posting.objects.filter(recorded_at__isnull=True).update(recorded_at=models.F("created_at"))


class Migration(migrations.Migration):
    atomic = False  # indexes built CONCURRENTLY on PostgreSQL (migration_ops)

    dependencies = [
        ("ledger", "0005_rates_without_end_and_review"),
    ]

    operations = [
        migrations.AddField(
            model_name="posting",
            name="recorded_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="posting",
            name="recorded_at",
            field=models.DateTimeField(
                db_default=django.db.models.functions.datetime.Now(),
                default=django.utils.timezone.now,
                help_text="When the posting was recorded (the moment it is about may be earlier).",
            ),
        ),
        AddIndexOnline(
            model_name="posting",
            index=models.Index(fields=["member", "recorded_at"], name="posting_member_recorded_idx"),
        ),
        AddIndexOnline(
            model_name="posting",
            index=models.Index(fields=["program", "recorded_at"], name="posting_program_recorded_idx"),
        ),
    ]

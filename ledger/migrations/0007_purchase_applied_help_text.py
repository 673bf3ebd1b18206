from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_posting_recorded_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="purchase",
            name="applied",
            field=models.JSONField(
                blank=True, default=list, help_text="The pricing lines (the `applied` list of the quote answer)."
            ),
        ),
    ]

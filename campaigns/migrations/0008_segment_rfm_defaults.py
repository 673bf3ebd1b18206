"""Segments may leave out other segments' members; the default low / medium / high value segments
move from purchase counts alone to recency, frequency and monetary value (campaigns.segments).
Only segments still holding the old default rules are updated: a merchant's edits are kept."""

from decimal import Decimal

from django.db import migrations, models

OLD_RULES = {
    "low_value": {"frequency_min": None, "frequency_max": 1},
    "medium_value": {"frequency_min": 2, "frequency_max": 3},
    "high_value": {"frequency_min": 4, "frequency_max": None},
}
UNSET = {"monetary_min": None, "monetary_max": None, "recency_days_max": None, "recency_days_min": None}
NEW_RULES = {
    "high_value": (
        "Active in the last 30 days, 4 or more purchases and 150 or more spent in 90 days.",
        {"recency_days_max": 30, "frequency_min": 4, "frequency_max": None, "monetary_min": Decimal("150")},
        [],
    ),
    "medium_value": (
        "Active in the last 60 days, 2 or more purchases and 50 or more spent in 90 days (not high value).",
        {"recency_days_max": 60, "frequency_min": 2, "frequency_max": None, "monetary_min": Decimal("50")},
        ["high_value"],
    ),
    "low_value": (
        "Every other active member (not medium or high value).",
        {"frequency_min": None, "frequency_max": None},
        ["medium_value", "high_value"],
    ),
}


def defaults_to_rfm(apps, schema_editor):
    Segment = apps.get_model("campaigns", "Segment")
    for code, old in OLD_RULES.items():
        segments = Segment.objects.filter(code=code, window_days=90, **old, **UNSET)
        for segment in segments:
            if segment.tiers.exists():
                continue
            description, rules, excluded = NEW_RULES[code]
            for field, value in rules.items():
                setattr(segment, field, value)
            segment.description = description
            segment.save()
            others = Segment.objects.filter(program_id=segment.program_id, code__in=excluded)
            segment.exclude_segments.set(others)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0007_redundant_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="segment",
            name="exclude_segments",
            field=models.ManyToManyField(
                blank=True,
                help_text="Leave out the members who match these segments' rules (e.g. medium value leaves "
                "out high value), so segments need not overlap.",
                related_name="+",
                to="campaigns.segment",
            ),
        ),
        migrations.AlterField(
            model_name="segment",
            name="monetary_min",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="Spent at least this in the window (base currency; other currencies converted at "
                "the rate in force at each purchase).",
                max_digits=14,
                null=True,
            ),
        ),
        migrations.RunPython(defaults_to_rfm, migrations.RunPython.noop),
    ]

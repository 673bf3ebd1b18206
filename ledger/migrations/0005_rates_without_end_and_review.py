"""Rates never lapse: the seed preset gave its rates an end date 3 months on, and nothing renewed
them. Clear that end date where it is exactly the seed default (a seed currency, rate, cap and
review cadence, ending 3 months to the minute after it started), which no merchant chose; a rate
a newer one of the currency follows is closed at the newer one's start instead, as `rate_set`
does. Other end dates are the merchant's and stay. Also: the review bookkeeping columns."""

import calendar
from decimal import Decimal

import django.core.validators
from django.db import migrations, models

SEED = {
    ("USD", Decimal("12"), None, 30),
    ("EUR", Decimal("14"), 5000, 30),
    ("AZN", Decimal("8"), None, 30),
    ("GBP", Decimal("15"), None, 14),
}


def add_months(moment, months):
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def clear_seed_end_dates(apps, schema_editor):
    CurrencyRate = apps.get_model("ledger", "CurrencyRate")
    for rate in CurrencyRate.objects.filter(valid_to__isnull=False).order_by("pk").iterator():
        seed = (rate.currency, rate.points_per_unit.normalize(), rate.cap, rate.review_every_days)
        if seed not in {(c, p.normalize(), cap, days) for c, p, cap, days in SEED}:
            continue
        if rate.valid_to != add_months(rate.valid_from, 3):
            continue
        newer = (
            CurrencyRate.objects.filter(
                program_id=rate.program_id, currency=rate.currency, valid_from__gt=rate.valid_from
            )
            .order_by("valid_from")
            .values_list("valid_from", flat=True)
            .first()
        )
        CurrencyRate.objects.filter(pk=rate.pk).update(valid_to=newer)


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0004_redundant_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='currencyrate',
            name='review_reminded_at',
            field=models.DateTimeField(blank=True, editable=False, help_text='When the last review reminder was sent.', null=True),
        ),
        migrations.AddField(
            model_name='currencyrate',
            name='reviewed_at',
            field=models.DateTimeField(blank=True, help_text='When the merchant last marked this rate as reviewed.', null=True),
        ),
        migrations.AlterField(
            model_name='currencyrate',
            name='review_every_days',
            field=models.PositiveIntegerField(default=30, help_text='Remind the merchant to review this rate every this many days.', validators=[django.core.validators.MinValueValidator(1)]),
        ),
        migrations.AlterField(
            model_name='currencyrate',
            name='valid_to',
            field=models.DateTimeField(blank=True, help_text='Empty (usual): in force until a newer rate of this currency starts. Set it only to stop accepting the currency at this moment.', null=True),
        ),
        migrations.RunPython(clear_seed_end_dates, migrations.RunPython.noop),
    ]

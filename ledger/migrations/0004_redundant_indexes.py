"""Indexes another index covers (a foreign key's own index where a composite leads with its column;
rate_lookup_idx, the same columns as rate_unique_start), and the lot jobs' (state, moment) indexes
as one partial index per state: a new lot enters one of them, an expired lot none."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_site.core.migration_ops import AddIndexOnline, RemoveIndexOnline, field_index_drop


class Migration(migrations.Migration):
    atomic = False  # indexes built and dropped CONCURRENTLY on PostgreSQL (migration_ops)

    dependencies = [
        ("accounts", "0005_redundant_indexes"),
        ("ledger", "0003_config_version_triggers"),
    ]

    operations = [
        # the new lot indexes first: the jobs are never without one
        AddIndexOnline(
            model_name="lot",
            index=models.Index(
                condition=models.Q(("state", "active")), fields=["expires_at"], name="lot_active_expiry_idx"
            ),
        ),
        AddIndexOnline(
            model_name="lot",
            index=models.Index(
                condition=models.Q(("state", "grace")), fields=["grace_until"], name="lot_grace_until_idx"
            ),
        ),
        AddIndexOnline(
            model_name="lot",
            index=models.Index(
                condition=models.Q(("state", "pending")),
                fields=["available_at"],
                name="lot_pending_until_idx",
            ),
        ),
        RemoveIndexOnline(
            model_name="currencyrate",
            name="rate_lookup_idx",
        ),
        RemoveIndexOnline(
            model_name="lot",
            name="lot_state_expiry_idx",
        ),
        RemoveIndexOnline(
            model_name="lot",
            name="lot_state_grace_idx",
        ),
        RemoveIndexOnline(
            model_name="lot",
            name="lot_state_available_idx",
        ),
        field_index_drop(
            "ledger",
            "currencyrate",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="currency_rates",
                to="accounts.program",
            ),
        ),
        field_index_drop(
            "ledger",
            "entry",
            "member",
            models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="entries",
                to="accounts.member",
            ),
        ),
        field_index_drop(
            "ledger",
            "entry",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.program",
            ),
        ),
        field_index_drop(
            "ledger",
            "lot",
            "member",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lots",
                to="accounts.member",
            ),
        ),
        field_index_drop(
            "ledger",
            "posting",
            "member",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="postings",
                to="accounts.member",
            ),
        ),
        field_index_drop(
            "ledger",
            "posting",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="postings",
                to="accounts.program",
            ),
        ),
        field_index_drop(
            "ledger",
            "purchase",
            "member",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="purchases",
                to="accounts.member",
            ),
        ),
        field_index_drop(
            "ledger",
            "purchase",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="purchases",
                to="accounts.program",
            ),
        ),
    ]

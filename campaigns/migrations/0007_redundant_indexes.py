"""Foreign keys' own indexes that another index covers (a composite leading with the column)."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_site.core.migration_ops import field_index_drop


class Migration(migrations.Migration):
    atomic = False  # indexes built and dropped CONCURRENTLY on PostgreSQL (migration_ops)

    dependencies = [
        ("accounts", "0005_redundant_indexes"),
        ("campaigns", "0006_grant_purchase_ref_index"),
    ]

    operations = [
        field_index_drop(
            "campaigns",
            "activityevent",
            "member",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="activity_events",
                to="accounts.member",
            ),
        ),
        field_index_drop(
            "campaigns",
            "campaign",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="campaigns",
                to="accounts.program",
            ),
        ),
        field_index_drop(
            "campaigns",
            "campaigngrant",
            "campaign",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="grants",
                to="campaigns.campaign",
            ),
        ),
        field_index_drop(
            "campaigns",
            "campaigngrant",
            "member",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="campaign_grants",
                to="accounts.member",
            ),
        ),
        field_index_drop(
            "campaigns",
            "couponredemption",
            "coupon",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="redemptions",
                to="campaigns.coupon",
            ),
        ),
        field_index_drop(
            "campaigns",
            "customeventtype",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="event_types",
                to="accounts.program",
            ),
        ),
        field_index_drop(
            "campaigns",
            "dailytask",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="daily_tasks",
                to="accounts.program",
            ),
        ),
        field_index_drop(
            "campaigns",
            "partner",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="partners",
                to="accounts.program",
            ),
        ),
        field_index_drop(
            "campaigns",
            "partnertransfer",
            "partner",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="transfers",
                to="campaigns.partner",
            ),
        ),
        field_index_drop(
            "campaigns",
            "segment",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="segments",
                to="accounts.program",
            ),
        ),
        field_index_drop(
            "campaigns",
            "segmentmembership",
            "segment",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="memberships",
                to="campaigns.segment",
            ),
        ),
    ]

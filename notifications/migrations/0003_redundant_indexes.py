"""Foreign keys' own indexes that another index covers (a composite leading with the column), and
Event.type's two (with its `_like` twin): events are read by program and type (event_program_type_at);
only the superuser's admin list, across all programs, filters by type alone."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_site.core.migration_ops import field_index_drop


class Migration(migrations.Migration):
    atomic = False  # indexes built and dropped CONCURRENTLY on PostgreSQL (migration_ops)

    dependencies = [
        ("accounts", "0005_redundant_indexes"),
        ("notifications", "0002_channel_settings_no_reminder_days"),
    ]

    operations = [
        field_index_drop(
            "notifications",
            "event",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="accounts.program",
            ),
        ),
        field_index_drop(
            "notifications",
            "event",
            "type",
            models.CharField(
                choices=[
                    ("member.created", "member.created"),
                    ("points.earned", "points.earned"),
                    ("points.redeemed", "points.redeemed"),
                    ("points.expiring", "points.expiring"),
                    ("points.expired", "points.expired"),
                    ("points.decayed", "points.decayed"),
                    ("tier.changed", "tier.changed"),
                    ("reward.granted", "reward.granted"),
                    ("coupon.issued", "coupon.issued"),
                    ("member.blocked", "member.blocked"),
                    ("member.inactive", "member.inactive"),
                    ("member.birthday", "member.birthday"),
                    ("member.winback", "member.winback"),
                ],
                max_length=32,
            ),
        ),
        field_index_drop(
            "notifications",
            "membercontact",
            "member",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="contacts",
                to="accounts.member",
            ),
        ),
        field_index_drop(
            "notifications",
            "notification",
            "event",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="notifications",
                to="notifications.event",
            ),
        ),
        field_index_drop(
            "notifications",
            "notificationtemplate",
            "program",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="notification_templates",
                to="accounts.program",
            ),
        ),
        field_index_drop(
            "notifications",
            "webhookdelivery",
            "subscription",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="notifications.webhooksubscription",
            ),
        ),
    ]

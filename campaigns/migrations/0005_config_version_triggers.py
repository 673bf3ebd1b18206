"""Triggers giving the program a new `config_version` on every change of this app's configuration
tables (see loyalty_site.core.config_cache)."""

from django.db import migrations

from loyalty_site.core.config_cache import triggers_operation

CHILD = {"column": "campaign_id", "parent": "campaigns_campaign"}
TABLES = [
    # points_granted: the budget counter every bonus purchase updates; not a configuration change
    ("campaigns_campaign", {"ignored": ("points_granted",)}),
    ("campaigns_campaigncondition", CHILD),
    ("campaigns_campaignreward", CHILD),
    ("campaigns_campaign_target_tiers", CHILD),
    ("campaigns_campaign_target_segments", CHILD),
]


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0004_alter_campaignreward_coupon_kind"), ("accounts", "0004_program_config_version")]

    operations = [triggers_operation(TABLES)]

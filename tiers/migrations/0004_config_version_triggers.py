"""Triggers giving the program a new `config_version` on every change of this app's configuration
tables (see loyalty_site.core.config_cache)."""

from django.db import migrations

from loyalty_site.core.config_cache import triggers_operation

TABLES = [("tiers_tier", {}), ("tiers_spenddiscount", {})]


class Migration(migrations.Migration):
    dependencies = [("tiers", "0003_tier_help_texts"), ("accounts", "0004_program_config_version")]

    operations = [triggers_operation(TABLES)]

"""Triggers giving the program a new `config_version` on every change of this app's configuration
tables (see loyalty_site.core.config_cache)."""

from django.db import migrations

from loyalty_site.core.config_cache import triggers_operation

TABLES = [("fraud_fraudrule", {})]


class Migration(migrations.Migration):
    dependencies = [("fraud", "0001_initial"), ("accounts", "0004_program_config_version")]

    operations = [triggers_operation(TABLES)]

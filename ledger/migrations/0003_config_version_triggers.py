"""Triggers giving the program a new `config_version` on every change of this app's configuration
tables (see loyalty_site.core.config_cache)."""

from django.db import migrations

from loyalty_site.core.config_cache import triggers_operation

TABLES = [("ledger_currencyrate", {})]


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_append_only_trigger"), ("accounts", "0004_program_config_version")]

    operations = [triggers_operation(TABLES)]

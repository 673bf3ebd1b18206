"""`Program.config_version`, kept fresh by PostgreSQL triggers (see loyalty_site.core.config_cache).

Here: the column, the trigger function the configuration tables' triggers call (each owning app
installs its own triggers), and a trigger giving the program row a new version on every UPDATE of it,
so a `Program.save()` carrying an old version in memory never writes it back.
"""

import uuid

from django.db import migrations, models

from loyalty_site.core.config_cache import FUNCTION_SQL, run_on_postgresql

PROGRAM_SQL = """
CREATE OR REPLACE FUNCTION loyalty_program_new_version() RETURNS trigger AS $$
BEGIN
    NEW.config_version := gen_random_uuid();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS accounts_program_new_version ON accounts_program;
CREATE TRIGGER accounts_program_new_version BEFORE UPDATE ON accounts_program
    FOR EACH ROW EXECUTE FUNCTION loyalty_program_new_version();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS accounts_program_new_version ON accounts_program;
DROP FUNCTION IF EXISTS loyalty_program_new_version();
DROP FUNCTION IF EXISTS loyalty_config_changed() CASCADE;
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_program_discount_combination_and_more")]

    operations = [
        migrations.AddField(
            model_name="program",
            name="config_version",
            field=models.UUIDField(
                default=uuid.uuid4,
                editable=False,
                help_text="Changes on every change of the program or its configuration (rates, campaigns, "
                "tiers, discounts, fraud rules): set by database triggers; keys the per-process "
                "configuration cache.",
            ),
        ),
        run_on_postgresql(FUNCTION_SQL + PROGRAM_SQL, DROP_SQL),
    ]

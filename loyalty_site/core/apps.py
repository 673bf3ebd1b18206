from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The site-wide code (`loyalty_site.core`): no models; its management commands serve the
    whole site: `run_job`, `sync_schedules`, `embedded_db`, and `migrate` / `makemigrations` with
    the project's migration autodetector."""

    name = "loyalty_site.core"
    label = "core"

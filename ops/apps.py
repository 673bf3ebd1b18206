from django.apps import AppConfig


class OpsConfig(AppConfig):
    """What operators need: readiness, Prometheus metrics, log formatting, login throttling's admin."""

    name = "ops"
    verbose_name = "Operations"

    def ready(self):
        from . import metrics  # noqa: F401  (registers the job_finished hook)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    """What operators need: readiness, Prometheus metrics, log formatting, login throttling's admin."""

    name = "ops"
    verbose_name = _("Operations")

    def ready(self):
        from . import metrics  # noqa: F401  (registers the job_finished hook)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FraudConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "fraud"
    verbose_name = _("Fraud")

    def ready(self) -> None:
        from loyalty_site.core import hooks

        from . import services

        hooks.register("posting_check")(services.posting_check)

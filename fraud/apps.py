from django.apps import AppConfig


class FraudConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "fraud"

    def ready(self) -> None:
        from loyalty_site.core import hooks

        from . import services

        hooks.register("posting_check")(services.posting_check)

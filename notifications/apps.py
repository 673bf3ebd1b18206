from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from loyalty_site.core import hooks

        from . import receivers, services

        hooks.register("event_emitted")(services.event_store)
        hooks.register("events_emitted")(services.events_store_many)
        hooks.register("events_emitted_mixed")(services.events_store_mixed)
        hooks.register("member_created")(receivers.member_created)

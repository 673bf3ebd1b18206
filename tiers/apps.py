from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TiersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tiers"
    verbose_name = _("Tiers and discounts")

    def ready(self) -> None:
        from loyalty_site.core import hooks

        from . import hook_handlers

        hooks.register("member_created")(hook_handlers.on_member_created)
        hooks.register("points_posted")(hook_handlers.on_points_posted)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"
    verbose_name = _("Campaigns and coupons")

    def ready(self) -> None:
        # hook registration: member_created
        from . import services  # noqa: F401
        from .kinds import conditions, rewards  # noqa: F401  the built-in condition and reward kinds

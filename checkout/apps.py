from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CheckoutConfig(AppConfig):
    """Quotes and purchases: the pricing pipeline and `purchase_create`, orchestrating the ledger,
    the tiers and the campaigns (which know nothing of it). No models of its own: a purchase is a
    `ledger.Purchase` row."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "checkout"
    verbose_name = _("Purchases")

"""The tier texts members read, one version per language (loyalty_site/core/content.py)."""

from modeltranslation.translator import TranslationOptions, register

from tiers.models import Tier


@register(Tier)
class TierTranslation(TranslationOptions):
    fields = ("name", "description")

"""The reward texts members read, one version per language (loyalty_site/core/content.py)."""

from modeltranslation.translator import TranslationOptions, register

from rewards.models import Reward


@register(Reward)
class RewardTranslation(TranslationOptions):
    fields = ("name", "description")

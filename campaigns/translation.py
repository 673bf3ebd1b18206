"""The campaign texts members read, one version per language (loyalty_site/core/content.py)."""

from modeltranslation.translator import TranslationOptions, register

from campaigns.models import Campaign, CampaignReward, DailyTask


@register(Campaign)
class CampaignTranslation(TranslationOptions):
    fields = ("name", "description")


@register(CampaignReward)
class CampaignRewardTranslation(TranslationOptions):
    fields = ("message",)


@register(DailyTask)
class DailyTaskTranslation(TranslationOptions):
    fields = ("name", "description")

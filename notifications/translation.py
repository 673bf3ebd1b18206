"""Notification templates, one version per language (loyalty_site/core/content.py)."""

from modeltranslation.translator import TranslationOptions, register

from notifications.models import NotificationTemplate


@register(NotificationTemplate)
class NotificationTemplateTranslation(TranslationOptions):
    fields = ("subject", "body")

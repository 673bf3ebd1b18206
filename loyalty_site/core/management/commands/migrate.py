from django.core.management.commands import migrate

from loyalty_site.core.autodetector import LabelBlindAutodetector


class Command(migrate.Command):
    """Django's migrate; its "models have changes" warning is blind to labels (see the autodetector)."""

    autodetector = LabelBlindAutodetector

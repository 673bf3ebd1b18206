from django.core.management.commands import makemigrations

from loyalty_site.core.autodetector import LabelBlindAutodetector


class Command(makemigrations.Command):
    """Django's makemigrations, blind to verbose names and help texts (see the autodetector)."""

    autodetector = LabelBlindAutodetector

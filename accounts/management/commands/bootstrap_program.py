import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts import services
from accounts.models import Merchant, Program
from loyalty_site.core.presets import PRESETS, preset_apply


class Command(BaseCommand):
    help = (
        "Create a merchant (or reuse one by name), a program with the platform's default rules "
        "and an API key. Prints one JSON line last: {merchant_id, program_id, api_key}."
    )

    def add_arguments(self, parser):
        parser.add_argument("--merchant", required=True, help="Merchant name (reused if it exists).")
        parser.add_argument("--program", required=True, help="Program name (must be new for the merchant).")
        parser.add_argument("--currency", default="AZN", help="Base currency, ISO 4217 (default AZN).")
        parser.add_argument("--time-zone", default=None, help="Program time zone (default Asia/Baku).")
        parser.add_argument(
            "--preset", default="none", choices=PRESETS, help="'seed' adds rates, tiers, campaigns..."
        )

    def handle(self, *args, **options):
        currency = options["currency"].upper()
        extra = {"time_zone": options["time_zone"]} if options["time_zone"] else {}
        at = timezone.now()
        with transaction.atomic():
            merchant, _ = Merchant.objects.get_or_create(name=options["merchant"])
            if Program.objects.filter(merchant=merchant, name=options["program"]).exists():
                raise CommandError(f"Program {options['program']!r} already exists for this merchant.")
            try:
                program = services.program_create(
                    merchant=merchant, name=options["program"], base_currency=currency, **extra
                )
            except Exception as error:  # a ValidationError from full_clean, rendered for the operator
                raise CommandError(str(error))
            steps = preset_apply(program=program, preset=options["preset"], at=at)
            _key, raw_key = services.api_key_create(program=program, name="bootstrap")
        for step in steps:
            self.stderr.write(f"preset step: {step}")
        self.stdout.write(
            json.dumps({"merchant_id": merchant.pk, "program_id": program.pk, "api_key": raw_key})
        )

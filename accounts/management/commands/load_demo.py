import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import services
from accounts.models import Merchant, Program
from loyalty_site.core.presets import preset_apply

DEMO_MERCHANT = "Demo Café"
DEMO_PROGRAM = "Demo Rewards"
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo12345")


class Command(BaseCommand):
    help = (
        "Fill a demo merchant with the seed preset, staff logins, members, history and campaigns. "
        "Idempotent: running it again changes nothing."
    )

    def handle(self, *args, **options):
        at = timezone.now()
        User = get_user_model()
        with transaction.atomic():
            merchant, _ = Merchant.objects.get_or_create(
                name=DEMO_MERCHANT, defaults={"contact_email": "owner@demo.example"}
            )
            program = Program.objects.filter(merchant=merchant, name=DEMO_PROGRAM).first()
            if program is None:
                program = services.program_create(merchant=merchant, name=DEMO_PROGRAM, base_currency="AZN")
            preset_apply(program=program, preset="seed", at=at)
            if not User.objects.filter(username="admin").exists():
                User.objects.create_superuser("admin", "admin@demo.example", DEMO_PASSWORD)
            for username, role in (("owner", "owner"), ("cashier", "cashier"), ("analyst", "analyst")):
                if not User.objects.filter(username=username).exists():
                    services.staff_user_create(
                        merchant=merchant, username=username, password=DEMO_PASSWORD, role=role
                    )
            preset_apply(program=program, preset="demo", at=at)
        self.stdout.write(
            f"Demo ready: merchant {merchant.pk}, program {program.pk}. Logins (password {DEMO_PASSWORD}): "
            "admin (superuser), owner, analyst (admin), cashier (till page /cashier/)."
        )

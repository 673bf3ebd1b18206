from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Program


class Command(BaseCommand):
    help = "Create an API key for a program and print it as the last line (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("--program", type=int, required=True, help="Program id.")
        parser.add_argument("--name", default="cli", help="What will use the key.")

    def handle(self, *args, **options):
        try:
            program = Program.objects.get(pk=options["program"])
        except Program.DoesNotExist:
            raise CommandError(f"No program with id {options['program']}.")
        key, raw_key = services.api_key_create(program=program, name=options["name"])
        self.stderr.write(f"Created key {key.prefix} for program {program.pk} ({program.name}).")
        self.stdout.write(raw_key)

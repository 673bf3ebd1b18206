"""`manage.py embedded_db status|stop`: the embedded PostgreSQL that `make run` starts when no
DATABASE_URL is set (loyalty_site/embedded_db.py). Starting is automatic; it keeps running
between commands until stopped."""

from django.core.management.base import BaseCommand

from loyalty_site.embedded_db import PGDATA, embedded_running, embedded_stop


class Command(BaseCommand):
    help = "Show or stop the embedded PostgreSQL in .pgdata/ (used when DATABASE_URL is not set)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "stop"])

    def handle(self, *args, action, **options):
        if action == "stop":
            stopped = embedded_stop()
            self.stdout.write("stopped" if stopped else "not running")
            return
        self.stdout.write(f"{'running' if embedded_running() else 'not running'} ({PGDATA})")

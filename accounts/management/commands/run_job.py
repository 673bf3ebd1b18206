import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty_site.core.jobs import all_jobs, run_job


class Command(BaseCommand):
    help = "Run one scheduled job now, as if the time were --at (default now)."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="Job name; omit with --list to see them all.")
        parser.add_argument("--at", default=None, help="ISO 8601 moment, e.g. 2026-12-01T03:00:00+00:00")
        parser.add_argument("--list", action="store_true", help="List the jobs and their schedules.")

    def handle(self, *args, **options):
        jobs = all_jobs()
        if options["list"] or not options["name"]:
            for job in jobs.values():
                self.stdout.write(f"{job.name:24} {job.schedule:14} {job.description}")
            return
        name = options["name"]
        if name not in jobs:
            raise CommandError(f"Unknown job {name!r}. Known: {', '.join(jobs)}")
        at = timezone.now()
        if options["at"]:
            at = parse_datetime(options["at"])
            if at is None:
                raise CommandError(f"--at {options['at']!r} is not an ISO 8601 date-time.")
            if timezone.is_naive(at):
                at = timezone.make_aware(at)
        # progress: the jobs log each chunk on the "loyalty.*" loggers, which print to stderr
        self.stderr.write(f"Running {name} at {at.isoformat()} ...")
        started = time.monotonic()
        summary = run_job(name, at=at)
        seconds = round(time.monotonic() - started, 3)
        self.stderr.write(f"Done {name} in {seconds} s.")
        self.stdout.write(
            json.dumps({"job": name, "at": at.isoformat(), **summary, "seconds": seconds}, default=str)
        )

import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty_site.core.jobs import all_jobs, job_preview, run_job


class Command(BaseCommand):
    help = "Run one scheduled job now, as if the time were --at (default now)."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="Job name; omit with --list to see them all.")
        parser.add_argument("--at", default=None, help="ISO 8601 moment, e.g. 2026-12-01T03:00:00+00:00")
        parser.add_argument("--list", action="store_true", help="List the jobs and their schedules.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what the run would change, changing nothing (the summary says dry_run: true).",
        )

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
        dry_run = options["dry_run"]
        self.stderr.write(f"{'Previewing' if dry_run else 'Running'} {name} at {at.isoformat()} ...")
        started = time.monotonic()
        summary = job_preview(name, at=at) if dry_run else run_job(name, at=at)
        seconds = round(time.monotonic() - started, 3)
        self.stderr.write(f"Done {name} in {seconds} s{' (dry run: nothing changed)' if dry_run else ''}.")
        result = {"job": name, "at": at.isoformat(), **summary, "seconds": seconds}
        if dry_run:
            result["dry_run"] = True
        self.stdout.write(json.dumps(result, default=str))

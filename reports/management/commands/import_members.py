"""`manage.py import_members FILE --program ID [--batch-size N] [--errors FILE]`

Runs the file as a member import job (reports.import_jobs; the columns and the rules are in
reports.imports): batches of rows, one transaction each, with the job's progress committed in the
same transaction. Killed at any point (kill -9 included), the same command with the same file
resumes after the last committed batch and writes nothing twice; run again after it finished, it
imports nothing twice (every member is "skipped"). A progress bar on stderr; every bad row is
printed (or written to --errors) as `line N: reason`; the last line of stdout is a JSON summary
of the whole job. Exit status 0 even with bad rows (they are reported); 1 when the file or program
cannot be used. Measured: bench/import/, bench/README.md.
"""

import json
import os

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from tqdm import tqdm

from accounts.models import Program
from reports.import_jobs import BATCH_SIZE, import_job_for_file, import_job_run
from reports.models import ImportJob


class Command(BaseCommand):
    help = "Import members with opening balances (and optional tier and expiry) from a CSV file."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file with a header row (UTF-8)")
        parser.add_argument("--program", type=int, required=True, help="Program id")
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help=f"Rows per transaction (default {BATCH_SIZE})"
        )
        parser.add_argument("--errors", help="Write bad rows to this file instead of stdout")
        parser.add_argument(
            "--at", help="ISO date-time of the import (default now; a resumed job keeps its own)"
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args, **options):
        try:
            program = Program.objects.get(pk=options["program"])
        except Program.DoesNotExist:
            raise CommandError(f"No program {options['program']}.")
        at = parse_datetime(options["at"]) if options["at"] else timezone.now()
        if at is None or timezone.is_naive(at):
            raise CommandError("--at needs an ISO date-time with a UTC offset.")
        path = options["file"]
        if not os.path.exists(path):
            raise CommandError(f"No file {path}.")
        job, resumed = import_job_for_file(program=program, path=path, at=at)
        if resumed:
            self.stderr.write(f"resuming import job {job.pk} after line {job.lines_done}")
        bar = tqdm(
            total=job.file_size,
            initial=job.bytes_done,
            unit="B",
            unit_scale=True,
            desc="import",
            disable=options["no_progress"],
            file=self.stderr._out,
        )

        def progress(current: ImportJob) -> None:
            bar.n = current.bytes_done
            bar.set_postfix(rows=current.rows, created=current.created, errors=current.bad_rows)
            bar.refresh()
            if options["verbosity"] >= 2:
                self.stdout.write(f"committed line {current.lines_done}")
                self.stdout.flush()

        try:
            job = import_job_run(job.pk, batch_size=max(1, options["batch_size"]), progress=progress)
        finally:
            bar.n = bar.total
            bar.close()
        if job.status == ImportJob.Status.FAILED:
            raise CommandError(job.failure)
        if job.status != ImportJob.Status.DONE:
            raise CommandError(f"Import job {job.pk} is being run by another process.")
        lines = [str(error) for error in job.row_errors.order_by("line")]
        if options["errors"]:
            with open(options["errors"], "w", encoding="utf-8") as out:
                out.writelines(line + "\n" for line in lines)
        else:
            for line in lines:
                self.stdout.write(line)
        summary = {
            "rows": job.rows,
            "created": job.created,
            "skipped": job.skipped,
            "balances": job.balances,
            "points": job.points,
            "tiers": job.tiers,
            "errors": job.bad_rows,
            "warnings": 0,
            "job": job.pk,
        }
        self.stdout.write(json.dumps(summary))

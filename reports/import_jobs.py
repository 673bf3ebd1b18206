"""Member imports as resumable jobs (models: `ImportJob`, `ImportFilePart`, `ImportRowError`).

`import_job_run` streams the job's file through `reports.imports.members_import` and records, in
each batch's own transaction, the last line committed, the counters and the batch's bad rows. A
run killed at any point (kill -9, a lost worker, a deploy) is resumed by running the job again:
it starts after the last committed line (earlier lines are only re-read to remember their keys),
so nothing is written or counted twice, and the members, postings and lots are idempotent by
their own keys besides. One runner per job at a time (a PostgreSQL advisory lock held by the
runner's connection, released when the process dies).

Where the file is: the command line gives a path (`import_job_for_file`: the unfinished job of
the same program and content is resumed, else a new one starts); the admin upload stores the file
in the database in parts (`import_job_upload`), so a worker on any machine can run it, and queues
the Celery task `reports.import_job_run` after commit.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Program
from loyalty_site.core.bulk import rows_insert
from loyalty_site.core.errors import LoyaltyError

from .imports import ImportReport, members_import, rows_from_csv
from .models import ImportFilePart, ImportJob, ImportRowError

PART_SIZE = 1 << 20  # bytes of an uploaded file per ImportFilePart row
BATCH_SIZE = 5000
RESUMABLE = (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING, ImportJob.Status.FAILED)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(PART_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def import_job_for_file(*, program: Program, path: str, at: datetime, user=None) -> tuple[ImportJob, bool]:
    """The job importing the file at `path` into `program`: the latest unfinished one of the same
    content (resumed: it keeps its own `at`), else a new one as of `at`. Returns (job, resumed)."""
    digest = file_sha256(path)
    job = (
        ImportJob.objects.filter(program=program, file_sha256=digest, status__in=RESUMABLE)
        .order_by("-created_at")
        .first()
    )
    if job is not None:
        if job.source_path != os.path.abspath(path):
            job.source_path = os.path.abspath(path)
            job.save(update_fields=["source_path", "updated_at"])
        return job, True
    job = ImportJob.objects.create(
        program=program,
        created_by=user,
        file_name=os.path.basename(path)[:255],
        file_size=os.path.getsize(path),
        file_sha256=digest,
        source_path=os.path.abspath(path),
        at=at,
    )
    return job, False


def import_job_upload(*, program: Program, upload, at: datetime, user=None) -> ImportJob:
    """Store an uploaded file (any size: Django spools big uploads to disk, this copies them into
    the database a megabyte at a time) and queue its job after commit."""
    from .tasks import import_job_run_task

    with transaction.atomic():
        job = ImportJob.objects.create(
            program=program,
            created_by=user,
            file_name=os.path.basename(upload.name or "members.csv")[:255],
            file_size=upload.size or 0,
            at=at,
        )
        digest = hashlib.sha256()
        for number, chunk in enumerate(upload.chunks(chunk_size=PART_SIZE)):
            digest.update(chunk)
            ImportFilePart.objects.create(job=job, number=number, data=chunk)
        job.file_sha256 = digest.hexdigest()
        job.save(update_fields=["file_sha256", "updated_at"])
        transaction.on_commit(lambda: import_job_run_task.delay(job.pk))
    return job


class _PartsReader(io.RawIOBase):
    """The stored parts of an uploaded file as one binary stream (one query per part)."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.number = 0
        self.buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        if not self.buffer:
            part = (
                ImportFilePart.objects.filter(job_id=self.job_id, number=self.number)
                .values_list("data", flat=True)
                .first()
            )
            if part is None:
                return 0
            self.buffer = bytes(part)
            self.number += 1
        size = min(len(target), len(self.buffer))
        target[:size] = self.buffer[:size]
        self.buffer = self.buffer[size:]
        return size


class _Counting(io.RawIOBase):
    """A raw stream that counts the bytes read through it (the progress bar's position)."""

    def __init__(self, raw):
        self.raw = raw
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        size = self.raw.readinto(target)
        self.position += size or 0
        return size

    def close(self) -> None:
        self.raw.close()
        super().close()


@contextmanager
def _runner_lock(job_id: int) -> Iterator[bool]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [f"loyalty.import:{job_id}"])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [f"loyalty.import:{job_id}"])


def import_job_run(
    job_id: int,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[ImportJob], None] | None = None,
) -> ImportJob:
    """Run (or resume) the job to its end and return it. Bad rows are recorded, never raised; a
    file that cannot be read (no key column in the header, not UTF-8) marks the job failed with
    the reason. Database errors propagate (the job stays resumable). `progress(job)` runs after
    each committed batch. A job another process is running is returned as it is."""
    with _runner_lock(job_id) as acquired:
        job = ImportJob.objects.select_related("program", "created_by").get(pk=job_id)
        if not acquired or job.status == ImportJob.Status.DONE:
            return job
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, updated_at=timezone.now())
        raw = _Counting(open(job.source_path, "rb") if job.source_path else _PartsReader(job.pk))  # noqa: SIM115 - closed with the text wrapper

        def checkpoint(last_line: int, part: ImportReport) -> None:
            ImportJob.objects.filter(pk=job.pk).update(
                lines_done=last_line,
                bytes_done=raw.position,
                rows=F("rows") + part.rows,
                created=F("created") + part.created,
                skipped=F("skipped") + part.skipped,
                balances=F("balances") + part.balances,
                points=F("points") + part.points,
                tiers=F("tiers") + part.tiers,
                bad_rows=F("bad_rows") + len(part.errors),
                updated_at=timezone.now(),
            )
            if part.errors:
                rows_insert(
                    ImportRowError,
                    {"line": [e.line for e in part.errors], "reason": [e.reason for e in part.errors]},
                    constants={"job_id": job.pk},
                )

        def after_batch(_report: ImportReport, _count: int) -> None:
            if progress is not None:
                job.refresh_from_db()
                progress(job)

        try:
            with io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8-sig", newline="") as text:
                members_import(
                    program=job.program,
                    rows=rows_from_csv(text),
                    at=job.at,
                    batch_size=batch_size,
                    user=job.created_by,
                    skip_through=job.lines_done,
                    checkpoint=checkpoint,
                    progress=after_batch,
                )
        except LoyaltyError as error:
            _finish(job, ImportJob.Status.FAILED, error.message)
        except UnicodeDecodeError:
            _finish(job, ImportJob.Status.FAILED, _("The file is not UTF-8 text."))
        else:
            _finish(job, ImportJob.Status.DONE, "")
        job.refresh_from_db()
        return job


def _finish(job: ImportJob, status: str, failure: str) -> None:
    now = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(
        status=status,
        failure=failure,
        bytes_done=job.file_size if status == ImportJob.Status.DONE else F("bytes_done"),
        finished_at=now,
        updated_at=now,
    )

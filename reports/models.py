"""Member imports as resumable jobs: the command line and the admin upload run the same job.

A job's progress (`lines_done` and the counters) is written in the transaction of each batch it
commits, so after a crash (kill -9, a worker lost) the next run starts after the last committed
batch and nothing is written twice. An admin upload keeps its file in the database
(`ImportFilePart`, about a megabyte a row), so any worker on any machine can run it; the command
line reads the file from its path.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    program = models.ForeignKey(
        "accounts.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    file_name = models.CharField(_("file name"), max_length=255)
    file_size = models.BigIntegerField(_("file size"), default=0)
    file_sha256 = models.CharField(verbose_name=_("file sha256"), max_length=64, db_index=True)
    source_path = models.CharField(
        verbose_name=_("source path"),
        max_length=1024,
        blank=True,
        help_text=_("Command-line imports: the file's path."),
    )
    at = models.DateTimeField(verbose_name=_("at"), help_text=_("The moment the import is made as of."))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    lines_done = models.PositiveIntegerField(
        verbose_name=_("lines done"), default=0, help_text=_("Last file line committed.")
    )
    bytes_done = models.BigIntegerField(verbose_name=_("bytes done"), default=0)
    rows = models.PositiveIntegerField(verbose_name=_("rows"), default=0)
    created = models.PositiveIntegerField(verbose_name=_("created"), default=0)
    skipped = models.PositiveIntegerField(verbose_name=_("skipped"), default=0)
    balances = models.PositiveIntegerField(verbose_name=_("balances"), default=0)
    points = models.BigIntegerField(verbose_name=_("points"), default=0)
    tiers = models.PositiveIntegerField(verbose_name=_("tiers"), default=0)
    bad_rows = models.PositiveIntegerField(verbose_name=_("bad rows"), default=0)
    failure = models.TextField(verbose_name=_("failure"), blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)
    finished_at = models.DateTimeField(verbose_name=_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("member import")
        verbose_name_plural = _("member imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, self.bytes_done * 100 // self.file_size) if self.file_size else 0


class ImportFilePart(models.Model):
    """A piece of an uploaded file, in order (`number` from 0)."""

    # no index of its own: the unique (job, number) index serves lookups by job
    job = models.ForeignKey(
        ImportJob, verbose_name=_("job"), on_delete=models.CASCADE, related_name="parts", db_index=False
    )
    number = models.PositiveIntegerField(verbose_name=_("number"))
    data = models.BinaryField(verbose_name=_("data"))

    class Meta:
        verbose_name = _("import file part")
        verbose_name_plural = _("import file parts")
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="importfilepart_unique_number")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.number}"


class ImportRowError(models.Model):
    """A bad row of a job, by its line in the file."""

    # no index of its own: the (job, line) index serves lookups by job
    job = models.ForeignKey(
        ImportJob, verbose_name=_("job"), on_delete=models.CASCADE, related_name="row_errors", db_index=False
    )
    line = models.PositiveIntegerField(verbose_name=_("line"))
    reason = models.TextField(verbose_name=_("reason"))

    class Meta:
        verbose_name = _("import row error")
        verbose_name_plural = _("import row errors")
        ordering = ["line"]
        indexes = [models.Index(fields=["job", "line"], name="importrowerror_job_line")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"

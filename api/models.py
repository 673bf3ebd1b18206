"""Rows the API keeps for itself: one per Idempotency-Key (or purchase external id) per program."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotencyRecord(models.Model):
    """The claim on an idempotency key and, once the request ends, its response.

    The row is inserted (committed) before the request's effect runs; the unique constraint on
    (program, key) is what makes a second concurrent request lose the race instead of repeating the
    effect. The response is written in the same transaction as the effect, so a crash leaves either
    both or neither.
    """

    MERCHANT_LOOKUP = "program__merchant"

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    program = models.ForeignKey(
        "accounts.Program",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        verbose_name=_("program"),
    )
    key = models.CharField(
        max_length=300, help_text=_("Scope prefix plus the client's key."), verbose_name=_("key")
    )
    request_hash = models.CharField(
        max_length=64, help_text=_("SHA-256 of method, path and body."), verbose_name=_("request hash")
    )
    method = models.CharField(max_length=8, verbose_name=_("method"))
    path = models.CharField(max_length=255, verbose_name=_("path"))
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.IN_PROGRESS, verbose_name=_("state")
    )
    response_status = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("response status")
    )
    response_body = models.JSONField(
        null=True, blank=True, encoder=DjangoJSONEncoder, verbose_name=_("response body")
    )
    created_at = models.DateTimeField(
        help_text=_("When the key was first used (replays last 24 h)."), verbose_name=_("created at")
    )
    locked_at = models.DateTimeField(
        help_text=_("When the current attempt started."), verbose_name=_("locked at")
    )
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(fields=["program", "key"], name="idempotency_unique_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"

"""Fraud rules (limits on the number and amount of a member's transactions per window) and the
flags the monitor raises for review."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

DEFAULT_KINDS = ["earn", "redeem", "cashout"]
KIND_CHOICES = [
    ("earn", _("Earn (purchases, bets)")),
    ("redeem", _("Redeem")),
    ("cashout", _("Cash-out")),
    ("bonus", _("Bonus")),
    ("partner", _("Partner import")),
]


def default_kinds() -> list[str]:
    return list(DEFAULT_KINDS)


class FraudRule(models.Model):
    """A member breaches the rule when, within any `window_minutes` ending now, their postings of
    the listed kinds are more than `max_count` or their amount is more than `max_amount` (base
    currency; a posting without a money amount counts its points at the program's point value)."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        related_name="fraud_rules",
        db_index=False,
    )
    name = models.CharField(
        verbose_name=_("name"), max_length=100, help_text=_("Shown on flags and in the refusal message.")
    )
    kinds = models.JSONField(
        verbose_name=_("kinds"),
        default=default_kinds,
        help_text=_('Posting kinds counted, e.g. ["earn", "redeem", "cashout"].'),
    )
    window_minutes = models.PositiveIntegerField(
        verbose_name=_("window minutes"),
        validators=[MinValueValidator(1)],
        help_text=_("Length of the sliding window in minutes."),
    )
    max_count = models.PositiveIntegerField(
        verbose_name=_("max count"),
        null=True,
        blank=True,
        help_text=_("Most transactions allowed in the window; empty = no count limit."),
    )
    max_amount = models.DecimalField(
        verbose_name=_("max amount"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("Most money (base currency) allowed in the window; empty = no amount limit."),
    )
    enforce_in_real_time = models.BooleanField(
        verbose_name=_("enforce in real time"),
        default=True,
        help_text=_(
            "Refuse (422 limit_exceeded) a transaction that would breach the rule, besides the "
            "10-minute monitor that blocks members who breached it."
        ),
    )
    is_active = models.BooleanField(
        verbose_name=_("is active"), default=True, help_text=_("Untick to stop applying the rule.")
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("fraud rule")
        verbose_name_plural = _("fraud rules")
        ordering = ["program", "name"]
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="fraud_rule_unique_name"),
            models.CheckConstraint(
                condition=Q(max_count__isnull=False) | Q(max_amount__isnull=False),
                name="fraud_rule_has_a_limit",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.max_count is None and self.max_amount is None:
            raise ValidationError(_("Set a maximum number of transactions, a maximum amount, or both."))
        allowed = {code for code, _label in KIND_CHOICES}
        if not isinstance(self.kinds, list) or not self.kinds or set(self.kinds) - allowed:
            raise ValidationError(
                {"kinds": _("Give a non-empty list of: %(kinds)s.") % {"kinds": ", ".join(sorted(allowed))}}
            )


class FraudFlag(models.Model):
    """A breach found by the monitor. The member is blocked while the flag is open; a reviewer
    clears it (unblock) or confirms it (stays blocked). At most one open flag per member."""

    MERCHANT_LOOKUP = "program__merchant"

    class Status(models.TextChoices):
        OPEN = "open", _("Open (member blocked, to review)")
        CLEARED = "cleared", _("Cleared (member unblocked)")
        CONFIRMED = "confirmed", _("Confirmed (member stays blocked)")

    program = models.ForeignKey(
        "accounts.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="+"
    )
    member = models.ForeignKey(
        "accounts.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="fraud_flags",
        db_index=False,
    )
    rule = models.ForeignKey(
        FraudRule, verbose_name=_("rule"), null=True, on_delete=models.SET_NULL, related_name="flags"
    )
    rule_name = models.CharField(verbose_name=_("rule name"), max_length=100)
    window_start = models.DateTimeField(verbose_name=_("window start"))
    window_end = models.DateTimeField(verbose_name=_("window end"))
    transactions = models.PositiveIntegerField(
        verbose_name=_("transactions"), help_text=_("Transactions counted in the window.")
    )
    amount = models.DecimalField(
        verbose_name=_("amount"),
        max_digits=16,
        decimal_places=2,
        help_text=_("Their amount (base currency)."),
    )
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    detected_at = models.DateTimeField(verbose_name=_("detected at"))
    reviewed_at = models.DateTimeField(verbose_name=_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(
        verbose_name=_("note"), max_length=255, blank=True, help_text=_("Reviewer's note.")
    )

    class Meta:
        verbose_name = _("fraud flag")
        verbose_name_plural = _("fraud flags")
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(status="open"), name="fraud_flag_one_open_per_member"
            )
        ]
        indexes = [models.Index(fields=["member", "reviewed_at"], name="fraud_flag_member_reviewed")]

    def __str__(self) -> str:
        return f"{self.member}: {self.rule_name} ({self.get_status_display()})"

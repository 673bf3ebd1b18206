"""The points ledger: currency rates, postings with their double-entry entries, lots, allocations and
purchases.

Accounts. A posting moves points between accounts and its entries sum to zero. The member side has
two accounts, `member` (spendable: the cached `Member.balance`) and `member_pending` (points inside
the return window: the cached `Member.pending_points`). The program side has one system account per
`SystemAccount` code. System accounts are codes, not rows: their balance is the sum of their entries
(a cached system balance row would be a hot row every posting of a program queues on).

Locking. The member row (`accounts.locks`) guards everything of that member: balance, lots,
allocations and the member's purchases. Entries and postings are append-only; the database refuses
UPDATE / DELETE on them (trigger in migration 0002, PostgreSQL only).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import CURRENCY_VALIDATOR


class CurrencyRate(models.Model):
    """Points earned per 1 unit of a currency from `valid_from` until a newer rate of the currency
    replaces it (or until `valid_to`, an end date only the merchant sets). Rows are history: a new
    rate is a new row, a purchase is valued at the row in force at its time. Every
    `review_every_days` the merchant is reminded to review the rate in force
    (`ledger.rates.rate_review_reminders`)."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        related_name="currency_rates",
        db_index=False,
    )
    currency = models.CharField(
        verbose_name=_("currency"),
        max_length=3,
        validators=[CURRENCY_VALIDATOR],
        help_text=_("ISO 4217 code, e.g. USD."),
    )
    points_per_unit = models.DecimalField(
        verbose_name=_("points per unit"),
        max_digits=12,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0.0001"))],
        help_text=_("Points earned per 1 unit of this currency (e.g. 12 for USD)."),
    )
    cap = models.BigIntegerField(
        verbose_name=_("cap"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Most points one conversion (one purchase) can earn in this currency; empty = no cap."),
    )
    valid_from = models.DateTimeField(
        verbose_name=_("valid from"), help_text=_("The rate applies to purchases from this moment.")
    )
    valid_to = models.DateTimeField(
        verbose_name=_("valid to"),
        null=True,
        blank=True,
        help_text=_(
            "Empty (usual): in force until a newer rate of this currency starts. Set it only to "
            "stop accepting the currency at this moment."
        ),
    )
    review_every_days = models.PositiveIntegerField(
        verbose_name=_("review every days"),
        default=30,
        validators=[MinValueValidator(1)],
        help_text=_("Remind the merchant to review this rate every this many days."),
    )
    reviewed_at = models.DateTimeField(
        verbose_name=_("reviewed at"),
        null=True,
        blank=True,
        help_text=_("When the merchant last marked this rate as reviewed."),
    )
    review_reminded_at = models.DateTimeField(
        verbose_name=_("review reminded at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When the last review reminder was sent."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("currency rate")
        verbose_name_plural = _("currency rates")
        ordering = ["program", "currency", "-valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(points_per_unit__gt=0), name="rate_positive"),
            models.CheckConstraint(condition=Q(cap__isnull=True) | Q(cap__gt=0), name="rate_cap_positive"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="rate_valid_range",
            ),
            models.UniqueConstraint(fields=["program", "currency", "valid_from"], name="rate_unique_start"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.points_per_unit} pts from {self.valid_from:%Y-%m-%d}"


class Account(models.TextChoices):
    MEMBER = "member", _("Member (spendable)")
    MEMBER_PENDING = "member_pending", _("Member (pending, return window)")
    ISSUED = "issued", _("System: issued")
    REDEEMED = "redeemed", _("System: redeemed")
    EXPIRED = "expired", _("System: expired")
    DECAYED = "decayed", _("System: decayed")
    CASHED_OUT = "cashed_out", _("System: cashed out")
    PARTNER = "partner", _("System: partner")
    ADJUSTMENT = "adjustment", _("System: manual adjustments")


MEMBER_ACCOUNTS = (Account.MEMBER, Account.MEMBER_PENDING)


class EntryKind(models.TextChoices):
    """API.md's entry kinds."""

    EARN = "earn", _("Earn")
    BONUS = "bonus", _("Bonus")
    REDEEM = "redeem", _("Redeem")
    REFUND = "refund", _("Refund (spent points returned)")
    EXPIRE = "expire", _("Expire")
    RENEW = "renew", _("Renew")
    DECAY = "decay", _("Decay")
    ADJUST = "adjust", _("Manual adjustment")
    PARTNER = "partner", _("Partner import")
    CASHOUT = "cashout", _("Cash-out")
    REVERSAL = "reversal", _("Reversal (earned points taken back)")


class PostingKind(models.TextChoices):
    """What a posting does; a superset of the entry kinds (extend and activate move no points
    between owners but must be idempotent and visible)."""

    EARN = "earn", _("Earn")
    BONUS = "bonus", _("Bonus")
    REDEEM = "redeem", _("Redeem")
    REFUND = "refund", _("Refund")
    EXPIRE = "expire", _("Expire")
    RENEW = "renew", _("Renew")
    DECAY = "decay", _("Decay")
    ADJUST = "adjust", _("Manual adjustment")
    PARTNER = "partner", _("Partner import")
    CASHOUT = "cashout", _("Cash-out")
    REVERSAL = "reversal", _("Reversal")
    EXTEND = "extend", _("Extend lots (daily task)")
    ACTIVATE = "activate", _("Pending points become spendable")


class Posting(models.Model):
    """One business transaction of the ledger, unique by `reference` within the program."""

    MERCHANT_LOOKUP = "program__merchant"

    # program and member are indexed by posting_unique_reference and posting_member_kind_idx
    program = models.ForeignKey(
        "accounts.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="postings",
        db_index=False,
    )
    member = models.ForeignKey(
        "accounts.Member",
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="postings",
        db_index=False,
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=PostingKind.choices)
    reference = models.CharField(
        verbose_name=_("reference"),
        max_length=200,
        help_text=_("Idempotency reference: order id, idempotency key or job key."),
    )
    fingerprint = models.CharField(
        verbose_name=_("fingerprint"),
        max_length=64,
        editable=False,
        help_text=_("Hash of the request, to tell a replay from a conflict."),
    )
    points = models.BigIntegerField(
        verbose_name=_("points"), default=0, help_text=_("Net change of the member's spendable balance.")
    )
    pending_points = models.BigIntegerField(
        verbose_name=_("pending points"), default=0, help_text=_("Net change of the member's pending points.")
    )
    balance_after = models.BigIntegerField(verbose_name=_("balance after"), default=0)
    purchase = models.ForeignKey(
        "ledger.Purchase",
        verbose_name=_("purchase"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="postings",
    )
    campaign_id = models.BigIntegerField(
        verbose_name=_("campaign id"), null=True, blank=True, help_text=_("Campaign that granted a bonus.")
    )
    amount = models.DecimalField(
        verbose_name=_("amount"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Money value in the base currency (cash-out: gross value before the fee)."),
    )
    fee = models.DecimalField(verbose_name=_("fee"), max_digits=14, decimal_places=2, null=True, blank=True)
    description = models.CharField(verbose_name=_("description"), max_length=255, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    data = models.JSONField(verbose_name=_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), db_index=True)
    # When the ledger wrote it (the fraud rules' windows count this, not `created_at`, which a
    # client may back-date); hand-written INSERTs that leave it out get the database's now().
    recorded_at = models.DateTimeField(
        verbose_name=_("recorded at"),
        default=timezone.now,
        db_default=Now(),
        help_text=_("When the posting was recorded (the moment it is about may be earlier)."),
    )

    class Meta:
        verbose_name = _("posting")
        verbose_name_plural = _("postings")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["program", "reference"], name="posting_unique_reference"),
        ]
        indexes = [
            models.Index(fields=["member", "kind", "created_at"], name="posting_member_kind_idx"),
            # the real-time fraud check (one member's recent postings) and the monitor (a program's)
            models.Index(fields=["member", "recorded_at"], name="posting_member_recorded_idx"),
            models.Index(fields=["program", "recorded_at"], name="posting_program_recorded_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d} ({self.reference})"


class Entry(models.Model):
    """One leg of a posting. Member-side entries carry the balance after them. Append-only."""

    MERCHANT_LOOKUP = "program__merchant"

    posting = models.ForeignKey(
        Posting, verbose_name=_("posting"), on_delete=models.PROTECT, related_name="entries"
    )
    # program and member are indexed by entry_program_account_idx and entry_member_idx
    program = models.ForeignKey(
        "accounts.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    member = models.ForeignKey(
        "accounts.Member",
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
        db_index=False,
    )
    account = models.CharField(verbose_name=_("account"), max_length=16, choices=Account.choices)
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=EntryKind.choices)
    points = models.BigIntegerField(
        verbose_name=_("points"), help_text=_("Signed: positive credits the account.")
    )
    balance_after = models.BigIntegerField(
        verbose_name=_("balance after"), null=True, blank=True, help_text=_("Member accounts only.")
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("entry")
        ordering = ["-id"]
        verbose_name_plural = _("entries")
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="entry_points_nonzero"),
            models.CheckConstraint(
                condition=(Q(account__in=["member", "member_pending"]) & Q(member__isnull=False))
                | (~Q(account__in=["member", "member_pending"]) & Q(member__isnull=True)),
                name="entry_member_account",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "account", "created_at"], name="entry_member_idx"),
            models.Index(fields=["program", "account"], name="entry_program_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.kind} {self.points:+d}"


class Lot(models.Model):
    """Points credited together, spent first-expiring-first and expiring together."""

    MERCHANT_LOOKUP = "program__merchant"

    class State(models.TextChoices):
        PENDING = "pending", pgettext_lazy("points lot", "Pending (return window)")
        ACTIVE = "active", pgettext_lazy("points lot", "Active")
        GRACE = "grace", pgettext_lazy("points lot", "Expired, renewable")
        EXPIRED = "expired", pgettext_lazy("points lot", "Expired")

    program = models.ForeignKey(
        "accounts.Program", verbose_name=_("program"), on_delete=models.PROTECT, related_name="+"
    )
    # indexed by lot_member_state_idx
    member = models.ForeignKey(
        "accounts.Member",
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="lots",
        db_index=False,
    )
    posting = models.ForeignKey(
        Posting, verbose_name=_("posting"), on_delete=models.PROTECT, related_name="lots"
    )
    source = models.CharField(
        verbose_name=_("source"), max_length=16, choices=EntryKind.choices, help_text=_("Kind of the credit.")
    )
    points = models.BigIntegerField(verbose_name=_("points"), validators=[MinValueValidator(1)])
    remaining = models.BigIntegerField(
        verbose_name=_("remaining"),
        help_text=_("Points left; in grace / expired: the points that expired (renewable while in grace)."),
    )
    state = models.CharField(
        verbose_name=_("state"), max_length=8, choices=State.choices, default=State.ACTIVE
    )
    earned_at = models.DateTimeField(verbose_name=_("earned at"))
    available_at = models.DateTimeField(
        verbose_name=_("available at"), help_text=_("Pending until this moment.")
    )
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    grace_until = models.DateTimeField(verbose_name=_("grace until"), null=True, blank=True)
    warned_at = models.DateTimeField(
        verbose_name=_("warned at"), null=True, blank=True, help_text=_("When the expiry warning went out.")
    )

    class Meta:
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        ordering = ["expires_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="lot_points_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=models.F("points")),
                name="lot_remaining_range",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "state", "expires_at"], name="lot_member_state_idx"),
            # the jobs' scans, one state each: a lot is in at most one of them (a new lot in one),
            # and expired lots, most of an old program's, in none
            models.Index(fields=["expires_at"], condition=Q(state="active"), name="lot_active_expiry_idx"),
            models.Index(fields=["grace_until"], condition=Q(state="grace"), name="lot_grace_until_idx"),
            models.Index(fields=["available_at"], condition=Q(state="pending"), name="lot_pending_until_idx"),
        ]

    def __str__(self) -> str:
        return f"lot {self.pk}: {self.remaining}/{self.points} ({self.state})"


def lot_expires_at(*, program, at: datetime) -> datetime:
    """When points credited (or renewed) at `at` expire: the program's points lifetime later. The
    one home of the rule: earnings, bonuses, partner imports, returned points, renewals and opening
    balances all take their lot's expiry from here."""
    return at + timedelta(days=program.points_lifetime_days)


class Allocation(models.Model):
    """Which lot a debit drew from, so a refund gives points back to the right lots."""

    MERCHANT_LOOKUP = "lot__program__merchant"

    posting = models.ForeignKey(
        Posting, verbose_name=_("posting"), on_delete=models.PROTECT, related_name="allocations"
    )
    lot = models.ForeignKey(Lot, verbose_name=_("lot"), on_delete=models.PROTECT, related_name="allocations")
    points = models.BigIntegerField(verbose_name=_("points"))
    returned = models.BigIntegerField(
        verbose_name=_("returned"), default=0, help_text=_("Points given back to the lot by refunds.")
    )

    class Meta:
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="allocation_points_positive"),
            models.CheckConstraint(
                condition=Q(returned__gte=0) & Q(returned__lte=models.F("points")),
                name="allocation_returned_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.points} from lot {self.lot_id}"


class Purchase(models.Model):
    """A purchase or a bet reported by the till or an integration. Written by
    `checkout.purchases.purchase_create`; refunded by `ledger.services.purchase_refund`."""

    MERCHANT_LOOKUP = "program__merchant"

    class Kind(models.TextChoices):
        PURCHASE = "purchase", _("Purchase")
        BET = "bet", _("Bet")

    # program and member are indexed by purchase_unique_external_id and purchase_member_time_idx
    program = models.ForeignKey(
        "accounts.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="purchases",
        db_index=False,
    )
    member = models.ForeignKey(
        "accounts.Member",
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="purchases",
        db_index=False,
    )
    external_id = models.CharField(
        verbose_name=_("external id"),
        max_length=100,
        help_text=_("The order / bet id in the merchant's system."),
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=8, choices=Kind.choices, default=Kind.PURCHASE)
    amount = models.DecimalField(
        verbose_name=_("amount"), max_digits=14, decimal_places=2, help_text=_("Amount before discounts.")
    )
    currency = models.CharField(verbose_name=_("currency"), max_length=3, validators=[CURRENCY_VALIDATOR])
    discount_amount = models.DecimalField(
        verbose_name=_("discount amount"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    amount_due = models.DecimalField(
        verbose_name=_("amount due"),
        max_digits=14,
        decimal_places=2,
        help_text=_("Money actually paid: after discounts and points."),
    )
    points_earned = models.BigIntegerField(verbose_name=_("points earned"), default=0)
    points_redeemed = models.BigIntegerField(verbose_name=_("points redeemed"), default=0)
    refunded_amount = models.DecimalField(
        verbose_name=_("refunded amount"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    points_reversed = models.BigIntegerField(
        verbose_name=_("points reversed"), default=0, help_text=_("Earned points taken back by refunds.")
    )
    points_returned = models.BigIntegerField(
        verbose_name=_("points returned"), default=0, help_text=_("Spent points given back by refunds.")
    )
    occurred_at = models.DateTimeField(verbose_name=_("occurred at"))
    applied = models.JSONField(
        verbose_name=_("applied"),
        default=list,
        blank=True,
        help_text=_("The pricing lines (the `applied` list of the quote answer)."),
    )
    coupon_code = models.CharField(verbose_name=_("coupon code"), max_length=64, blank=True)
    request_fingerprint = models.CharField(
        verbose_name=_("request fingerprint"),
        max_length=64,
        blank=True,
        help_text=_("Hash of the request, to tell a replay from a conflict."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["program", "external_id"], name="purchase_unique_external_id"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="purchase_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(amount_due__gte=0) & Q(amount_due__lte=models.F("amount")),
                name="purchase_amount_due_range",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=models.F("amount")),
                name="purchase_refunded_range",
            ),
        ]
        indexes = [models.Index(fields=["member", "occurred_at"], name="purchase_member_time_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.external_id} {self.amount} {self.currency}"

    def label(self, program=None, *, lowercase: bool = False) -> str:
        """How a member reads this purchase: "Purchase of 5 Dec 2026" / "Bet of 5 Dec 2026" (the
        day in the program's time zone; never the till's reference); "purchase of ..." inside a
        sentence (`lowercase`)."""
        program = program or self.program
        date = date_format(self.occurred_at.astimezone(program.tz), "j M Y")
        if self.kind == self.Kind.BET:
            text = gettext("bet of %(date)s") if lowercase else gettext("Bet of %(date)s")
        else:
            text = gettext("purchase of %(date)s") if lowercase else gettext("Purchase of %(date)s")
        return text % {"date": date}

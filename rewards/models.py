"""The rewards catalogue: rewards a member buys with points, the voucher code pools, and the
redemptions (issue 20).

Locking. A redemption locks the member row (the ledger's lock: balance, lots, the member's
redemptions and their per-member limits) and then the reward row (stock, `redeemed_count`), always
in that order. Codes are drawn with `SELECT ... FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Reward(models.Model):
    """Something a member gets for points (and an optional co-payment)."""

    MERCHANT_LOOKUP = "program__merchant"

    class Kind(models.TextChoices):
        VOUCHER = "voucher", _("Voucher code (from the code pool)")
        COUPON = "coupon", _("Coupon (issued to the member)")
        BONUS = "bonus", _("Bonus credit (fulfilled by the integration)")
        GIFT = "gift", _("Gift (handed over by staff)")

    class LimitPeriod(models.TextChoices):
        DAY = "day", _("per day")
        WEEK = "week", _("per week")
        MONTH = "month", _("per month")
        EVER = "ever", _("ever")

    class Channel(models.TextChoices):
        BOTH = "both", _("Till and API")
        TILL = "till", _("Till only")
        API = "api", _("API only")

    # indexed by reward_program_order_idx
    program = models.ForeignKey(
        "accounts.Program",
        on_delete=models.CASCADE,
        related_name="rewards",
        db_index=False,
        verbose_name=_("program"),
    )
    name = models.CharField(
        max_length=120, help_text=_("Shown to members, e.g. 'Free coffee'."), verbose_name=_("name")
    )
    description = models.TextField(
        blank=True, help_text=_("Shown to members with the reward."), verbose_name=_("description")
    )
    image_url = models.URLField(
        blank=True,
        help_text=_("A picture of the reward (https address), optional."),
        verbose_name=_("image URL"),
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, verbose_name=_("kind"))
    cost_points = models.BigIntegerField(
        validators=[MinValueValidator(1)], help_text=_("Points it costs."), verbose_name=_("cost in points")
    )
    co_payment = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("Money the member pays on top of the points (base currency); empty = none."),
        verbose_name=_("co-payment"),
    )
    is_active = models.BooleanField(
        default=True, help_text=_("Untick to take it out of the catalogue."), verbose_name=_("active")
    )
    active_from = models.DateTimeField(
        null=True, blank=True, help_text=_("Empty = available at once."), verbose_name=_("active from")
    )
    active_to = models.DateTimeField(
        null=True, blank=True, help_text=_("Empty = no end."), verbose_name=_("active to")
    )
    tiers = models.ManyToManyField(
        "tiers.Tier",
        blank=True,
        related_name="+",
        help_text=_("Only members of these tiers (empty = all)."),
        verbose_name=_("tiers"),
    )
    segments = models.ManyToManyField(
        "campaigns.Segment",
        blank=True,
        related_name="+",
        help_text=_("Only members in one of these segments (empty = all)."),
        verbose_name=_("segments"),
    )
    stock_total = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("How many can be redeemed in all; empty = unlimited."),
        verbose_name=_("stock"),
    )
    redeemed_count = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text=_("Redemptions not cancelled (they take stock)."),
        verbose_name=_("redeemed count"),
    )
    limit_per_member = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Empty = no limit."),
        verbose_name=_("limit per member"),
    )
    limit_period = models.CharField(
        max_length=8,
        choices=LimitPeriod.choices,
        default=LimitPeriod.EVER,
        help_text=_("The period of the per-member limit (program-local days, ISO weeks, months)."),
        verbose_name=_("limit period"),
    )
    display_order = models.IntegerField(
        default=0, help_text=_("Lower first in the catalogue."), verbose_name=_("display order")
    )
    channel = models.CharField(
        max_length=8,
        choices=Channel.choices,
        default=Channel.BOTH,
        help_text=_("Who may redeem it."),
        verbose_name=_("channel"),
    )
    coupon_kind = models.CharField(
        max_length=8,
        blank=True,
        choices=[("percent", _("Percent off")), ("fixed", _("Fixed amount off"))],
        help_text=_("Coupon rewards: the coupon issued."),
        verbose_name=_("coupon kind"),
    )
    coupon_value = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("Coupon rewards: percent off or amount off (base currency)."),
        verbose_name=_("coupon value"),
    )
    coupon_valid_days = models.PositiveIntegerField(
        default=30,
        help_text=_("Coupon rewards: days the coupon is valid (0 = no end)."),
        verbose_name=_("coupon valid days"),
    )
    coupon_min_purchase = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_("Coupon rewards: smallest purchase."),
        verbose_name=_("coupon minimum purchase"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["display_order", "cost_points", "id"]
        indexes = [models.Index(fields=["program", "display_order"], name="reward_program_order_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(cost_points__gt=0), name="reward_cost_positive"),
            models.CheckConstraint(
                condition=Q(stock_total__isnull=True) | Q(redeemed_count__lte=models.F("stock_total")),
                name="reward_stock_within_total",
            ),
            models.CheckConstraint(
                condition=Q(active_to__isnull=True)
                | Q(active_from__isnull=True)
                | Q(active_to__gt=models.F("active_from")),
                name="reward_active_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == self.Kind.COUPON and (not self.coupon_kind or not self.coupon_value):
            raise ValidationError({"coupon_value": "A coupon reward needs the coupon's kind and value."})
        if self.coupon_kind == "percent" and self.coupon_value and self.coupon_value > 100:
            raise ValidationError({"coupon_value": "A percent is at most 100."})
        if self.active_from and self.active_to and self.active_to <= self.active_from:
            raise ValidationError({"active_to": "The end must come after the start."})

    @property
    def kind_label(self) -> str:
        """The kind in a word, for the till and the card."""
        return {"voucher": "Voucher code", "coupon": "Coupon", "bonus": "Bonus", "gift": "Gift"}[self.kind]

    @property
    def stock_left(self) -> int | None:
        if self.stock_total is None:
            return None
        return max(self.stock_total - self.redeemed_count, 0)


class RewardCode(models.Model):
    """One voucher code of a reward's pool, given to at most one redemption at a time."""

    MERCHANT_LOOKUP = "reward__program__merchant"

    reward = models.ForeignKey(
        Reward, on_delete=models.CASCADE, related_name="codes", db_index=False, verbose_name=_("reward")
    )
    code = models.CharField(max_length=64, verbose_name=_("code"))
    redemption = models.OneToOneField(
        "rewards.Redemption",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="code_row",
        help_text=_("The redemption holding this code; empty = free."),
        verbose_name=_("redemption"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("reward code")
        verbose_name_plural = _("reward codes")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["reward", "code"], name="reward_code_unique")]
        indexes = [
            models.Index(
                fields=["reward", "id"], condition=Q(redemption__isnull=True), name="reward_code_free_idx"
            )
        ]

    def __str__(self) -> str:
        return self.code


class Redemption(models.Model):
    """A member's exchange of points for a reward."""

    MERCHANT_LOOKUP = "program__merchant"

    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued (code or coupon given)")
        PENDING = "pending", _("Pending fulfilment")
        FULFILLED = "fulfilled", _("Fulfilled")
        CANCELLED = "cancelled", _("Cancelled (points returned)")

    program = models.ForeignKey(
        "accounts.Program",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("program"),
    )
    member = models.ForeignKey(
        "accounts.Member",
        on_delete=models.PROTECT,
        related_name="reward_redemptions",
        db_index=False,
        verbose_name=_("member"),
    )
    reward = models.ForeignKey(
        Reward, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("reward")
    )
    points = models.BigIntegerField(verbose_name=_("points"))
    co_payment = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, verbose_name=_("co-payment")
    )
    status = models.CharField(max_length=10, choices=Status.choices, verbose_name=_("status"))
    channel = models.CharField(
        max_length=8, help_text=_("Where it was redeemed: till or api."), verbose_name=_("channel")
    )
    code = models.CharField(
        max_length=64, blank=True, help_text=_("The voucher code given."), verbose_name=_("code")
    )
    coupon = models.ForeignKey(
        "campaigns.Coupon",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("coupon"),
    )
    posting = models.ForeignKey(
        "ledger.Posting",
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The points spent."),
        verbose_name=_("posting"),
    )
    return_posting = models.ForeignKey(
        "ledger.Posting",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The points given back by the cancellation."),
        verbose_name=_("return posting"),
    )
    reference = models.CharField(
        max_length=120,
        help_text=_("The client's reference; unique in the program."),
        verbose_name=_("reference"),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))
    fulfilled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("fulfilled at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))

    #: Not a column: True on the instance `reward_redeem` returns for a repeated reference.
    replayed = False

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["program", "reference"], name="redemption_unique_reference"),
            models.CheckConstraint(condition=Q(points__gt=0), name="redemption_points_positive"),
        ]
        indexes = [
            models.Index(fields=["member", "reward", "created_at"], name="redemption_member_reward_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reward} for {self.member_id} ({self.status})"

"""Tier definitions per program (PRODUCT.md §2.1)."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _


class Tier(models.Model):
    MERCHANT_LOOKUP = "program__merchant"

    class GiftPeriod(models.TextChoices):
        NONE = "", _("No periodic gift")
        DAILY = "daily", _("Every day")
        WEEKLY = "weekly", _("Every week")
        MONTHLY = "monthly", _("Every month")

    program = models.ForeignKey(
        "accounts.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        related_name="tiers",
        db_index=False,
    )
    code = models.SlugField(
        verbose_name=_("code"), max_length=32, help_text=_("Stable code used by the API, e.g. 'gold'.")
    )
    name = models.CharField(
        verbose_name=_("name"), max_length=64, help_text=_("Shown to members, e.g. 'Gold'.")
    )
    rank = models.PositiveSmallIntegerField(
        verbose_name=_("rank"), help_text=_("Order of tiers: 0 is the entry tier.")
    )
    threshold = models.BigIntegerField(
        verbose_name=_("threshold"),
        default=0,
        validators=[MinValueValidator(0)],
        help_text=_("Entry threshold in the program's tier metric (points, purchases, visits or money)."),
    )
    discount_percent = models.DecimalField(
        verbose_name=_("discount percent"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Discount on every purchase for members of this tier."),
    )
    earn_multiplier = models.DecimalField(
        verbose_name=_("earn multiplier"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Points earned are multiplied by this (1.25 = +25 %)."),
    )
    gift_points = models.BigIntegerField(
        verbose_name=_("gift points"),
        default=0,
        validators=[MinValueValidator(0)],
        help_text=_("Points of the periodic gift."),
    )
    gift_period = models.CharField(
        verbose_name=_("gift period"),
        max_length=8,
        choices=GiftPeriod.choices,
        default=GiftPeriod.NONE,
        blank=True,
        help_text=_("How often the gift is given (days, weeks and months in the program's time zone)."),
    )
    priority_support = models.BooleanField(
        verbose_name=_("priority support"), default=False, help_text=_("Members get priority support.")
    )
    fast_processing = models.BooleanField(
        verbose_name=_("fast processing"),
        default=False,
        help_text=_("Members' requests are processed first."),
    )
    personal_manager = models.BooleanField(
        verbose_name=_("personal manager"), default=False, help_text=_("Members have a personal manager.")
    )
    event_invitations = models.BooleanField(
        verbose_name=_("event invitations"),
        default=False,
        help_text=_("Members are invited to special events."),
    )
    exclusive_campaigns = models.BooleanField(
        verbose_name=_("exclusive campaigns"),
        default=False,
        help_text=_("Members of this tier can join tier-exclusive campaigns."),
    )
    description = models.TextField(
        verbose_name=_("description"), blank=True, help_text=_("The privileges in words, shown to members.")
    )

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["program", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="tier_unique_code"),
            models.UniqueConstraint(fields=["program", "rank"], name="tier_unique_rank"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Thresholds rise with rank, and the gift has both points and a period (or neither)."""
        from django.core.exceptions import ValidationError

        errors: dict[str, str] = {}
        if bool(self.gift_points) != bool(self.gift_period):
            errors["gift_period"] = gettext("Give both the gift's points and its period, or neither.")
        if self.program_id is not None and self.rank is not None and self.threshold is not None:
            others = Tier.objects.filter(program_id=self.program_id).exclude(pk=self.pk)
            lower = others.filter(rank__lt=self.rank, threshold__gte=self.threshold).order_by("-rank").first()
            higher = others.filter(rank__gt=self.rank, threshold__lte=self.threshold).order_by("rank").first()
            if lower is not None:
                errors["threshold"] = gettext("Must be above %(tier)s's threshold (%(threshold)s).") % {
                    "tier": lower.name,
                    "threshold": lower.threshold,
                }
            elif higher is not None:
                errors["threshold"] = gettext("Must be below %(tier)s's threshold (%(threshold)s).") % {
                    "tier": higher.name,
                    "threshold": higher.threshold,
                }
        if errors:
            raise ValidationError(errors)


class TierChange(models.Model):
    """One row per change of a member's tier (enrolment, upgrade, downgrade, manual)."""

    MERCHANT_LOOKUP = "program__merchant"

    class Reason(models.TextChoices):
        ENROLMENT = "enrolment", _("Entry tier on enrolment")
        EARNING = "earning", _("Upgrade when points or a purchase posted")
        REEVALUATION = "reevaluation", _("Periodic re-evaluation")
        REFUND = "refund", _("Downgrade when a refund took back the qualifying points")
        MANUAL = "manual", _("Set by staff")

    program = models.ForeignKey(
        "accounts.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="tier_changes"
    )
    # indexed by tierchange_member_at_idx
    member = models.ForeignKey(
        "accounts.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="tier_changes",
        db_index=False,
    )
    from_tier = models.ForeignKey(
        Tier,
        verbose_name=_("from tier"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Before."),
    )
    to_tier = models.ForeignKey(
        Tier,
        verbose_name=_("to tier"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("After."),
    )
    reason = models.CharField(verbose_name=_("reason"), max_length=16, choices=Reason.choices)
    note = models.CharField(
        verbose_name=_("note"), max_length=255, blank=True, help_text=_("Staff reason for a manual change.")
    )
    qualifying_value = models.BigIntegerField(
        verbose_name=_("qualifying value"),
        default=0,
        help_text=_("The member's tier metric (points, purchases, visits or money) at the change."),
    )
    at = models.DateTimeField(verbose_name=_("at"), db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["member", "-at"], name="tierchange_member_at_idx")]

    def __str__(self) -> str:
        return f"{self.member}: {self.from_tier or '-'} -> {self.to_tier or '-'} ({self.reason})"


class TierOverride(models.Model):
    """A tier set by staff by hand. Until `ends_at` it is a floor: automatic evaluation never puts
    the member below it (it may still move them higher)."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="tier_overrides"
    )
    member = models.ForeignKey(
        "accounts.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="tier_overrides",
        db_index=False,
    )
    tier = models.ForeignKey(
        Tier,
        verbose_name=_("tier"),
        on_delete=models.CASCADE,
        related_name="overrides",
        help_text=_("The guaranteed minimum tier."),
    )
    reason = models.CharField(
        verbose_name=_("reason"),
        max_length=255,
        help_text=_("Why staff set this tier (kept in the history)."),
    )
    starts_at = models.DateTimeField(
        verbose_name=_("starts at"), help_text=_("The floor applies from this moment.")
    )
    ends_at = models.DateTimeField(
        verbose_name=_("ends at"), help_text=_("The floor ends here; normal evaluation takes over again.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tier override")
        verbose_name_plural = _("tier overrides")
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="tieroverride_ends_after_start"
            )
        ]
        indexes = [models.Index(fields=["member", "ends_at"], name="tieroverride_member_end_idx")]

    def __str__(self) -> str:
        return gettext("%(member)s: at least %(tier)s until %(date)s") % {
            "member": self.member,
            "tier": self.tier,
            "date": f"{self.ends_at:%Y-%m-%d}",
        }


class MemberTierState(models.Model):
    """Per-member bookkeeping of the downgrade grace period: when the member was first seen below
    their current tier by re-evaluation. Cleared when they qualify again or change tier."""

    MERCHANT_LOOKUP = "member__program__merchant"

    member = models.OneToOneField(
        "accounts.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="tier_state",
    )
    below_since = models.DateTimeField(verbose_name=_("below since"), null=True, blank=True)
    evaluated_at = models.DateTimeField(verbose_name=_("evaluated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("member tier state")
        verbose_name_plural = _("member tier states")

    def __str__(self) -> str:
        return gettext("%(member)s below since %(since)s") % {
            "member": self.member,
            "since": self.below_since,
        }


class SpendDiscount(models.Model):
    """Discount by cumulative spend: a member whose total paid (base currency, lifetime, less
    refunds) reached `threshold` gets `percent` off. The highest reached threshold applies."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        related_name="spend_discounts",
        db_index=False,
    )
    threshold = models.DecimalField(
        verbose_name=_("threshold"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Cumulative amount paid, in the program's base currency, from which this applies."),
    )
    percent = models.DecimalField(
        verbose_name=_("percent"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Discount in percent for members who reached the threshold."),
    )
    is_active = models.BooleanField(
        verbose_name=_("is active"), default=True, help_text=_("Untick to stop offering this step.")
    )

    class Meta:
        verbose_name = _("spend discount")
        verbose_name_plural = _("spend discounts")
        ordering = ["program", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["program", "threshold"], name="spenddiscount_unique_threshold")
        ]

    def __str__(self) -> str:
        return gettext("%(percent)s%% from %(threshold)s") % {
            "percent": self.percent,
            "threshold": self.threshold,
        }


class TierGift(models.Model):
    """A periodic tier gift given to one member for one period. The unique key
    (member, period) makes the gift once per member per period, however often the job runs."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="tier_gifts"
    )
    member = models.ForeignKey(
        "accounts.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="tier_gifts",
        db_index=False,
    )
    tier = models.ForeignKey(
        Tier, verbose_name=_("tier"), null=True, on_delete=models.SET_NULL, related_name="gifts"
    )
    period = models.CharField(
        verbose_name=_("period"),
        max_length=24,
        help_text=_("daily:2026-11-22, weekly:2026-W47 or monthly:2026-11 (program time zone)."),
    )
    points = models.BigIntegerField(verbose_name=_("points"))
    at = models.DateTimeField(verbose_name=_("at"))
    reference = models.CharField(verbose_name=_("reference"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("tier gift")
        verbose_name_plural = _("tier gifts")
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["member", "period"], name="tiergift_once_per_period")]

    def __str__(self) -> str:
        return ngettext(
            "%(points)s point to %(member)s for %(period)s",
            "%(points)s points to %(member)s for %(period)s",
            self.points,
        ) % {"points": self.points, "member": self.member, "period": self.period}


class PersonalManager(models.Model):
    """The staff member who looks after a member whose tier gives a personal manager (Platinum).
    One per member; set in the admin (`tiers.services.personal_manager_assign`)."""

    MERCHANT_LOOKUP = "member__program__merchant"

    member = models.OneToOneField(
        "accounts.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="personal_manager",
    )
    manager = models.ForeignKey(
        "accounts.StaffMember",
        verbose_name=_("manager"),
        on_delete=models.CASCADE,
        related_name="managed_members",
        help_text=_("A staff member of the merchant."),
    )
    assigned_at = models.DateTimeField(verbose_name=_("assigned at"))
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = _("personal manager")
        verbose_name_plural = _("personal managers")
        ordering = ["-assigned_at"]

    def __str__(self) -> str:
        return gettext("%(manager)s for %(member)s") % {"manager": self.manager, "member": self.member}

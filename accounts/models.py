"""Merchants, their staff, their programs, the programs' members and API keys."""

from __future__ import annotations

import uuid
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast, Upper
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty_site.core.i18n import default_language
from loyalty_site.core.money import money_round

CURRENCY_VALIDATOR = RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code, e.g. AZN."))


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("'%(value)s' is not an IANA time zone such as Asia/Baku or Europe/London."),
            params={"value": value},
        )


def percent_field(
    default: str, help_text: str, *, verbose_name: str, max_value: str = "100"
) -> models.DecimalField:
    return models.DecimalField(
        verbose_name=verbose_name,
        max_digits=6,
        decimal_places=3,
        default=Decimal(default),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal(max_value))],
        help_text=help_text,
    )


class Merchant(models.Model):
    MERCHANT_LOOKUP = "id"

    name = models.CharField(
        verbose_name=_("name"), max_length=200, unique=True, help_text=_("Trading name, shown in the admin.")
    )
    contact_email = models.EmailField(
        verbose_name=_("contact email"), blank=True, help_text=_("Where the platform writes to the merchant.")
    )
    is_active = models.BooleanField(
        verbose_name=_("is active"),
        default=True,
        help_text=_("Suspends the merchant: its API keys and tills refuse every request (jobs still run)."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StaffMember(models.Model):
    """Links a Django user to one merchant with a role."""

    MERCHANT_LOOKUP = "merchant"

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MANAGER = "manager", _("Manager")
        CASHIER = "cashier", _("Cashier (till page only)")
        ANALYST = "analyst", _("Analyst (read-only admin)")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="staff_profile",
    )
    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="staff"
    )
    role = models.CharField(
        verbose_name=_("role"),
        max_length=16,
        choices=Role.choices,
        help_text=_("Owner and manager configure everything; analysts only read; cashiers use the till."),
    )
    is_active = models.BooleanField(
        verbose_name=_("is active"), default=True, help_text=_("Untick to suspend without deleting.")
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("The admin and the till in this language; empty: the browser's."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name_plural = _("staff members")
        ordering = ["merchant", "user__username"]
        verbose_name = _("staff member")

    def __str__(self) -> str:
        return gettext("%(user)s (%(role)s at %(merchant)s)") % {
            "user": self.user,
            "role": self.get_role_display(),
            "merchant": self.merchant,
        }


class ProgramQuerySet(models.QuerySet):
    def live(self):
        """`Program.is_live` as a filter."""
        return self.filter(is_active=True, merchant__is_active=True)


class Program(models.Model):
    """A merchant's loyalty program: every program-wide rule of PRODUCT.md §2 lives here."""

    MERCHANT_LOOKUP = "merchant"

    class EarnMode(models.TextChoices):
        PER_UNIT = "per_unit", _("Points per currency unit (currency rates)")
        PERCENT = "percent", _("Percent of the purchase, valued at the point value")

    class TierMetric(models.TextChoices):
        QUALIFYING_POINTS = "qualifying_points", _("Qualifying points earned")
        AMOUNT_SPENT = "amount_spent", _("Amount spent (base currency)")
        PURCHASES = "purchases", _("Number of purchases")
        VISITS = "visits", _("Number of visits (days with activity)")

    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.PROTECT,
        related_name="programs",
        db_index=False,
    )
    name = models.CharField(
        verbose_name=_("name"), max_length=200, help_text=_("Shown to members on their card.")
    )
    default_language = models.CharField(
        _("default language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default=default_language,
        help_text=_(
            "Members who chose no language read their card and messages in this one, and texts "
            "missing in a member's language fall back to it."
        ),
    )
    is_active = models.BooleanField(
        verbose_name=_("is active"), default=True, help_text=_("Inactive programs refuse new activity.")
    )
    base_currency = models.CharField(
        verbose_name=_("base currency"),
        max_length=3,
        default="AZN",
        validators=[CURRENCY_VALIDATOR],
        help_text=_("Currency of point values, cash-outs and limits (ISO 4217)."),
    )
    time_zone = models.CharField(
        verbose_name=_("time zone"),
        max_length=64,
        default="Asia/Baku",
        validators=[validate_time_zone],
        help_text=_("Days, weeks and months of periodic rules are counted in this zone."),
    )
    point_value = models.DecimalField(
        verbose_name=_("point value"),
        max_digits=12,
        decimal_places=6,
        default=Decimal("0.01"),
        validators=[MinValueValidator(Decimal("0.000001"))],
        help_text=_("Money value of one point in the base currency (0.01 = 100 points per 1 AZN)."),
    )
    earn_mode = models.CharField(
        verbose_name=_("earn mode"),
        max_length=16,
        choices=EarnMode.choices,
        default=EarnMode.PER_UNIT,
        help_text=_("How purchases earn: by the currency's rate, or a percent of the amount."),
    )
    earn_percent = percent_field(
        "0",
        _("In percent mode: share of the amount paid returned as points (valued at point value)."),
        verbose_name=_("earn percent"),
    )
    points_lifetime_days = models.PositiveIntegerField(
        verbose_name=_("points lifetime days"),
        default=365,
        validators=[MinValueValidator(1)],
        help_text=_("Each earned lot expires this many days after it was earned."),
    )
    pending_days = models.PositiveIntegerField(
        verbose_name=_("pending days"),
        default=0,
        help_text=_("Return window: purchase points become spendable after this many days (0 = at once)."),
    )
    expiry_warning_hours = models.PositiveIntegerField(
        verbose_name=_("expiry warning hours"),
        default=48,
        help_text=_("Members are warned this many hours before their points expire."),
    )
    renewal_window_hours = models.PositiveIntegerField(
        verbose_name=_("renewal window hours"),
        default=24,
        help_text=_("After expiry, activity within this many hours restores the points."),
    )
    inactivity_days = models.PositiveIntegerField(
        verbose_name=_("inactivity days"),
        default=30,
        validators=[MinValueValidator(1)],
        help_text=_("Days without activity after which the balance decays (and again each further period)."),
    )
    decay_percent = percent_field(
        "5",
        _("Share of the balance lost per idle period (0 turns decay off)."),
        verbose_name=_("decay percent"),
    )
    tier_metric = models.CharField(
        verbose_name=_("tier metric"),
        max_length=24,
        choices=TierMetric.choices,
        default=TierMetric.QUALIFYING_POINTS,
        help_text=_("What decides a member's tier."),
    )
    tier_window_days = models.PositiveIntegerField(
        verbose_name=_("tier window days"),
        default=365,
        help_text=_("Rolling window for the tier metric in days (0 = lifetime)."),
    )
    cashout_fee_percent = models.DecimalField(
        verbose_name=_("cashout fee percent"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("0.4"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.499"))],
        help_text=_("Fee taken when points are converted to money; kept under 0.5 %."),
    )
    cashout_daily_limit = models.DecimalField(
        verbose_name=_("cashout daily limit"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("5000"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Most a member may cash out per day, in the base currency."),
    )
    cashout_monthly_limit = models.DecimalField(
        verbose_name=_("cashout monthly limit"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("20000"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Most a member may cash out per calendar month, in the base currency."),
    )

    class DiscountCombination(models.TextChoices):
        BEST = "best", _("Best percentage applies (tier, program or spend)")
        SUM = "sum", _("Percentages add up")

    fixed_discount_percent = percent_field(
        "0",
        _("Program-wide discount on every purchase (0 = none)."),
        verbose_name=_("fixed discount percent"),
    )
    bet_discount = models.BooleanField(
        verbose_name=_("bet discount"),
        default=False,
        help_text=_(
            "Apply the tier, program and spend discounts to bets too. Off: a bet's stake is never "
            "discounted and earns on the full stake."
        ),
    )
    discount_combination = models.CharField(
        verbose_name=_("discount combination"),
        max_length=8,
        choices=DiscountCombination.choices,
        default=DiscountCombination.BEST,
        help_text=_("How the tier, program and spend discounts combine; a coupon always stacks on top."),
    )
    tier_downgrade_grace_days = models.PositiveIntegerField(
        verbose_name=_("tier downgrade grace days"),
        default=0,
        help_text=_("Days a member keeps a tier after falling below its threshold."),
    )
    tier_gifts_require_activity = models.BooleanField(
        verbose_name=_("tier gifts require activity"),
        default=True,
        help_text=_("Periodic tier gifts go only to members active in that period."),
    )
    max_points_share_percent = percent_field(
        "50",
        _("Largest share of a purchase (after discounts) that may be paid with points."),
        verbose_name=_("max points share percent"),
    )
    config_version = models.UUIDField(
        verbose_name=_("config version"),
        default=uuid.uuid4,
        editable=False,
        help_text=_(
            "Changes on every change of the program or its configuration (rates, campaigns, tiers, "
            "discounts, fraud rules): set by database triggers; keys the per-process configuration cache."
        ),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    objects = ProgramQuerySet.as_manager()

    class Meta:
        verbose_name = _("program")
        verbose_name_plural = _("programs")
        ordering = ["merchant", "name"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="program_unique_name"),
            models.CheckConstraint(
                condition=Q(cashout_fee_percent__gte=0, cashout_fee_percent__lt=Decimal("0.5")),
                name="program_cashout_fee_range",
            ),
            models.CheckConstraint(
                condition=Q(decay_percent__gte=0, decay_percent__lte=100),
                name="program_decay_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(cashout_daily_limit__lte=models.F("cashout_monthly_limit")),
                name="program_cashout_limits_order",
            ),
            models.CheckConstraint(condition=Q(point_value__gt=0), name="program_point_value_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.merchant})"

    @property
    def is_live(self) -> bool:
        """Whether the program takes requests (its API keys, its till): it and its merchant are
        active (`Program.objects.live()` filters the same)."""
        return self.is_active and self.merchant.is_active

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.cashout_daily_limit is not None and self.cashout_monthly_limit is not None:
            if self.cashout_daily_limit > self.cashout_monthly_limit:
                errors["cashout_daily_limit"] = _("The daily limit cannot exceed the monthly limit.")
        if self.earn_mode == self.EarnMode.PERCENT and not self.earn_percent:
            errors["earn_percent"] = _("Set the percent returned as points when earning by percent.")
        if errors:
            raise ValidationError(errors)

    def points_value(self, points: int) -> Decimal:
        """Money value of `points` in the base currency, rounded to cents (the one place it is)."""

        return money_round(Decimal(points) * self.point_value)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Member(models.Model):
    """An end customer enrolled in one program. `balance` is the spendable points, cached and
    changed only by the ledger's posting service."""

    MERCHANT_LOOKUP = "program__merchant"

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        BLOCKED = "blocked", _("Blocked")

    program = models.ForeignKey(
        Program, verbose_name=_("program"), on_delete=models.PROTECT, related_name="members"
    )
    external_id = models.CharField(
        verbose_name=_("external id"),
        max_length=100,
        null=True,
        blank=True,
        help_text=_("The member's id in the merchant's CRM / POS."),
    )
    phone = models.CharField(
        verbose_name=_("phone"),
        max_length=20,
        null=True,
        blank=True,
        help_text=_("E.164, e.g. +994501234567 (normalised)."),
    )
    email = models.EmailField(
        verbose_name=_("email"), null=True, blank=True, help_text=_("Stored in lower case.")
    )
    first_name = models.CharField(verbose_name=_("first name"), max_length=100, blank=True)
    last_name = models.CharField(verbose_name=_("last name"), max_length=100, blank=True)
    birth_date = models.DateField(
        verbose_name=_("birth date"), null=True, blank=True, help_text=_("For the birthday gift.")
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("The card page and every message in this language; empty: the program's default."),
    )
    card_number = models.CharField(
        verbose_name=_("card number"),
        max_length=19,
        unique=True,
        editable=False,
        help_text=_("13 digits, the last a Luhn check digit."),
    )
    card_token = models.CharField(
        verbose_name=_("card token"),
        max_length=64,
        unique=True,
        editable=False,
        help_text=_("Secret part of the card page's URL."),
    )
    referral_code = models.CharField(
        verbose_name=_("referral code"),
        max_length=16,
        unique=True,
        editable=False,
        help_text=_("Code the member shares with friends."),
    )
    referred_by = models.ForeignKey(
        "self",
        verbose_name=_("referred by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
        help_text=_("The member whose referral code was used at enrolment."),
    )
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    blocked_reason = models.CharField(verbose_name=_("blocked reason"), max_length=255, blank=True)
    tier = models.ForeignKey(
        "tiers.Tier",
        verbose_name=_("tier"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        help_text=_("Current tier, set by the tier services."),
    )
    balance = models.BigIntegerField(
        verbose_name=_("balance"), default=0, editable=False, help_text=_("Spendable points.")
    )
    pending_points = models.BigIntegerField(
        verbose_name=_("pending points"),
        default=0,
        editable=False,
        help_text=_("Points waiting for the return window to close."),
    )
    last_activity_at = models.DateTimeField(
        verbose_name=_("last activity at"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["-id"]
        constraints = [
            # the messages are what a form (the admin's) says; the services raise Duplicate
            models.UniqueConstraint(
                fields=["program", "phone"],
                condition=Q(phone__isnull=False),
                name="member_unique_phone",
                violation_error_message="A member with this phone already exists in this program.",
            ),
            models.UniqueConstraint(
                fields=["program", "email"],
                condition=Q(email__isnull=False),
                name="member_unique_email",
                violation_error_message="A member with this email already exists in this program.",
            ),
            models.UniqueConstraint(
                fields=["program", "external_id"],
                condition=Q(external_id__isnull=False),
                name="member_unique_external_id",
                violation_error_message="A member with this external id already exists in this program.",
            ),
            models.CheckConstraint(condition=Q(balance__gte=0), name="member_balance_not_negative"),
            models.CheckConstraint(condition=Q(pending_points__gte=0), name="member_pending_not_negative"),
        ]
        # The admin's name search (`UPPER(name::text) LIKE UPPER('%word%')`, admin_lists): trigram
        # indexes on exactly that expression (pg_trgm), usable with a bound parameter too.
        indexes = [
            GinIndex(
                OpClass(Upper(Cast("first_name", models.TextField())), name="gin_trgm_ops"),
                name="member_first_name_trgm",
            ),
            GinIndex(
                OpClass(Upper(Cast("last_name", models.TextField())), name="gin_trgm_ops"),
                name="member_last_name_trgm",
            ),
        ]
        # No index holds last_activity_at or a balance: every purchase writes them, and an indexed
        # column would stop PostgreSQL from updating the row in place (a HOT update), making each
        # purchase add an entry to every index of the table. The decay job walks members by id;
        # the daily inactivity reminders, the segments' recency rules and the reports read a
        # program's members through the program index and filter on last_activity_at.

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.phone or self.email or self.external_id or self.card_number

    @property
    def is_blocked(self) -> bool:
        return self.status == self.Status.BLOCKED


class ApiKey(models.Model):
    """An integration's key. Only the prefix and a SHA-256 hash of the full key are stored."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        Program, verbose_name=_("program"), on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(
        verbose_name=_("name"), max_length=100, help_text=_("What uses this key, e.g. 'POS shop 1'.")
    )
    prefix = models.CharField(verbose_name=_("prefix"), max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(verbose_name=_("hashed key"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        editable=False,
    )
    revoked_at = models.DateTimeField(verbose_name=_("revoked at"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(verbose_name=_("last used at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]
        verbose_name = _("API key")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

"""Campaigns (trigger + conditions + rewards), coupons, segments, referrals, daily tasks, partners.

A campaign is Oscar's offer shape: one trigger, any number of condition rows (all must hold) and any
number of reward rows (all are given). Every reward given is one `CampaignGrant` row, unique per
(campaign, member, period key): that row is what makes jobs idempotent, limits enforceable and ROI
measurable.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .kinds import condition_choices, condition_kinds, reward_choices, reward_kinds

BUILTIN_EVENT_TYPES = ("login", "review", "task_completed", "nps", "profile_completed")


class CouponKind(models.TextChoices):
    PERCENT = "percent", _("Percent off")
    FIXED = "fixed", _("Fixed amount off")
    POINTS = "points", _("Bonus points")


class Segment(models.Model):
    """A rule-based group of members (RFM: recency, frequency, monetary over a window; tier;
    activity). Membership is materialised by the `refresh_segments` job; all rules must hold.
    Monetary sums the amount paid (less refunds) of purchases in every currency, each converted to
    the program's base currency at the rates in force when it happened (campaigns.segments)."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        related_name="segments",
        db_index=False,
    )
    code = models.SlugField(
        verbose_name=_("code"), max_length=32, help_text=_("Stable code, e.g. 'high_value'.")
    )
    name = models.CharField(verbose_name=_("name"), max_length=100)
    description = models.TextField(verbose_name=_("description"), blank=True)
    window_days = models.PositiveIntegerField(
        verbose_name=_("window days"),
        default=90,
        validators=[MinValueValidator(1)],
        help_text=_("Frequency and monetary count this window."),
    )
    recency_days_max = models.PositiveIntegerField(
        verbose_name=_("recency days max"),
        null=True,
        blank=True,
        help_text=_("Last activity at most this many days ago (empty = any)."),
    )
    recency_days_min = models.PositiveIntegerField(
        verbose_name=_("recency days min"),
        null=True,
        blank=True,
        help_text=_("Last activity at least this many days ago (empty = any)."),
    )
    frequency_min = models.PositiveIntegerField(
        verbose_name=_("frequency min"),
        null=True,
        blank=True,
        help_text=_("At least this many purchases in the window."),
    )
    frequency_max = models.PositiveIntegerField(
        verbose_name=_("frequency max"),
        null=True,
        blank=True,
        help_text=_("At most this many purchases in the window."),
    )
    monetary_min = models.DecimalField(
        verbose_name=_("monetary min"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "Spent at least this in the window (base currency; other currencies converted at the "
            "rate in force at each purchase)."
        ),
    )
    monetary_max = models.DecimalField(
        verbose_name=_("monetary max"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Spent less than (base currency)."),
    )
    tiers = models.ManyToManyField(
        "tiers.Tier",
        verbose_name=_("tiers"),
        blank=True,
        related_name="+",
        help_text=_("Only members of these tiers (empty = any)."),
    )
    exclude_segments = models.ManyToManyField(
        "self",
        verbose_name=_("exclude segments"),
        symmetrical=False,
        blank=True,
        related_name="+",
        help_text=_(
            "Leave out the members who match these segments' rules (e.g. medium value leaves out "
            "high value), so segments need not overlap."
        ),
    )
    is_active = models.BooleanField(
        verbose_name=_("is active"), default=True, help_text=_("Inactive segments are not refreshed.")
    )
    member_count = models.PositiveIntegerField(verbose_name=_("member count"), default=0, editable=False)
    refreshed_at = models.DateTimeField(verbose_name=_("refreshed at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["program", "code"]
        constraints = [models.UniqueConstraint(fields=["program", "code"], name="segment_unique_code")]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    MERCHANT_LOOKUP = "segment__program__merchant"

    segment = models.ForeignKey(
        Segment,
        verbose_name=_("segment"),
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
    )
    member = models.ForeignKey(
        "accounts.Member", verbose_name=_("member"), on_delete=models.CASCADE, related_name="segment_rows"
    )
    since = models.DateTimeField(verbose_name=_("since"))

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        constraints = [
            models.UniqueConstraint(fields=["segment", "member"], name="segment_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.member_id} in {self.segment_id}"


class CampaignQuerySet(models.QuerySet):
    def running(self, at):
        """The campaigns running at `at` (as `Campaign.is_running`)."""
        return self.filter(
            Q(starts_at__isnull=True) | Q(starts_at__lte=at),
            Q(ends_at__isnull=True) | Q(ends_at__gt=at),
            is_active=True,
        )


class Campaign(models.Model):
    MERCHANT_LOOKUP = "program__merchant"

    class Trigger(models.TextChoices):
        PURCHASE = "purchase", _("Purchase or bet (at the till, in the quote)")
        REGISTRATION = "registration", _("Registration")
        BIRTHDAY = "birthday", _("Birthday (daily job)")
        EVENT = "event", _("Event (login, review, task, NPS, profile, custom)")
        REFERRAL = "referral", _("Referral: the referred member's first purchase")
        SCHEDULE = "schedule", _("Schedule (daily / weekly / monthly job)")
        INACTIVITY = "inactivity", _("Inactivity for N days (daily job)")
        RATE_RISE = "rate_rise", _("Currency rate rise: purchases in that currency")

    class Period(models.TextChoices):
        ONCE = "once", _("Once per member, ever")
        EACH = "each", _("Every qualifying purchase or event")
        DAY = "day", _("Once per member per day")
        WEEK = "week", _("Once per member per ISO week")
        MONTH = "month", _("Once per member per month")
        YEAR = "year", _("Once per member per year")

    class Schedule(models.TextChoices):
        DAILY = "daily", _("Daily (the day just ended)")
        WEEKLY = "weekly", _("Weekly, on Mondays (the ISO week just ended)")
        MONTHLY = "monthly", _("Monthly, on the 1st (the month just ended)")

    program = models.ForeignKey(
        "accounts.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        related_name="campaigns",
        db_index=False,
    )
    code = models.SlugField(
        verbose_name=_("code"), max_length=48, help_text=_("Stable code, e.g. 'weekly_double_bonus'.")
    )
    name = models.CharField(
        verbose_name=_("name"), max_length=120, help_text=_("Shown to members with their rewards.")
    )
    description = models.TextField(verbose_name=_("description"), blank=True)
    is_active = models.BooleanField(
        verbose_name=_("is active"),
        default=False,
        help_text=_("Run the simulation first; only active campaigns grant anything."),
    )
    trigger = models.CharField(
        verbose_name=_("trigger"),
        max_length=16,
        choices=Trigger.choices,
        help_text=_("What starts evaluation."),
    )
    event_type = models.CharField(
        verbose_name=_("event type"),
        max_length=48,
        blank=True,
        help_text=_("For the event trigger: login, review, task_completed, nps, ..."),
    )
    schedule = models.CharField(
        verbose_name=_("schedule"),
        max_length=8,
        choices=Schedule.choices,
        blank=True,
        help_text=_("For the schedule trigger."),
    )
    trigger_days = models.PositiveIntegerField(
        verbose_name=_("trigger days"),
        null=True,
        blank=True,
        help_text=_("For the inactivity trigger: days without activity."),
    )
    trigger_currency = models.CharField(
        verbose_name=_("trigger currency"),
        max_length=3,
        blank=True,
        help_text=_("For the rate-rise trigger: the currency watched, e.g. USD."),
    )
    trigger_percent = models.DecimalField(
        verbose_name=_("trigger percent"),
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "For the rate-rise trigger: minimum rise of the rate in force over the previous one (%)."
        ),
    )
    starts_at = models.DateTimeField(
        verbose_name=_("starts at"), null=True, blank=True, help_text=_("Empty = already running.")
    )
    ends_at = models.DateTimeField(
        verbose_name=_("ends at"), null=True, blank=True, help_text=_("Empty = no end.")
    )
    target_tiers = models.ManyToManyField(
        "tiers.Tier",
        verbose_name=_("target tiers"),
        blank=True,
        related_name="+",
        help_text=_("Only these tiers (empty = all members)."),
    )
    tier_exclusive = models.BooleanField(
        verbose_name=_("tier exclusive"),
        default=False,
        help_text=_(
            "Only members whose tier gives access to tier-exclusive campaigns (e.g. Gold, Platinum)."
        ),
    )
    target_segments = models.ManyToManyField(
        Segment,
        verbose_name=_("target segments"),
        blank=True,
        related_name="campaigns",
        help_text=_("Only these segments (empty = all)."),
    )
    period = models.CharField(
        verbose_name=_("period"),
        max_length=8,
        choices=Period.choices,
        default=Period.ONCE,
        help_text=_(
            "How often one member can be rewarded: the grant is unique per campaign, member, period."
        ),
    )
    max_per_member = models.PositiveIntegerField(
        verbose_name=_("max per member"),
        default=0,
        help_text=_("Most grants per member over the campaign's life (0 = no limit)."),
    )
    points_budget = models.BigIntegerField(
        verbose_name=_("points budget"),
        default=0,
        validators=[MinValueValidator(0)],
        help_text=_("Total points it may give (0 = no limit)."),
    )
    points_granted = models.BigIntegerField(verbose_name=_("points granted"), default=0, editable=False)
    priority = models.IntegerField(
        verbose_name=_("priority"),
        default=100,
        help_text=_("Lower runs first; an exclusive campaign that grants stops the later ones."),
    )
    exclusive = models.BooleanField(
        verbose_name=_("exclusive"),
        default=False,
        help_text=_("When it grants, no lower-priority campaign of the same trigger runs."),
    )
    holdout_percent = models.PositiveSmallIntegerField(
        verbose_name=_("holdout percent"),
        default=0,
        validators=[MaxValueValidator(90)],
        help_text=_("Share of targeted members kept as a control group that gets nothing (for ROI)."),
    )
    attribution_days = models.PositiveIntegerField(
        verbose_name=_("attribution days"),
        default=30,
        help_text=_("ROI counts rewarded members' purchases this many days after the grant."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["program", "priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="campaign_unique_code"),
            models.CheckConstraint(condition=Q(points_granted__gte=0), name="campaign_granted_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.trigger == self.Trigger.EVENT and not self.event_type:
            errors["event_type"] = _("Name the event type this campaign listens to.")
        elif (
            self.trigger == self.Trigger.EVENT
            and self.event_type not in BUILTIN_EVENT_TYPES
            and self.program_id
            and not CustomEventType.objects.filter(program_id=self.program_id, code=self.event_type).exists()
        ):
            errors["event_type"] = _("Use one of %(types)s or define the custom type first.") % {
                "types": ", ".join(BUILTIN_EVENT_TYPES)
            }
        if self.trigger == self.Trigger.SCHEDULE and not self.schedule:
            errors["schedule"] = _("Choose daily, weekly or monthly.")
        if self.trigger == self.Trigger.INACTIVITY and not self.trigger_days:
            errors["trigger_days"] = _("Give the number of idle days.")
        if self.trigger == self.Trigger.RATE_RISE and not (self.trigger_currency and self.trigger_percent):
            errors["trigger_currency"] = _("Give the currency and the minimum rise in percent.")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("The end must come after the start.")
        if errors:
            raise ValidationError(errors)

    # "Running at `at`": active, and `at` inside [starts_at, ends_at) (an empty end never comes).
    # The one home of the rule: in Python here, in SQL `CampaignQuerySet.running`.

    def in_window(self, at) -> bool:
        return (self.starts_at is None or self.starts_at <= at) and (
            self.ends_at is None or at < self.ends_at
        )

    def is_running(self, at) -> bool:
        return self.is_active and self.in_window(at)


class CampaignCondition(models.Model):
    """One rule of a campaign; all of a campaign's conditions must hold."""

    MERCHANT_LOOKUP = "campaign__program__merchant"

    class Kind(StrEnum):
        """The codes of the built-in kinds; each kind's label, fields and behaviour are its class in
        campaigns.kinds.conditions (a new kind is a new class there, not a new name here)."""

        MIN_AMOUNT = "min_amount"
        NTH_PURCHASE = "nth_purchase"
        PURCHASES_IN_WINDOW = "purchases_in_window"
        SPENT_IN_WINDOW = "spent_in_window"
        TIER_IN = "tier_in"
        SEGMENT_IN = "segment_in"
        CONSECUTIVE_LOGINS = "consecutive_logins"
        WEEKDAY_IN = "weekday_in"
        HOUR_BETWEEN = "hour_between"
        FIRST_ORDER = "first_order"
        CURRENCY_IN = "currency_in"
        EVENT_DATA = "event_data"
        MIN_SCORE = "min_score"

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="conditions"
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=24, choices=condition_choices)
    count = models.PositiveIntegerField(
        verbose_name=_("count"),
        null=True,
        blank=True,
        help_text=_("N for Nth purchase, purchases, consecutive days or score."),
    )
    amount = models.DecimalField(
        verbose_name=_("amount"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Money threshold."),
    )
    days = models.PositiveIntegerField(
        verbose_name=_("days"),
        null=True,
        blank=True,
        help_text=_(
            "Window in days for the in-window rules (0 or empty = the campaign's period, e.g. week)."
        ),
    )
    value = models.CharField(
        verbose_name=_("value"), max_length=200, blank=True, help_text=_("Codes, days, hours or key=value.")
    )

    class Meta:
        verbose_name = _("campaign condition")
        verbose_name_plural = _("campaign conditions")
        ordering = ["campaign", "id"]

    def __str__(self) -> str:
        return self.get_kind_display()

    def clean(self) -> None:
        kind = condition_kinds.get(self.kind)  # an unknown kind is refused by the field's choices
        errors = kind.validate(self) if kind is not None else {}
        if errors:
            raise ValidationError(errors)


class CampaignReward(models.Model):
    """One reward of a campaign; all of a campaign's rewards are given together."""

    MERCHANT_LOOKUP = "campaign__program__merchant"

    class Kind(StrEnum):
        """The codes of the built-in kinds; each kind's label, fields and behaviour are its class in
        campaigns.kinds.rewards."""

        POINTS = "points"
        MULTIPLIER = "multiplier"
        PERCENT_POINTS = "percent_points"
        COUPON = "coupon"
        EXTEND_EXPIRY = "extend_expiry"
        NOTIFICATION = "notification"

    class Recipient(models.TextChoices):
        MEMBER = "member", _("The member")
        REFERRER = "referrer", _("The member who referred them")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="rewards"
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=reward_choices)
    recipient = models.CharField(
        verbose_name=_("recipient"),
        max_length=8,
        choices=Recipient.choices,
        default=Recipient.MEMBER,
        help_text=_("Referral: both sides."),
    )
    points = models.BigIntegerField(
        verbose_name=_("points"), default=0, validators=[MinValueValidator(0)], help_text=_("Fixed points.")
    )
    value = models.DecimalField(
        verbose_name=_("value"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Multiplier factor, percent, or the coupon's percent / amount."),
    )
    coupon_kind = models.CharField(
        verbose_name=_("coupon kind"),
        max_length=8,
        blank=True,
        choices=CouponKind.choices,
        default="",
        help_text=_("For a coupon reward."),
    )
    coupon_min_purchase = models.DecimalField(
        verbose_name=_("coupon min purchase"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_("Coupon's minimum purchase."),
    )
    days = models.PositiveIntegerField(
        verbose_name=_("days"),
        default=0,
        help_text=_("Coupon validity or expiry extension in days (0 = coupon never expires)."),
    )
    notify_event = models.CharField(
        verbose_name=_("notify event"),
        max_length=32,
        blank=True,
        help_text=_(
            "Event to emit for the notification (member.inactive, member.winback, member.birthday); "
            "empty = reward.granted."
        ),
    )
    message = models.CharField(
        verbose_name=_("message"), max_length=255, blank=True, help_text=_("Text of the notification.")
    )

    class Meta:
        verbose_name = _("campaign reward")
        verbose_name_plural = _("campaign rewards")
        ordering = ["campaign", "id"]

    def __str__(self) -> str:
        return self.get_kind_display()

    def clean(self) -> None:
        kind = reward_kinds.get(self.kind)  # an unknown kind is refused by the field's choices
        errors = kind.validate(self) if kind is not None else {}
        if errors:
            raise ValidationError(errors)


class CampaignGrant(models.Model):
    """One reward given: unique per (campaign, member, period key). `cost` is the money it cost the
    merchant in the base currency (points × point value; a coupon's cost is counted when used)."""

    MERCHANT_LOOKUP = "campaign__program__merchant"

    # campaign and member are indexed by grant_unique_period and grant_member_idx (a lone campaign
    # index misled the planner on a campaign's grants to one member when statistics were stale)
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="grants", db_index=False
    )
    member = models.ForeignKey(
        "accounts.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="campaign_grants",
        db_index=False,
    )
    period_key = models.CharField(verbose_name=_("period key"), max_length=64)
    points = models.BigIntegerField(verbose_name=_("points"), default=0)
    cost = models.DecimalField(verbose_name=_("cost"), max_digits=14, decimal_places=2, default=Decimal("0"))
    coupon = models.ForeignKey(
        "campaigns.Coupon",
        verbose_name=_("coupon"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    purchase_ref = models.CharField(
        verbose_name=_("purchase ref"),
        max_length=100,
        blank=True,
        help_text=_("Purchase external id, if any."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("campaign grant")
        verbose_name_plural = _("campaign grants")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "member", "period_key"], name="grant_unique_period")
        ]
        indexes = [
            models.Index(fields=["member", "created_at"], name="grant_member_idx"),
            # the purchase answer lists the grants a purchase triggered (either side of a referral)
            models.Index(
                fields=["purchase_ref"], condition=~Q(purchase_ref=""), name="grant_purchase_ref_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} → {self.member_id} ({self.period_key})"


class CustomEventType(models.Model):
    """A merchant-defined event type integrations may send to POST /events/."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        related_name="event_types",
        db_index=False,
    )
    code = models.SlugField(
        verbose_name=_("code"), max_length=48, help_text=_("Type name sent by the integration.")
    )
    name = models.CharField(verbose_name=_("name"), max_length=100)

    class Meta:
        verbose_name = _("custom event type")
        verbose_name_plural = _("custom event types")
        constraints = [models.UniqueConstraint(fields=["program", "code"], name="event_type_unique_code")]

    def __str__(self) -> str:
        return self.code


class ActivityEvent(models.Model):
    """A member's recorded event (login, review, task_completed, nps, ...)."""

    MERCHANT_LOOKUP = "member__program__merchant"

    member = models.ForeignKey(
        "accounts.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="activity_events",
        db_index=False,
    )
    type = models.CharField(verbose_name=_("type"), max_length=48)
    occurred_at = models.DateTimeField(verbose_name=_("occurred at"))
    data = models.JSONField(verbose_name=_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("activity event")
        verbose_name_plural = _("activity events")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["member", "type", "occurred_at"], name="activity_member_type_idx")]

    def __str__(self) -> str:
        return f"{self.type} at {self.occurred_at:%Y-%m-%d %H:%M}"


class DailyTask(models.Model):
    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        related_name="daily_tasks",
        db_index=False,
    )
    code = models.SlugField(
        verbose_name=_("code"), max_length=48, help_text=_("Sent as data.task with a task_completed event.")
    )
    name = models.CharField(verbose_name=_("name"), max_length=100)
    description = models.TextField(verbose_name=_("description"), blank=True)
    is_active = models.BooleanField(verbose_name=_("is active"), default=True)

    class Meta:
        verbose_name = _("daily task")
        verbose_name_plural = _("daily tasks")
        ordering = ["program", "code"]
        constraints = [models.UniqueConstraint(fields=["program", "code"], name="daily_task_unique_code")]

    def __str__(self) -> str:
        return self.name


class Referral(models.Model):
    """Who referred whom; one row per referred member. Rewards are CampaignGrant rows."""

    MERCHANT_LOOKUP = "referrer__program__merchant"

    referrer = models.ForeignKey(
        "accounts.Member", verbose_name=_("referrer"), on_delete=models.CASCADE, related_name="referrals_made"
    )
    referred = models.OneToOneField(
        "accounts.Member",
        verbose_name=_("referred"),
        on_delete=models.CASCADE,
        related_name="referral_received",
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))
    rewarded_at = models.DateTimeField(verbose_name=_("rewarded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        constraints = [
            models.CheckConstraint(condition=~Q(referrer=models.F("referred")), name="referral_not_self")
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referred_id}"


class Partner(models.Model):
    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        related_name="partners",
        db_index=False,
    )
    code = models.SlugField(
        verbose_name=_("code"), max_length=48, help_text=_("Sent by integrations as 'partner'.")
    )
    name = models.CharField(verbose_name=_("name"), max_length=100)
    rate = models.DecimalField(
        verbose_name=_("rate"),
        max_digits=12,
        decimal_places=6,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.000001"))],
        help_text=_("Our points per one partner point."),
    )
    bonus_percent = models.DecimalField(
        verbose_name=_("bonus percent"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("10"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Extra share credited on top of imported points."),
    )
    is_active = models.BooleanField(verbose_name=_("is active"), default=True)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["program", "code"]
        constraints = [models.UniqueConstraint(fields=["program", "code"], name="partner_unique_code")]

    def __str__(self) -> str:
        return self.name


class PartnerTransfer(models.Model):
    MERCHANT_LOOKUP = "partner__program__merchant"

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="transfers", db_index=False
    )
    member = models.ForeignKey(
        "accounts.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="partner_transfers",
    )
    external_id = models.CharField(verbose_name=_("external id"), max_length=100)
    partner_points = models.BigIntegerField(verbose_name=_("partner points"))
    points_credited = models.BigIntegerField(verbose_name=_("points credited"))
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("partner transfer")
        verbose_name_plural = _("partner transfers")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "external_id"], name="partner_transfer_unique")
        ]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.points_credited} points"


# --- coupons ----------------------------------------------------------------------------------


class CouponBatch(models.Model):
    """A batch of one-time promo codes generated together (admin action), exportable as CSV."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="coupon_batches"
    )
    name = models.CharField(verbose_name=_("name"), max_length=100)
    prefix = models.CharField(
        verbose_name=_("prefix"),
        max_length=8,
        blank=True,
        help_text=_("Optional prefix of every code, e.g. 'SUM'."),
    )
    size = models.PositiveIntegerField(
        verbose_name=_("size"), validators=[MinValueValidator(1), MaxValueValidator(100000)]
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=8, choices=CouponKind.choices)
    value = models.DecimalField(verbose_name=_("value"), max_digits=12, decimal_places=2)
    currency = models.CharField(verbose_name=_("currency"), max_length=3, blank=True)
    min_purchase = models.DecimalField(
        verbose_name=_("min purchase"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    starts_at = models.DateTimeField(verbose_name=_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(verbose_name=_("ends at"), null=True, blank=True)
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("coupon batch")
        ordering = ["-created_at"]
        verbose_name_plural = _("coupon batches")

    def __str__(self) -> str:
        return self.name


class Coupon(models.Model):
    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program", verbose_name=_("program"), on_delete=models.CASCADE, related_name="coupons"
    )
    code = models.CharField(
        verbose_name=_("code"), max_length=32, help_text=_("Upper case; unique in the program.")
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=8, choices=CouponKind.choices)
    value = models.DecimalField(
        verbose_name=_("value"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("Percent off, amount off, or bonus points."),
    )
    currency = models.CharField(
        verbose_name=_("currency"),
        max_length=3,
        blank=True,
        help_text=_("Fixed: the amount's currency (required). Others: only this currency (empty = any)."),
    )
    min_purchase = models.DecimalField(
        verbose_name=_("min purchase"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Smallest purchase amount (in the purchase's currency) it applies to."),
    )
    starts_at = models.DateTimeField(
        verbose_name=_("starts at"), null=True, blank=True, help_text=_("Empty = valid at once.")
    )
    ends_at = models.DateTimeField(
        verbose_name=_("ends at"), null=True, blank=True, help_text=_("Empty = never expires.")
    )
    max_uses = models.PositiveIntegerField(
        verbose_name=_("max uses"),
        null=True,
        blank=True,
        help_text=_("Total uses (1 = one-time code; empty = unlimited)."),
    )
    max_uses_per_member = models.PositiveIntegerField(
        verbose_name=_("max uses per member"),
        null=True,
        blank=True,
        default=1,
        help_text=_("Uses per member (empty = unlimited)."),
    )
    member = models.ForeignKey(
        "accounts.Member",
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="coupons",
        help_text=_("Bound to this member only (empty = open to all)."),
    )
    first_order_only = models.BooleanField(
        verbose_name=_("first order only"), default=False, help_text=_("Only on a member's first purchase.")
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="coupons",
    )
    batch = models.ForeignKey(
        CouponBatch,
        verbose_name=_("batch"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="coupons",
        editable=False,
    )
    is_active = models.BooleanField(
        verbose_name=_("is active"), default=True, help_text=_("Untick to deactivate the code.")
    )
    uses_count = models.PositiveIntegerField(verbose_name=_("uses count"), default=0, editable=False)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(Upper("code"), "program", name="coupon_unique_code"),
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(uses_count__lte=models.F("max_uses")),
                name="coupon_uses_within_max",
            ),
            models.CheckConstraint(
                condition=~Q(kind="percent") | Q(value__lte=100), name="coupon_percent_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        if self.kind == CouponKind.FIXED and not self.currency:
            raise ValidationError({"currency": _("A fixed-amount coupon needs the currency of its amount.")})
        if self.kind == CouponKind.POINTS and self.value != int(self.value):
            raise ValidationError({"value": _("Bonus points are whole points.")})
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("The end must come after the start.")})


class CouponRedemption(models.Model):
    """One use of a coupon (at a purchase's commit)."""

    MERCHANT_LOOKUP = "coupon__program__merchant"

    coupon = models.ForeignKey(
        Coupon, verbose_name=_("coupon"), on_delete=models.PROTECT, related_name="redemptions", db_index=False
    )
    member = models.ForeignKey(
        "accounts.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="coupon_redemptions",
    )
    reference = models.CharField(
        verbose_name=_("reference"), max_length=120, help_text=_("The purchase this use belongs to.")
    )
    amount = models.DecimalField(verbose_name=_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(verbose_name=_("currency"), max_length=3)
    discount = models.DecimalField(
        verbose_name=_("discount"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    bonus_points = models.BigIntegerField(verbose_name=_("bonus points"), default=0)
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("coupon redemption")
        verbose_name_plural = _("coupon redemptions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["coupon", "reference"], name="coupon_redemption_unique_ref")
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} for {self.reference}"

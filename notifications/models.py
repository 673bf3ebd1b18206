"""Events, notification templates, the outbox (notifications and webhook deliveries), webhook
subscriptions and the per-program channel settings."""

from __future__ import annotations

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty_site.core.events import EVENT_TYPES

EVENT_TYPE_CHOICES = [(t, t) for t in EVENT_TYPES]


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    CHAT = "chat", _("Chat bot (Telegram-style)")
    PUSH = "push", _("Push / wallet")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed (gave up)")


class Event(models.Model):
    """Something that happened in a program, stored once. `key` makes it unique per program: a
    second emit with the same key is ignored (one points-at-risk warning per lot)."""

    MERCHANT_LOOKUP = "program__merchant"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("UID"))
    program = models.ForeignKey(
        "accounts.Program",
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        verbose_name=_("program"),
    )
    member = models.ForeignKey(
        "accounts.Member",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("member"),
    )
    # read by program and type (event_program_type_at); no index of its own: only the superuser's
    # admin list, across all programs, filters by type alone
    type = models.CharField(max_length=32, choices=EVENT_TYPE_CHOICES, verbose_name=_("type"))
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder, verbose_name=_("data"))
    at = models.DateTimeField(help_text=_("When it happened."), verbose_name=_("at"))
    key = models.CharField(max_length=200, null=True, blank=True, verbose_name=_("key"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "key"], condition=Q(key__isnull=False), name="event_unique_key"
            )
        ]
        indexes = [
            models.Index(fields=["program", "type", "at"], name="event_program_type_at"),
            # the event log (reports), newest first over a range: a walk of this index, not a sort
            # of every event of the range
            models.Index(fields=["program", "at", "id"], name="event_program_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"

    @property
    def public_id(self) -> str:
        """The id webhooks carry (body `id` and `Webhook-Id`), stable across retries."""
        return f"evt_{self.uid.hex}"


class ChannelSettings(models.Model):
    """How a program reaches its members: sender address, chat bot endpoint. A program without a
    row uses the defaults (email on, chat bot off)."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.OneToOneField(
        "accounts.Program",
        on_delete=models.CASCADE,
        related_name="channel_settings",
        verbose_name=_("program"),
    )
    email_enabled = models.BooleanField(
        default=True, help_text=_("Send email notifications."), verbose_name=_("email enabled")
    )
    email_from = models.EmailField(
        blank=True,
        help_text=_("Sender address; empty uses the platform's DEFAULT_FROM_EMAIL."),
        verbose_name=_("sender address"),
    )
    chat_enabled = models.BooleanField(
        default=False, help_text=_("Send chat bot notifications."), verbose_name=_("chat enabled")
    )
    chat_base_url = models.URLField(
        blank=True,
        default="https://api.telegram.org",
        help_text=_("Bot API base URL; messages are POSTed to <base>/bot<token>/sendMessage."),
        verbose_name=_("chat base URL"),
    )
    chat_bot_token = models.CharField(
        max_length=200, blank=True, help_text=_("The bot's token."), verbose_name=_("chat bot token")
    )

    class Meta:
        verbose_name = _("channel settings")
        verbose_name_plural = _("channel settings")

    def __str__(self) -> str:
        return gettext("Channels of %(program)s") % {"program": self.program}


class MemberContact(models.Model):
    """A member's address on a channel other than email (chat id, push token)."""

    MERCHANT_LOOKUP = "member__program__merchant"

    member = models.ForeignKey(
        "accounts.Member",
        on_delete=models.CASCADE,
        related_name="contacts",
        db_index=False,
        verbose_name=_("member"),
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, verbose_name=_("channel"))
    address = models.CharField(
        max_length=255,
        help_text=_("Chat id for the chat bot, device token for push."),
        verbose_name=_("address"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("member contact")
        verbose_name_plural = _("member contacts")
        constraints = [
            models.UniqueConstraint(fields=["member", "channel"], name="member_contact_unique_channel")
        ]

    def __str__(self) -> str:
        return f"{self.member} {self.channel}: {self.address}"


class NotificationTemplate(models.Model):
    """The message sent on `channel` when an event of `event_type` happens to a member."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program",
        on_delete=models.CASCADE,
        related_name="notification_templates",
        db_index=False,
        verbose_name=_("program"),
    )
    event_type = models.CharField(
        max_length=32,
        choices=EVENT_TYPE_CHOICES,
        help_text=_("The event that sends this message."),
        verbose_name=_("event type"),
    )
    channel = models.CharField(
        max_length=16, choices=Channel.choices, help_text=_("Where it is sent."), verbose_name=_("channel")
    )
    subject = models.CharField(
        max_length=200,
        blank=True,
        help_text=_("Email subject (Django template syntax); ignored by chat and push."),
        verbose_name=_("subject"),
    )
    body = models.TextField(
        help_text=_("Django template syntax. Context: member, program, event, data (the event's data)."),
        verbose_name=_("body"),
    )
    is_active = models.BooleanField(
        default=True, help_text=_("Untick to stop sending without deleting."), verbose_name=_("active")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("notification template")
        verbose_name_plural = _("notification templates")
        ordering = ["program", "event_type", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "event_type", "channel"], name="notification_template_unique"
            )
        ]

    def __str__(self) -> str:
        return gettext("%(event)s by %(channel)s") % {
            "event": self.event_type,
            "channel": self.get_channel_display(),
        }


class OutboxRow(models.Model):
    status = models.CharField(
        max_length=16,
        choices=OutboxStatus.choices,
        default=OutboxStatus.PENDING,
        db_index=True,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When the next attempt is due."),
        verbose_name=_("next attempt at"),
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last attempt at"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    # The sender holding the row (delivery.py): its token, and when its lease ends.
    claim_token = models.UUIDField(null=True, blank=True, editable=False, verbose_name=_("claim token"))
    claimed_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("A sender holds the row until then (an attempt in progress)."),
        verbose_name=_("claimed until"),
    )

    class Meta:
        abstract = True


class Notification(OutboxRow):
    """One message to one member on one channel, rendered when its event was stored."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program", on_delete=models.CASCADE, related_name="+", verbose_name=_("program")
    )
    member = models.ForeignKey(
        "accounts.Member", on_delete=models.CASCADE, related_name="notifications", verbose_name=_("member")
    )
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="notifications", db_index=False, verbose_name=_("event")
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, verbose_name=_("channel"))
    recipient = models.CharField(max_length=255, verbose_name=_("recipient"))
    subject = models.CharField(max_length=255, blank=True, verbose_name=_("subject"))
    body = models.TextField(verbose_name=_("body"))

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "channel"], name="notification_unique_event_channel")
        ]
        indexes = [
            # the claim's order (next_attempt_at, id) read straight off the index: with the id
            # left out, a backlog queued at one moment was sorted whole for every row claimed
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="pending"),
                name="notification_due_order",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient} ({self.status})"


class WebhookSubscription(models.Model):
    """An integrator's endpoint: events of the listed types are POSTed to `url`, signed with
    `secret` (Standard Webhooks). After a rotation the previous secret also signs until
    `previous_secret_expires_at`."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program",
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
        verbose_name=_("program"),
    )
    url = models.URLField(
        max_length=500, help_text=_("The endpoint that receives the POSTs."), verbose_name=_("URL")
    )
    events = models.JSONField(
        default=list,
        blank=True,
        help_text='Event types to send, e.g. ["points.earned", "tier.changed"]; empty = all types.',
        verbose_name=_("events"),
    )
    secret = models.CharField(max_length=100, editable=False, verbose_name=_("secret"))
    previous_secret = models.CharField(
        max_length=100, blank=True, editable=False, verbose_name=_("previous secret")
    )
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("previous secret expires at")
    )
    is_active = models.BooleanField(
        default=True, help_text=_("Untick to pause deliveries."), verbose_name=_("active")
    )
    description = models.CharField(
        max_length=200, blank=True, help_text=_("What this endpoint is."), verbose_name=_("description")
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class WebhookDelivery(OutboxRow):
    """One event to one subscription: the delivery log (status, attempts, last response)."""

    MERCHANT_LOOKUP = "subscription__program__merchant"

    subscription = models.ForeignKey(
        WebhookSubscription,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
        verbose_name=_("subscription"),
    )
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event")
    )
    last_status_code = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("last status code"))
    last_response = models.TextField(
        blank=True,
        help_text=_("The start of the last answer (at most 200 characters, control characters removed)."),
        verbose_name=_("last response"),
    )

    class Meta:
        verbose_name = _("webhook delivery")
        ordering = ["-id"]
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event"], name="webhook_delivery_unique")
        ]
        indexes = [
            # the claim's order (next_attempt_at, id) read straight off the index: with the id
            # left out, a backlog queued at one moment was sorted whole for every row claimed
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="pending"),
                name="webhook_delivery_due_order",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.subscription} ({self.status})"

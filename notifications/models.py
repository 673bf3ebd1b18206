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

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    program = models.ForeignKey(
        "accounts.Program", on_delete=models.CASCADE, related_name="events", db_index=False
    )
    member = models.ForeignKey(
        "accounts.Member", null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    # read by program and type (event_program_type_at); no index of its own: only the superuser's
    # admin list, across all programs, filters by type alone
    type = models.CharField(max_length=32, choices=EVENT_TYPE_CHOICES)
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    at = models.DateTimeField(help_text=_("When it happened."))
    key = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "key"], condition=Q(key__isnull=False), name="event_unique_key"
            )
        ]
        indexes = [models.Index(fields=["program", "type", "at"], name="event_program_type_at")]

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
        "accounts.Program", on_delete=models.CASCADE, related_name="channel_settings"
    )
    email_enabled = models.BooleanField(default=True, help_text=_("Send email notifications."))
    email_from = models.EmailField(
        blank=True, help_text=_("Sender address; empty uses the platform's DEFAULT_FROM_EMAIL.")
    )
    chat_enabled = models.BooleanField(default=False, help_text=_("Send chat bot notifications."))
    chat_base_url = models.URLField(
        blank=True,
        default="https://api.telegram.org",
        help_text=_("Bot API base URL; messages are POSTed to <base>/bot<token>/sendMessage."),
    )
    chat_bot_token = models.CharField(max_length=200, blank=True, help_text=_("The bot's token."))

    class Meta:
        verbose_name = _("channel settings")
        verbose_name_plural = _("channel settings")

    def __str__(self) -> str:
        return gettext("Channels of %(program)s") % {"program": self.program}


class MemberContact(models.Model):
    """A member's address on a channel other than email (chat id, push token)."""

    MERCHANT_LOOKUP = "member__program__merchant"

    member = models.ForeignKey(
        "accounts.Member", on_delete=models.CASCADE, related_name="contacts", db_index=False
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    address = models.CharField(
        max_length=255, help_text=_("Chat id for the chat bot, device token for push.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "channel"], name="member_contact_unique_channel")
        ]

    def __str__(self) -> str:
        return f"{self.member} {self.channel}: {self.address}"


class NotificationTemplate(models.Model):
    """The message sent on `channel` when an event of `event_type` happens to a member."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey(
        "accounts.Program", on_delete=models.CASCADE, related_name="notification_templates", db_index=False
    )
    event_type = models.CharField(
        max_length=32, choices=EVENT_TYPE_CHOICES, help_text=_("The event that sends this message.")
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, help_text=_("Where it is sent."))
    subject = models.CharField(
        max_length=200,
        blank=True,
        help_text=_("Email subject (Django template syntax); ignored by chat and push."),
    )
    body = models.TextField(
        help_text=_("Django template syntax. Context: member, program, event, data (the event's data).")
    )
    is_active = models.BooleanField(default=True, help_text=_("Untick to stop sending without deleting."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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
        max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the next attempt is due.")
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    # The sender holding the row (delivery.py): its token, and when its lease ends.
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text=_("A sender holds the row until then (an attempt in progress).")
    )

    class Meta:
        abstract = True


class Notification(OutboxRow):
    """One message to one member on one channel, rendered when its event was stored."""

    MERCHANT_LOOKUP = "program__merchant"

    program = models.ForeignKey("accounts.Program", on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey("accounts.Member", on_delete=models.CASCADE, related_name="notifications")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="notifications", db_index=False)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    recipient = models.CharField(max_length=255)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "channel"], name="notification_unique_event_channel")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="notification_due",
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
        "accounts.Program", on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=500, help_text=_("The endpoint that receives the POSTs."))
    events = models.JSONField(
        default=list,
        blank=True,
        help_text='Event types to send, e.g. ["points.earned", "tier.changed"]; empty = all types.',
    )
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True, help_text=_("Untick to pause deliveries."))
    description = models.CharField(max_length=200, blank=True, help_text=_("What this endpoint is."))
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class WebhookDelivery(OutboxRow):
    """One event to one subscription: the delivery log (status, attempts, last response)."""

    MERCHANT_LOOKUP = "subscription__program__merchant"

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_response = models.TextField(
        blank=True,
        help_text=_("The start of the last answer (at most 200 characters, control characters removed)."),
    )

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event"], name="webhook_delivery_unique")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.subscription} ({self.status})"

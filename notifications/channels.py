"""Delivery channels for member notifications.

A channel turns one rendered `Notification` into a message on the wire. To add one (push, Apple /
Google Wallet pass updates, SMS), subclass `BaseChannel`, give it a `code` from
`models.Channel` (add a choice there), implement `recipient` and `send`, and call
`register_channel(MyChannel())` in an AppConfig.ready():

    class PushChannel(BaseChannel):
        code = "push"

        def recipient(self, *, member, settings):
            contact = member.contacts.filter(channel="push").first()
            return contact.address if contact else None   # the device / pass token

        # optional: recipients(self, *, members, settings) -> {member id: address} in one query

        def send(self, *, notification, settings):
            answer = outgoing.post(PUSH_URL, json={...})   # never requests.post: see outgoing.py
            if not answer.ok:
                raise ChannelError(f"push answered {answer.status}")

`send` must raise `ChannelError` (or any exception) on failure; the outbox then retries it with
backoff. It must not touch the database: it runs outside any transaction.
Webhook subscriptions are not a member channel: they are delivered by `services.webhook_*`.
"""

from __future__ import annotations

from django.conf import settings as django_settings
from django.core.mail import EmailMessage

from . import outgoing
from .models import Channel, ChannelSettings, MemberContact, Notification


class ChannelError(Exception):
    pass


class BaseChannel:
    code: str = ""

    def enabled(self, *, settings: ChannelSettings) -> bool:
        return True

    def recipient(self, *, member, settings: ChannelSettings) -> str | None:
        """The member's address on this channel, or None (then nothing is queued)."""
        raise NotImplementedError

    def recipients(self, *, members: list, settings: ChannelSettings) -> dict[int, str]:
        """{member id: address} for many members; override to read them in one query."""
        found = {}
        for member in members:
            address = self.recipient(member=member, settings=settings)
            if address:
                found[member.pk] = address
        return found

    def send(self, *, notification: Notification, settings: ChannelSettings) -> None:
        raise NotImplementedError


class EmailChannel(BaseChannel):
    """Django's email backend, configured by EMAIL_URL."""

    code = Channel.EMAIL

    def enabled(self, *, settings):
        return settings.email_enabled

    def recipient(self, *, member, settings):
        return member.email or None

    def send(self, *, notification, settings):
        message = EmailMessage(
            subject=notification.subject or notification.event.get_type_display(),
            body=notification.body,
            from_email=settings.email_from or django_settings.DEFAULT_FROM_EMAIL,
            to=[notification.recipient],
        )
        if message.send() != 1:
            raise ChannelError("The email backend did not send the message.")


class ChatBotChannel(BaseChannel):
    """A Telegram-style bot API: POST <base>/bot<token>/sendMessage {"chat_id", "text"}."""

    code = Channel.CHAT

    def enabled(self, *, settings):
        return settings.chat_enabled and bool(settings.chat_base_url and settings.chat_bot_token)

    def recipient(self, *, member, settings):
        contact = member.contacts.filter(channel=Channel.CHAT).first()
        return contact.address if contact else None

    def recipients(self, *, members, settings):
        return dict(
            MemberContact.objects.filter(
                member__in=[m.pk for m in members], channel=Channel.CHAT
            ).values_list("member_id", "address")
        )

    def send(self, *, notification, settings):
        url = f"{settings.chat_base_url.rstrip('/')}/bot{settings.chat_bot_token}/sendMessage"
        try:
            answer = outgoing.post(url, json={"chat_id": notification.recipient, "text": notification.body})
        except outgoing.UnsafeURL as error:
            raise ChannelError(f"chat bot URL refused: {error}")
        except outgoing.OutgoingError as error:
            # the URL carries the bot's token: say what failed, not where
            raise ChannelError(f"chat bot unreachable: {str(error).replace(settings.chat_bot_token, '***')}")
        if not answer.ok:
            raise ChannelError(f"chat bot answered {answer.status}: {answer.excerpt}")


_CHANNELS: dict[str, BaseChannel] = {}


def register_channel(channel: BaseChannel) -> None:
    _CHANNELS[channel.code] = channel


def channel_get(code: str) -> BaseChannel | None:
    return _CHANNELS.get(code)


def channels_all() -> dict[str, BaseChannel]:
    return dict(_CHANNELS)


register_channel(EmailChannel())
register_channel(ChatBotChannel())

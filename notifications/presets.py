"""Seed preset (order 50): an email and a chat template for each member-facing event of
PRODUCT.md §2.8, and the channel settings row (email on, chat bot off until a token is set)."""

from __future__ import annotations

from loyalty_site.core.presets import preset_step

from .models import Channel, ChannelSettings, NotificationTemplate

GREETING = "Hello {{ member.first_name|default:'there' }},"

#: event type -> (email subject, body shared by email and chat)
SEED_TEMPLATES = {
    "points.expiring": (
        "{{ data.points }} points expire soon",
        GREETING + " {{ data.points }} of your {{ program.name }} points expire"
        "{% if data.lot_count > 1 %}, the first of them{% endif %} on {{ data.expires_at|slice:':10' }}."
        " Use them or shop with us to keep them.",
    ),
    "points.expired": (
        "{{ data.points }} points expired",
        GREETING + " {{ data.points }} points expired. Any purchase in the next"
        " {{ program.renewal_window_hours }} hours restores them. Balance: {{ data.balance }}.",
    ),
    "points.decayed": (
        "Your points balance went down",
        GREETING + " after a period without activity your balance went down by {{ data.points }}"
        " points to {{ data.balance }}. Any activity stops this.",
    ),
    "tier.changed": (
        "You are now {{ data.to_name }}",
        GREETING + " your {{ program.name }} level changed"
        "{% if data.from_name %} from {{ data.from_name }}{% endif %} to {{ data.to_name }}.",
    ),
    "reward.granted": (
        "A reward for you",
        GREETING + " you received {% if data.points %}{{ data.points }} points{% else %}a reward{% endif %}"
        "{% if data.campaign_name %}: {{ data.campaign_name }}{% endif %}.",
    ),
    "coupon.issued": (
        "Your coupon {{ data.code }}",
        GREETING + " here is your coupon {{ data.code }}"
        "{% if data.kind == 'percent' %}: {{ data.value|floatformat }}% off{% elif data.kind == 'fixed' %}:"
        " {{ data.value }} off{% endif %}"
        "{% if data.valid_until %}, valid until {{ data.valid_until|slice:':10' }}{% endif %}.",
    ),
    "member.birthday": (
        "Happy birthday from {{ program.name }}",
        GREETING + " happy birthday! A gift is waiting for you at {{ program.name }}.",
    ),
    "member.inactive": (
        "We miss you at {{ program.name }}",
        GREETING + " {% if data.idle_days %}it has been {{ data.idle_days }} days since your last visit"
        "{% else %}we have not seen you for a while{% endif %}. Your balance is {{ member.balance }} points.",
    ),
    "member.winback": (
        "Come back to {{ program.name }}: an offer for you",
        GREETING + "{% if data.idle_days %} it has been {{ data.idle_days }} days.{% endif %}"
        " {% if data.message %}{{ data.message }}{% else %}Come back this week and earn extra points on"
        " your next purchase.{% endif %}",
    ),
}


@preset_step("seed", order=50)
def seed_notification_templates(*, program, at) -> None:
    ChannelSettings.objects.get_or_create(program=program)
    for event_type, (subject, body) in SEED_TEMPLATES.items():
        for channel in (Channel.EMAIL, Channel.CHAT):
            NotificationTemplate.objects.get_or_create(
                program=program,
                event_type=event_type,
                channel=channel,
                defaults={"subject": subject if channel == Channel.EMAIL else "", "body": body},
            )

"""Presets of the rewards catalogue (issue 20), all editable in the admin afterwards.

- seed (a café): free coffee for 100 points (a gift handed over at the till, once a day), a 5 (base
  currency) voucher for 500 points (a personal coupon, fixed amount off, valid 30 days), and a
  branded mug for 3 000 points for Gold and Platinum members (a gift, stock 50).
- betting (`bootstrap_program --preset betting`: the seed with this catalogue instead): a free bet
  of 10 (base currency) for 1 000 points, a bonus credited by the integration (`reward.redeemed`
  webhook, then `fulfil`), once a week.
- demo: the café catalogue plus a voucher with a code pool (cinema tickets, 20 codes), and the first
  demo member's free coffee waiting at the till.
- seed and betting: an e-mail and a chat template for reward.redeemed / fulfilled / cancelled.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

from loyalty_site.core.presets import preset_step

from .models import Reward, RewardCode

GREETING = "Hello {{ member.first_name|default:'there' }},"

#: event type -> (e-mail subject, body shared by e-mail and chat); `data` is
#: `rewards.services.redemption_event_data`
REWARD_TEMPLATES = {
    "reward.redeemed": (
        "Your reward: {{ data.reward_name }}",
        GREETING + " you exchanged {{ data.points }} points for {{ data.reward_name }}."
        "{% if data.code %} Your code: {{ data.code }}.{% endif %}"
        "{% if data.coupon %} Your coupon {{ data.coupon }} is ready for your next purchase.{% endif %}"
        "{% if data.kind == 'gift' %} Collect it at {{ program.name }}.{% endif %}"
        " Balance: {{ data.balance }} points.",
    ),
    "reward.fulfilled": (
        "{{ data.reward_name }} is yours",
        GREETING + " {{ data.reward_name }} is yours. Enjoy it!",
    ),
    "reward.cancelled": (
        "{{ data.reward_name }} was cancelled",
        GREETING + " your {{ data.reward_name }} was cancelled and its {{ data.points }} points are back."
        " Balance: {{ data.balance }} points.",
    ),
}

COFFEE_CATALOGUE = [
    {
        "name": "Free coffee",
        "description": "Any coffee of the menu, on us.",
        "kind": Reward.Kind.GIFT,
        "cost_points": 100,
        "limit_per_member": 1,
        "limit_period": Reward.LimitPeriod.DAY,
        "display_order": 10,
    },
    {
        "name": "5 {currency} voucher",
        "description": "5 {currency} off your next purchase, valid 30 days.",
        "kind": Reward.Kind.COUPON,
        "cost_points": 500,
        "coupon_kind": "fixed",
        "coupon_value": Decimal("5"),
        "coupon_valid_days": 30,
        "display_order": 20,
    },
    {
        "name": "Branded mug",
        "description": "Our ceramic mug, for Gold and Platinum members.",
        "kind": Reward.Kind.GIFT,
        "cost_points": 3000,
        "stock_total": 50,
        "display_order": 30,
        "tiers": ("gold", "platinum"),
    },
]

BETTING_CATALOGUE = [
    {
        "name": "Free bet 10 {currency}",
        "description": "A free bet of 10 {currency}, credited to your betting account.",
        "kind": Reward.Kind.BONUS,
        "cost_points": 1000,
        "limit_per_member": 1,
        "limit_period": Reward.LimitPeriod.WEEK,
        "channel": Reward.Channel.API,
        "display_order": 10,
    },
]


def _catalogue_create(program, catalogue) -> None:
    from tiers.models import Tier

    for row in catalogue:
        fields = dict(row)
        tier_codes = fields.pop("tiers", ())
        name = fields.pop("name").format(currency=program.base_currency)
        fields["description"] = fields["description"].format(currency=program.base_currency)
        reward, created = Reward.objects.get_or_create(program=program, name=name, defaults=fields)
        if created and tier_codes:
            reward.tiers.set(Tier.objects.filter(program=program, code__in=tier_codes))


def _templates_create(program) -> None:
    from notifications.models import Channel, NotificationTemplate

    for event_type, (subject, body) in REWARD_TEMPLATES.items():
        for channel in (Channel.EMAIL, Channel.CHAT):
            NotificationTemplate.objects.get_or_create(
                program=program,
                event_type=event_type,
                channel=channel,
                defaults={"subject": subject if channel == Channel.EMAIL else "", "body": body},
            )


@preset_step("seed", order=70)
def seed_rewards(*, program, at) -> None:
    """The café catalogue (after the tiers, order 30) and the reward notification templates."""
    _catalogue_create(program, COFFEE_CATALOGUE)
    _templates_create(program)


@preset_step("betting", order=70, replaces=seed_rewards)
def betting_rewards(*, program, at) -> None:
    _catalogue_create(program, BETTING_CATALOGUE)
    _templates_create(program)


@preset_step("demo", order=70)
def demo_rewards(*, program, at) -> None:
    reward, _created = Reward.objects.get_or_create(
        program=program,
        name="Cinema ticket",
        defaults={
            "description": "A ticket for any film at the partner cinema.",
            "kind": Reward.Kind.VOUCHER,
            "cost_points": 800,
            "display_order": 40,
        },
    )
    codes = [f"CINEMA-{n:04d}" for n in range(1, 21)]
    RewardCode.objects.bulk_create(
        [RewardCode(reward=reward, code=code) for code in codes], ignore_conflicts=True
    )
    _demo_redemption(program, at)


def _demo_redemption(program, at) -> None:
    """The first demo member's free coffee, waiting to be handed over (the till shows it)."""
    from accounts.models import Member
    from loyalty_site.core.errors import LoyaltyError

    from .services import reward_redeem

    member = Member.objects.filter(program=program, external_id="demo-1").first()
    coffee = Reward.objects.filter(program=program, name="Free coffee").first()
    if member is None or coffee is None:
        return
    # the same reference on every run: a replay; a member short of points gets none
    with contextlib.suppress(LoyaltyError):
        reward_redeem(
            program=program, member=member, reward=coffee, reference="demo-free-coffee", at=at, channel="till"
        )

"""`{% till_rewards member %}` (the till's member panel) and `{% card_rewards member %}` (the card)."""

from __future__ import annotations

import uuid

from django import template
from django.utils import timezone

from ..models import Redemption
from ..selectors import member_reward_offers

register = template.Library()


@register.inclusion_tag("rewards/till_rewards.html", takes_context=True)
def till_rewards(context, member):
    """The rewards the till may redeem for `member` and the member's gifts waiting to be handed over."""
    offers = member_reward_offers(member=member, at=timezone.now(), channel="till")
    pending = (
        Redemption.objects.filter(member_id=member.pk, status=Redemption.Status.PENDING)
        .select_related("reward")
        .order_by("created_at", "id")
    )
    return {
        "member": member,
        "offers": offers,
        "pending": list(pending),
        # drawn when the panel is shown: a double click posts the same reference, which replays
        "reference": f"till-reward-{uuid.uuid4().hex[:16]}",
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("rewards/card_rewards.html")
def card_rewards(member):
    """The catalogue on the member's card: what they can have now, and how far the next one is."""
    offers = [offer for offer in member_reward_offers(member=member, at=timezone.now()) if offer.in_stock]
    affordable = [offer for offer in offers if offer.affordable and not offer.limit_reached]
    later = sorted((offer for offer in offers if not offer.affordable), key=lambda o: o.points_missing)
    return {
        "member": member,
        "offers": offers,
        "affordable": affordable,
        "next_offer": later[0] if later else None,
    }

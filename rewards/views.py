"""The till's reward actions: redeem a reward for the member, mark a pending gift handed over.

Thin: each view calls one rewards service and tells the cashier the outcome (the voucher code or
coupon to give, or the gift to hand over) with a message on the member panel."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from cashier.access import till_member_get, till_required
from loyalty_site.core.errors import LoyaltyError

from .models import Redemption, Reward
from .services import redemption_fulfil, reward_redeem


def handover_message(redemption: Redemption) -> str:
    """What the cashier does next, by the reward's kind."""
    reward = redemption.reward
    if redemption.code:
        text = gettext("%(reward)s: give the member the code %(code)s.") % {
            "reward": reward.name,
            "code": redemption.code,
        }
    elif redemption.coupon_id:
        text = gettext("%(reward)s: coupon %(code)s is on the member's account.") % {
            "reward": reward.name,
            "code": redemption.coupon.code,
        }
    elif reward.kind == Reward.Kind.GIFT:
        text = gettext("Hand over the gift: %(reward)s.") % {"reward": reward.name}
    else:
        text = gettext("%(reward)s is redeemed; the bonus is credited by the member's account provider.") % {
            "reward": reward.name
        }
    if redemption.co_payment:
        collect = gettext("Collect %(amount)s %(currency)s.") % {
            "amount": formats.localize(redemption.co_payment),
            "currency": redemption.program.base_currency,
        }
        text = f"{text} {collect}"
    return text


@till_required
@require_POST
def till_reward_redeem(request, member_id, reward_id):
    if request.program is None:
        return redirect("cashier:home")
    member = till_member_get(request.program, member_id)
    reward = Reward.objects.filter(program=request.program, pk=reward_id).first()
    if reward is None:
        raise Http404(gettext("No such reward in this program."))
    reference = (request.POST.get("reference") or "").strip()[:120]
    try:
        redemption = reward_redeem(
            program=request.program,
            member=member,
            reward=reward,
            reference=reference,
            at=timezone.now(),
            channel="till",
        )
    except LoyaltyError as error:
        messages.error(request, error.message)
    else:
        text = gettext("%(handover)s Balance %(balance)s points.") % {
            "handover": handover_message(redemption),
            "balance": member.balance,
        }
        if redemption.replayed:
            text = gettext("%(text)s (already redeemed with this click)") % {"text": text}
        messages.success(request, text)
    return redirect("cashier:member", member_id=member.pk)


@till_required
@require_POST
def till_redemption_fulfil(request, redemption_id):
    if request.program is None:
        return redirect("cashier:home")
    redemption = (
        Redemption.objects.filter(program=request.program, pk=redemption_id)
        .select_related("reward", "member")
        .first()
    )
    if redemption is None:
        raise Http404(gettext("No such redemption in this program."))
    try:
        redemption_fulfil(redemption=redemption, at=timezone.now())
    except LoyaltyError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, gettext("%(reward)s handed over.") % {"reward": redemption.reward.name})
    return redirect("cashier:member", member_id=redemption.member_id)

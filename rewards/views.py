"""The till's reward actions: redeem a reward for the member, mark a pending gift handed over.

Thin: each view calls one rewards service and tells the cashier the outcome (the voucher code or
coupon to give, or the gift to hand over) with a message on the member panel."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from cashier.access import till_member_get, till_required
from loyalty_site.core.errors import LoyaltyError

from .models import Redemption, Reward
from .services import redemption_fulfil, reward_redeem


def handover_message(redemption: Redemption) -> str:
    """What the cashier does next, by the reward's kind."""
    reward = redemption.reward
    collect = (
        f" Collect {redemption.co_payment} {redemption.program.base_currency}."
        if redemption.co_payment
        else ""
    )
    if redemption.code:
        return f"{reward.name}: give the member the code {redemption.code}.{collect}"
    if redemption.coupon_id:
        return f"{reward.name}: coupon {redemption.coupon.code} is on the member's account.{collect}"
    if reward.kind == Reward.Kind.GIFT:
        return f"Hand over the gift: {reward.name}.{collect}"
    return f"{reward.name} is redeemed; the bonus is credited by the member's account provider.{collect}"


@till_required
@require_POST
def till_reward_redeem(request, member_id, reward_id):
    if request.program is None:
        return redirect("cashier:home")
    member = till_member_get(request.program, member_id)
    reward = Reward.objects.filter(program=request.program, pk=reward_id).first()
    if reward is None:
        raise Http404("No such reward in this program.")
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
        note = " (already redeemed with this click)" if redemption.replayed else ""
        messages.success(request, f"{handover_message(redemption)} Balance {member.balance} points.{note}")
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
        raise Http404("No such redemption in this program.")
    try:
        redemption_fulfil(redemption=redemption, at=timezone.now())
    except LoyaltyError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{redemption.reward.name} handed over.")
    return redirect("cashier:member", member_id=redemption.member_id)

"""Quotes, purchases (and bets), refunds: parse, call the pricing pipeline / ledger, format."""

from __future__ import annotations

from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.response import Response

from campaigns.models import CampaignGrant
from checkout.pricing import purchase_quote
from checkout.purchases import purchase_create
from ledger.models import Purchase
from ledger.services import purchase_refund
from loyalty_site.core import content
from loyalty_site.core.errors import LoyaltyError, NotFound

from ..base import ApiView
from ..idempotency import HEADER, REPLAY_HEADER, idempotent, posting_reference
from ..schema import api_doc
from ..serializers import (
    AmountField,
    CurrencyField,
    MemberRefField,
    MoneySerializer,
    OccurredAtField,
    StrictFieldsMixin,
    TierRefSerializer,
    money,
    occurred_at_check,
    points_field,
    tier_ref,
    validated,
)
from .members import member_exists, member_for


class QuoteInputSerializer(StrictFieldsMixin, serializers.Serializer):
    member = MemberRefField()
    amount = AmountField()
    currency = CurrencyField()
    coupon_code = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True)
    redeem_points = points_field(minimum=0, required=False, default=0, help_text="Points to pay with.")
    kind = serializers.ChoiceField(
        choices=["purchase", "bet"],
        required=False,
        default="purchase",
        help_text="A bet's stake is not discounted unless the program enables bet discounts.",
    )


class PurchaseInputSerializer(QuoteInputSerializer):
    external_id = serializers.CharField(max_length=100, help_text="The receipt / bet id; unique per program.")
    occurred_at = OccurredAtField(required=False, allow_null=True)


class AppliedLineSerializer(serializers.Serializer):
    source = serializers.ChoiceField(
        choices=["tier", "program", "spend", "coupon", "points", "earn", "campaign"],
        help_text="Where the line comes from.",
    )
    description = serializers.CharField()
    discount = serializers.CharField(required=False, help_text="Money taken off, purchase currency.")
    points = serializers.IntegerField(required=False, help_text="Points earned (or paid, negative).")
    code = serializers.CharField(required=False, help_text="The coupon code (coupon lines).")


class QuoteSerializer(serializers.Serializer):
    points_to_earn = serializers.IntegerField()
    discount = MoneySerializer()
    amount_due = MoneySerializer()
    points_to_redeem = serializers.IntegerField()
    max_redeemable_points = serializers.IntegerField()
    applied = AppliedLineSerializer(many=True)


class RewardSerializer(serializers.Serializer):
    campaign = serializers.CharField(help_text="Campaign code.")
    name = serializers.CharField(help_text="Campaign name.")
    member = serializers.IntegerField(help_text="Member who received it (a referrer may, too).")
    points = serializers.IntegerField()
    coupon = serializers.CharField(allow_null=True, help_text="Code of a coupon given, if any.")


class PurchaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    kind = serializers.CharField()
    points_earned = serializers.IntegerField()
    points_redeemed = serializers.IntegerField()
    discount = MoneySerializer()
    amount_due = MoneySerializer()
    occurred_at = serializers.DateTimeField()
    balance = serializers.IntegerField(help_text="The member's balance after the purchase.")
    tier = TierRefSerializer(allow_null=True)
    applied = AppliedLineSerializer(many=True)
    rewards = RewardSerializer(many=True, help_text="Campaign rewards granted by this purchase.")


class RefundInputSerializer(StrictFieldsMixin, serializers.Serializer):
    amount = AmountField(required=False, allow_null=True, help_text="Default: all that is left.")


class RefundSerializer(serializers.Serializer):
    points_reversed = serializers.IntegerField(help_text="Earned points taken back.")
    points_returned = serializers.IntegerField(help_text="Spent points given back.")
    balance = serializers.IntegerField()


def reward_row(grant, member) -> dict:
    """A campaign reward of `member`'s purchase: the campaign's name in the member's language."""
    return {
        "campaign": grant.campaign.code,
        "name": content.text(grant.campaign, "name", member=member, program=member.program),
        "member": grant.member_id,
        "points": grant.points,
        "coupon": grant.coupon.code if grant.coupon_id else None,
    }


def purchase_rewards(purchase, member, campaign_grants=None) -> list[dict]:
    """Campaign grants that this purchase triggered (recorded by the campaigns app with the
    purchase's external id): those `purchase_create` just made (`PurchaseResult.campaign_grants`),
    or, for a purchase read back (a replay), read."""
    if campaign_grants is not None:
        return [reward_row(grant, member) for grant in campaign_grants]
    grants = (
        CampaignGrant.objects.filter(
            campaign__program_id=purchase.program_id, purchase_ref=purchase.external_id
        )
        .select_related("campaign", "coupon")
        .order_by("id")
    )
    return [reward_row(grant, member) for grant in grants]


def purchase_body(purchase, member, campaign_grants=None) -> dict:
    return {
        "id": purchase.pk,
        "external_id": purchase.external_id,
        "kind": purchase.kind,
        "points_earned": purchase.points_earned,
        "points_redeemed": purchase.points_redeemed,
        "discount": money(purchase.discount_amount, purchase.currency),
        "amount_due": money(purchase.amount_due, purchase.currency),
        "occurred_at": serializers.DateTimeField().to_representation(purchase.occurred_at),
        "balance": member.balance,
        "tier": tier_ref(member.tier, member=member),
        "applied": purchase.applied,
        "rewards": purchase_rewards(purchase, member, campaign_grants),
    }


class QuoteView(ApiView):
    @api_doc(
        summary="Price a purchase (changes nothing)",
        request=QuoteInputSerializer,
        responses={200: QuoteSerializer},
        errors=(404, 422),
        description="The same pipeline as a purchase at the same moment: discounts, coupon, points paid, "
        "points earned.",
    )
    def post(self, request):
        data = validated(QuoteInputSerializer, request.data)
        member = member_for(self, data["member"])
        quote = purchase_quote(
            member=member,
            amount=data["amount"],
            currency=data["currency"],
            at=self.at,
            coupon_code=data.get("coupon_code") or None,
            redeem_points=data["redeem_points"],
            kind=data["kind"],
        )
        return Response(quote.as_dict())


class PurchaseView(ApiView):
    @api_doc(
        summary="Report a purchase or a bet",
        request=PurchaseInputSerializer,
        responses={201: PurchaseSerializer},
        errors=(404, 409, 422),
        idempotent=True,
        description="`external_id` is unique per program: the same purchase again returns the original "
        "(201, `Idempotent-Replayed: true`; `balance`, `tier` and `rewards` as they are now), a different "
        "body 409 `idempotency_conflict`. With an `Idempotency-Key` the exact first answer is replayed.",
    )
    @idempotent
    def post(self, request):
        return self._create(validated(PurchaseInputSerializer, request.data))

    def _create(self, data) -> Response:
        # the member is read once, by the purchase's locking read, within the key's program
        # (NotFound for another program's member, as everywhere)
        try:
            occurred_at = data.get("occurred_at")
            if occurred_at is not None:
                occurred_at = occurred_at_check(occurred_at, self.at)
            result = purchase_create(
                program=self.program,
                member_id=data["member"],
                external_id=data["external_id"],
                amount=data["amount"],
                currency=data["currency"],
                at=self.at,
                occurred_at=occurred_at,
                kind=data["kind"],
                coupon_code=data.get("coupon_code") or None,
                redeem_points=data["redeem_points"],
            )
        except (LoyaltyError, serializers.ValidationError) as error:
            # the input is checked before that read: an unknown member still answers 404 first, as
            # at every endpoint (one more read, for refused requests only)
            if not isinstance(error, NotFound) and not member_exists(self, data["member"]):
                raise NotFound(gettext("Member not found.")) from error
            raise
        # `result.member` shows the outcome (balance and tier after the purchase)
        body = purchase_body(result.purchase, result.member, result.campaign_grants)
        response = Response(body, status=status.HTTP_201_CREATED)
        if result.replayed:
            # purchase_create found this receipt already recorded (same input): a replay, no effect
            # (also when the original was recorded a moment ago by a concurrent request)
            response[REPLAY_HEADER] = "true"
        return response


class RefundView(ApiView):
    @api_doc(
        summary="Refund a purchase (in full or in part)",
        request=RefundInputSerializer,
        responses={200: RefundSerializer},
        errors=(404, 409, 422),
        idempotent=True,
        parameters=[OpenApiParameter("purchase_id", int, OpenApiParameter.PATH, description="Purchase id.")],
    )
    @idempotent
    def post(self, request, purchase_id: int):
        data = validated(RefundInputSerializer, request.data)
        purchase = Purchase.objects.filter(program_id=self.program.pk, pk=purchase_id).first()
        if purchase is None:
            raise NotFound(gettext("Purchase not found."))
        posting = purchase_refund(
            purchase=purchase,
            amount=data.get("amount"),
            at=self.at,
            reference=posting_reference(request, kind="refund"),
        )
        purchase.refresh_from_db()
        member = member_for(self, purchase.member_id)
        body = {
            "points_reversed": posting.data.get("points_reversed", 0),
            "points_returned": posting.data.get("points_returned", 0),
            "balance": member.balance,
        }
        return Response(body)


__all__ = ["QuoteView", "PurchaseView", "RefundView", "HEADER"]

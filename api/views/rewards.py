"""The rewards catalogue: what a member can redeem, redeeming, and the redemptions (cancel, fulfil)."""

from __future__ import annotations

import hashlib
import uuid

from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.response import Response

from loyalty_site.core import content
from loyalty_site.core.errors import NotFound
from rewards.models import Redemption, Reward
from rewards.selectors import member_reward_offers, redemptions_list
from rewards.services import redemption_cancel, redemption_fulfil, reward_redeem

from ..base import ApiGenericView, ApiView
from ..idempotency import HEADER, REPLAY_HEADER, idempotent
from ..schema import api_doc
from ..serializers import MemberRefField, MoneySerializer, StrictFieldsMixin, money, validated
from .members import member_for

REWARD_KINDS = [choice for choice, _label in Reward.Kind.choices]
REDEMPTION_STATUSES = [choice for choice, _label in Redemption.Status.choices]


class RewardOfferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    image_url = serializers.CharField(allow_blank=True, help_text="A picture of the reward, or empty.")
    kind = serializers.ChoiceField(choices=REWARD_KINDS)
    cost_points = serializers.IntegerField()
    co_payment = MoneySerializer(allow_null=True, help_text="Money paid on top of the points, or null.")
    active_from = serializers.DateTimeField(allow_null=True)
    active_to = serializers.DateTimeField(allow_null=True)
    stock_left = serializers.IntegerField(allow_null=True, help_text="Null: unlimited.")
    limit_per_member = serializers.IntegerField(allow_null=True)
    limit_period = serializers.ChoiceField(choices=[c for c, _l in Reward.LimitPeriod.choices])
    affordable = serializers.BooleanField(help_text="The member's balance covers the points.")
    points_missing = serializers.IntegerField(help_text="Points the member still needs (0 when affordable).")
    redeemable = serializers.BooleanField(
        help_text="Affordable, in stock and under the member's limit: a redeem would succeed now."
    )


class RewardListQuerySerializer(serializers.Serializer):
    member = MemberRefField()


class RewardRedeemInputSerializer(StrictFieldsMixin, serializers.Serializer):
    member = MemberRefField()
    reference = serializers.CharField(
        max_length=120,
        required=False,
        help_text="Your id for this redemption, unique in the program: repeating it returns the first "
        "answer. Default: derived from the Idempotency-Key, else new.",
    )


class RewardRedemptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    member = serializers.IntegerField(source="member_id")
    reward = serializers.IntegerField(source="reward_id")
    reward_name = serializers.SerializerMethodField(help_text="In the member's language.")
    kind = serializers.ChoiceField(source="reward.kind", choices=REWARD_KINDS)
    points = serializers.IntegerField()
    co_payment = serializers.SerializerMethodField(help_text="Money to collect with it, or null.")
    status = serializers.ChoiceField(
        choices=REDEMPTION_STATUSES,
        help_text="issued: the code or coupon is given; pending: a gift to hand over or a bonus to "
        "credit; fulfilled; cancelled (points returned).",
    )
    channel = serializers.ChoiceField(choices=["till", "api"])
    code = serializers.CharField(allow_null=True, help_text="The voucher code (voucher rewards).")
    coupon = serializers.SerializerMethodField(help_text="The coupon code issued (coupon rewards).")
    reference = serializers.CharField()
    created_at = serializers.DateTimeField()
    fulfilled_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)

    def get_co_payment(self, redemption) -> MoneySerializer(allow_null=True):  # type: ignore[valid-type]
        if redemption.co_payment is None:
            return None
        return money(redemption.co_payment, self.context["currency"])

    def get_reward_name(self, redemption) -> str:
        member = redemption.member
        return content.text(redemption.reward, "name", member=member, program=member.program)

    def get_coupon(self, redemption) -> str | None:
        return redemption.coupon.code if redemption.coupon_id else None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["code"] = data["code"] or None
        return data


class RewardRedemptionResultSerializer(RewardRedemptionSerializer):
    balance = serializers.IntegerField(help_text="The member's balance after it.")


class RewardRedemptionListQuerySerializer(serializers.Serializer):
    member = MemberRefField(required=False)
    status = serializers.ChoiceField(choices=REDEMPTION_STATUSES, required=False)


def offer_body(offer, currency: str, member) -> dict:
    """One reward offered to `member`: its texts in the member's language."""
    reward = offer.reward
    return {
        "id": reward.pk,
        "name": content.text(reward, "name", member=member, program=member.program),
        "description": content.text(reward, "description", member=member, program=member.program),
        "image_url": reward.image_url,
        "kind": reward.kind,
        "cost_points": reward.cost_points,
        "co_payment": money(reward.co_payment, currency) if reward.co_payment is not None else None,
        "active_from": reward.active_from,
        "active_to": reward.active_to,
        "stock_left": reward.stock_left,
        "limit_per_member": reward.limit_per_member,
        "limit_period": reward.limit_period,
        "affordable": offer.affordable,
        "points_missing": offer.points_missing,
        "redeemable": offer.redeemable,
    }


def redemption_body(view, redemption: Redemption, balance: int | None = None) -> dict:
    context = {"currency": view.program.base_currency}
    data = RewardRedemptionSerializer(redemption, context=context).data
    if balance is not None:
        data["balance"] = balance
    return data


def redemption_reference(request) -> str:
    """A redemption reference for a request that names none: derived from the Idempotency-Key (so a
    retry taking over a stale claim redeems once), else new."""
    key = request.headers.get(HEADER)
    if key:
        return "api:" + hashlib.sha256(f"{request.auth.program_id}:reward:{key}".encode()).hexdigest()[:40]
    return f"api:{uuid.uuid4().hex}"


def _redemption_for(view, redemption_id) -> Redemption:
    redemption = (
        Redemption.objects.filter(program_id=view.program.pk, pk=redemption_id)
        .select_related("reward", "coupon", "member")
        .first()
    )
    if redemption is None:
        raise NotFound(gettext("Redemption not found."))
    return redemption


MEMBER_QUERY = OpenApiParameter("member", int, OpenApiParameter.QUERY, description="Member id.")


class RewardListView(ApiGenericView):
    serializer_class = RewardOfferSerializer
    queryset = Reward.objects.none()  # for the schema generator; rows come from rewards.selectors

    @api_doc(
        summary="Rewards a member can redeem through the API, with what they can afford",
        responses={200: RewardOfferSerializer(many=True)},
        errors=(400, 404),
        parameters=[
            OpenApiParameter("member", int, OpenApiParameter.QUERY, required=True, description="Member id.")
        ],
        description="Active rewards open to the API whose tiers and segments include the member, "
        "catalogue order. `points_missing` says how far the member is from each.",
    )
    def get(self, request):
        query = validated(RewardListQuerySerializer, request.query_params)
        member = member_for(self, query["member"])
        offers = member_reward_offers(member=member, at=self.at, channel="api")
        page = self.paginate_queryset(offers)
        currency = self.program.base_currency
        return self.get_paginated_response([offer_body(offer, currency, member) for offer in page])


class RewardRedeemView(ApiView):
    @api_doc(
        summary="Redeem a reward for a member's points",
        request=RewardRedeemInputSerializer,
        responses={201: RewardRedemptionResultSerializer, 200: RewardRedemptionResultSerializer},
        errors=(404, 409, 422),
        idempotent=True,
        parameters=[OpenApiParameter("reward_id", int, OpenApiParameter.PATH, description="Reward id.")],
        description="Spends the points (earliest-expiring first) and gives the reward: a voucher "
        "`code`, a personal `coupon`, or a pending fulfilment (`bonus`: credit it, then call fulfil; "
        "`gift`: hand it over). The same `reference` again answers 200 with the first redemption "
        "(`Idempotent-Replayed: true`); for another reward or member 409 `idempotency_conflict`. "
        "422: `insufficient_points`, `out_of_stock`, `limit_exceeded`, `reward_unavailable`, "
        "`member_blocked`.",
    )
    @idempotent
    def post(self, request, reward_id: int):
        data = validated(RewardRedeemInputSerializer, request.data)
        member = member_for(self, data["member"])
        reward = Reward.objects.filter(program_id=self.program.pk, pk=reward_id).first()
        if reward is None:
            raise NotFound(gettext("Reward not found."))
        redemption = reward_redeem(
            program=self.program,
            member=member,
            reward=reward,
            reference=data.get("reference") or redemption_reference(request),
            at=self.at,
            channel="api",
        )
        body = redemption_body(self, redemption, balance=member.balance)
        if redemption.replayed:
            response = Response(body, status=status.HTTP_200_OK)
            response[REPLAY_HEADER] = "true"
            return response
        return Response(body, status=status.HTTP_201_CREATED)


class RewardRedemptionListView(ApiGenericView):
    serializer_class = RewardRedemptionSerializer
    queryset = Redemption.objects.none()  # for the schema generator; rows come from rewards.selectors

    @api_doc(
        summary="Reward redemptions, newest first",
        responses={200: RewardRedemptionSerializer(many=True)},
        errors=(400, 404),
        parameters=[
            MEMBER_QUERY,
            OpenApiParameter("status", str, OpenApiParameter.QUERY, enum=REDEMPTION_STATUSES),
        ],
    )
    def get(self, request):
        query = validated(RewardRedemptionListQuerySerializer, request.query_params)
        member = member_for(self, query["member"]) if "member" in query else None
        redemptions = redemptions_list(program=self.program, member=member)
        if "status" in query:
            redemptions = redemptions.filter(status=query["status"])
        page = self.paginate_queryset(redemptions)
        context = {"currency": self.program.base_currency}
        return self.get_paginated_response(RewardRedemptionSerializer(page, many=True, context=context).data)


REDEMPTION_PATH = OpenApiParameter("redemption_id", int, OpenApiParameter.PATH, description="Redemption id.")


class RewardRedemptionCancelView(ApiView):
    @api_doc(
        summary="Cancel a reward redemption: the points go back",
        responses={200: RewardRedemptionResultSerializer},
        errors=(404, 409),
        idempotent=True,
        parameters=[REDEMPTION_PATH],
        description="The points return to the lots they were spent from, the stock is restored, an "
        "unused voucher code goes back to the pool, a coupon is deactivated. 409 `redemption_closed` "
        "when it is fulfilled or cancelled already, or its coupon was used.",
    )
    @idempotent
    def post(self, request, redemption_id: int):
        redemption = redemption_cancel(redemption=_redemption_for(self, redemption_id), at=self.at)
        return Response(redemption_body(self, redemption, balance=redemption.member.balance))


class RewardRedemptionFulfilView(ApiView):
    @api_doc(
        summary="Mark a pending gift or bonus fulfilled",
        responses={200: RewardRedemptionResultSerializer},
        errors=(404, 409),
        idempotent=True,
        parameters=[REDEMPTION_PATH],
        description="For `bonus` rewards: call it once the bonus is credited in your system. "
        "409 `redemption_closed` when it is not pending.",
    )
    @idempotent
    def post(self, request, redemption_id: int):
        redemption = redemption_fulfil(redemption=_redemption_for(self, redemption_id), at=self.at)
        return Response(redemption_body(self, redemption, balance=redemption.member.balance))

"""Events, coupon validation and partner transfers (the campaigns app's services)."""

from __future__ import annotations

from django.utils.translation import gettext
from rest_framework import serializers, status
from rest_framework.response import Response

from campaigns.coupons import coupon_validate
from campaigns.services import event_record, partner_transfer

from ..base import ApiView
from ..idempotency import idempotent
from ..schema import api_doc
from ..serializers import (
    AmountField,
    CurrencyField,
    MemberRefField,
    MoneySerializer,
    OccurredAtField,
    StrictFieldsMixin,
    occurred_at_check,
    points_field,
    validated,
)
from .members import member_for
from .purchases import RewardSerializer

MAX_EVENT_DATA_BYTES = 4096


class EventInputSerializer(StrictFieldsMixin, serializers.Serializer):
    member = MemberRefField()
    type = serializers.RegexField(
        r"^[a-z0-9_.-]+$",
        max_length=48,
        help_text="login, review, task_completed, nps, profile_completed or a merchant-defined type.",
    )
    occurred_at = OccurredAtField(required=False, allow_null=True)
    data = serializers.DictField(required=False, default=dict, help_text='e.g. {"task": ...}, {"score": 9}.')

    def validate_data(self, value):
        import json

        if len(json.dumps(value)) > MAX_EVENT_DATA_BYTES:
            raise serializers.ValidationError(
                gettext("At most %(bytes)s bytes of JSON.") % {"bytes": MAX_EVENT_DATA_BYTES}
            )
        return value


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rewards = RewardSerializer(many=True)


class CouponValidateInputSerializer(StrictFieldsMixin, serializers.Serializer):
    code = serializers.CharField(max_length=64)
    member = MemberRefField()
    amount = AmountField()
    currency = CurrencyField()


class CouponValidationSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    code = serializers.CharField(required=False)
    kind = serializers.CharField(required=False)
    discount = MoneySerializer(required=False)
    bonus_points = serializers.IntegerField(required=False)
    description = serializers.CharField(required=False)
    reason = serializers.ChoiceField(
        choices=["coupon_invalid", "coupon_expired", "coupon_used"],
        required=False,
        help_text="When not valid.",
    )
    message = serializers.CharField(required=False)


class PartnerTransferInputSerializer(StrictFieldsMixin, serializers.Serializer):
    member = MemberRefField()
    partner = serializers.CharField(max_length=48, help_text="Partner code.")
    points = points_field(help_text="Points on the partner's side.")
    external_id = serializers.CharField(max_length=100, help_text="The transfer's id at the partner.")


class PartnerTransferSerializer(serializers.Serializer):
    points_credited = serializers.IntegerField()
    balance = serializers.IntegerField()


class EventView(ApiView):
    @api_doc(
        summary="Record a member's activity event",
        request=EventInputSerializer,
        responses={201: EventSerializer},
        errors=(404, 409, 422),
        idempotent=True,
        description="Events drive campaigns and reset the inactivity clock.",
    )
    @idempotent
    def post(self, request):
        data = validated(EventInputSerializer, request.data)
        member = member_for(self, data["member"])
        event, rewards = event_record(
            member=member,
            type=data["type"],
            occurred_at=occurred_at_check(data.get("occurred_at"), self.at),
            data=data["data"],
        )
        return Response({"id": event.pk, "rewards": list(rewards)}, status=status.HTTP_201_CREATED)


class CouponValidateView(ApiView):
    @api_doc(
        summary="Check a coupon for a member and an amount (changes nothing)",
        request=CouponValidateInputSerializer,
        responses={200: CouponValidationSerializer},
        errors=(404,),
    )
    def post(self, request):
        data = validated(CouponValidateInputSerializer, request.data)
        member = member_for(self, data["member"])
        result = coupon_validate(
            program=self.program,
            code=data["code"],
            member=member,
            amount=data["amount"],
            currency=data["currency"],
            at=self.at,
        )
        return Response(result)


class PartnerTransferView(ApiView):
    @api_doc(
        summary="Import points from a partner platform",
        request=PartnerTransferInputSerializer,
        responses={201: PartnerTransferSerializer},
        errors=(404, 409, 422),
        idempotent=True,
        description="Partner points x the partner's rate, plus its bonus (10 % by default). The same "
        "`external_id` again returns the original transfer; with other points 409.",
    )
    @idempotent
    def post(self, request):
        data = validated(PartnerTransferInputSerializer, request.data)
        member = member_for(self, data["member"])
        result = partner_transfer(
            member=member,
            partner_code=data["partner"],
            points=data["points"],
            external_id=data["external_id"],
            at=self.at,
        )
        body = {"points_credited": result["points_credited"], "balance": result["balance"]}
        return Response(body, status=status.HTTP_201_CREATED)

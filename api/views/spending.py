"""Redemptions, cash-outs and manual adjustments: one ledger posting each."""

from __future__ import annotations

from django.utils.translation import gettext
from rest_framework import serializers, status
from rest_framework.response import Response

from ledger.services import points_adjust, points_cashout, points_redeem

from ..base import ApiView
from ..idempotency import idempotent, posting_reference
from ..schema import api_doc
from ..serializers import (
    MAX_POINTS,
    MemberRefField,
    MoneySerializer,
    PointsField,
    StrictFieldsMixin,
    money,
    points_field,
    validated,
)
from .members import member_for


class RedemptionInputSerializer(StrictFieldsMixin, serializers.Serializer):
    member = MemberRefField()
    points = points_field()
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class RedemptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    points = serializers.IntegerField()
    value = MoneySerializer(help_text="Points x point value, base currency.")
    balance = serializers.IntegerField()


class CashoutInputSerializer(StrictFieldsMixin, serializers.Serializer):
    member = MemberRefField()
    points = points_field()


class CashoutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    points = serializers.IntegerField()
    gross = MoneySerializer(help_text="Points x point value, base currency (counts against the limits).")
    fee = MoneySerializer(help_text="Conversion fee, base currency (under 0.5 %).")
    value = MoneySerializer(help_text="Money paid into the wallet: gross less the fee, base currency.")
    balance = serializers.IntegerField()


class AdjustmentInputSerializer(StrictFieldsMixin, serializers.Serializer):
    member = MemberRefField()
    points = PointsField(min_value=-MAX_POINTS, max_value=MAX_POINTS, help_text="Signed; never zero.")
    reason = serializers.CharField(max_length=255)

    def validate_points(self, value):
        if value == 0:
            raise serializers.ValidationError(gettext("Must not be zero."))
        return value


class AdjustmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    points = serializers.IntegerField()
    reason = serializers.CharField()
    balance = serializers.IntegerField()


def points_value(program, points: int) -> dict:
    return money(program.points_value(points), program.base_currency)


class RedemptionView(ApiView):
    @api_doc(
        summary="Spend points",
        request=RedemptionInputSerializer,
        responses={201: RedemptionSerializer},
        errors=(404, 409, 422),
        idempotent=True,
        description="Oldest points are spent first. 422 `insufficient_points` when the balance is short.",
    )
    @idempotent
    def post(self, request):
        data = validated(RedemptionInputSerializer, request.data)
        member = member_for(self, data["member"])
        posting = points_redeem(
            member=member,
            points=data["points"],
            at=self.at,
            reference=posting_reference(request, kind="redeem"),
            description=data["description"],
        )
        body = {
            "id": posting.pk,
            "points": data["points"],
            "value": points_value(self.program, data["points"]),
            "balance": posting.balance_after,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class CashoutView(ApiView):
    @api_doc(
        summary="Convert points to money in the member's wallet",
        request=CashoutInputSerializer,
        responses={201: CashoutSerializer},
        errors=(404, 409, 422),
        idempotent=True,
        description="422 `limit_exceeded` over the daily or monthly cash-out limit.",
    )
    @idempotent
    def post(self, request):
        data = validated(CashoutInputSerializer, request.data)
        member = member_for(self, data["member"])
        posting = points_cashout(
            member=member,
            points=data["points"],
            at=self.at,
            reference=posting_reference(request, kind="cashout"),
        )
        currency = self.program.base_currency
        body = {
            "id": posting.pk,
            "points": data["points"],
            "gross": money(posting.amount, currency),
            "fee": money(posting.fee, currency),
            "value": money(posting.amount - posting.fee, currency),
            "balance": posting.balance_after,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class AdjustmentView(ApiView):
    @api_doc(
        summary="Correct a balance by hand",
        request=AdjustmentInputSerializer,
        responses={201: AdjustmentSerializer},
        errors=(404, 409, 422),
        idempotent=True,
        description="A negative adjustment never takes the balance below zero (422 `insufficient_points`).",
    )
    @idempotent
    def post(self, request):
        data = validated(AdjustmentInputSerializer, request.data)
        member = member_for(self, data["member"])
        posting = points_adjust(
            member=member,
            points=data["points"],
            at=self.at,
            reference=posting_reference(request, kind="adjust"),
            reason=data["reason"],
        )
        body = {
            "id": posting.pk,
            "points": data["points"],
            "reason": data["reason"],
            "balance": posting.balance_after,
        }
        return Response(body, status=status.HTTP_201_CREATED)

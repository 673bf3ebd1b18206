"""Reads of the program: the key's program and rates, tiers, running campaigns, a member's coupons,
a member's ledger entries."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.response import Response

from campaigns.models import Campaign, Coupon
from campaigns.selectors import coupons_for_member
from ledger.models import CurrencyRate, Entry
from ledger.selectors import member_entries
from ledger.services import rate_get
from tiers.models import Tier
from tiers.selectors import tier_list

from ..base import ApiGenericView, ApiView
from ..schema import api_doc
from ..serializers import ContentTextField, MemberRefField, validated
from .members import member_for

ENTRY_KINDS = [
    "earn",
    "bonus",
    "redeem",
    "refund",
    "expire",
    "renew",
    "decay",
    "adjust",
    "partner",
    "cashout",
    "reversal",
]


class RateSerializer(serializers.Serializer):
    currency = serializers.CharField()
    points_per_unit = serializers.DecimalField(max_digits=12, decimal_places=4, coerce_to_string=True)
    cap = serializers.IntegerField(allow_null=True, help_text="Most points one transaction earns.")
    valid_from = serializers.DateTimeField()
    valid_to = serializers.DateTimeField(allow_null=True)


class ProgramSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    base_currency = serializers.CharField()
    point_value = serializers.DecimalField(
        max_digits=12, decimal_places=6, coerce_to_string=True, help_text="Base currency per point."
    )
    points_lifetime_days = serializers.IntegerField()
    expiry_warning_hours = serializers.IntegerField()
    renewal_window_hours = serializers.IntegerField()
    inactivity_days = serializers.IntegerField()
    decay_percent = serializers.DecimalField(max_digits=6, decimal_places=3, coerce_to_string=True)
    time_zone = serializers.CharField()
    rates = RateSerializer(many=True, help_text="Rates in force now.")


class TierSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = ContentTextField(help_text="In the request's language (Accept-Language), else the program's.")
    rank = serializers.IntegerField()
    threshold = serializers.IntegerField(help_text="Entry value of the program's tier metric.")
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True)
    earn_multiplier = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True)
    gift_points = serializers.IntegerField()
    gift_period = serializers.CharField(allow_blank=True)
    priority_support = serializers.BooleanField()
    fast_processing = serializers.BooleanField()
    personal_manager = serializers.BooleanField()
    event_invitations = serializers.BooleanField()
    exclusive_campaigns = serializers.BooleanField()
    description = ContentTextField()


class CampaignSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = ContentTextField(help_text="In the request's language (Accept-Language), else the program's.")
    description = ContentTextField()
    trigger = serializers.CharField()
    event_type = serializers.CharField(allow_blank=True, allow_null=True)
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    tiers = serializers.SerializerMethodField(help_text="Tier codes it is limited to (empty = all).")

    def get_tiers(self, campaign) -> list[str]:
        return [tier.code for tier in campaign.target_tiers.all()]


class CouponSerializer(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.ChoiceField(choices=["percent", "fixed", "points"])
    value = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    currency = serializers.CharField(allow_blank=True, allow_null=True)
    min_purchase = serializers.DecimalField(
        max_digits=12, decimal_places=2, coerce_to_string=True, allow_null=True
    )
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    first_order_only = serializers.BooleanField()


class CouponQuerySerializer(serializers.Serializer):
    member = MemberRefField()


class EntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ENTRY_KINDS)
    points = serializers.IntegerField(help_text="Signed change of the spendable balance.")
    balance_after = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    description = serializers.CharField(source="posting.description", allow_blank=True)
    purchase = serializers.IntegerField(
        source="posting.purchase_id", allow_null=True, help_text="Purchase id."
    )
    campaign = serializers.IntegerField(
        source="posting.campaign_id", allow_null=True, help_text="Campaign id."
    )


class EntryQuerySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ENTRY_KINDS, required=False)
    since = serializers.DateTimeField(required=False, help_text="Entries at or after this moment.")
    until = serializers.DateTimeField(required=False, help_text="Entries before this moment.")


def rates_in_force(program, at) -> list:
    """The rate in force at `at` for each currency the program has rates for (`ledger.rate_get`)."""
    currencies = (
        CurrencyRate.objects.filter(program=program, valid_from__lte=at)
        .values_list("currency", flat=True)
        .distinct()
        .order_by("currency")
    )
    rates = []
    for currency in currencies:
        try:
            rates.append(rate_get(program=program, currency=currency, at=at))
        except Exception as error:  # UnsupportedCurrency: all its rates ended before `at`
            if getattr(error, "code", None) != "unsupported_currency":
                raise
    return rates


class ProgramView(ApiView):
    @api_doc(summary="The calling key's program", responses={200: ProgramSerializer})
    def get(self, request):
        program = self.program
        data = {field: getattr(program, field) for field in ProgramSerializer().fields if field != "rates"}
        data["rates"] = rates_in_force(program, self.at)
        return Response(ProgramSerializer(data).data)


class TierListView(ApiGenericView):
    serializer_class = TierSerializer
    queryset = Tier.objects.none()  # for the schema generator; rows come from tiers.selectors

    @api_doc(
        summary="The program's tiers, lowest first", responses={200: TierSerializer(many=True)}, errors=(404,)
    )
    def get(self, request):
        page = self.paginate_queryset(tier_list(program=self.program))
        context = {"program": self.program}
        return self.get_paginated_response(TierSerializer(page, many=True, context=context).data)


class CampaignListView(ApiGenericView):
    serializer_class = CampaignSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Campaign.objects.none()
        at = self.at
        return (
            Campaign.objects.filter(program_id=self.program.pk)
            .running(at)
            .prefetch_related("target_tiers")
            .order_by("id")
        )

    @api_doc(summary="Campaigns running now", responses={200: CampaignSerializer(many=True)}, errors=(404,))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        context = {"program": self.program}
        return self.get_paginated_response(CampaignSerializer(page, many=True, context=context).data)


class CouponListView(ApiGenericView):
    serializer_class = CouponSerializer
    queryset = Coupon.objects.none()  # for the schema generator; rows come from campaigns.selectors

    @api_doc(
        summary="Coupons a member can use now",
        responses={200: CouponSerializer(many=True)},
        errors=(400, 404),
        parameters=[
            OpenApiParameter("member", int, OpenApiParameter.QUERY, required=True, description="Member id.")
        ],
    )
    def get(self, request):
        query = validated(CouponQuerySerializer, request.query_params)
        member = member_for(self, query["member"])
        page = self.paginate_queryset(coupons_for_member(member=member, at=self.at))
        return self.get_paginated_response(CouponSerializer(page, many=True).data)


class EntryListView(ApiGenericView):
    serializer_class = EntrySerializer
    queryset = Entry.objects.none()  # for the schema generator; rows come from ledger.selectors

    @api_doc(
        summary="A member's ledger entries, newest first",
        responses={200: EntrySerializer(many=True)},
        errors=(400, 404),
        parameters=[
            OpenApiParameter("member_id", int, OpenApiParameter.PATH, description="Member id."),
            OpenApiParameter("kind", str, OpenApiParameter.QUERY, enum=ENTRY_KINDS),
            OpenApiParameter(
                "since", OpenApiTypes.DATETIME, OpenApiParameter.QUERY, description="At or after this moment."
            ),
            OpenApiParameter(
                "until", OpenApiTypes.DATETIME, OpenApiParameter.QUERY, description="Before this moment."
            ),
        ],
    )
    def get(self, request, member_id: int):
        member = member_for(self, member_id)
        entries = member_entries(member=member, **validated(EntryQuerySerializer, request.query_params))
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(EntrySerializer(page, many=True).data)

"""Members: enrol, find, read, update profile, ledger entries."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.response import Response

from accounts import services as account_services
from accounts.models import Member
from ledger.selectors import members_expiring_lots
from loyalty_site.core.errors import InvalidInput, NotFound
from tiers.selectors import members_tier_progress
from tiers.services import member_tier_of

from ..base import ApiGenericView, ApiView
from ..idempotency import idempotent
from ..schema import api_doc
from ..serializers import MemberCreateSerializer, MemberSerializer, MemberUpdateSerializer, validated


def _key_member(view, member_id):
    """The member `member_id` of the calling key's program, as a queryset (empty for another
    program's member)."""
    return Member.objects.filter(program_id=view.program.pk, pk=member_id)


def member_exists(view, member_id) -> bool:
    return _key_member(view, member_id).exists()


def member_for(view, member_id) -> Member:
    """The member `member_id` of the calling key's program, or NotFound (also for other programs)."""
    member = _key_member(view, member_id).first()
    if member is None:
        raise NotFound(gettext("Member not found."))
    member.program = view.program  # read with the key in this request (its config_version included)
    member.tier = member_tier_of(member=member)  # from the configuration cache: no join, no query
    return member


class MemberFilter(django_filters.FilterSet):
    phone = django_filters.CharFilter(method="filter_phone", help_text="Any format; matched in E.164.")
    email = django_filters.CharFilter(method="filter_email", help_text="Case-insensitive.")
    card_number = django_filters.CharFilter(field_name="card_number")
    external_id = django_filters.CharFilter(field_name="external_id")
    tier = django_filters.CharFilter(field_name="tier__code", help_text="Tier code, e.g. silver.")
    status = django_filters.ChoiceFilter(choices=Member.Status.choices)

    class Meta:
        model = Member
        fields = ["phone", "email", "card_number", "external_id", "tier", "status"]

    def filter_phone(self, queryset, name, value):
        try:
            return queryset.filter(phone=account_services.phone_normalize(value))
        except InvalidInput:
            return queryset.none()

    def filter_email(self, queryset, name, value):
        return queryset.filter(email=account_services.email_normalize(value))


def member_response(view, member, status_code=200) -> Response:
    data = MemberSerializer(member, context={"request": view.request, "at": view.at}).data
    return Response(data, status=status_code)


class MemberListView(ApiGenericView):
    filter_backends = [DjangoFilterBackend]
    filterset_class = MemberFilter
    serializer_class = MemberSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Member.objects.none()
        return (
            Member.objects.filter(program_id=self.program.pk)
            .select_related("tier", "program")
            .order_by("-id")
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "at": self.at}

    @api_doc(summary="List members", responses={200: MemberSerializer(many=True)}, errors=(400, 404))
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        page = list(self.paginate_queryset(queryset))
        context = {
            **self.get_serializer_context(),
            "tier_progress": members_tier_progress(members=page, at=self.at),
            "expiring_soon": members_expiring_lots(members=page, at=self.at),
        }
        return self.get_paginated_response(MemberSerializer(page, many=True, context=context).data)

    @api_doc(
        summary="Enrol a member",
        request=MemberCreateSerializer,
        responses={201: MemberSerializer},
        errors=(400, 409),
        idempotent=True,
        description="At least one of external_id, phone, email. 409 `duplicate` when one is taken.",
    )
    @idempotent
    def post(self, request):
        data = validated(MemberCreateSerializer, request.data)
        member = account_services.member_create(program=self.program, at=self.at, **data)
        return member_response(self, member_for(self, member.pk), status.HTTP_201_CREATED)


class MemberDetailView(ApiView):
    @api_doc(summary="Read a member", responses={200: MemberSerializer}, errors=(404,))
    def get(self, request, member_id: int):
        return member_response(self, member_for(self, member_id))

    @api_doc(
        summary="Update a member's profile",
        request=MemberUpdateSerializer,
        responses={200: MemberSerializer},
        errors=(404, 409),
        description="Profile fields only; balance, tier and status cannot be changed here.",
    )
    def patch(self, request, member_id: int):
        member = member_for(self, member_id)
        data = validated(MemberUpdateSerializer, request.data, partial=True)
        if data:
            member = account_services.member_update(member=member, data=dict(data))
        return member_response(self, member_for(self, member.pk))


MEMBER_ID = OpenApiParameter("member_id", int, OpenApiParameter.PATH, description="Member id.")

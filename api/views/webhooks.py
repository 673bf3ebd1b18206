"""Webhook subscriptions of the key's program (the notifications app's services)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.response import Response

from notifications.models import WebhookSubscription
from notifications.services import (
    webhook_subscription_create,
    webhook_subscription_delete,
    webhook_subscription_get,
    webhook_subscription_list,
)

from ..base import ApiGenericView, ApiView
from ..idempotency import idempotent
from ..schema import api_doc
from ..serializers import StrictFieldsMixin, validated


class WebhookInputSerializer(StrictFieldsMixin, serializers.Serializer):
    url = serializers.URLField(max_length=500, help_text="http(s) endpoint that receives the POSTs.")
    events = serializers.ListField(
        child=serializers.CharField(max_length=64),
        max_length=50,
        required=False,
        default=list,
        help_text="Event types, e.g. points.earned; empty = every type.",
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class WebhookSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.CharField())
    is_active = serializers.BooleanField()
    description = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="The signing secret, shown only in this answer.")


class WebhookListView(ApiGenericView):
    serializer_class = WebhookSerializer
    queryset = WebhookSubscription.objects.none()  # for the schema generator

    @api_doc(
        summary="List webhook subscriptions", responses={200: WebhookSerializer(many=True)}, errors=(404,)
    )
    def get(self, request):
        page = self.paginate_queryset(webhook_subscription_list(program=self.program))
        return self.get_paginated_response(WebhookSerializer(page, many=True).data)

    @api_doc(
        summary="Subscribe a URL to events",
        request=WebhookInputSerializer,
        responses={201: WebhookCreatedSerializer},
        idempotent=True,
        description="The signing secret is returned once, in this answer.",
    )
    @idempotent
    def post(self, request):
        data = validated(WebhookInputSerializer, request.data)
        subscription, secret = webhook_subscription_create(
            program=self.program,
            url=data["url"],
            events=data["events"],
            at=self.at,
            description=data["description"],
        )
        body = {**WebhookSerializer(subscription).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookDetailView(ApiView):
    @api_doc(
        summary="Delete a webhook subscription",
        responses={204: None},
        errors=(404,),
        parameters=[
            OpenApiParameter("webhook_id", int, OpenApiParameter.PATH, description="Subscription id.")
        ],
    )
    def delete(self, request, webhook_id: int):
        subscription = webhook_subscription_get(program=self.program, subscription_id=webhook_id)
        webhook_subscription_delete(subscription=subscription)
        return Response(status=status.HTTP_204_NO_CONTENT)

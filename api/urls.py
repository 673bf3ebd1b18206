"""The REST API (`/api/v1/`), its OpenAPI schema (`/api/schema/`) and docs (`/api/docs/`).

Any other URL under /api/ answers 404 in the API's error shape.
"""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .errors import api_not_found
from .views import activity, members, program, purchases, rewards, spending, tasks, webhooks

v1 = [
    path("members/", members.MemberListView.as_view(), name="api-members"),
    path("members/<int:member_id>/", members.MemberDetailView.as_view(), name="api-member"),
    path("members/<int:member_id>/entries/", program.EntryListView.as_view(), name="api-member-entries"),
    path("purchases/quote/", purchases.QuoteView.as_view(), name="api-purchase-quote"),
    path("purchases/", purchases.PurchaseView.as_view(), name="api-purchases"),
    path("purchases/<int:purchase_id>/refund/", purchases.RefundView.as_view(), name="api-purchase-refund"),
    path("redemptions/", spending.RedemptionView.as_view(), name="api-redemptions"),
    path("cashouts/", spending.CashoutView.as_view(), name="api-cashouts"),
    path("adjustments/", spending.AdjustmentView.as_view(), name="api-adjustments"),
    path("events/", activity.EventView.as_view(), name="api-events"),
    path("coupons/validate/", activity.CouponValidateView.as_view(), name="api-coupon-validate"),
    path("partner-transfers/", activity.PartnerTransferView.as_view(), name="api-partner-transfers"),
    path("program/", program.ProgramView.as_view(), name="api-program"),
    path("tiers/", program.TierListView.as_view(), name="api-tiers"),
    path("campaigns/", program.CampaignListView.as_view(), name="api-campaigns"),
    path("coupons/", program.CouponListView.as_view(), name="api-coupons"),
    path("rewards/", rewards.RewardListView.as_view(), name="api-rewards"),
    path("rewards/<int:reward_id>/redeem/", rewards.RewardRedeemView.as_view(), name="api-reward-redeem"),
    path("reward-redemptions/", rewards.RewardRedemptionListView.as_view(), name="api-reward-redemptions"),
    path(
        "reward-redemptions/<int:redemption_id>/cancel/",
        rewards.RewardRedemptionCancelView.as_view(),
        name="api-reward-redemption-cancel",
    ),
    path(
        "reward-redemptions/<int:redemption_id>/fulfil/",
        rewards.RewardRedemptionFulfilView.as_view(),
        name="api-reward-redemption-fulfil",
    ),
    path("tasks/", tasks.TaskListView.as_view(), name="api-tasks"),
    path("webhooks/", webhooks.WebhookListView.as_view(), name="api-webhooks"),
    path("webhooks/<int:webhook_id>/", webhooks.WebhookDetailView.as_view(), name="api-webhook"),
]

urlpatterns = [
    *[path(f"api/v1/{p.pattern}", p.callback, name=p.name) for p in v1],
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/", api_not_found),
]

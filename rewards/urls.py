from django.urls import path

from . import views

app_name = "rewards"

urlpatterns = [
    path(
        "cashier/members/<int:member_id>/rewards/<int:reward_id>/redeem/",
        views.till_reward_redeem,
        name="till-redeem",
    ),
    path(
        "cashier/reward-redemptions/<int:redemption_id>/fulfil/",
        views.till_redemption_fulfil,
        name="till-fulfil",
    ),
]

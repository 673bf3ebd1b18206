from django.urls import path

from . import views

app_name = "cashier"

urlpatterns = [
    path("cashier/", views.till_home, name="home"),
    path("cashier/login/", views.TillLoginView.as_view(), name="login"),
    path("cashier/logout/", views.TillLogoutView.as_view(), name="logout"),
    path("cashier/password/", views.till_password_change, name="password"),
    path("cashier/program/", views.program_choose, name="program"),
    path("cashier/members/new/", views.member_enrol, name="enrol"),
    path("cashier/members/<int:member_id>/", views.member_panel, name="member"),
    path("cashier/members/<int:member_id>/language/", views.member_language, name="member-language"),
    path("cashier/members/<int:member_id>/quote/", views.member_quote, name="quote"),
    path("cashier/members/<int:member_id>/purchase/", views.member_purchase, name="purchase"),
    path("cashier/members/<int:member_id>/redeem/", views.member_redeem, name="redeem"),
    path("cashier/purchases/<int:purchase_id>/refund/", views.purchase_refund, name="refund"),
    path("card/<str:token>/", views.card_page, name="card"),
    path("card/<str:token>/manifest.webmanifest", views.card_manifest, name="card-manifest"),
]

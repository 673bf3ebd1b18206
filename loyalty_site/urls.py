from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from accounts import views as accounts_views

urlpatterns = [
    path("admin/reports/", include("reports.urls")),
    path("admin/", admin.site.urls),
    # staff choose their password from the link an owner makes (accounts.staff_admin)
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(success_url="/password/reset/done/"),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"
    ),
    # languages: the switcher posts to i18n/setlang/ (name "set_language"); the till's and the
    # dashboard's JavaScript take their strings from jsi18n/ (gettext(), ngettext(), interpolate())
    path("i18n/setlang/", accounts_views.set_language, name="set_language"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("api.urls")),
    path("", include("cashier.urls")),
    path("", include("ops.urls")),
    path("", include("rewards.urls")),
]

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/reports/", include("reports.urls")),
    path("admin/", admin.site.urls),
    path("", include("api.urls")),
    path("", include("cashier.urls")),
    path("", include("ops.urls")),
    path("", include("rewards.urls")),
]

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/reports/", include("reports.urls")),
    path("admin/", admin.site.urls),
    path("", include("api.urls")),
    path("", include("cashier.urls")),
    path("healthz/", healthz),
]

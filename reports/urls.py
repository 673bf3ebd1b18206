from django.contrib import admin
from django.urls import path

from loyalty_site.core.replica import replica_view

from . import views

app_name = "reports"

urlpatterns = [
    path("", admin.site.admin_view(replica_view(views.dashboard)), name="dashboard"),
    path("events/", admin.site.admin_view(replica_view(views.event_log)), name="events"),
    path("export/<str:name>.<str:fmt>", admin.site.admin_view(replica_view(views.export)), name="export"),
    path("import/", admin.site.admin_view(views.import_members), name="import"),
    path("import/<int:job_id>/", admin.site.admin_view(views.import_job), name="import_job"),
]

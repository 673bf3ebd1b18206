"""A site-wide admin action: "Export selected to CSV" on every change list.

The queryset an action receives is already scoped to the user's merchant by ScopedAdmin, and the
action needs only the view permission (analysts may export). Columns are the model's concrete
fields (foreign keys as ids) except secrets, streamed from the replica when there is one
(`exports.rows_streamed`), so "select all 1 000 000" works too. The named report
exports (members, entries, purchases, campaign results) live on the analytics page.
"""

from django.contrib import admin
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy as _

from loyalty_site.core.replica import read_alias

from .exports import csv_lines, rows_streamed

SECRET_MARKERS = ("password", "secret", "token", "hashed", "key_hash")


def _is_secret(name: str) -> bool:
    """Credentials never leave through an export: password hashes, API key hashes, webhook
    secrets, card tokens (the card page's URL secret)."""
    return any(marker in name.lower() for marker in SECRET_MARKERS)


@admin.action(description=_("Export selected to CSV"), permissions=["view"])
def export_selected_csv(modeladmin, request, queryset):
    """The one CSV export of every change list; an admin with a better export of its rows (coupons:
    codes and terms; coupon batches: their codes) gives it by `export_csv_response(request, queryset)`
    instead of a second, near-identical action."""
    custom = getattr(modeladmin, "export_csv_response", None)
    if custom is not None:
        return custom(request, queryset)
    model = queryset.model
    headers = [f.attname for f in model._meta.concrete_fields if not _is_secret(f.attname)]
    rows = rows_streamed(queryset.using(read_alias()).order_by("pk").values_list(*headers))
    response = StreamingHttpResponse(
        csv_lines(headers=headers, rows=rows), content_type="text/csv; charset=utf-8"
    )
    filename = f"{model._meta.app_label}-{model._meta.model_name}"
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


admin.site.add_action(export_selected_csv, "export_selected_csv")

"""CSV and XLSX exports of members, ledger entries, purchases and campaign results.

Each dataset is a list of columns (header, ORM path) over a queryset scoped to the user's merchant
(and filtered by program and date range), read from the replica when one is configured
(`loyalty_site.core.replica.read_alias`). CSV is streamed row by row from a server-side cursor
(`iterator(chunk_size=...)`) opened inside a transaction (`rows_streamed`), so a million rows never
sit in memory, neither in the web process nor on the database server (outside a transaction Django
declares the cursor WITH HOLD, and PostgreSQL then materialises the whole result before the first
row), and it works behind PgBouncer in transaction mode (the cursor lives as long as its
transaction). XLSX is written by openpyxl's write-only workbook to a spooled temporary file (a
spreadsheet cannot be streamed: its zip directory comes last). XLSX stops at Excel's limit of
1 048 576 rows; larger sets are CSV only.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Member
from campaigns.models import CampaignGrant
from ledger.models import Entry, Purchase
from loyalty_site.core.errors import InvalidInput
from loyalty_site.core.replica import read_alias

CHUNK = 2000
XLSX_MAX_ROWS = 1_048_575  # plus the header row


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    columns: tuple[tuple[str, str], ...]  # (header, values() path)
    date_field: str | None  # filtered by the report's date range, or None for all rows

    @property
    def headers(self) -> list[str]:
        return [header for header, _path in self.columns]

    @property
    def paths(self) -> list[str]:
        return [path for _header, path in self.columns]


def _members_qs() -> QuerySet:
    return Member.objects.all()


def _entries_qs() -> QuerySet:
    return Entry.objects.all()


def _purchases_qs() -> QuerySet:
    return Purchase.objects.all()


def _grants_qs() -> QuerySet:
    return CampaignGrant.objects.all()


DATASETS: dict[str, tuple[Dataset, Any]] = {
    "members": (
        Dataset(
            name="members",
            title=_("Members"),
            columns=(
                ("id", "id"),
                ("program_id", "program_id"),
                ("external_id", "external_id"),
                ("phone", "phone"),
                ("email", "email"),
                ("first_name", "first_name"),
                ("last_name", "last_name"),
                ("birth_date", "birth_date"),
                ("card_number", "card_number"),
                ("status", "status"),
                ("tier", "tier__code"),
                ("balance", "balance"),
                ("pending_points", "pending_points"),
                ("last_activity_at", "last_activity_at"),
                ("created_at", "created_at"),
            ),
            date_field=None,
        ),
        _members_qs,
    ),
    "entries": (
        Dataset(
            name="entries",
            title=_("Ledger entries"),
            columns=(
                ("id", "id"),
                ("posting_id", "posting_id"),
                ("reference", "posting__reference"),
                ("program_id", "program_id"),
                ("member_id", "member_id"),
                ("account", "account"),
                ("kind", "kind"),
                ("points", "points"),
                ("balance_after", "balance_after"),
                ("description", "posting__description"),
                ("purchase_id", "posting__purchase_id"),
                ("campaign_id", "posting__campaign_id"),
                ("created_at", "created_at"),
            ),
            date_field="created_at",
        ),
        _entries_qs,
    ),
    "purchases": (
        Dataset(
            name="purchases",
            title=_("Purchases"),
            columns=(
                ("id", "id"),
                ("program_id", "program_id"),
                ("member_id", "member_id"),
                ("card_number", "member__card_number"),
                ("external_id", "external_id"),
                ("kind", "kind"),
                ("amount", "amount"),
                ("currency", "currency"),
                ("discount", "discount_amount"),
                ("amount_due", "amount_due"),
                ("points_earned", "points_earned"),
                ("points_redeemed", "points_redeemed"),
                ("refunded_amount", "refunded_amount"),
                ("points_reversed", "points_reversed"),
                ("points_returned", "points_returned"),
                ("coupon_code", "coupon_code"),
                ("occurred_at", "occurred_at"),
            ),
            date_field="occurred_at",
        ),
        _purchases_qs,
    ),
    "campaign_results": (
        Dataset(
            name="campaign_results",
            title=_("Campaign results (rewards granted)"),
            columns=(
                ("id", "id"),
                ("program_id", "campaign__program_id"),
                ("campaign_code", "campaign__code"),
                ("campaign_name", "campaign__name"),
                ("member_id", "member_id"),
                ("period_key", "period_key"),
                ("points", "points"),
                ("cost", "cost"),
                ("coupon_code", "coupon__code"),
                ("purchase_ref", "purchase_ref"),
                ("created_at", "created_at"),
            ),
            date_field="created_at",
        ),
        _grants_qs,
    ),
}

PROGRAM_PATHS = {"members": "program_id", "entries": "program_id", "purchases": "program_id"}


def dataset_get(name: str) -> Dataset:
    if name not in DATASETS:
        raise InvalidInput(gettext("Unknown export '%(name)s'.") % {"name": name})
    return DATASETS[name][0]


def dataset_rows(*, name: str, program_ids: list[int], start: datetime | None, end: datetime | None):
    """The dataset's queryset of value tuples for these programs (already scoped) and range."""
    dataset, base = DATASETS[name]
    program_path = PROGRAM_PATHS.get(name, "campaign__program_id")
    queryset = base().filter(**{f"{program_path}__in": program_ids})
    if dataset.date_field and start is not None:
        queryset = queryset.filter(**{f"{dataset.date_field}__gte": start})
    if dataset.date_field and end is not None:
        queryset = queryset.filter(**{f"{dataset.date_field}__lt": end})
    return queryset.using(read_alias()).order_by("id").values_list(*dataset.paths)


def rows_streamed(queryset: QuerySet, chunk_size: int = CHUNK) -> Iterator[tuple]:
    """The queryset's rows, `chunk_size` at a time from a server-side cursor held in one
    transaction on the queryset's database (read-only: it is rolled back if the client goes away,
    committed with nothing to commit otherwise). Memory stays flat whatever the number of rows."""
    with transaction.atomic(using=queryset.db):
        yield from queryset.iterator(chunk_size=chunk_size)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value)
    if value is None:
        return ""
    return value


def _csv_safe(value: Any) -> Any:
    """Spreadsheet formula injection: a cell a member typed (a name) that starts with = + - @ is
    prefixed with a quote so Excel shows it as text. Numbers are left alone."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(value):
        return "'" + value
    return value


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except Exception:
        return False
    return True


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(*, headers: list[str], rows: Iterable[tuple]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(headers)  # BOM: Excel opens UTF-8 names correctly
    for row in rows:
        yield writer.writerow([_csv_safe(_cell(value)) for value in row])


def csv_response(*, name: str, program_ids: list[int], start, end, filename: str) -> StreamingHttpResponse:
    dataset = dataset_get(name)
    rows = rows_streamed(dataset_rows(name=name, program_ids=program_ids, start=start, end=end))
    response = StreamingHttpResponse(
        csv_lines(headers=dataset.headers, rows=rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def xlsx_response(*, name: str, program_ids: list[int], start, end, filename: str) -> FileResponse:
    """Raises InvalidInput when the set is larger than a worksheet holds."""
    from openpyxl import Workbook

    dataset = dataset_get(name)
    queryset = dataset_rows(name=name, program_ids=program_ids, start=start, end=end)
    if queryset.count() > XLSX_MAX_ROWS:
        raise InvalidInput(gettext("Too many rows for a spreadsheet (over 1 048 575): export CSV instead."))
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(str(dataset.title)[:31])
    sheet.append(dataset.headers)
    for row in rows_streamed(queryset):
        sheet.append([_xlsx_cell(value) for value in row])
    handle = tempfile.SpooledTemporaryFile(max_size=20 * 1024 * 1024)  # noqa: SIM115 - FileResponse closes it
    workbook.save(handle)
    handle.seek(0)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"{filename}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        # Excel has no time zones: write the local wall time, without tzinfo.
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, str):
        return _csv_safe(value)
    return value

"""Report pages inside the admin (`/admin/reports/`): dashboard, event log, exports, member import.

Every page runs through `admin.site.admin_view` (admin login, admin roles) and sees only the
programs of the user's merchant (`scope_to_user`); a program id of another merchant in a filter is
a form error, never data. Imports need a write role (owner, manager) as any admin change does.
"""

from __future__ import annotations

import contextlib

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext as _

from accounts.models import Member, Program
from accounts.services import phone_normalize
from campaigns.models import Campaign
from loyalty_site.core.admin import can_write
from loyalty_site.core.admin_lists import EstimatedCountPaginator
from loyalty_site.core.data_tables import data_table
from loyalty_site.core.errors import LoyaltyError
from loyalty_site.core.events import EVENT_TYPES
from loyalty_site.core.tenancy import scope_to_user
from notifications.models import Event

from . import exports, selectors
from .forms import EventLogFilterForm, ImportForm, ReportFilterForm
from .import_jobs import import_job_upload
from .models import ImportJob


def _programs(request):
    return scope_to_user(Program.objects.select_related("merchant"), request.user).order_by("name", "id")


def _report_filter(request, form_class=ReportFilterForm):
    programs = _programs(request)
    form = form_class(request.GET or None, programs=programs)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
    else:
        empty = form_class({}, programs=programs)
        empty.is_valid()
        data = empty.cleaned_data
        if not form.is_bound:  # show the default range in the date fields
            form = form_class(programs=programs, initial={"since": data["since"], "until": data["until"]})
    chosen = [data["program"]] if data.get("program") else list(programs)
    report = selectors.ReportFilter(programs=chosen, since=data["since"], until=data["until"])
    return form, report, data


def _context(request, **extra):
    context = admin.site.each_context(request)
    context.update(extra)
    return context


def dashboard(request):
    form, report, _data = _report_filter(request)
    data = selectors.dashboard(report=report)
    charts = {
        "flow": {
            "labels": [d["day"].isoformat() for d in data["flow"]],
            "earned": [d["earned"] for d in data["flow"]],
            "spent": [d["spent"] for d in data["flow"]],
            "expired": [d["expired"] for d in data["flow"]],
        },
        "tiers": {
            "labels": [t["tier"] for t in data["tiers"]],
            "values": [t["members"] for t in data["tiers"]],
        },
        "segments": {
            "labels": [s["segment"] for s in data["segments"]],
            "values": [s["members"] for s in data["segments"]],
        },
        "nps": {
            "labels": [n["week"].isoformat() for n in data["nps"]],
            "values": [n["nps"] for n in data["nps"]],
        },
    }
    return render(
        request,
        "reports/dashboard.html",
        _context(
            request,
            title=gettext("Analytics"),
            form=form,
            report=report,
            data=data,
            charts=charts,
            export_query=request.GET.urlencode(),
            datasets=[d for d, _ in exports.DATASETS.values()],
        ),
    )


def _find_members(*, programs, query: str) -> Q:
    query = query.strip()
    condition = Q(card_number=query) | Q(phone=query) | Q(email=query.lower()) | Q(external_id=query)
    if query.isdigit() and len(query) < 13:
        condition |= Q(pk=int(query))
    with contextlib.suppress(LoyaltyError):
        condition |= Q(phone=phone_normalize(query))
    return Member.objects.filter(program__in=programs).filter(condition).values("pk")


def event_log(request):
    """The notifications app's event store, newest first, 50 a page."""
    form, report, data = _report_filter(request, EventLogFilterForm)
    events = Event.objects.filter(
        program_id__in=report.program_ids, at__gte=report.start, at__lt=report.end
    ).select_related("member", "program")
    if data.get("type"):
        events = events.filter(type=data["type"])
    if data.get("member"):
        events = events.filter(member__in=_find_members(programs=report.programs, query=data["member"]))
    if data.get("campaign"):
        code = data["campaign"].strip()
        if code.isdigit():
            found = Campaign.objects.filter(program_id__in=report.program_ids, pk=int(code)).first()
            code = found.code if found else code
        events = events.filter(data__campaign=code)
    # at most 10 001 rows counted, then the planner's estimate (a month of a million members'
    # events is millions of rows)
    page = EstimatedCountPaginator(events.order_by("-at", "-id"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)

    return render(
        request,
        "reports/event_log.html",
        _context(
            request,
            title=gettext("Event log"),
            form=form,
            page=page,
            rows=[(event, data_table(event.data)) for event in page],
            event_types=EVENT_TYPES,
            query=query.urlencode(),
        ),
    )


def export(request, name, fmt):
    """Download a dataset for the filter's programs and range (members: all, no range)."""
    if name not in exports.DATASETS or fmt not in ("csv", "xlsx"):
        raise Http404(gettext("No such export."))
    dataset = exports.dataset_get(name)
    _form, report, _data = _report_filter(request)
    program_part = f"program{report.programs[0].pk}" if len(report.programs) == 1 else "all"
    filename = f"{dataset.name}-{program_part}"
    if dataset.date_field:
        filename += f"-{report.since:%Y%m%d}-{report.until:%Y%m%d}"
    arguments = {
        "name": name,
        "program_ids": report.program_ids,
        "start": report.start if dataset.date_field else None,
        "end": report.end if dataset.date_field else None,
        "filename": filename,
    }
    if fmt == "csv":
        return exports.csv_response(**arguments)
    try:
        return exports.xlsx_response(**arguments)
    except LoyaltyError as error:
        messages.error(request, error.message)
        return redirect(f"{reverse('reports:dashboard')}?{request.GET.urlencode()}")


def import_members(request):
    """Upload a CSV of members with opening balances (see reports.imports for the columns): the
    file, of any size, is stored and imported by a background job (`reports.import_jobs`); the
    page redirects to the job's progress."""
    if not can_write(request):
        raise PermissionDenied(_("Importing members needs the owner or manager role."))
    programs = _programs(request).filter(is_active=True)
    form = ImportForm(request.POST or None, request.FILES or None, programs=programs)
    if request.method == "POST" and form.is_valid():
        job = import_job_upload(
            program=form.cleaned_data["program"],
            upload=form.cleaned_data["file"],
            at=timezone.now(),
            user=request.user,
        )
        return redirect("reports:import_job", job_id=job.pk)
    jobs = ImportJob.objects.filter(program__in=_programs(request)).select_related("program")[:20]
    return render(
        request,
        "reports/import.html",
        _context(request, title=_("Import members"), form=form, jobs=jobs, columns=IMPORT_COLUMNS_HELP),
    )


IMPORT_JOB_ERRORS_SHOWN = 500


def import_job(request, job_id: int):
    """A member import's progress (the page reloads itself while the job runs) and its bad rows
    by line (the first 500 here, all of them as CSV)."""
    job = get_object_or_404(
        ImportJob.objects.select_related("program", "created_by"), pk=job_id, program__in=_programs(request)
    )
    if request.GET.get("format") == "csv":
        rows = exports.rows_streamed(job.row_errors.order_by("line").values_list("line", "reason"))
        response = StreamingHttpResponse(
            exports.csv_lines(headers=["line", "reason"], rows=rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-bad-rows.csv"'
        return response
    running = job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING)
    errors = list(job.row_errors.order_by("line")[:IMPORT_JOB_ERRORS_SHOWN])
    return render(
        request,
        "reports/import_job.html",
        _context(request, title=_("Member import"), job=job, running=running, errors=errors),
    )


IMPORT_COLUMNS_HELP = [
    ("external_id", gettext_lazy("Member id in the old system (the import's key; else phone, else email).")),
    ("phone", gettext_lazy("Any format the program's region understands; stored as E.164.")),
    ("email", ""),
    ("first_name, last_name", ""),
    ("birth_date", "YYYY-MM-DD"),
    ("balance", gettext_lazy("Opening points (whole number ≥ 0).")),
    (
        "expires_at",
        gettext_lazy(
            "When the opening points expire: YYYY-MM-DD or ISO date-time (default: the program's lifetime)."
        ),
    ),
    ("tier", gettext_lazy("Tier code of this program, kept as a manual tier for the tier window.")),
]

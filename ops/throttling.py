"""Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one
address, that pair is locked out of /admin/login/ and /cashier/login/ until the cool-off passes or a
superuser unlocks it in the admin (Operations › Access attempts)."""

from __future__ import annotations

from axes.helpers import get_client_username, get_cool_off
from django.shortcuts import render
from django.utils.translation import gettext as _


def lockout_response(request, original_response=None, credentials=None):
    """The lockout page (429) in the look of the page the login came from: the till's or the admin's."""
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else None
    template = "cashier/locked_out.html" if request.path.startswith("/cashier/") else "admin/locked_out.html"
    context = {
        "username": get_client_username(request, credentials) or "",
        "minutes": minutes,
        "title": _("Too many failed logins"),
    }
    response = render(request, template, context, status=429)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response

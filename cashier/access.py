"""Who may use the till, and which program they work in.

A till user is a superuser or merchant staff with a TILL_ROLES role (owner, manager, cashier).
Analysts read the admin only and have no till. The program being worked is kept in the session
(`cashier_program_id`); a merchant with several programs shows a picker. Every member lookup of the
till goes through `till_member_get`, so another merchant's (or another program's) member is a 404.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext

from accounts.models import Member, Program
from loyalty_site.core.tenancy import TILL_ROLES, scope_to_user, staff_role

SESSION_PROGRAM_KEY = "cashier_program_id"


def can_use_till(user) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or staff_role(user) in TILL_ROLES


def till_programs(user):
    """Active programs of active merchants the user may work in, by name."""
    return (
        scope_to_user(Program.objects.live(), user)
        .select_related("merchant")
        .order_by("merchant__name", "name", "id")
    )


def till_program_get(request) -> Program | None:
    """The program chosen in this session, or the only one there is; None when a choice is needed."""
    programs = till_programs(request.user)
    chosen = request.session.get(SESSION_PROGRAM_KEY)
    if chosen is not None:
        program = programs.filter(pk=chosen).first()
        if program is not None:
            return program
        request.session.pop(SESSION_PROGRAM_KEY, None)
    only = list(programs[:2])
    if len(only) == 1:
        request.session[SESSION_PROGRAM_KEY] = only[0].pk
        return only[0]
    return None


def till_program_set(request, program_id) -> Program:
    """Choose the program to work in. Raises Http404 for a program the user may not use."""
    try:
        program = till_programs(request.user).get(pk=int(program_id))
    except (Program.DoesNotExist, TypeError, ValueError):
        raise Http404(gettext("No such program."))
    request.session[SESSION_PROGRAM_KEY] = program.pk
    return program


def till_member_get(program: Program, member_id) -> Member:
    try:
        return Member.objects.select_related("program", "tier").get(program=program, pk=int(member_id))
    except (Member.DoesNotExist, TypeError, ValueError):
        raise Http404(gettext("No such member in this program."))


def till_required(view):
    """Login (the till's own page) and a till role; attaches `request.program` (None until chosen)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url="cashier:login")
        if not can_use_till(request.user):
            raise PermissionDenied(gettext("The till is for cashiers, managers and owners."))
        request.program = till_program_get(request)
        return view(request, *args, **kwargs)

    return wrapper

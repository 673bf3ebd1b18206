"""The member search of the admin's big lists (`loyalty_site.core.admin_lists`): the exact lookups
a person at a desk types (a card number, a phone in any format the program's region reads, an
e-mail, an external id, a referral code, a member id) and names, by word, as substrings through
trigram indexes (accounts migration `member_name_trgm`). `MemberSearchMixin` gives it to the member
admin and to the admins of the tables that point to a member."""

from __future__ import annotations

import contextlib
import re

from django.db.models import Q

from loyalty_site.core.errors import LoyaltyError
from loyalty_site.core.tenancy import scope_to_user

from .models import Member, Program
from .services import phone_normalize

MEMBER_MATCHES = 500  # members a search on a member's rows looks at (a name can match many)


def _words(query: str) -> list[str]:
    return [word for word in re.split(r"\s+", query.strip()) if word]


def member_condition(query: str, *, program_ids: list[int], prefix: str = "") -> Q | None:
    """A Q on members (or on `prefix`, e.g. "member__") for what someone typed: exact identifiers
    always; names when the query has letters (every word in the first or the last name). The
    per-program identifiers (phone, e-mail, external id) name the programs, so that each branch is an
    index scan of its `(program, field)` unique index and the OR a bitmap of them."""
    query = query.strip()
    if not query:
        return None
    p = prefix
    programs = {f"{p}program_id__in": program_ids}
    condition = (
        Q(**{f"{p}card_number": query})
        | Q(**{f"{p}referral_code": query})
        | Q(**programs, **{f"{p}external_id": query})
        | Q(**programs, **{f"{p}phone": query})
    )
    if "@" in query:
        condition |= Q(**programs, **{f"{p}email__in": sorted({query, query.lower()})})
    compact = re.sub(r"[\s().-]", "", query)
    if compact.lstrip("+").isdigit():
        if compact.isdigit() and len(compact) < 13:
            condition |= Q(**{f"{p}pk": int(compact)})
        condition |= Q(**{f"{p}card_number": compact})
        condition |= Q(**programs, **{f"{p}phone__in": _phone_forms(compact)})
    if any(ch.isalpha() for ch in query):
        names = Q()
        for word in _words(query)[:4]:
            names &= Q(**{f"{p}first_name__icontains": word}) | Q(**{f"{p}last_name__icontains": word})
        condition |= names
    return condition


def _phone_forms(digits: str) -> list[str]:
    """E.164 forms of a typed phone: as given with a +, and as the regions of the programs read it
    (accounts.services.phone_normalize with the default region)."""
    forms = {digits if digits.startswith("+") else "+" + digits}
    with contextlib.suppress(LoyaltyError):
        forms.add(phone_normalize(digits))
    return sorted(forms)


class MemberSearchMixin:
    """`get_search_results` over the member's identifiers and names (see `member_condition`) plus
    the admin's own `exact_search_fields` (equality: a receipt id, a reference; `(field, program
    path)` when the field's index is unique per program, so the program ids lead the lookup).
    `member_search_path` is "" on the member admin, "member" on the tables that point to one."""

    member_search_path = "member"
    exact_search_fields: tuple[str | tuple[str, str], ...] = ()
    search_fields = ("member identifiers and names",)  # shows the search box; the lookups are ours

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        program_ids = list(scope_to_user(Program.objects.all(), request.user).values_list("pk", flat=True))
        members = member_condition(term, program_ids=program_ids)
        if not self.member_search_path:
            return queryset.filter(members), False
        # the matching members first (a handful), as a list: as a subquery the planner would rather
        # walk the big table's primary key backwards than believe it selective
        member_ids = list(Member.objects.filter(members).values_list("pk", flat=True)[:MEMBER_MATCHES])
        condition = Q(**{f"{self.member_search_path}__in": member_ids})
        for field in self.exact_search_fields:
            if isinstance(field, tuple):  # (field, program path): a (program, field) index serves it
                field, program_path = field
                condition |= Q(**{field: term, f"{program_path}__in": program_ids})
            else:
                condition |= Q(**{field: term})
        return queryset.filter(condition), False

"""Merchant scoping. Every merchant-owned model declares `MERCHANT_LOOKUP`, the ORM path from the
model to its merchant's id (`"id"` on Merchant, `"merchant"` on Program, `"program__merchant"` on
Member, ...). Admin, till and API scope their querysets with `scope_to_user` / `scope_to_merchant`
instead of writing filters by hand."""

from __future__ import annotations

from django.db.models import Model, QuerySet

ADMIN_ROLES = frozenset({"owner", "manager", "analyst"})
WRITE_ROLES = frozenset({"owner", "manager"})
TILL_ROLES = frozenset({"owner", "manager", "cashier"})


def is_scoped(model: type[Model]) -> bool:
    return hasattr(model, "MERCHANT_LOOKUP")


def staff_role(user) -> str | None:
    """The user's role at their merchant, or None (superusers included: they have no role)."""
    if not getattr(user, "is_authenticated", False):
        return None
    profile = getattr(user, "staff_profile", None)
    if profile is None or not profile.is_active:
        return None
    return profile.role


def staff_merchant_id(user) -> int | None:
    profile = getattr(user, "staff_profile", None)
    if profile is None or not profile.is_active:
        return None
    return profile.merchant_id


def scope_to_merchant(queryset: QuerySet, merchant_id: int | None) -> QuerySet:
    lookup = queryset.model.MERCHANT_LOOKUP
    if merchant_id is None:
        return queryset.none()
    return queryset.filter(**{lookup: merchant_id})


def scope_to_user(queryset: QuerySet, user) -> QuerySet:
    """Everything for a superuser; only the user's merchant's rows for staff; nothing otherwise."""
    if not is_scoped(queryset.model):
        return queryset if getattr(user, "is_superuser", False) else queryset.none()
    if getattr(user, "is_superuser", False):
        return queryset
    return scope_to_merchant(queryset, staff_merchant_id(user))

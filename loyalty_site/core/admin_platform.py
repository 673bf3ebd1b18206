"""Platform-wide admins (users, groups, celery-beat's job schedules) are for superusers only.

Their registrations come from Django and django-celery-beat; after autodiscovery each is replaced by
a subclass with `SuperuserOnlyAdmin` first, and actions that come without `permissions` (celery-beat's
enable / disable / toggle / run) are given `["change"]`, so the system check holds for them too.
Merchant staff manage their own staff through the StaffMember admin (accounts/admin.py).
"""

from __future__ import annotations

import functools

from loyalty_site.core.admin import SuperuserOnlyAdmin

PLATFORM_MODELS = (
    "auth.User",
    "auth.Group",
    "django_celery_beat.PeriodicTask",
    "django_celery_beat.ClockedSchedule",
    "django_celery_beat.CrontabSchedule",
    "django_celery_beat.SolarSchedule",
    "django_celery_beat.IntervalSchedule",
)


def _with_permissions(func, permissions):
    @functools.wraps(func)
    def action(*args, **kwargs):
        return func(*args, **kwargs)

    action.allowed_permissions = tuple(permissions)
    return action


def platform_admins_lock(site) -> None:
    from django.apps import apps

    for label in PLATFORM_MODELS:
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        current = site._registry.get(model)
        if current is None or isinstance(current, SuperuserOnlyAdmin):
            continue
        base = type(current)
        attrs = {"__module__": __name__}
        for name in base.actions or ():
            func = getattr(base, name, None) if isinstance(name, str) else None
            if func is not None and not getattr(func, "allowed_permissions", None):
                attrs[name] = _with_permissions(func, ["change"])
        locked = type(f"SuperuserOnly{base.__name__}", (SuperuserOnlyAdmin, base), attrs)
        site.unregister(model)
        site.register(model, locked)

"""System check: every admin action says who may run it.

Django offers an action without `allowed_permissions` to anyone who can open the change list,
analysts included, so an action that writes would be open to a read-only role. `loyalty.E001`
fails `manage.py check` (and the test suite, tests/core/test_admin_roles.py) for any action of a
registered ModelAdmin, site-wide actions included, that declares no `permissions`.
"""

from __future__ import annotations

from django.core import checks


def admin_action_errors(site=None) -> list[checks.Error]:
    from django.contrib import admin

    site = site or admin.site
    errors = []
    for model, model_admin in site._registry.items():
        for func, name, _description in model_admin._get_base_actions():
            if getattr(func, "allowed_permissions", None):
                continue
            errors.append(
                checks.Error(
                    f"The admin action {name!r} of {type(model_admin).__name__} ({model._meta.label}) "
                    "declares no permissions.",
                    hint='Use @admin.action(description=..., permissions=["change"]) for an action that '
                    'writes, permissions=["view"] for a pure read or export.',
                    obj=type(model_admin),
                    id="loyalty.E001",
                )
            )
    return errors


@checks.register(checks.Tags.admin)
def check_admin_action_permissions(app_configs=None, **kwargs):
    return admin_action_errors()

"""Admin base classes that keep a merchant's staff inside their merchant.

`ScopedAdmin` scopes the change list, change form lookups (so another merchant's object is a 404),
actions (they act on the scoped queryset), history, foreign-key dropdowns and autocompletes (the
autocomplete view asks the related model's admin for its scoped queryset). Permissions follow the
staff role: owner and manager change, analyst views, cashier has no admin access at all.
Superusers see everything. Use `ScopedTabularInline` / `ScopedStackedInline` for inlines.

Roles (README "Who can do what"): every admin action declares Django-native `permissions`
(`["change"]` for anything that writes, `["view"]` for pure reads and exports; the system check
`loyalty.E001` refuses an action without them), and every custom admin view checks
`has_change_permission` / `has_view_permission` (or a `has_<name>_permission` of its admin).
`writer_only_fields` names fields and display methods only writers see (secrets, links to write pages):
analysts never get them in a change form or a change list, and exports leave secrets out.
"""

from __future__ import annotations

from django.contrib import admin

from loyalty_site.core.tenancy import ADMIN_ROLES, WRITE_ROLES, is_scoped, scope_to_user, staff_role


class ScopedFormfieldsMixin:
    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.remote_field.model
        if "queryset" not in kwargs and is_scoped(related):
            kwargs["queryset"] = scope_to_user(related._default_manager.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        related = db_field.remote_field.model
        if "queryset" not in kwargs and is_scoped(related):
            kwargs["queryset"] = scope_to_user(related._default_manager.all(), request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class RolePermissionsMixin:
    #: Set to True for models staff may only read (ledger entries, logs...).
    read_only_for_staff = False
    #: Fields and display methods shown only to roles that write: signing secrets, tokens, links to
    #: pages that change data.
    writer_only_fields: tuple[str, ...] = ()

    def _role(self, request):
        return staff_role(request.user)

    def has_module_permission(self, request):
        return request.user.is_superuser or self._role(request) in ADMIN_ROLES

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or self._role(request) in ADMIN_ROLES

    def has_add_permission(self, request, *args):
        if request.user.is_superuser:
            return super().has_add_permission(request, *args)
        return not self.read_only_for_staff and self._role(request) in WRITE_ROLES

    def has_change_permission(self, request, obj=None):
        if request.user.is_superuser:
            return super().has_change_permission(request, obj)
        return not self.read_only_for_staff and self._role(request) in WRITE_ROLES

    def has_delete_permission(self, request, obj=None):
        if request.user.is_superuser:
            return super().has_delete_permission(request, obj)
        return not self.read_only_for_staff and self._role(request) in WRITE_ROLES


def can_write(request) -> bool:
    """The request's user may change the merchant's configuration (owner, manager, superuser)."""
    return request.user.is_superuser or staff_role(request.user) in WRITE_ROLES


class SecretFieldsMixin:
    """Drops `writer_only_fields` from every place a reader (analyst) could see them."""

    def _hide_writer_only(self, request) -> bool:
        return bool(self.writer_only_fields) and not can_write(request)

    def _without_writer_only(self, request, names):
        if not self._hide_writer_only(request):
            return names
        return [name for name in names if name not in self.writer_only_fields]

    def get_fields(self, request, obj=None):
        return self._without_writer_only(request, list(super().get_fields(request, obj)))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self._hide_writer_only(request):
            return fieldsets
        return [
            (name, {**options, "fields": self._without_writer_only(request, list(options.get("fields", ())))})
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        return self._without_writer_only(request, list(super().get_readonly_fields(request, obj)))

    def get_list_display(self, request):
        return self._without_writer_only(request, list(super().get_list_display(request)))

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if self._hide_writer_only(request):
            exclude += [name for name in self.writer_only_fields if name not in exclude]
        return exclude or None


class SuperuserOnlyAdmin:
    """Platform-wide models (users, groups, job schedules): superusers only, whatever Django
    permissions a merchant's staff user might hold."""

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class ScopedAdmin(RolePermissionsMixin, SecretFieldsMixin, ScopedFormfieldsMixin, admin.ModelAdmin):
    list_per_page = 50

    def get_queryset(self, request):
        return scope_to_user(super().get_queryset(request), request.user)


class ScopedTabularInline(RolePermissionsMixin, ScopedFormfieldsMixin, admin.TabularInline):
    extra = 0


class ScopedStackedInline(RolePermissionsMixin, ScopedFormfieldsMixin, admin.StackedInline):
    extra = 0

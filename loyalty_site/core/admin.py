"""Admin base classes that keep a merchant's staff inside their merchant.

`ScopedAdmin` scopes the change list, change form lookups (so another merchant's object is a 404),
actions (they act on the scoped queryset), history, foreign-key dropdowns and autocompletes (the
autocomplete view asks the related model's admin for its scoped queryset). Permissions follow the
staff role: owner and manager change, analyst views, cashier has no admin access at all.
Superusers see everything. Use `ScopedTabularInline` / `ScopedStackedInline` for inlines.
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


class ScopedAdmin(RolePermissionsMixin, ScopedFormfieldsMixin, admin.ModelAdmin):
    list_per_page = 50

    def get_queryset(self, request):
        return scope_to_user(super().get_queryset(request), request.user)


class ScopedTabularInline(RolePermissionsMixin, ScopedFormfieldsMixin, admin.TabularInline):
    extra = 0


class ScopedStackedInline(RolePermissionsMixin, ScopedFormfieldsMixin, admin.StackedInline):
    extra = 0

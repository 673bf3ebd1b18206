"""Staff management for owners: one form creates the user and their role at the owner's merchant
(a password set now, or a reset link), the change form changes the role, suspends or reactivates
(the profile and the login together) and sets a new password or makes a reset link.

There is no user dropdown: an owner never attaches an existing user, so another merchant's user or
a profile-less user is out of reach; the list shows only the owner's merchant's staff. Owners (and
superusers) write here; managers and analysts read; an owner cannot suspend or demote themselves.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty_site.core.admin import ScopedAdmin
from loyalty_site.core.tenancy import staff_merchant_id, staff_role

from . import services
from .models import Merchant, StaffMember


def password_reset_link(request, user) -> str:
    """An absolute link where `user` chooses a new password (Django's reset token: one use, expires
    after PASSWORD_RESET_TIMEOUT)."""
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return request.build_absolute_uri(path)


class StaffPasswordMixin(forms.Form):
    password1 = forms.CharField(
        label=_("Password"), required=False, strip=False, widget=forms.PasswordInput(render_value=False)
    )
    password2 = forms.CharField(
        label=_("Password again"), required=False, strip=False, widget=forms.PasswordInput(render_value=False)
    )
    send_reset_link = forms.BooleanField(
        required=False,
        label=_("Make a reset link instead"),
        help_text=_("The link is shown to you once and e-mailed to the user if they have an address."),
    )

    def clean_passwords(self, user):
        one, two = self.cleaned_data.get("password1"), self.cleaned_data.get("password2")
        if one or two:
            if one != two:
                self.add_error("password2", _("The two passwords differ."))
            else:
                try:
                    password_validation.validate_password(one, user)
                except forms.ValidationError as error:
                    self.add_error("password1", error)


class StaffCreateForm(StaffPasswordMixin, forms.ModelForm):
    username = forms.CharField(label=_("User name"), max_length=150)
    email = forms.EmailField(label=_("E-mail"), required=False)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)

    class Meta:
        model = StaffMember
        fields = ["merchant", "role"]

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("This user name is taken."))
        return username

    def clean(self):
        cleaned = super().clean()
        self.clean_passwords(None)
        if not cleaned.get("password1") and not cleaned.get("send_reset_link"):
            self.add_error("password1", _("Set a password or tick 'Make a reset link instead'."))
        return cleaned


class StaffChangeForm(StaffPasswordMixin, forms.ModelForm):
    class Meta:
        model = StaffMember
        fields = ["role", "is_active"]

    def clean(self):
        cleaned = super().clean()
        self.clean_passwords(self.instance.user)
        return cleaned


class StaffMemberAdmin(ScopedAdmin):
    list_display = ["user", "full_name", "email", "merchant", "role", "is_active", "created_at"]
    list_filter = ["role", "is_active"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    list_select_related = ["user", "merchant"]

    @admin.display(description=_("full name"))
    def full_name(self, obj):
        return obj.user.get_full_name()

    @admin.display(description=_("e-mail"))
    def email(self, obj):
        return obj.user.email

    # --- who --------------------------------------------------------------------------------
    def _manages_staff(self, request) -> bool:
        return request.user.is_superuser or staff_role(request.user) == StaffMember.Role.OWNER

    def has_add_permission(self, request, *args):
        return self._manages_staff(request)

    def has_change_permission(self, request, obj=None):
        if not self._manages_staff(request):
            return False
        return obj is None or request.user.is_superuser or not obj.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser  # owners suspend instead: the history keeps its names

    # --- forms ------------------------------------------------------------------------------
    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = StaffChangeForm if obj is not None else StaffCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is not None:
            return ["user", "merchant", "role", "is_active", "password1", "password2", "send_reset_link"]
        fields = ["username", "email", "first_name", "last_name", "role", "password1", "password2"]
        fields.append("send_reset_link")
        return (["merchant"] if request.user.is_superuser else []) + fields

    def get_readonly_fields(self, request, obj=None):
        return ["user", "merchant"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "merchant":
            kwargs["queryset"] = (
                Merchant.objects.all() if request.user.is_superuser else Merchant.objects.none()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_form(self, request, form, change):
        staff = form.save(commit=False)
        if not change and not request.user.is_superuser:
            staff.merchant_id = staff_merchant_id(request.user)  # always the owner's own merchant
        return staff

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        own = obj.user_id == request.user.pk if change else False
        with transaction.atomic():
            if change:
                if own and (not obj.is_active or obj.role != StaffMember.Role.OWNER):
                    self.message_user(
                        request, gettext("You cannot suspend or demote yourself."), messages.ERROR
                    )
                    obj.refresh_from_db()
                    return
                services.staff_member_set(user=obj.user, merchant=obj.merchant, role=obj.role)
                services.staff_member_activate(profile=obj, is_active=obj.is_active)
                user = obj.user
            else:
                user = services.staff_user_create(
                    merchant=obj.merchant,
                    username=data["username"],
                    password=data.get("password1") or None,
                    role=obj.role,
                    email=data.get("email") or "",
                    first_name=data.get("first_name") or "",
                    last_name=data.get("last_name") or "",
                )
                obj.pk = user.staff_profile.pk
                obj.refresh_from_db()
            if change and data.get("password1"):
                user.set_password(data["password1"])
                user.save(update_fields=["password"])
        if data.get("send_reset_link"):
            link = password_reset_link(request, user)
            if user.email:
                send_mail(
                    gettext("Choose your password"),
                    gettext("Hello %(user)s,\n\nchoose your password here: %(link)s\n")
                    % {"user": user.get_username(), "link": link},
                    None,
                    [user.email],
                )
            self.message_user(
                request,
                gettext("Reset link for %(user)s (shown once): %(link)s")
                % {"user": user.get_username(), "link": link},
            )

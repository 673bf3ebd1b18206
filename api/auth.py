"""API-key authentication: `Authorization: Api-Key <key>`; the key names one program."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from accounts.selectors import api_key_authenticate

KEYWORD = "Api-Key"


class ApiKeyAuthentication(BaseAuthentication):
    """Sets `request.auth` to the `accounts.ApiKey` (with program and merchant loaded).

    There is no user: `request.user` stays None. A missing header leaves the request
    unauthenticated (the permission then answers 401); a malformed, unknown or revoked key, or
    the key of a program that is not live (inactive, or its merchant suspended), answers 401 at
    once."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].decode("latin-1").lower() != KEYWORD.lower() or len(header) != 2:
            from rest_framework.exceptions import AuthenticationFailed

            raise AuthenticationFailed(gettext("Use the header 'Authorization: Api-Key <key>'."))
        try:
            raw_key = header[1].decode()
        except UnicodeDecodeError:
            raw_key = ""
        key = api_key_authenticate(raw_key)
        if key is None or not key.program.is_live:
            from rest_framework.exceptions import AuthenticationFailed

            raise AuthenticationFailed(gettext("Unknown or revoked API key, or a suspended program."))
        return (None, key)

    def authenticate_header(self, request) -> str:
        return KEYWORD


class HasApiKey(BasePermission):
    message = _("Send the header 'Authorization: Api-Key <key>'.")

    def has_permission(self, request, view) -> bool:
        return request.auth is not None


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`. A key belongs to one program; create it in the admin or "
            "with `manage.py create_api_key --program ID`.",
        }

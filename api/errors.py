"""One renderer for every API error: `{"error": {"code", "message", "fields"?}}`.

`api_exception_handler` is the DRF exception handler of every API view (see `api.base`); it maps
`LoyaltyError` subclasses (services), DRF's exceptions (validation, parsing, auth, 404, 405, 406,
413, 415, 429), Django's refusals of a request it cannot read (RequestDataTooBig: 413) and
anything unexpected (500, logged, never a traceback in the answer).
`api_not_found` answers unknown URLs under /api/ in the same shape.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from loyalty_site.core.errors import LoyaltyError

from .parsers import RequestTooLarge

logger = logging.getLogger("loyalty.api")

_DRF_CODES: list[tuple[type[Exception], int, str]] = [
    (exceptions.ParseError, 400, "parse_error"),
    (exceptions.ValidationError, 400, "invalid"),
    (exceptions.NotAuthenticated, 401, "not_authenticated"),
    (exceptions.AuthenticationFailed, 401, "not_authenticated"),
    (exceptions.PermissionDenied, 403, "permission_denied"),
    (exceptions.NotFound, 404, "not_found"),
    (exceptions.MethodNotAllowed, 405, "method_not_allowed"),
    (exceptions.NotAcceptable, 406, "not_acceptable"),
    (RequestTooLarge, 413, "request_too_large"),
    (exceptions.UnsupportedMediaType, 415, "unsupported_media_type"),
    (exceptions.Throttled, 429, "throttled"),
]


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    error: dict = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation detail as `{"field" or "parent.child": ["message", ...]}`."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for name, value in detail.items():
            fields.update(_flatten(value, f"{prefix}.{name}" if prefix else str(name)))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            fields[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                fields.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        fields[prefix or "non_field_errors"] = [str(detail)]
    return fields


def _validation_message(fields: dict[str, list[str]]) -> str:
    name, messages = next(iter(fields.items()))
    if name == "non_field_errors":
        return messages[0]
    return f"{name}: {messages[0]}"


def api_exception_handler(exc: Exception, context: dict | None = None) -> Response:
    """Render any exception as the API's error shape. Never re-raises."""
    headers: dict[str, str] = {}
    if isinstance(exc, LoyaltyError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):  # Django's own limit, met reading request.body
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):  # e.g. too many query parameters
        exc = exceptions.ParseError(gettext("The request cannot be read."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, exceptions.APIException):
        code, status_code = "error", exc.status_code
        for cls, mapped_status, mapped_code in _DRF_CODES:
            if isinstance(exc, cls):
                code, status_code = mapped_code, mapped_status
                break
        if isinstance(exc, exceptions.ValidationError):
            fields = _flatten(exc.detail)
            body = error_body(code, _validation_message(fields), fields)
        else:
            body = error_body(code, str(exc.detail))
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait) + 1)
        return Response(body, status=status_code, headers=headers)
    logger.exception("Unhandled error in the API", exc_info=exc)
    return Response(
        error_body("server_error", gettext("An unexpected error occurred; it has been logged.")),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


@csrf_exempt  # no session cookies on the API: a POST to a wrong URL is a 404, not a CSRF 403
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Any URL under /api/ that matches no endpoint (API paths end with a slash)."""
    return JsonResponse(
        error_body("not_found", gettext("No API endpoint at this URL (API paths end with a slash).")),
        status=404,
    )

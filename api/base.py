"""The base classes of every API view: auth, throttling, JSON only, the error handler, `at`."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from .auth import ApiKeyAuthentication, HasApiKey
from .errors import api_exception_handler
from .pagination import ApiPagination
from .parsers import RequestTooLarge, StrictJSONParser, max_body_bytes
from .throttling import ApiKeyRateThrottle


class ApiMixin:
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]
    pagination_class = ApiPagination

    def get_exception_handler(self):
        return api_exception_handler

    def initial(self, request, *args, **kwargs):
        # One moment per request: every service called by this request gets the same `at`.
        self.at = timezone.now()
        _check_request(request)
        super().initial(request, *args, **kwargs)

    @property
    def program(self):
        return self.request.auth.program


def _check_request(request) -> None:
    """Refuse, before anything is read, a body announced larger than the limit (413) and query
    parameters PostgreSQL cannot compare (a NUL character: 400 with `fields`)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_body_bytes():
        raise RequestTooLarge()
    bad = sorted(
        {name for name, value in request.query_params.lists() for item in [name, *value] if "\x00" in item}
    )
    if bad:
        raise exceptions.ValidationError(
            {name.replace("\x00", "\ufffd"): [gettext("Must not contain NUL characters.")] for name in bad}
        )


class ApiView(ApiMixin, APIView):
    pass


class ApiGenericView(ApiMixin, GenericAPIView):
    pass

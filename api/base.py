"""The base classes of every API view: auth, throttling, JSON only, the error handler, `at`."""

from __future__ import annotations

from django.utils import timezone
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from .auth import ApiKeyAuthentication, HasApiKey
from .errors import api_exception_handler
from .pagination import ApiPagination
from .throttling import ApiKeyRateThrottle


class ApiMixin:
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    pagination_class = ApiPagination

    def get_exception_handler(self):
        return api_exception_handler

    def initial(self, request, *args, **kwargs):
        # One moment per request: every service called by this request gets the same `at`.
        self.at = timezone.now()
        super().initial(request, *args, **kwargs)

    @property
    def program(self):
        return self.request.auth.program


class ApiView(ApiMixin, APIView):
    pass


class ApiGenericView(ApiMixin, GenericAPIView):
    pass

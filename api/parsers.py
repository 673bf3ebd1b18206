"""The API's JSON parser: bounded size, bounded nesting, and only strings PostgreSQL can store.

Everything a client sends is refused here with a 4xx rather than failing later with a 500:
- a body over `API_MAX_BODY_BYTES` (setting or environment variable, default 1 MB): 413
  `request_too_large` (`ApiMixin.initial` refuses a too-large Content-Length before anything is
  read; the parser reads at most one byte past the limit, for bodies sent without a length);
- bytes that are not UTF-8, or text that is not JSON (NaN and Infinity included): 400 `parse_error`;
- nesting deeper than `MAX_DEPTH` (arrays and objects), a NUL character or a lone UTF-16 surrogate
  in any string, object keys included: 400 `invalid` with `fields` naming where (PostgreSQL's text
  and jsonb cannot hold either character, and a surrogate cannot even be encoded back as UTF-8).
"""

from __future__ import annotations

import json
import os
import re

from django.conf import settings
from django.utils.translation import gettext
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self, limit: int | None = None):
        limit = max_body_bytes() if limit is None else limit
        super().__init__(gettext("The request body is larger than %(limit)s bytes.") % {"limit": limit})


def max_body_bytes() -> int:
    """The largest body the API reads, in bytes (`API_MAX_BODY_BYTES`, default 1 MB)."""
    value = getattr(settings, "API_MAX_BODY_BYTES", None) or os.environ.get("API_MAX_BODY_BYTES")
    return int(value) if value else DEFAULT_MAX_BODY_BYTES


def _invalid(path: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({path or "body": [message]})


def _printable(key: str) -> str:
    """A key as it can be shown back in an answer (NUL and surrogates replaced)."""
    return _FORBIDDEN.sub("\ufffd", key)


def check_value(value, path: str = "", depth: int = 1) -> None:
    """Raise ValidationError (400 `invalid`, `fields` at the offending path) when `value` nests
    deeper than MAX_DEPTH or holds a string (or key) with a NUL or a lone surrogate."""
    if isinstance(value, str):
        if _FORBIDDEN.search(value):
            raise _invalid(path, gettext("Text must not contain NUL characters or unpaired surrogates."))
        return
    if not isinstance(value, dict | list):
        return
    if depth > MAX_DEPTH:
        raise _invalid(path, gettext("Nested deeper than %(depth)s levels.") % {"depth": MAX_DEPTH})
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{_printable(key)}" if path else _printable(key)
            if _FORBIDDEN.search(key):
                raise _invalid(
                    child, gettext("Names must not contain NUL characters or unpaired surrogates.")
                )
            check_value(item, child, depth + 1)
    else:
        for index, item in enumerate(value):
            check_value(item, f"{path}.{index}" if path else str(index), depth + 1)


class JsonNumber(float):
    """A JSON number with a fraction or an exponent, as a float that keeps the text it was
    written as (`.text`): an amount is read from that text, exactly, and refused when it has an
    exponent (`api.serializers.AmountField`)."""

    __slots__ = ("text",)

    def __new__(cls, text: str):
        number = super().__new__(cls, text)
        number.text = text
        return number


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON.")


class StrictJSONParser(JSONParser):
    """JSONParser with the limits above; the parsed value is what JSONParser would return."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = max_body_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(limit)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(gettext("The body is not UTF-8 text.")) from exc
        try:
            data = json.loads(text, parse_constant=_reject_constant, parse_float=JsonNumber)
        except RecursionError as exc:
            raise _invalid(
                "body", gettext("Nested deeper than %(depth)s levels.") % {"depth": MAX_DEPTH}
            ) from exc
        except ValueError as exc:
            raise exceptions.ParseError(gettext("JSON parse error - %(error)s") % {"error": exc}) from exc
        check_value(data)
        return data

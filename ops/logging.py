"""Logging helpers referenced by settings.LOGGING."""

from __future__ import annotations

import logging


class ClientErrorWithoutTraceback(logging.Filter):
    """Django logs a 4xx answer (Http404, PermissionDenied, a bad request) on `django.request` as a
    warning carrying the exception: an ordinary 403 or 404 then printed a whole traceback. Keep the
    one line (method-less "Forbidden (Permission denied): /path") and drop the traceback; 5xx keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.exc_info and (status is None or status < 500):
            record.exc_info = None
            record.exc_text = None
        return True


def json_formatter(**kwargs):
    """python-json-logger's formatter with short field names (time, level, logger, message)."""
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        **kwargs,
    )

"""Asking a worker to deliver an outbox now, from the request that wrote it, without ever failing
or stalling that request.

The outbox rows are committed before anything is published, and the `deliver_notifications` job
sends whatever is due every minute, so publishing is only a shortcut: it gets one short try. The
message goes through a broker connection of this module's own (one per thread, kept between
requests) with short connect and socket timeouts and no retries, never through Celery's pool, whose
connections retry and wait without bound on the request path. When publishing fails, the row stays
pending for the minute job, and the process stops trying for `PUBLISH_PAUSE` seconds so a broker
that is down costs one timeout per pause, not one per request.

Settings (all optional): NOTIFICATIONS_PUBLISH_TIMEOUT (seconds per connect and per socket
operation, default 0.25), NOTIFICATIONS_PUBLISH_PAUSE (seconds, default 15).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time

from django.conf import settings
from kombu import Connection

logger = logging.getLogger("loyalty.notifications")

PUBLISH_TIMEOUT = 0.25
PUBLISH_PAUSE = 15.0

_local = threading.local()
_paused_until = 0.0  # time.monotonic() before which this process does not try


def _timeout() -> float:
    return float(getattr(settings, "NOTIFICATIONS_PUBLISH_TIMEOUT", PUBLISH_TIMEOUT))


def _pause() -> float:
    return float(getattr(settings, "NOTIFICATIONS_PUBLISH_PAUSE", PUBLISH_PAUSE))


def connection_options(url: str, *, timeout: float) -> dict:
    """kombu.Connection keyword arguments for one bounded try at the broker at `url`: connect and
    socket timeouts in each transport's own words, and no connection retries."""
    scheme = url.split("://", 1)[0].lower()
    transport_options: dict = {"max_retries": 0}
    if scheme in ("redis", "rediss"):
        transport_options.update(socket_timeout=timeout, socket_connect_timeout=timeout)
    elif scheme in ("amqp", "amqps", "pyamqp"):
        transport_options.update(read_timeout=timeout, write_timeout=timeout)
    return {"connect_timeout": timeout, "transport_options": transport_options, "heartbeat": 0}


def _connection(url: str) -> Connection:
    """This thread's connection to `url` (a fork or another URL gets a new one)."""
    current = getattr(_local, "connection", None)
    key = (os.getpid(), url)
    if current is None or _local.key != key:
        _drop()
        _local.connection = Connection(url, **connection_options(url, timeout=_timeout()))
        _local.key = key
    return _local.connection


def _drop() -> None:
    current = getattr(_local, "connection", None)
    _local.connection = None
    if current is not None:
        # a broken connection may fail to close; it is dropped anyway
        with contextlib.suppress(Exception):
            current.release()


def paused() -> bool:
    return time.monotonic() < _paused_until


def resume() -> None:
    """Forget an earlier failure (tests, or an operator who knows the broker is back)."""
    global _paused_until
    _paused_until = 0.0


def events_publish(event_ids: list[int]) -> bool:
    """Queue the first delivery of these events' outbox rows on the broker. Returns False, having
    waited at most about twice the publish timeout, when the broker cannot take it now (the rows
    stay pending for the `deliver_notifications` job). Never raises."""
    global _paused_until
    if paused():
        return False
    from loyalty_site.celery import app

    from .tasks import events_deliver_task

    url = app.conf.broker_url
    try:
        connection = _connection(url)
        events_deliver_task.apply_async(args=[event_ids], connection=connection, retry=False)
        return True
    except Exception as error:  # noqa: BLE001 - the minute job is the fallback
        _drop()
        _paused_until = time.monotonic() + _pause()
        logger.warning(
            "could not queue delivery of events %s (%s: %s); the minute job will send them",
            event_ids[:10],
            type(error).__name__,
            error,
        )
        return False

"""Readiness checks with bounded timeouts: each answers (ok, detail) within about `timeout` seconds,
whatever state the dependency is in (down, refusing, or accepting and never answering)."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection


def _redis_ping(url: str, timeout: float) -> None:
    """One PING, no retry (redis-py retries a failed connection three times with back-off by default)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
    finally:
        client.close()


def _timed(check, timeout: float) -> dict:
    started = time.perf_counter()
    try:
        check(timeout)
        result = {"ok": True}
    except Exception as error:  # any failure means not ready; the reason is reported, not raised
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def database_check(timeout: float) -> None:
    """A fresh connection (so a dead persistent one cannot hang the probe) and `SELECT 1`."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    options = f"{params.get('options', '')} -c statement_timeout={int(timeout * 1000)}".strip()
    with psycopg.connect(**{**params, "connect_timeout": max(1, round(timeout)), "options": options}) as conn:
        conn.execute("SELECT 1")


def broker_check(timeout: float) -> None:
    """Redis: PING; RabbitMQ: an AMQP handshake; anything else (the embedded broker): kombu connects."""
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith(("redis://", "rediss://")):
        _redis_ping(url, timeout)
        return
    from kombu import Connection

    options = (
        {"read_timeout": timeout, "write_timeout": timeout} if url.startswith(("amqp", "pyamqp")) else {}
    )
    with Connection(url, connect_timeout=timeout, transport_options=options) as conn:
        conn.ensure_connection(max_retries=0)


def cache_check(timeout: float) -> None:
    location = settings.CACHES["default"].get("LOCATION", "")
    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        return
    _redis_ping(location, timeout)


def readiness(timeout: float | None = None) -> dict:
    timeout = timeout or float(getattr(settings, "READINESS_TIMEOUT", 2))
    checks = {"database": _timed(database_check, timeout), "broker": _timed(broker_check, timeout)}
    if "redis" in settings.CACHES["default"]["BACKEND"].lower():
        checks["cache"] = _timed(cache_check, timeout)
    return checks

"""Database helpers shared by the services: bounded retries of serialization failures and deadlocks."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection, transaction

logger = logging.getLogger("loyalty.db")

T = TypeVar("T")

# serialization_failure, deadlock_detected, lock_not_available
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def is_retryable(error: BaseException) -> bool:
    cause = error.__cause__ or error
    return getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES


def atomic_with_retry(func: Callable[..., T] | None = None, *, attempts: int = 5):
    """Run `func` in its own transaction, retried up to `attempts` times when PostgreSQL aborts it
    with a serialization failure or a deadlock (short random back-off between attempts).

    Inside an outer transaction the function simply runs in a savepoint: only the owner of the
    outermost transaction can retry it, so the error propagates to that owner."""

    def decorate(inner: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(inner)
        def wrapper(*args, **kwargs) -> T:
            if connection.in_atomic_block:
                with transaction.atomic():
                    return inner(*args, **kwargs)
            for attempt in range(1, attempts + 1):
                try:
                    with transaction.atomic():
                        return inner(*args, **kwargs)
                except OperationalError as error:
                    if attempt == attempts or not is_retryable(error):
                        raise
                    logger.info("retrying %s after %s (attempt %d)", inner.__name__, error, attempt)
                    time.sleep(random.uniform(0, 0.005 * 2**attempt))
            raise AssertionError("unreachable")  # pragma: no cover

        return wrapper

    return decorate(func) if func is not None else decorate

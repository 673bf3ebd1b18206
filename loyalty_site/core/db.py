"""Database helpers shared by the services: bounded retries of serialization failures and deadlocks."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

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
    outermost transaction can retry it, so the error propagates to that owner. No savepoint either
    when its `member` is one the caller declared locked with `rows_locked` (a purchase): an error
    there aborts the caller's whole block anyway."""

    def decorate(inner: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(inner)
        def wrapper(*args, **kwargs) -> T:
            if connection.in_atomic_block:
                member = kwargs.get("member")
                if member is not None and holds_lock(member):
                    return inner(*args, **kwargs)
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


# --- row locks already held ----------------------------------------------------------------------

_LOCKED: ContextVar[dict[tuple[type, Any], Any] | None] = ContextVar("rows_locked", default=None)


@contextmanager
def rows_locked(*instances) -> Iterator[None]:
    """Declare, for the duration of the block, that the current transaction holds the row locks of
    `instances` (taken with `select_for_update` inside the same atomic block, just before). Services
    that would lock one of those rows again use the instance instead (`locked_instance`): no second
    locking read, and every change they make lands on the one instance the caller holds.

    Use it only inside the atomic block that took the locks, around code that keeps the instance in
    step with what it writes to the row (the ledger and the tier services do), and that lets every
    error abort the whole block (services on a declared member run without their own savepoint)."""
    current = _LOCKED.get() or {}
    token = _LOCKED.set({**current, **{(type(instance), instance.pk): instance for instance in instances}})
    try:
        yield
    finally:
        _LOCKED.reset(token)


def locked_instance(model: type, pk: Any) -> Any | None:
    """The instance of `model` row `pk` declared locked by an enclosing `rows_locked`, or None."""
    current = _LOCKED.get()
    return current.get((model, pk)) if current else None


def holds_lock(instance: Any) -> bool:
    """Whether `instance` itself is the one an enclosing `rows_locked` declared."""
    return locked_instance(type(instance), instance.pk) is instance

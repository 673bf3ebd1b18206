"""The bounded retry of deadlocks and serialization failures (loyalty_site/core/db.py)."""

import pytest
from django.db import OperationalError

from loyalty_site.core.db import atomic_with_retry


class _PgError(Exception):
    def __init__(self, sqlstate):
        self.sqlstate = sqlstate


def _failing(sqlstate, failures):
    calls = {"n": 0}

    def func():
        calls["n"] += 1
        if calls["n"] <= failures:
            error = OperationalError("simulated")
            error.__cause__ = _PgError(sqlstate)
            raise error
        return "done"

    return func, calls


@pytest.mark.django_db(transaction=True)
def test_deadlocks_are_retried_a_bounded_number_of_times():
    func, calls = _failing("40P01", failures=2)
    assert atomic_with_retry(func, attempts=5)() == "done" and calls["n"] == 3

    func, calls = _failing("40001", failures=5)
    with pytest.raises(OperationalError):
        atomic_with_retry(func, attempts=5)()
    assert calls["n"] == 5


@pytest.mark.django_db(transaction=True)
def test_other_errors_are_not_retried():
    func, calls = _failing("23505", failures=1)
    with pytest.raises(OperationalError):
        atomic_with_retry(func)()
    assert calls["n"] == 1


def test_inside_an_outer_transaction_the_owner_retries(db):
    func, calls = _failing("40P01", failures=1)
    with pytest.raises(OperationalError):
        atomic_with_retry(func)()
    assert calls["n"] == 1

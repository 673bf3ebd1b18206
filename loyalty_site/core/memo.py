"""A memo for one pricing call or one purchase (`pricing_memo`): the program's configuration read
by several steps (rates in force, running campaigns, tiers, fraud rules) is read once. The ledger,
the tiers, the campaigns and the fraud rules memoise their readers with `memoized`; the checkout
(`checkout.pricing`, `checkout.purchases`) opens the memo around a quote or a purchase."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_MEMO: ContextVar[dict | None] = ContextVar("pricing_memo", default=None)


@contextmanager
def pricing_memo() -> Iterator[dict]:
    """A memo for one pricing call (a quote) or one purchase (pricing, postings and their hooks, in
    one transaction under the member lock): the program's configuration read by several steps
    (rates in force, running campaigns with their conditions and rewards, tiers, fraud rules) is
    read once. Nested uses share the outer memo; outside one, `memoized` computes every time.

    The memo never outlives the call; what outlives requests is the per-process configuration cache
    (`loyalty_site.core.config_cache`, keyed by the program's trigger-maintained version), which the
    memoised readers load from. Values that the call itself changes (postings, grants, balances)
    are never memoized."""
    current = _MEMO.get()
    if current is not None:
        yield current
        return
    token = _MEMO.set({})
    try:
        yield _MEMO.get()
    finally:
        _MEMO.reset(token)


def memo_active() -> bool:
    return _MEMO.get() is not None


def memo_put(key: tuple, value: Any) -> None:
    """Store a value computed ahead (several in one query) for later `memoized(key, ...)` calls."""
    memo = _MEMO.get()
    if memo is not None:
        memo.setdefault(key, value)


def memo_take(key: tuple) -> Any:
    """A value stored ahead with `memo_put` for exactly one use, removed as it is taken (counts of
    rows the call may write next, such as a campaign's grants); None when there is none."""
    memo = _MEMO.get()
    return memo.pop(key, None) if memo is not None else None


def memoized(key: tuple, compute: Callable[[], Any]) -> Any:
    """`compute()` once per `key` inside a `pricing_memo`, every time outside one."""
    memo = _MEMO.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]

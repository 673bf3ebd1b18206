"""Named extension points between apps, called explicitly by the service that owns the moment.

`accounts.member_create` runs the `member_created` hooks, the ledger runs `points_posted`, and so on:
an app that must act then (the entry tier, a registration campaign, a notification) registers a
function in its AppConfig.ready(). Hooks run inside the caller's transaction, in registration order,
with keyword arguments only. Unlike signals, every hook point is a line in a service you can read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

_HOOKS: dict[str, list[Callable[..., object]]] = defaultdict(list)


def register(name: str) -> Callable[[Callable[..., object]], Callable[..., object]]:
    def decorator(func: Callable[..., object]) -> Callable[..., object]:
        if func not in _HOOKS[name]:
            _HOOKS[name].append(func)
        return func

    return decorator


def run_hooks(name: str, **kwargs: object) -> list[object]:
    return [func(**kwargs) for func in _HOOKS.get(name, [])]


def run_hooks_many(name: str, calls: list[dict[str, object]]) -> None:
    """`run_hooks(name, **call)` for each of `calls` (a job's batch: the postings of a chunk), in
    one call per hook function that offers a set-based version: a function with a `many`
    attribute gets `many(calls)` once (e.g. the tiers app evaluates a chunk's members with a few
    statements instead of a few each), any other function is called once per call, in order."""
    if not calls:
        return
    for func in _HOOKS.get(name, []):
        many = getattr(func, "many", None)
        if many is not None:
            many(calls)
        else:
            for call in calls:
                func(**call)

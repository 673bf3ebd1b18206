"""Program presets: `bootstrap_program --preset seed` fills a new program with PRODUCT.md §2's rules.

Each app contributes its part in a `presets.py` module:

    from loyalty_site.core.presets import preset_step

    @preset_step("seed", order=20)
    def seed_rates(*, program, at): ...

Steps run in `order` inside one transaction. Each step must be idempotent (get_or_create), because
`load_demo` re-applies the preset to the demo program on every run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.db import transaction

from .config_cache import config_refresh

PRESETS = ("seed", "betting", "none")  # "demo" is applied by load_demo only

#: A preset that starts from another: the base's steps run with its own, in `order`, less the base
#: steps one of its steps `replaces` (the betting preset is the seed with a betting catalogue).
PRESET_BASES = {"betting": "seed"}


@dataclass(frozen=True)
class Step:
    preset: str
    order: int
    func: Callable[..., object]
    replaces: Callable[..., object] | None = None


_STEPS: list[Step] = []
_discovered = False


def preset_step(
    preset: str, *, order: int, replaces: Callable[..., object] | None = None
) -> Callable[[Callable[..., object]], Callable[..., object]]:
    def decorator(func: Callable[..., object]) -> Callable[..., object]:
        if not any(step.func is func for step in _STEPS):
            _STEPS.append(Step(preset=preset, order=order, func=func, replaces=replaces))
        return func

    return decorator


def _autodiscover() -> None:
    global _discovered
    if _discovered:
        return
    for config in apps.get_app_configs():
        try:
            importlib.import_module(f"{config.name}.presets")
        except ModuleNotFoundError as error:
            if error.name != f"{config.name}.presets":
                raise
    _discovered = True


def preset_apply(*, program, preset: str, at: datetime) -> list[str]:
    """Apply every step of `preset` to `program`; returns the names of the steps run."""
    _autodiscover()
    names = {preset, PRESET_BASES.get(preset)}
    chosen = [s for s in _STEPS if s.preset in names]
    replaced = {s.replaces for s in chosen if s.replaces is not None}
    steps = sorted((s for s in chosen if s.func not in replaced), key=lambda s: s.order)
    with transaction.atomic():
        for step in steps:
            step.func(program=program, at=at)
    config_refresh(program)  # the steps wrote configuration: this instance sees it from now on
    return [f"{s.func.__module__}.{s.func.__name__}" for s in steps]

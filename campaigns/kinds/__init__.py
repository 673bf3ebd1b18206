"""Condition and reward kinds of a campaign: one class per kind, registered by its code.

A kind class carries everything about its kind in one place: its label and the fields it needs
(the model's choices and the admin's select read them), `validate` (the model's `clean`, so the
admin and every form), `evaluate` (the engine), `describe` (the rules as a sentence,
campaigns.sentences) and `simulate` (the simulation, which runs the engine's own `plan`).

The built-in kinds live in `conditions.py` and `rewards.py` and are registered when the app is
ready; a new kind is one class with `@condition_kinds.register` (docs/INTERFACES.md, "How to add a
campaign condition"). This package's `__init__` and `base` import no model, so `campaigns.models`
can take its choices from here.
"""

from .base import (
    ConditionKind,
    Registry,
    RewardKind,
    condition_choices,
    condition_kinds,
    reward_choices,
    reward_kinds,
)

__all__ = [
    "ConditionKind",
    "Registry",
    "RewardKind",
    "condition_choices",
    "condition_kinds",
    "reward_choices",
    "reward_kinds",
]

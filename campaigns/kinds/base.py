"""The kind registries and the base classes of condition and reward kinds (no model imported)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.utils.translation import gettext

if TYPE_CHECKING:
    from campaigns.engine import Context
    from campaigns.models import Campaign, CampaignCondition, CampaignReward
    from campaigns.reports import Estimate

K = TypeVar("K")


class Registry(Generic[K]):
    """Kind instances by code, in registration order (the order of the admin's select)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._kinds: dict[str, K] = {}

    def register(self, kind_class: type[K]) -> type[K]:
        """Class decorator: register one instance of `kind_class` under its `code`. Raises
        ValueError when another class has that code already."""
        code = kind_class.code  # type: ignore[attr-defined]
        current = self._kinds.get(code)
        if current is not None and type(current) is not kind_class:
            raise ValueError(f"{self.what} kind {code!r} is registered already ({type(current).__name__})")
        self._kinds[code] = kind_class()
        return kind_class

    def unregister(self, code: str) -> None:
        self._kinds.pop(code, None)

    def get(self, code: str) -> K | None:
        return self._kinds.get(code)

    def __getitem__(self, code: str) -> K:
        return self._kinds[code]

    def __contains__(self, code: object) -> bool:
        return code in self._kinds

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._kinds.values()))

    def choices(self) -> list[tuple[str, Any]]:
        return [(kind.code, kind.label) for kind in self]  # type: ignore[attr-defined]


def _required(row, fields: tuple[str, ...], label) -> dict[str, str]:
    return {
        field: gettext("Required for “%(kind)s”.") % {"kind": label}
        for field in fields
        if getattr(row, field) in (None, "")
    }


class ConditionKind:
    """One kind of campaign condition. Subclasses set `code` (at most 24 characters), `label`
    (`gettext_lazy`), `fields` (the condition's columns it needs: count, amount, days, value) and
    `optional` (those it may use), and implement `evaluate` and `describe`.

    `queries = False` declares that `evaluate` reads nothing but the context and the prefetched
    campaign rows: the engine runs those conditions before any query."""

    code: str = ""
    label: Any = ""
    fields: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    queries: bool = True

    def validate(self, condition: CampaignCondition) -> dict[str, str]:
        """Errors by field name (empty when valid): the model's `clean`, so the admin's form and
        every other form of a condition."""
        return _required(condition, self.fields, self.label)

    def evaluate(self, condition: CampaignCondition, campaign: Campaign, ctx: Context) -> bool:
        """Whether the condition holds for `ctx` (the engine's `plan`)."""
        raise NotImplementedError

    def simulate(self, condition: CampaignCondition, campaign: Campaign, ctx: Context) -> bool:
        """Whether it held for a past purchase or event the simulation replays (`ctx.replay`):
        the engine's `plan` asks this instead of `evaluate`. The same answer unless the kind
        counts history, which must then stop at the replayed moment."""
        return self.evaluate(condition, campaign, ctx)

    def describe(self, condition: CampaignCondition, *, currency: str = "") -> str:
        """The condition as the words after "if" in the campaign's sentence."""
        raise NotImplementedError

    def counted_windows(self, condition: CampaignCondition, campaign: Campaign, ctx: Context) -> list:
        """The [since, until) windows of the member's purchases `evaluate` will count for a
        purchase (None for an open bound), so the engine counts them all in one query."""
        return []

    def schedule_candidates(self, condition: CampaignCondition, members, *, program, window):
        """Narrow the members a schedule campaign evaluates for the period `window` that just
        ended to those who can meet the condition (a queryset of members); default all."""
        return members


class RewardKind:
    """One kind of campaign reward. Subclasses set `code` (at most 16 characters), `label` and
    `fields` (the reward's columns it needs) and implement `describe`; a kind that gives points
    implements `evaluate`, one that does more than post points implements `give`."""

    code: str = ""
    label: Any = ""
    fields: tuple[str, ...] = ()

    def validate(self, reward: CampaignReward) -> dict[str, str]:
        """Errors by field name (empty when valid): the model's `clean`."""
        return {}

    def evaluate(self, reward: CampaignReward, ctx: Context) -> int:
        """The points this reward adds to the grant for `ctx` (the engine's `plan`)."""
        return 0

    def fixed_points(self, reward: CampaignReward) -> int:
        """Points it gives whatever the purchase (the simulation's cost per new member)."""
        return 0

    def summary(self, reward: CampaignReward) -> str:
        """A short text for the grant's description (the points are told apart), or ""."""
        return ""

    def describe(self, reward: CampaignReward, *, currency: str = "") -> str:
        """The reward as the words of the campaign's sentence ("give 50 points")."""
        raise NotImplementedError

    def give(self, reward: CampaignReward, *, row, ctx: Context, reference: str) -> None:
        """What granting it does besides posting its points (inside the grant's savepoint; `row`
        is the CampaignGrant written)."""

    def simulate(self, reward: CampaignReward, estimate: Estimate, member_id: int) -> None:
        """Add what giving it to `member_id` would cost to the simulation's `estimate` (its
        points are counted already)."""

    def new_member_cost(self, reward: CampaignReward, estimate: Estimate) -> Decimal:
        """What it costs beyond its fixed points for a member who has no history yet."""
        return Decimal("0")


condition_kinds: Registry[ConditionKind] = Registry("condition")
reward_kinds: Registry[RewardKind] = Registry("reward")


def condition_choices() -> list[tuple[str, Any]]:
    """The choices of CampaignCondition.kind: every registered condition kind."""
    return condition_kinds.choices()


def reward_choices() -> list[tuple[str, Any]]:
    """The choices of CampaignReward.kind: every registered reward kind."""
    return reward_kinds.choices()

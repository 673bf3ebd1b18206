"""Money and points arithmetic. Money is Decimal with a currency; points are int.

Every rounding of money happens in `money_round`, every conversion to points in `points_floor`,
so the quote, the purchase, the admin and the reports agree to the cent and the point.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1000000000")  # absurd above 10^9


def money_round(value: Decimal | int | str) -> Decimal:
    """Round to cents, half up (the commercial rounding a receipt shows)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def points_floor(value: Decimal | int | str) -> int:
    """Convert a Decimal number of points to whole points, never rounding in the member's favour."""
    return int(Decimal(value).to_integral_value(rounding=ROUND_DOWN))


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", money_round(self.amount))

    def as_dict(self) -> dict[str, str]:
        return {"amount": f"{self.amount:.2f}", "currency": self.currency}


def percent_text(percent: Decimal | int | str) -> str:
    """A percentage as people write it: no trailing zeros (`7`, `2.5`)."""
    return format(Decimal(percent).normalize(), "f")

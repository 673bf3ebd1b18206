"""The percentage discounts of a purchase (`pricing_discounts`, step 1 of `checkout.pricing`):
tier, program-wide and cumulative-spend percentages, combined per `program.discount_combination`.

- `best` (default): the single highest percentage applies; on a tie the tier's wins, then the
  program's, then the spend step's (one line in `applied`).
- `sum`: every non-zero percentage applies, each a line computed on the gross amount; together they
  never exceed 100 % (the last lines are cut down to what is left).
Each line's money is rounded to cents on its own (`money_round`), so the lines add up to the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils.translation import gettext

from loyalty_site.core.money import money_round, percent_text

from .selectors import member_spend_discount

HUNDRED = Decimal("100")


@dataclass(frozen=True)
class DiscountLine:
    """A percentage discount (`pricing_discounts`, a line of the checkout's quote). `source` is
    `tier`, `program` or `spend`; `discount` is the money taken off, in the purchase currency,
    already rounded."""

    source: str
    description: str
    percent: Decimal
    discount: Decimal


def discount_candidates(*, member, at: datetime) -> list[tuple[str, str, Decimal]]:
    """(source, description, percent) of every discount the member has at `at`, non-zero only,
    in tie-break order: tier, program, spend."""
    program = member.program
    candidates: list[tuple[str, str, Decimal]] = []
    tier = member.tier if member.tier_id else None
    if tier is not None and tier.discount_percent > 0:
        percent = Decimal(tier.discount_percent)
        candidates.append(("tier", f"{tier.name} {percent_text(percent)}%", percent))
    if program.fixed_discount_percent > 0:
        percent = Decimal(program.fixed_discount_percent)
        candidates.append(
            (
                "program",
                gettext("Program discount %(percent)s%%") % {"percent": percent_text(percent)},
                percent,
            )
        )
    step = member_spend_discount(member=member, at=at)
    if step is not None and step.percent > 0:
        percent = Decimal(step.percent)
        candidates.append(
            (
                "spend",
                gettext("Spent %(threshold)s %(currency)s+ %(percent)s%%")
                % {
                    "threshold": percent_text(step.threshold),
                    "currency": program.base_currency,
                    "percent": percent_text(percent),
                },
                percent,
            )
        )
    return candidates


def pricing_discounts(
    *, member, amount: Decimal, currency: str, at: datetime, **_: object
) -> list[DiscountLine]:
    candidates = discount_candidates(member=member, at=at)
    if not candidates:
        return []
    if member.program.discount_combination == member.program.DiscountCombination.BEST:
        best = max(candidates, key=lambda c: c[2])  # max keeps the first of equals: tier, program, spend
        candidates = [best]
    lines: list[DiscountLine] = []
    left = HUNDRED
    for source, description, wanted in candidates:
        percent = min(wanted, left)
        if percent <= 0:
            break
        if percent < wanted:
            description = gettext("%(description)s (%(percent)s%% applied: 100%% in total)") % {
                "description": description,
                "percent": percent_text(percent),
            }
        left -= percent
        lines.append(
            DiscountLine(
                source=source,
                description=description,
                percent=percent,
                discount=money_round(amount * percent / HUNDRED),
            )
        )
    return lines

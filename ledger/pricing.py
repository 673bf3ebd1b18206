"""The purchase pricing pipeline: one function prices a purchase for the quote and for the commit.

`purchase_price` takes member, amount, currency, optional coupon code and optional points to redeem
at a moment `at`, and returns a `Quote`:

1. percentage discounts: hook `pricing_discounts` (tiers: tier / program / spend %, already combined
   per `program.discount_combination`), each a `DiscountLine` computed on the gross amount; never
   on a bet's stake unless the merchant enabled `program.bet_discount` (a bet earns on the full
   stake; a coupon the bettor gives still applies);
2. the coupon: hook `pricing_coupon` (campaigns), on the amount after the percentage discounts
   (a coupon stacks on them); a code no hook answers for raises `CouponInvalid`;
3. points paid: at most the balance (`InsufficientPoints`) and at most
   `program.max_points_share_percent` of the amount after discounts and coupon (`LimitExceeded`),
   the points' money value rounded to cents never above that share; points worth less than a
   cent cannot pay (InvalidInput);
4. amount due = amount - discounts - coupon - value of the points paid;
5. points to earn: the amount due converted by the currency's rate (with its cap) x the tier's earn
   multiplier, plus a bonus-points coupon, plus purchase-time campaign bonuses (hook `pricing_bonuses`).

`purchase_quote` runs it read-only; `ledger.purchases.purchase_create` runs it inside the ledger
transaction with the member row locked and the `Purchase` row given to the hooks, so the quote and
the commit agree for the same input at the same moment.

Currency conversion (decision): the ledger's rates say how many points one unit of a currency earns.
The program treats every currency as equally rewarding, so the ratio of two rates is the program's
exchange rate: 1 unit of C is worth rate(C) / rate(base) units of the base currency. A point is
worth `program.point_value` in the base currency, hence `point_value x rate(base) / rate(C)` in C
(USD 12, AZN 8, 0.01 AZN a point -> 1 point = 0.00667 USD; earning 12 points per USD is then the
same 8 % back as earning 8 points per AZN). With no rate for the base currency, points cannot be
valued in another currency: such a purchase may not be paid with points (max redeemable is 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty_site.core.errors import (
    CouponInvalid,
    InsufficientPoints,
    InvalidInput,
    LimitExceeded,
    MemberBlocked,
    UnsupportedCurrency,
)
from loyalty_site.core.hooks import run_hooks
from loyalty_site.core.money import CENT, MAX_AMOUNT, money_round, points_floor

ZERO = Decimal("0")
HUNDRED = Decimal("100")
HALF_CENT = Decimal("0.005")


@dataclass(frozen=True)
class DiscountLine:
    """A percentage discount (hook `pricing_discounts`). `source` is `tier`, `program` or `spend`;
    `discount` is the money taken off, in the purchase currency, already rounded."""

    source: str
    description: str
    percent: Decimal
    discount: Decimal


@dataclass(frozen=True)
class CouponLine:
    """The answer of hook `pricing_coupon`: money off (`discount`, purchase currency, at most the
    amount it was given) and/or bonus points (`bonus_points`, a bonus-points coupon)."""

    code: str
    description: str
    discount: Decimal = ZERO
    bonus_points: int = 0
    coupon_id: int | None = None


@dataclass(frozen=True)
class BonusLine:
    """A purchase-time campaign bonus (hook `pricing_bonuses`)."""

    description: str
    points: int
    source: str = "campaign"
    campaign_id: int | None = None


@dataclass(frozen=True)
class Quote:
    amount: Decimal
    currency: str
    discount_lines: list[DiscountLine]
    coupon: CouponLine | None
    discount: Decimal  # percentage discounts + coupon money, purchase currency
    points_to_redeem: int
    redeem_value: Decimal  # money paid with points, purchase currency
    max_redeemable_points: int
    amount_due: Decimal
    rate: Decimal | None  # points per unit of the purchase currency in force at `at`
    earn_points: int  # conversion x tier multiplier
    bonus_lines: list[BonusLine]
    points_to_earn: int  # earn + coupon bonus points + campaign bonuses
    applied: list[dict[str, Any]] = field(default_factory=list)

    @property
    def bonus_points(self) -> int:
        return self.points_to_earn - self.earn_points

    def as_dict(self) -> dict[str, Any]:
        """The body of API.md's quote answer."""
        return {
            "points_to_earn": self.points_to_earn,
            "discount": {"amount": f"{self.discount:.2f}", "currency": self.currency},
            "amount_due": {"amount": f"{self.amount_due:.2f}", "currency": self.currency},
            "points_to_redeem": self.points_to_redeem,
            "max_redeemable_points": self.max_redeemable_points,
            "applied": self.applied,
        }


def _percent_text(percent: Decimal) -> str:
    return format(Decimal(percent).normalize(), "f")


def _money_text(value: Decimal) -> str:
    return f"{money_round(value):.2f}"


# --- per-call memo -----------------------------------------------------------------------------

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


# --- currency helpers --------------------------------------------------------------------------


def _rate_or_none(*, program, currency: str, at: datetime):
    from ledger.services import rate_get

    try:
        return rate_get(program=program, currency=currency, at=at)
    except (UnsupportedCurrency, InvalidInput):  # no rate in force, or none yet
        return None


def point_value_in(*, program, currency: str, at: datetime) -> Decimal | None:
    """Money value of one point in `currency` at `at` (see the module docstring), or None when it
    cannot be valued (no rate for the base currency or for `currency`)."""
    if currency == program.base_currency:
        return Decimal(program.point_value)
    base_rate = _rate_or_none(program=program, currency=program.base_currency, at=at)
    rate = _rate_or_none(program=program, currency=currency, at=at)
    if base_rate is None or rate is None or not rate.points_per_unit or not base_rate.points_per_unit:
        return None
    return Decimal(program.point_value) * Decimal(base_rate.points_per_unit) / Decimal(rate.points_per_unit)


def money_to_base(*, program, amount: Decimal, currency: str, at: datetime) -> Decimal | None:
    """`amount` of `currency` in the program's base currency (rounded to cents) by the rates' ratio,
    or None when there is no rate to convert with."""
    if currency == program.base_currency:
        return money_round(amount)
    base_rate = _rate_or_none(program=program, currency=program.base_currency, at=at)
    rate = _rate_or_none(program=program, currency=currency, at=at)
    if base_rate is None or rate is None or not base_rate.points_per_unit:
        return None
    return money_round(Decimal(amount) * Decimal(rate.points_per_unit) / Decimal(base_rate.points_per_unit))


# --- input checks ------------------------------------------------------------------------------


def pricing_input_clean(*, amount: Any, currency: Any, redeem_points: Any) -> tuple[Decimal, str, int]:
    """Normalise the pricing input. Raises InvalidInput (amount not positive, above 10^9, more than
    2 decimals; redeem points negative or not whole) and UnsupportedCurrency (not ISO 4217 form)."""
    try:
        value = Decimal(str(amount))
    except Exception:
        raise InvalidInput(_("Amount must be a decimal number."), fields={"amount": [_("Not a number.")]})
    if not value.is_finite() or value <= 0:
        raise InvalidInput(
            _("Amount must be positive."), fields={"amount": [_("Must be greater than zero.")]}
        )
    if value > MAX_AMOUNT:
        raise InvalidInput(_("Amount is too large."), fields={"amount": [_("Must be at most 10^9.")]})
    if value != value.quantize(CENT):
        raise InvalidInput(
            _("Amount has more than 2 decimals."), fields={"amount": [_("At most 2 decimals.")]}
        )
    code = str(currency or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise UnsupportedCurrency(_("Unsupported currency '%(currency)s'.") % {"currency": currency})
    try:
        points = int(redeem_points or 0)
    except (TypeError, ValueError):
        raise InvalidInput(
            _("Points must be a whole number."), fields={"redeem_points": [_("Not a number.")]}
        )
    if points < 0 or points != Decimal(str(redeem_points or 0)):
        raise InvalidInput(
            _("Points to redeem must be a whole number, zero or more."),
            fields={"redeem_points": [_("Must be a whole number >= 0.")]},
        )
    return value.quantize(CENT), code, points


# --- the pipeline ------------------------------------------------------------------------------


def _max_points_for(*, share: Decimal, point_value: Decimal | None) -> int:
    """The most points whose money value (rounded to cents, as the receipt shows it) stays within
    `share`: n x value rounds half up to at most floor_to_cent(share), i.e. n x value is below
    floor_to_cent(share) + half a cent. 0 when points cannot be valued in this currency."""
    if not point_value:
        return 0
    limit = share.quantize(CENT, rounding=ROUND_DOWN)
    if limit <= 0:
        return 0
    bound = (limit + HALF_CENT) / point_value
    return max(0, int(bound.to_integral_value(rounding=ROUND_CEILING)) - 1)


def _earn_conversion(*, program, amount_due: Decimal, currency: str, at: datetime):
    """(points, points per unit, capped) for `amount_due` by the ledger's rate/cap helper."""
    from ledger.services import points_for_amount

    return points_for_amount(program=program, amount=amount_due, currency=currency, at=at)


def purchase_price(
    *,
    member,
    amount: Any,
    currency: str,
    at: datetime,
    coupon_code: str | None = None,
    redeem_points: int = 0,
    purchase=None,
    kind: str = "purchase",
) -> Quote:
    """Price a purchase (`kind` "purchase") or a bet ("bet"). Read-only when `purchase` is None (a
    quote); at commit the caller holds the member row lock and passes the `Purchase` so the coupon
    and bonus hooks record their rows.

    Raises MemberBlocked, InvalidInput, UnsupportedCurrency (no rate for the currency at `at`),
    CouponInvalid / CouponExpired / CouponUsed (from the coupon hook; CouponInvalid when no hook
    knows coupons), InsufficientPoints (more points than the balance), LimitExceeded (more points
    than the max share).
    """
    with pricing_memo():
        return _purchase_price(
            member=member,
            amount=amount,
            currency=currency,
            at=at,
            coupon_code=coupon_code,
            redeem_points=redeem_points,
            purchase=purchase,
            kind=kind,
        )


def _purchase_price(*, member, amount, currency, at, coupon_code, redeem_points, purchase, kind) -> Quote:
    program = member.program
    if member.is_blocked:
        raise MemberBlocked(_("Member %(id)s is blocked.") % {"id": member.pk})
    amount, currency, redeem_points = pricing_input_clean(
        amount=amount, currency=currency, redeem_points=redeem_points
    )
    applied: list[dict[str, Any]] = []

    # 1. percentage discounts, on the gross amount
    discount_lines: list[DiscountLine] = []
    if kind != "bet" or program.bet_discount:
        for result in run_hooks("pricing_discounts", member=member, amount=amount, currency=currency, at=at):
            discount_lines.extend(result or [])
    percent_off = ZERO
    for line in discount_lines:
        take = min(money_round(line.discount), amount - percent_off)
        percent_off += take
        applied.append(
            {"source": line.source, "description": line.description, "discount": _money_text(take)}
        )
    after_discounts = amount - percent_off

    # 2. the coupon, on the amount after percentage discounts
    coupon: CouponLine | None = None
    coupon_off = ZERO
    code = (coupon_code or "").strip()
    if code:
        answers = [
            answer
            for answer in run_hooks(
                "pricing_coupon",
                member=member,
                code=code,
                amount=after_discounts,
                currency=currency,
                at=at,
                purchase=purchase,
            )
            if answer is not None
        ]
        if not answers:
            raise CouponInvalid(_("Unknown coupon code."))
        coupon = answers[0]
        coupon_off = min(money_round(coupon.discount), after_discounts)
        line: dict[str, Any] = {"source": "coupon", "description": coupon.description, "code": coupon.code}
        if coupon_off:
            line["discount"] = _money_text(coupon_off)
        if coupon.bonus_points:
            line["points"] = coupon.bonus_points
        applied.append(line)
    after_coupon = after_discounts - coupon_off

    # 3. points paid, bounded by the balance and the max share of what is left to pay
    point_value = point_value_in(program=program, currency=currency, at=at)
    share = after_coupon * Decimal(program.max_points_share_percent) / HUNDRED
    max_redeemable = min(int(member.balance), _max_points_for(share=share, point_value=point_value))
    if redeem_points > member.balance:
        raise InsufficientPoints(
            ngettext(
                "The member has %(balance)s point, fewer than %(points)s.",
                "The member has %(balance)s points, fewer than %(points)s.",
                member.balance,
            )
            % {"balance": member.balance, "points": redeem_points},
            fields={"redeem_points": [_("At most %(balance)s (the balance).") % {"balance": member.balance}]},
        )
    if redeem_points > max_redeemable:
        raise LimitExceeded(
            ngettext(
                "At most %(points)s point can pay for this purchase "
                "(%(percent)s%% of %(amount)s %(currency)s).",
                "At most %(points)s points can pay for this purchase "
                "(%(percent)s%% of %(amount)s %(currency)s).",
                max_redeemable,
            )
            % {
                "points": max_redeemable,
                "percent": _percent_text(program.max_points_share_percent),
                "amount": _money_text(after_coupon),
                "currency": currency,
            },
            fields={"redeem_points": [_("At most %(points)s.") % {"points": max_redeemable}]},
        )
    redeem_value = ZERO
    if redeem_points:
        redeem_value = money_round(redeem_points * point_value)
        if redeem_value <= 0:
            raise InvalidInput(
                ngettext(
                    "%(points)s point is worth less than a cent.",
                    "%(points)s points are worth less than a cent.",
                    redeem_points,
                )
                % {"points": redeem_points},
                fields={"redeem_points": [_("Too few points to pay anything.")]},
            )
        applied.append(
            {
                "source": "points",
                "description": ngettext(
                    "%(points)s point = %(amount)s %(currency)s",
                    "%(points)s points = %(amount)s %(currency)s",
                    redeem_points,
                )
                % {"points": redeem_points, "amount": _money_text(redeem_value), "currency": currency},
                "discount": _money_text(redeem_value),
                "points": -redeem_points,
            }
        )
    amount_due = after_coupon - redeem_value

    # 4. points earned on the money actually paid
    points, rate, capped = _earn_conversion(program=program, amount_due=amount_due, currency=currency, at=at)
    tier = member.tier if member.tier_id else None
    multiplier = Decimal(tier.earn_multiplier) if tier is not None else Decimal("1")
    earn_points = points_floor(Decimal(points) * multiplier)
    rate_value = Decimal(rate) if rate is not None else None
    if rate_value is not None and program.earn_mode == program.EarnMode.PER_UNIT:
        text = f"{_money_text(amount_due)} {currency} x {_percent_text(rate_value)}"
    else:
        text = _("%(percent)s%% of %(amount)s %(currency)s") % {
            "percent": _percent_text(program.earn_percent),
            "amount": _money_text(amount_due),
            "currency": currency,
        }
    if capped:
        text = _("%(text)s, capped at %(points)s") % {"text": text, "points": points}
    if multiplier != 1:
        text += f" x {_percent_text(multiplier)} ({tier.name})"
    applied.append({"source": "earn", "description": text, "points": earn_points})

    coupon_points = coupon.bonus_points if coupon else 0

    # 5. purchase-time campaign bonuses
    bonus_lines: list[BonusLine] = []
    for result in run_hooks(
        "pricing_bonuses",
        member=member,
        amount_due=amount_due,
        currency=currency,
        base_points=earn_points,
        at=at,
        purchase=purchase,
    ):
        bonus_lines.extend(result or [])
    for bonus in bonus_lines:
        applied.append({"source": bonus.source, "description": bonus.description, "points": bonus.points})

    return Quote(
        amount=amount,
        currency=currency,
        discount_lines=discount_lines,
        coupon=coupon,
        discount=percent_off + coupon_off,
        points_to_redeem=redeem_points,
        redeem_value=redeem_value,
        max_redeemable_points=max_redeemable,
        amount_due=amount_due,
        rate=rate_value,
        earn_points=earn_points,
        bonus_lines=bonus_lines,
        points_to_earn=earn_points + coupon_points + sum(b.points for b in bonus_lines),
        applied=applied,
    )


def purchase_quote(
    *,
    member,
    amount: Any,
    currency: str,
    at: datetime,
    coupon_code: str | None = None,
    redeem_points: int = 0,
    kind: str = "purchase",
) -> Quote:
    """What a purchase (or a bet: `kind` "bet") would give, changing nothing. Same errors as
    `purchase_price`."""
    return purchase_price(
        member=member,
        amount=amount,
        currency=currency,
        at=at,
        coupon_code=coupon_code,
        redeem_points=redeem_points,
        purchase=None,
        kind=kind,
    )

"""The purchase pricing pipeline: one function prices a purchase for the quote and for the commit.

`purchase_price` takes member, amount, currency, optional coupon code and optional points to redeem
at a moment `at`, and returns a `Quote`:

1. percentage discounts: `tiers.discounts.pricing_discounts` (tier / program / spend %, already
   combined per `program.discount_combination`), each a `DiscountLine` computed on the gross amount; never
   on a bet's stake unless the merchant enabled `program.bet_discount` (a bet earns on the full
   stake; a coupon the bettor gives still applies);
2. the coupon: `campaigns.coupons.pricing_coupon`, on the amount after the percentage discounts
   (a coupon stacks on them); an unknown code raises `CouponInvalid`;
3. points paid: at most the balance (`InsufficientPoints`) and at most
   `program.max_points_share_percent` of the amount after discounts and coupon (`LimitExceeded`),
   the points' money value rounded to cents never above that share; points worth less than a
   cent cannot pay (InvalidInput);
4. amount due = amount - discounts - coupon - value of the points paid;
5. points to earn: the amount due converted by the currency's rate (with its cap) x the tier's earn
   multiplier, plus a bonus-points coupon, plus purchase-time campaign bonuses
   (`campaigns.services.pricing_bonuses`).

`purchase_quote` runs it read-only; `checkout.purchases.purchase_create` runs it inside the
purchase's transaction with the member row locked and the `Purchase` row given to the coupon and
campaign steps (which record their rows), so the quote and the commit agree for the same input at
the same moment. The checkout app sits above the ledger, the tiers and the campaigns and calls them
directly; none of them knows about it.

Currency conversion: `ledger.services.point_value_in` (the ratio of two rates is the program's
exchange rate); a purchase in a currency whose points cannot be valued may not be paid with points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns.coupons import CouponLine, pricing_coupon
from campaigns.services import BonusLine, pricing_bonuses
from ledger.services import point_value_in, points_for_amount
from loyalty_site.core.errors import (
    InsufficientPoints,
    InvalidInput,
    LimitExceeded,
    MemberBlocked,
    UnsupportedCurrency,
)
from loyalty_site.core.memo import pricing_memo
from loyalty_site.core.money import CENT, MAX_AMOUNT, money_round, percent_text, points_floor
from tiers.discounts import DiscountLine, pricing_discounts

ZERO = Decimal("0")
HUNDRED = Decimal("100")
HALF_CENT = Decimal("0.005")


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
    # at commit (a `purchase` given): the `campaigns.CampaignGrant` rows written, in order
    campaign_grants: list = field(default_factory=list)

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


def _money_text(value: Decimal) -> str:
    return f"{money_round(value):.2f}"


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
    and campaign steps record their rows.

    Raises MemberBlocked, InvalidInput, UnsupportedCurrency (no rate for the currency at `at`),
    CouponInvalid / CouponExpired / CouponUsed (from the coupon step), InsufficientPoints (more
    points than the balance), LimitExceeded (more points than the max share).
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
        discount_lines = pricing_discounts(member=member, amount=amount, currency=currency, at=at)
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
        coupon = pricing_coupon(
            member=member, code=code, amount=after_discounts, currency=currency, at=at, purchase=purchase
        )
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
                "percent": percent_text(program.max_points_share_percent),
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
    points, rate, capped = points_for_amount(program=program, amount=amount_due, currency=currency, at=at)
    tier = member.tier if member.tier_id else None
    multiplier = Decimal(tier.earn_multiplier) if tier is not None else Decimal("1")
    earn_points = points_floor(Decimal(points) * multiplier)
    rate_value = Decimal(rate) if rate is not None else None
    if rate_value is not None and program.earn_mode == program.EarnMode.PER_UNIT:
        text = f"{_money_text(amount_due)} {currency} x {percent_text(rate_value)}"
    else:
        text = _("%(percent)s%% of %(amount)s %(currency)s") % {
            "percent": percent_text(program.earn_percent),
            "amount": _money_text(amount_due),
            "currency": currency,
        }
    if capped:
        text = _("%(text)s, capped at %(points)s") % {"text": text, "points": points}
    if multiplier != 1:
        text += f" x {percent_text(multiplier)} ({tier.name})"
    applied.append({"source": "earn", "description": text, "points": earn_points})

    coupon_points = coupon.bonus_points if coupon else 0

    # 5. purchase-time campaign bonuses
    bonus_lines, grants = pricing_bonuses(
        member=member,
        amount_due=amount_due,
        currency=currency,
        base_points=earn_points,
        at=at,
        purchase=purchase,
    )
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
        campaign_grants=grants,
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

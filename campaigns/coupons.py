"""Coupons: validation, the `pricing_coupon` hook, personal coupons, batches of one-time codes.

Decisions (PRODUCT.md §2.6 leaves them open):
- Codes are matched case-insensitively (stored upper case, unique per program by a DB constraint on
  UPPER(code)); generated codes use accounts' CODE_ALPHABET (no 0/O, 1/I/L).
- The amount a coupon sees is what the pricing pipeline passes: the purchase after the tier /
  program / spend discount (a coupon stacks on top of them). A percent coupon takes
  `money_round(amount × value / 100)`; a fixed coupon takes at most the amount (never below zero)
  and applies only to purchases in its own currency; a points coupon gives `value` bonus points and
  no discount.
- `min_purchase` is compared with that amount, in the purchase's currency.
- Check order (the first failing rule is the reason): unknown / inactive / another member's →
  `coupon_invalid`; not started → `coupon_invalid`; ended → `coupon_expired`; currency, minimum,
  first order → `coupon_invalid`; total or per-member uses exhausted → `coupon_used`.
- A use is recorded only at a purchase's commit (`purchase` given), under `select_for_update` on the
  coupon row, as one `CouponRedemption` row unique per (coupon, reference); so a one-time code is
  used once however many requests race, and a replayed purchase does not use it twice.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.services import CODE_ALPHABET, code_generate
from ledger.services import money_to_base
from loyalty_site.core.db import row_insert
from loyalty_site.core.errors import CouponExpired, CouponInvalid, CouponUsed
from loyalty_site.core.events import event_emit
from loyalty_site.core.money import Money, money_round

from .models import Coupon, CouponBatch, CouponKind, CouponRedemption
from .selectors import member_purchase_count

GENERATED_CODE_LENGTH = 10


def coupon_normalize(code: str) -> str:
    return (code or "").strip().upper()


@dataclass(frozen=True)
class CouponResult:
    coupon: Coupon
    discount: Decimal
    bonus_points: int

    @property
    def description(self) -> str:
        coupon = self.coupon
        if coupon.kind == CouponKind.PERCENT:
            return _("Coupon %(code)s: %(percent)s%% off") % {
                "code": coupon.code,
                "percent": f"{coupon.value.normalize():f}",
            }
        if coupon.kind == CouponKind.FIXED:
            return _("Coupon %(code)s: %(amount)s %(currency)s off") % {
                "code": coupon.code,
                "amount": f"{coupon.value:.2f}",
                "currency": coupon.currency,
            }
        points = int(coupon.value)
        return ngettext(
            "Coupon %(code)s: +%(points)s point", "Coupon %(code)s: +%(points)s points", points
        ) % {
            "code": coupon.code,
            "points": points,
        }


def _check(
    *, coupon: Coupon | None, member, amount: Decimal, currency: str, at: datetime, exclude_purchase=None
) -> CouponResult:
    """Apply every rule to `coupon` for this purchase. Raises CouponInvalid/Expired/Used."""
    if coupon is None or not coupon.is_active:
        raise CouponInvalid(_("This coupon code is not valid."))
    if coupon.member_id is not None and coupon.member_id != member.pk:
        raise CouponInvalid(_("This coupon code is not valid."))
    if coupon.starts_at and at < coupon.starts_at:
        raise CouponInvalid(_("This coupon is not valid yet."))
    if coupon.ends_at and at >= coupon.ends_at:
        raise CouponExpired()
    if coupon.currency and coupon.currency != currency:
        raise CouponInvalid(
            _("This coupon applies only to purchases in %(currency)s.") % {"currency": coupon.currency}
        )
    if amount < coupon.min_purchase:
        raise CouponInvalid(
            _("This coupon needs a purchase of at least %(amount)s.")
            % {"amount": f"{coupon.min_purchase:.2f}"}
        )
    if coupon.first_order_only and member_purchase_count(member=member, exclude=exclude_purchase) > 0:
        raise CouponInvalid(_("This coupon is for a first order only."))
    if coupon.max_uses is not None and coupon.uses_count >= coupon.max_uses:
        raise CouponUsed()
    if coupon.max_uses_per_member is not None:
        used = CouponRedemption.objects.filter(coupon=coupon, member=member).count()
        if used >= coupon.max_uses_per_member:
            raise CouponUsed()
    if coupon.kind == CouponKind.PERCENT:
        discount = money_round(amount * coupon.value / Decimal(100))
    elif coupon.kind == CouponKind.FIXED:
        discount = min(money_round(coupon.value), money_round(amount))
    else:
        discount = Decimal("0.00")
    bonus = int(coupon.value) if coupon.kind == CouponKind.POINTS else 0
    return CouponResult(coupon=coupon, discount=discount, bonus_points=bonus)


def _find(*, program, code: str, lock: bool = False) -> Coupon | None:
    queryset = Coupon.objects.filter(program=program, code__iexact=coupon_normalize(code))
    if lock:
        queryset = queryset.select_for_update()
    return queryset.first()


def coupon_check(*, member, code: str, amount: Decimal, currency: str, at: datetime) -> CouponResult:
    """Read-only: what `code` would give `member` on this purchase. Raises CouponInvalid /
    CouponExpired / CouponUsed."""
    coupon = _find(program=member.program, code=code)
    return _check(coupon=coupon, member=member, amount=Decimal(amount), currency=currency, at=at)


def coupon_redeem(
    *, member, code: str, amount: Decimal, currency: str, at: datetime, reference: str, purchase=None
) -> tuple[CouponResult, CouponRedemption]:
    """Use `code` once for the purchase identified by `reference`, in the caller's transaction (or
    its own). Locks the coupon row, re-checks every rule, writes the redemption row and bumps the
    counter. The same `reference` again returns the original use. Raises CouponInvalid /
    CouponExpired / CouponUsed (nothing written)."""
    amount = Decimal(amount)
    with transaction.atomic():
        coupon = _find(program=member.program, code=code, lock=True)
        if coupon is not None:
            existing = CouponRedemption.objects.filter(coupon=coupon, reference=reference).first()
            if existing is not None:
                result = CouponResult(coupon, existing.discount, existing.bonus_points)
                return result, existing
        result = _check(
            coupon=coupon, member=member, amount=amount, currency=currency, at=at, exclude_purchase=purchase
        )
        redemption = CouponRedemption.objects.create(
            coupon=coupon,
            member=member,
            reference=reference,
            amount=amount,
            currency=currency,
            discount=result.discount,
            bonus_points=result.bonus_points,
            created_at=at,
        )
        Coupon.objects.filter(pk=coupon.pk).update(uses_count=F("uses_count") + 1)
        if coupon.campaign_id:
            _grant_cost_add(coupon=coupon, result=result, currency=currency, at=at)
        return result, redemption


def _grant_cost_add(*, coupon: Coupon, result: CouponResult, currency: str, at: datetime) -> None:
    """A campaign's personal coupon costs what it gives when used: add the money off (in the base
    currency) and the bonus points' value to the grant that issued it, for ROI."""
    from .models import CampaignGrant

    program = coupon.program
    cost = Decimal(result.bonus_points) * program.point_value
    if result.discount:
        cost += money_to_base(program=program, amount=result.discount, currency=currency, at=at) or Decimal(
            "0"
        )
    if cost:
        CampaignGrant.objects.filter(coupon=coupon).update(cost=F("cost") + money_round(cost))


def coupon_validate(*, program, code: str, member, amount: Decimal, currency: str, at: datetime) -> dict:
    """For POST /coupons/validate/: `{"valid": True, "discount": {...}, "bonus_points", "code",
    "description"}` or `{"valid": False, "reason": "<error code>", "message"}`. Changes nothing.
    `member` must belong to `program` (the caller resolves it, 404 otherwise)."""
    assert member.program_id == program.pk
    try:
        result = coupon_check(member=member, code=code, amount=amount, currency=currency, at=at)
    except (CouponInvalid, CouponExpired, CouponUsed) as error:
        return {"valid": False, "reason": error.code, "message": error.message}
    return {
        "valid": True,
        "code": result.coupon.code,
        "kind": result.coupon.kind,
        "discount": Money(result.discount, currency).as_dict(),
        "bonus_points": result.bonus_points,
        "description": result.description,
    }


@dataclass(frozen=True)
class CouponLine:
    """The answer of `pricing_coupon` (step 2 of `checkout.pricing`): money off (`discount`,
    purchase currency, at most the amount it was given) and/or bonus points (`bonus_points`, a
    bonus-points coupon)."""

    code: str
    description: str
    discount: Decimal = Decimal("0")
    bonus_points: int = 0
    coupon_id: int | None = None


def _line(result: CouponResult) -> CouponLine:
    return CouponLine(
        code=result.coupon.code,
        description=result.description,
        discount=result.discount,
        bonus_points=result.bonus_points,
        coupon_id=result.coupon.pk,
    )


def pricing_coupon(*, member, code, amount, currency, at, purchase=None, **_ignored) -> CouponLine:
    """The pricing pipeline's coupon step: a quote (purchase None) checks; a commit records the use
    under lock (reference `purchase:<id>`). Raises CouponInvalid / CouponExpired / CouponUsed."""
    if purchase is None:
        return _line(coupon_check(member=member, code=code, amount=amount, currency=currency, at=at))
    result, _redemption = coupon_redeem(
        member=member,
        code=code,
        amount=amount,
        currency=currency,
        at=at,
        reference=f"purchase:{purchase.pk}",
        purchase=purchase,
    )
    return _line(result)


# --- issuing ----------------------------------------------------------------------------------


def coupon_issue(
    *,
    program,
    member,
    kind: str,
    value: Decimal,
    at: datetime,
    valid_days: int = 0,
    min_purchase: Decimal = Decimal("0"),
    currency: str = "",
    campaign=None,
) -> Coupon:
    """A personal one-time coupon for `member` (e.g. a campaign's 20 % code); emits coupon.issued.
    `valid_days` 0 = no end."""
    if kind == CouponKind.FIXED and not currency:
        currency = program.base_currency
    for _attempt in range(20):
        coupon = Coupon(
            program=program,
            code=code_generate(GENERATED_CODE_LENGTH),
            kind=kind,
            value=Decimal(value),
            currency=currency,
            min_purchase=min_purchase,
            starts_at=at,
            ends_at=at + timedelta(days=valid_days) if valid_days else None,
            max_uses=1,
            max_uses_per_member=1,
            member=member,
            campaign=campaign,
            created_at=at,
        )
        # a code the program has already (drawn before, or concurrently) is skipped: draw again
        if row_insert(coupon, skip_conflict=True):
            break
    else:  # pragma: no cover
        raise RuntimeError("Could not issue a coupon")
    event_emit(
        program=program,
        type="coupon.issued",
        at=at,
        member=member,
        key=f"coupon.issued:{coupon.pk}",
        data={
            "code": coupon.code,
            "coupon": coupon.code,
            "valid_until": coupon.ends_at.isoformat() if coupon.ends_at else None,
            "kind": coupon.kind,
            "value": f"{coupon.value:.2f}",
            "ends_at": coupon.ends_at.isoformat() if coupon.ends_at else None,
            "campaign": campaign.code if campaign else None,
        },
    )
    return coupon


def coupon_batch_generate(*, batch: CouponBatch) -> int:
    """Create the batch's missing one-time codes (so running it again tops up, never duplicates).
    Codes: prefix + 10 characters of CODE_ALPHABET (31^10 ≈ 8·10^14 codes), unique per program by
    the DB constraint; collisions are simply drawn again. Returns how many codes were created."""
    prefix = coupon_normalize(batch.prefix)
    if prefix:
        prefix = f"{prefix}-"
    created_total = 0
    with transaction.atomic():
        missing = batch.size - batch.coupons.count()
        while missing > 0:
            codes = set()
            while len(codes) < missing:
                codes.add(prefix + code_generate(GENERATED_CODE_LENGTH))
            rows = [
                Coupon(
                    program=batch.program,
                    code=code,
                    kind=batch.kind,
                    value=batch.value,
                    currency=batch.currency,
                    min_purchase=batch.min_purchase,
                    starts_at=batch.starts_at,
                    ends_at=batch.ends_at,
                    max_uses=1,
                    max_uses_per_member=1,
                    campaign=batch.campaign,
                    batch=batch,
                    created_at=batch.created_at,
                )
                for code in codes
            ]
            before = batch.coupons.count()
            Coupon.objects.bulk_create(rows, ignore_conflicts=True)
            created = batch.coupons.count() - before
            created_total += created
            missing -= created
    return created_total


def coupons_deactivate(*, queryset) -> int:
    """Bulk deactivate; returns how many were active."""
    return queryset.filter(is_active=True).update(is_active=False)


CSV_HEADER = [
    "code",
    "kind",
    "value",
    "currency",
    "min_purchase",
    "starts_at",
    "ends_at",
    "max_uses",
    "uses",
    "member",
    "active",
    "batch",
]


def coupons_csv(*, queryset) -> str:
    """CSV text of the coupons (for the admin export)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for coupon in queryset.select_related("batch", "member").order_by("id").iterator():
        writer.writerow(
            [
                coupon.code,
                coupon.kind,
                f"{coupon.value:.2f}",
                coupon.currency,
                f"{coupon.min_purchase:.2f}",
                coupon.starts_at.isoformat() if coupon.starts_at else "",
                coupon.ends_at.isoformat() if coupon.ends_at else "",
                "" if coupon.max_uses is None else coupon.max_uses,
                coupon.uses_count,
                coupon.member.card_number if coupon.member else "",
                "yes" if coupon.is_active else "no",
                coupon.batch.name if coupon.batch else "",
            ]
        )
    return out.getvalue()


AMBIGUOUS_CHARACTERS = set("0O1IL")
assert not AMBIGUOUS_CHARACTERS & set(CODE_ALPHABET)
